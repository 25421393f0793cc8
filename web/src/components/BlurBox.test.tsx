import { render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BlurBox, blurhashDataUrl } from "./BlurBox";

const HASH = "LEHV6nWB2yk8pyo0adR*.7kCMdnj";

afterEach(() => {
  vi.restoreAllMocks();
});

/** A 2D context as far as BlurBox uses it: jsdom has no canvas implementation of its own. */
function stubCanvas() {
  const put: ImageData[] = [];
  const context = {
    createImageData: (width: number, height: number) => ({ width, height, data: new Uint8ClampedArray(width * height * 4) }),
    putImageData: (image: ImageData) => put.push(image),
  };
  vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(
    (() => context) as unknown as HTMLCanvasElement["getContext"],
  );
  vi.spyOn(HTMLCanvasElement.prototype, "toDataURL").mockImplementation(() => "data:image/png;base64,iVBORw0KGgo=");
  return put;
}

describe("BlurBox", () => {
  it("keeps the picture's aspect ratio before anything loads (jsdom: no 2D context, so no paint)", () => {
    // jsdom reports getContext as not implemented and returns null: the plain box is the outcome.
    render(<BlurBox width={400} height={300} blurhash={HASH} />);
    const box = screen.getByTestId("blur-box");
    expect(box.style.aspectRatio).toBe("400 / 300");
    expect(box.style.backgroundImage).toBe("");
  });

  it("paints the BlurHash as a background data URL where the browser has a 2D canvas", () => {
    const put = stubCanvas();
    render(<BlurBox width={400} height={300} blurhash={HASH} />);
    const box = screen.getByTestId("blur-box");
    expect(box.style.aspectRatio).toBe("400 / 300");
    expect(box.style.backgroundImage).toMatch(/^url\("?data:image\/png;base64,/);
    // The pixels drawn are the hash's colours, opaque, not an empty canvas.
    expect(put).toHaveLength(1);
    const pixels = put[0].data;
    expect(pixels.length).toBe(32 * 32 * 4);
    expect(pixels[3]).toBe(255);
    expect(pixels.some((value, i) => i % 4 !== 3 && value > 0)).toBe(true);
  });

  it("shows the plain box for a malformed hash, without throwing", () => {
    stubCanvas();
    expect(() => render(<BlurBox width={400} height={300} blurhash="not a hash" />)).not.toThrow();
    const box = screen.getByTestId("blur-box");
    expect(box.style.aspectRatio).toBe("400 / 300");
    expect(box.style.backgroundImage).toBe("");
    expect(blurhashDataUrl("###")).toBeNull();
  });

  it("takes 4 / 3 where the size is unknown, and holds a tall picture to a wide one's height", () => {
    const { rerender } = render(<BlurBox />);
    expect(screen.getByTestId("blur-box").style.aspectRatio).toBe("4 / 3");
    rerender(<BlurBox width={300} height={600} maxWidth={320} />);
    const box = screen.getByTestId("blur-box");
    expect(box.style.aspectRatio).toBe("300 / 600");
    // jsdom's CSSOM folds min(100%, 160px) to its px term; a browser keeps the min().
    expect(box.style.width).toMatch(/160px/);
  });

  it("holds its content", () => {
    render(
      <BlurBox width={10} height={10}>
        <img alt="inside" />
      </BlurBox>,
    );
    expect(screen.getByRole("img", { name: "inside" })).toBeInTheDocument();
  });
});
