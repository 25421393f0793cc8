// Photos are re-encoded in the browser before upload when they are larger than a chat needs: a
// canvas of our own (createImageBitmap + OffscreenCanvas/canvas), a few lines where a library
// (browser-image-compression, ~25 KB gzip) would add a worker pool we do not need. The service's
// checks and metadata stripping stay the authority.

export const MAX_EDGE = 2560;
export const MAX_BYTES = 2_000_000;
export const QUALITY = 0.85;

export interface ImageFacts {
  type: string;
  size: number;
  width: number;
  height: number;
  /** Whether any pixel is not fully opaque (a PNG or WebP with transparency). */
  transparent: boolean;
}

export interface CompressionPlan {
  width: number;
  height: number;
  type: "image/jpeg" | "image/webp";
}

/** What to re-encode this image to, or null to send it as it is. Never upscales; never touches a
 *  GIF (it may be animated) nor an image with transparency (JPEG would paint it black). */
export function compressionPlan(image: ImageFacts): CompressionPlan | null {
  if (!["image/jpeg", "image/png", "image/webp", "image/bmp"].includes(image.type)) return null;
  if (image.transparent) return null;
  const longEdge = Math.max(image.width, image.height);
  if (longEdge <= MAX_EDGE && image.size <= MAX_BYTES) return null;
  const scale = Math.min(1, MAX_EDGE / longEdge);
  return {
    width: Math.max(1, Math.round(image.width * scale)),
    height: Math.max(1, Math.round(image.height * scale)),
    type: image.type === "image/webp" ? "image/webp" : "image/jpeg",
  };
}

function hasTransparency(bitmap: ImageBitmap): boolean {
  // A reduced copy is enough to find an alpha below 255 in any real image's transparent area.
  const side = 64;
  const canvas = new OffscreenCanvas(side, side);
  const context = canvas.getContext("2d");
  if (!context) return false;
  context.drawImage(bitmap, 0, 0, side, side);
  const pixels = context.getImageData(0, 0, side, side).data;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] < 255) return true;
  return false;
}

export interface Compressed {
  file: File;
  originalSize: number;
}

/** The file re-encoded per compressionPlan, or null when it is better sent as it is (no plan, a
 *  browser that cannot decode it, or a result no smaller than the original). */
export async function compressImage(file: File): Promise<Compressed | null> {
  if (typeof createImageBitmap !== "function" || typeof OffscreenCanvas !== "function") return null;
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return null;
  }
  try {
    const transparent = ["image/png", "image/webp"].includes(file.type) && hasTransparency(bitmap);
    const plan = compressionPlan({
      type: file.type,
      size: file.size,
      width: bitmap.width,
      height: bitmap.height,
      transparent,
    });
    if (!plan) return null;
    const canvas = new OffscreenCanvas(plan.width, plan.height);
    const context = canvas.getContext("2d");
    if (!context) return null;
    context.imageSmoothingQuality = "high";
    context.drawImage(bitmap, 0, 0, plan.width, plan.height);
    const blob = await canvas.convertToBlob({ type: plan.type, quality: QUALITY });
    if (blob.size >= file.size) return null;
    const extension = plan.type === "image/webp" ? "webp" : "jpg";
    const name = file.name.replace(/\.[^.]*$/, "") + `.${extension}`;
    return { file: new File([blob], name, { type: plan.type, lastModified: file.lastModified }), originalSize: file.size };
  } finally {
    bitmap.close();
  }
}
