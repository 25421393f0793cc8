import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Attachment } from "../lib/types";
import { MediaPreview } from "./MediaPreview";

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
const signed = (path: string, sig = "s1") => `${path}?exp=1900000000&u=alice&sig=${sig}`;
const getToken = () => "t";

function attachment(id: string, change: Partial<Attachment>): Attachment {
  return {
    id,
    message_id: "m1",
    uploader_id: "alice",
    filename: `${id}.bin`,
    original_name: `${id}.bin`,
    content_type: "application/octet-stream",
    kind: "document",
    size: 1000,
    sha256: "0".repeat(64),
    url: signed(`/api/v1/media/files/${id}.bin`),
    created_at: "2025-01-01T00:00:00Z",
    urls_expire_at: inAnHour(),
    ...change,
  };
}

const image = () =>
  attachment("i1", {
    filename: "i1.png",
    original_name: "a.png",
    content_type: "image/png",
    kind: "image",
    size: 120_000,
    width: 400,
    height: 300,
    blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
    url: signed("/api/v1/media/files/i1.png"),
    thumbnail_url: signed("/api/v1/media/i1/thumbnail"),
  });
const video = () =>
  attachment("v1", {
    filename: "v1.mp4",
    original_name: "b.mp4",
    content_type: "video/mp4",
    kind: "video",
    size: 4_000_000,
    width: 1280,
    height: 720,
    duration_s: 12,
    url: signed("/api/v1/media/files/v1.mp4"),
    thumbnail_url: signed("/api/v1/media/v1/thumbnail"),
  });
const document_ = () =>
  attachment("d1", {
    filename: "d1.pdf",
    original_name: "Quarterly report.pdf",
    content_type: "application/pdf",
    kind: "document",
    size: 2_621_440,
    url: signed("/api/v1/media/files/d1.pdf"),
  });

beforeEach(() => {
  // No route is expected unless a URL needs renewing; anything else is a 404.
  vi.stubGlobal(
    "fetch",
    vi.fn(async () => new Response(JSON.stringify({ detail: "Not found." }), { status: 404 })),
  );
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("MediaPreview", () => {
  it("shows an image as a button that opens it, with its lazy signed thumbnail", () => {
    render(<MediaPreview attachments={[image()]} baseUrl="" getToken={getToken} />);
    const open = screen.getByRole("button", { name: "Open a.png" });
    const img = within(open).getByRole("img", { name: "a.png" });
    expect(img).toHaveAttribute("loading", "lazy");
    expect(img).toHaveAttribute("src", signed("/api/v1/media/i1/thumbnail"));
    expect(within(open).getByTestId("blur-box").style.aspectRatio).toBe("400 / 300");
  });

  it("falls back to the file itself for an image without thumbnail", () => {
    render(<MediaPreview attachments={[{ ...image(), thumbnail_url: undefined }]} baseUrl="" getToken={getToken} />);
    expect(screen.getByRole("img", { name: "a.png" })).toHaveAttribute("src", signed("/api/v1/media/files/i1.png"));
  });

  it("puts the service's origin before the signed paths when it is elsewhere", () => {
    render(<MediaPreview attachments={[image()]} baseUrl="https://media.example/" getToken={getToken} />);
    expect(screen.getByRole("img", { name: "a.png" })).toHaveAttribute(
      "src",
      `https://media.example${signed("/api/v1/media/i1/thumbnail")}`,
    );
  });

  it("plays a video inline with controls, metadata only, and its poster", () => {
    const { container } = render(<MediaPreview attachments={[video()]} baseUrl="" getToken={getToken} />);
    const player = container.querySelector("video");
    expect(player).not.toBeNull();
    expect(player).toHaveAccessibleName("b.mp4");
    expect(player).toHaveAttribute("controls");
    expect(player).toHaveAttribute("preload", "metadata");
    expect(player).toHaveAttribute("poster", signed("/api/v1/media/v1/thumbnail"));
    expect(player).toHaveAttribute("src", signed("/api/v1/media/files/v1.mp4"));
    expect(screen.getByRole("button", { name: "Full screen: b.mp4" })).toBeInTheDocument();
  });

  it("shows a document as a card with its name, size, type and a download link", () => {
    render(<MediaPreview attachments={[document_()]} baseUrl="" getToken={getToken} />);
    expect(screen.getByText("Quarterly report.pdf")).toBeInTheDocument();
    expect(screen.getByText("2.5 MB · PDF document")).toBeInTheDocument();
    const link = screen.getByRole("link", { name: "Download Quarterly report.pdf" });
    expect(link).toHaveAttribute("download", "Quarterly report.pdf");
    expect(link).toHaveAttribute("href", signed("/api/v1/media/files/d1.pdf"));
    expect(screen.queryByRole("button", { name: /^Open/ })).not.toBeInTheDocument();
  });

  it("renews a URL that fails to load and shows the new one", async () => {
    const later = new Date(Date.now() + 7_200_000).toISOString();
    const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
      expect(String(input)).toBe("/api/v1/media/sign");
      expect(init.method).toBe("POST");
      expect(JSON.parse(String(init.body))).toEqual({ attachment_ids: ["i1"] });
      return new Response(
        JSON.stringify([
          { id: "i1", url: signed("/api/v1/media/files/i1.png", "s2"), thumbnail_url: signed("/api/v1/media/i1/thumbnail", "s2"), urls_expire_at: later },
        ]),
        { status: 200, headers: { "Content-Type": "application/json" } },
      );
    });
    vi.stubGlobal("fetch", fetchMock);
    render(<MediaPreview attachments={[image()]} baseUrl="" getToken={getToken} />);
    fireEvent.error(screen.getByRole("img", { name: "a.png" }));
    await waitFor(() =>
      expect(screen.getByRole("img", { name: "a.png" })).toHaveAttribute("src", signed("/api/v1/media/i1/thumbnail", "s2")),
    );
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it("offers Delete where allowed, after a confirmation", async () => {
    const user = userEvent.setup();
    const onDelete = vi.fn();
    const confirm = vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    render(
      <MediaPreview
        attachments={[document_(), image()]}
        baseUrl=""
        getToken={getToken}
        onDelete={onDelete}
        canDelete={(a) => a.id === "d1"}
      />,
    );
    expect(screen.queryByRole("button", { name: "Delete a.png" })).not.toBeInTheDocument();
    const remove = screen.getByRole("button", { name: "Delete Quarterly report.pdf" });
    await user.click(remove);
    expect(onDelete).not.toHaveBeenCalled();
    await user.click(remove);
    expect(confirm).toHaveBeenLastCalledWith("Delete Quarterly report.pdf?");
    expect(onDelete).toHaveBeenCalledWith(expect.objectContaining({ id: "d1" }));
  });
});
