import { describe, expect, it } from "vitest";
import { downloadName, extensionOf, humanSize } from "./format";

describe("downloadName", () => {
  it.each([
    ["IMG_0001.HEIC", "0f.jpg", "IMG_0001.jpg"],
    ["photo.JPG", "0f.jpg", "photo.JPG"],
    ["notes.pdf", "0f.pdf", "notes.pdf"],
  ])("%s stored as %s downloads as %s", (original, stored, expected) => {
    expect(downloadName(original, stored)).toBe(expected);
  });
});

describe("humanSize", () => {
  it.each([
    [0, "0 B"],
    [1, "1 B"],
    [999, "999 B"],
    [1000, "1.0 KB"],
    [1234, "1.2 KB"],
    [10_137, "9.9 KB"],
    [10_240, "10 KB"],
    [10_700, "10 KB"],
    [10_800, "11 KB"],
    [999 * 1024, "999 KB"],
    [1_048_576, "1.0 MB"],
    [2_621_440, "2.5 MB"],
    [52_428_800, "50 MB"], // the seed's cap reads as the seed names it
    [1_073_741_824, "1.0 GB"],
    [5000 * 1_073_741_824, "5000 GB"],
  ])("%d bytes → %s", (bytes, shown) => {
    expect(humanSize(bytes)).toBe(shown);
  });

  it("never shows 1000 of a unit when the next one fits", () => {
    expect(humanSize(1_048_575)).toBe("1.0 MB");
    expect(humanSize(1_023_500)).toBe("1.0 MB");
    expect(humanSize(1_073_741_823)).toBe("1.0 GB");
  });

  it("never shows 10.0 where it shows whole numbers from 10", () => {
    expect(humanSize(10_230)).toBe("10 KB");
    expect(humanSize(10_433_332)).toBe("10 MB");
  });
});

describe("extensionOf", () => {
  it("is the lower-cased part after the last dot, or empty", () => {
    expect(extensionOf("Photo.JPEG")).toBe("jpeg");
    expect(extensionOf("a.tar.gz")).toBe("gz");
    expect(extensionOf("Makefile")).toBe("");
  });
});
