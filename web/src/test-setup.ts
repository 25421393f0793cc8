import "@testing-library/jest-dom/vitest";

// jsdom has no canvas: getContext answers null, as it does, without its "Not implemented" line
// for every BlurBox drawn. A test that needs a 2D context stubs one itself.
HTMLCanvasElement.prototype.getContext = (() => null) as typeof HTMLCanvasElement.prototype.getContext;
