import { describe, expect, it } from "vitest";
import { ApiError, explain } from "./api";

describe("explain", () => {
  it("tells a dropped connection to check the network", () => {
    expect(explain(0, "")).toBe("The connection dropped. Check your network and try again.");
  });

  it("tells an ended session to sign in again, whatever the detail", () => {
    expect(explain(401, "Signature has expired")).toBe("Your session has ended. Sign in again.");
  });

  it("gives the service's own sentence for 413, or a plain one without it", () => {
    expect(explain(413, "The file is over the 50 MB limit.")).toBe("The file is over the 50 MB limit.");
    expect(explain(413, "")).toBe("The file is too large.");
  });

  it("says when an upload over the rate goes again", () => {
    expect(explain(429, "Too many uploads", 12)).toBe("Too many uploads: trying again in 12 s.");
    expect(explain(429, "Too many uploads")).toBe("Too many uploads");
    expect(explain(429, "")).toBe("Too many uploads. Wait a moment and try again.");
  });

  it("falls back to the status for one it does not know", () => {
    expect(explain(418, "")).toBe("The service answered 418.");
  });

  it("is the message of an ApiError", () => {
    const error = new ApiError(429, "slow down", 3);
    expect(error.message).toBe("Too many uploads: trying again in 3 s.");
    expect(error.status).toBe(429);
    expect(error.retryAfter).toBe(3);
  });
});
