import { describe, expect, it } from "vitest";
import { allowedTypes, kindOf, refusal } from "./policy";
import type { Policy } from "./types";

function policyWith(change: Partial<Policy> = {}): Policy {
  return {
    max_upload_size: 52_428_800,
    extensions: { image: ["gif", "jpeg", "jpg", "png", "webp"], document: ["pdf", "txt"], video: ["mp4", "webm"] },
    max_attachments_per_message: 10,
    max_image_pixels: 50_000_000,
    resumable: { path: "/api/v1/media/uploads", max_size: 52_428_800, ttl_s: 86_400 },
    quota: { limit: null, used: 1234, remaining: null },
    upload_rate_per_minute: 60,
    ...change,
  };
}

describe("refusal", () => {
  it("refuses an extension the policy does not list, naming every allowed type", () => {
    const sentence = refusal({ name: "setup.exe", size: 10 }, policyWith());
    expect(sentence).toBe(
      ".exe files are not accepted. Allowed: .gif, .jpeg, .jpg, .mp4, .pdf, .png, .txt, .webm, .webp.",
    );
  });

  it("refuses a file without an extension", () => {
    expect(refusal({ name: "README", size: 10 }, policyWith())).toMatch(/^Files without an extension are not accepted\. Allowed: \.gif/);
  });

  it("judges the extension whatever its case", () => {
    expect(refusal({ name: "Holiday.JPG", size: 10 }, policyWith())).toBeNull();
  });

  it("refuses a file over max_upload_size, with both sizes in human units", () => {
    const sentence = refusal({ name: "film.mp4", size: 60 * 1_048_576 }, policyWith());
    expect(sentence).toBe("The file is 60 MB; the limit is 50 MB.");
  });

  it("accepts a file exactly at max_upload_size", () => {
    expect(refusal({ name: "film.mp4", size: 52_428_800 }, policyWith())).toBeNull();
  });

  it("refuses an empty file", () => {
    expect(refusal({ name: "notes.txt", size: 0 }, policyWith())).toBe("The file is empty.");
  });

  it("refuses a file larger than the quota's remaining space", () => {
    const policy = policyWith({ quota: { limit: 10_485_760, used: 9_973_760, remaining: 512_000 } });
    expect(refusal({ name: "photo.png", size: 2_097_152 }, policy)).toBe(
      "Your storage has 500 KB left; the file is 2.0 MB.",
    );
    expect(refusal({ name: "photo.png", size: 512_000 }, policy)).toBeNull();
  });

  it("ignores the quota where there is none", () => {
    expect(refusal({ name: "photo.png", size: 40_000_000 }, policyWith())).toBeNull();
  });
});

describe("kindOf", () => {
  it("names the kind from the extension, case-insensitively", () => {
    const policy = policyWith();
    expect(kindOf("a.PNG", policy)).toBe("image");
    expect(kindOf("clip.webm", policy)).toBe("video");
    expect(kindOf("report.final.pdf", policy)).toBe("document");
  });

  it("is null for an unknown extension or none", () => {
    const policy = policyWith();
    expect(kindOf("tool.exe", policy)).toBeNull();
    expect(kindOf("Makefile", policy)).toBeNull();
    expect(kindOf("archive.tar.gz", policy)).toBeNull();
  });
});

describe("allowedTypes", () => {
  it("lists every extension once, sorted, with its dot", () => {
    expect(allowedTypes(policyWith({ extensions: { image: ["png"], document: ["pdf"], video: ["mp4"] } }))).toBe(
      ".mp4, .pdf, .png",
    );
  });
});
