import { describe, expect, it } from "vitest";
import { compressionPlan, MAX_BYTES, MAX_EDGE } from "./compress";

const MB = 1_000_000;

describe("compressionPlan", () => {
  it("scales a large JPEG to 2560 on its long edge, keeping its ratio", () => {
    expect(compressionPlan({ type: "image/jpeg", size: 8 * MB, width: 4000, height: 3000, transparent: false })).toEqual({
      width: MAX_EDGE,
      height: 1920,
      type: "image/jpeg",
    });
  });

  it("scales a portrait photo by its height", () => {
    expect(compressionPlan({ type: "image/jpeg", size: 5 * MB, width: 3024, height: 4032, transparent: false })).toEqual({
      width: 1920,
      height: 2560,
      type: "image/jpeg",
    });
  });

  it("leaves a JPEG under both bounds alone", () => {
    expect(compressionPlan({ type: "image/jpeg", size: 800_000, width: 1600, height: 1200, transparent: false })).toBeNull();
    expect(
      compressionPlan({ type: "image/jpeg", size: MAX_BYTES, width: MAX_EDGE, height: MAX_EDGE, transparent: false }),
    ).toBeNull();
  });

  it("never touches a GIF, however large", () => {
    expect(compressionPlan({ type: "image/gif", size: 20 * MB, width: 4000, height: 3000, transparent: false })).toBeNull();
  });

  it("never touches an image with transparency", () => {
    expect(compressionPlan({ type: "image/png", size: 9 * MB, width: 3000, height: 2000, transparent: true })).toBeNull();
  });

  it("turns an opaque 3000x2000 PNG into a JPEG plan", () => {
    expect(compressionPlan({ type: "image/png", size: 9 * MB, width: 3000, height: 2000, transparent: false })).toEqual({
      width: 2560,
      height: 1707,
      type: "image/jpeg",
    });
  });

  it("keeps WebP as WebP", () => {
    expect(compressionPlan({ type: "image/webp", size: 3 * MB, width: 5120, height: 2880, transparent: false })).toEqual({
      width: 2560,
      height: 1440,
      type: "image/webp",
    });
  });

  it("never upscales: a 1000x800 JPEG of 3 MB is re-encoded at 1000x800", () => {
    expect(compressionPlan({ type: "image/jpeg", size: 3 * MB, width: 1000, height: 800, transparent: false })).toEqual({
      width: 1000,
      height: 800,
      type: "image/jpeg",
    });
  });

  it("leaves types it cannot re-encode alone", () => {
    expect(compressionPlan({ type: "image/svg+xml", size: 3 * MB, width: 4000, height: 4000, transparent: false })).toBeNull();
  });
});
