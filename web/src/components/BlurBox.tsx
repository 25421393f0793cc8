// The box an image or a video takes before any byte arrives: its aspect ratio from the
// attachment's width and height (so the timeline does not jump), painted with its BlurHash.
import { decode } from "blurhash";
import { useMemo, type ReactNode } from "react";

const SIDE = 32; // a BlurHash carries a few components: 32 px, stretched, is all it can show

export function blurhashDataUrl(hash: string): string | null {
  try {
    const pixels = decode(hash, SIDE, SIDE);
    const canvas = document.createElement("canvas");
    canvas.width = SIDE;
    canvas.height = SIDE;
    const context = canvas.getContext("2d");
    if (!context) return null;
    const image = context.createImageData(SIDE, SIDE);
    image.data.set(pixels);
    context.putImageData(image, 0, 0);
    return canvas.toDataURL();
  } catch {
    return null; // a malformed hash: the plain box
  }
}

export interface BlurBoxProps {
  width?: number;
  height?: number;
  blurhash?: string;
  /** The box's width in CSS pixels at most; its height follows the ratio. */
  maxWidth?: number;
  children?: ReactNode;
}

export function BlurBox({ width, height, blurhash, maxWidth = 320, children }: BlurBoxProps) {
  const painted = useMemo(() => (blurhash ? blurhashDataUrl(blurhash) : null), [blurhash]);
  const ratio = width && height ? `${width} / ${height}` : "4 / 3";
  // A tall photo is held to the height a wide one of maxWidth would take.
  const widest = width && height && height > width ? Math.round((maxWidth * width) / height) : maxWidth;
  return (
    <div
      className="blur-box"
      data-testid="blur-box"
      style={{
        aspectRatio: ratio,
        width: `${widest}px`,
        backgroundImage: painted ? `url(${painted})` : undefined,
      }}
    >
      {children}
    </div>
  );
}
