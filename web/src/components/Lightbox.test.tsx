import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Attachment } from "../lib/types";
import { MediaPreview } from "./MediaPreview";

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

function visual(id: string, name: string, kind: "image" | "video"): Attachment {
  const extension = kind === "image" ? "png" : "mp4";
  return {
    id,
    message_id: "m1",
    uploader_id: "alice",
    filename: `${id}.${extension}`,
    original_name: name,
    content_type: kind === "image" ? "image/png" : "video/mp4",
    kind,
    size: 50_000,
    sha256: "0".repeat(64),
    url: `/api/v1/media/files/${id}.${extension}?exp=1900000000&u=alice&sig=f-${id}`,
    thumbnail_url: `/api/v1/media/${id}/thumbnail?exp=1900000000&u=alice&sig=t-${id}`,
    width: 400,
    height: 300,
    created_at: "2025-01-01T00:00:00Z",
    urls_expire_at: inAnHour(),
  };
}

const attachments = (): Attachment[] => [
  visual("i1", "a.png", "image"),
  {
    ...visual("d1", "notes.pdf", "image"),
    kind: "document",
    content_type: "application/pdf",
    thumbnail_url: undefined,
  },
  visual("v1", "b.mp4", "video"),
  visual("i2", "c.png", "image"),
];

beforeEach(() => {
  vi.stubGlobal("fetch", vi.fn(async () => new Response("{}", { status: 404 })));
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

function renderPreview() {
  render(<MediaPreview attachments={attachments()} baseUrl="" getToken={() => "t"} />);
}

describe("Lightbox", () => {
  it("opens on the image clicked, among the images and videos only", async () => {
    const user = userEvent.setup();
    renderPreview();
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Open a.png" }));

    const dialog = screen.getByRole("dialog", { name: "a.png (1 of 3)" });
    expect(dialog).toHaveAttribute("aria-modal", "true");
    expect(within(dialog).getByText(/1 of 3/)).toBeInTheDocument();
    expect(dialog).toHaveFocus();
    // Full size: the file, not the thumbnail.
    expect(within(dialog).getByRole("img", { name: "a.png" })).toHaveAttribute("src", attachments()[0].url);
    expect(within(dialog).getByRole("link", { name: "Download" })).toHaveAttribute("download", "a.png");
    expect(within(dialog).getByRole("button", { name: "Previous" })).toBeDisabled();
  });

  it("shows a large image's preview, and still downloads the original", async () => {
    const user = userEvent.setup();
    const large = {
      ...visual("i9", "IMG_0001.HEIC", "image"),
      filename: "i9.jpg",
      content_type: "image/jpeg",
      url: "/api/v1/media/files/i9.jpg?exp=1900000000&u=alice&sig=f-i9",
      preview_url: "/api/v1/media/i9/preview?exp=1900000000&u=alice&sig=p-i9",
      width: 4032,
      height: 3024,
    };
    render(<MediaPreview attachments={[large]} baseUrl="" getToken={() => "t"} />);
    await user.click(screen.getByRole("button", { name: "Open IMG_0001.HEIC" }));

    const dialog = screen.getByRole("dialog", { name: "IMG_0001.HEIC (1 of 1)" });
    expect(within(dialog).getByRole("img", { name: "IMG_0001.HEIC" })).toHaveAttribute("src", large.preview_url);
    const download = within(dialog).getByRole("link", { name: "Download" });
    expect(download).toHaveAttribute("href", large.url);
    expect(download).toHaveAttribute("download", "IMG_0001.jpg"); // stored as a JPEG
  });

  it("goes next with ArrowRight (a video plays in a <video>) and back with ArrowLeft", async () => {
    const user = userEvent.setup();
    renderPreview();
    await user.click(screen.getByRole("button", { name: "Open a.png" }));

    await user.keyboard("{ArrowRight}");
    const dialog = screen.getByRole("dialog", { name: "b.mp4 (2 of 3)" });
    const player = dialog.querySelector("video");
    expect(player).not.toBeNull();
    expect(player).toHaveAttribute("src", attachments()[2].url);
    expect(player).toHaveAttribute("controls");
    expect(within(dialog).queryByRole("img")).not.toBeInTheDocument();

    await user.keyboard("{ArrowRight}");
    expect(screen.getByRole("dialog", { name: "c.png (3 of 3)" })).toBeInTheDocument();
    await user.keyboard("{ArrowRight}"); // the last stays the last
    expect(screen.getByRole("dialog", { name: "c.png (3 of 3)" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Next" })).toBeDisabled();

    await user.keyboard("{ArrowLeft}");
    expect(screen.getByRole("dialog", { name: "b.mp4 (2 of 3)" })).toBeInTheDocument();
    await user.keyboard("{ArrowLeft}");
    expect(screen.getByRole("dialog", { name: "a.png (1 of 3)" })).toBeInTheDocument();
    await user.keyboard("{ArrowLeft}"); // the first stays the first
    expect(screen.getByRole("dialog", { name: "a.png (1 of 3)" })).toBeInTheDocument();
  });

  it("closes with Escape and gives focus back to the button that opened it", async () => {
    const user = userEvent.setup();
    renderPreview();
    const opener = screen.getByRole("button", { name: "Open c.png" });
    await user.click(opener);
    expect(screen.getByRole("dialog", { name: "c.png (3 of 3)" })).toBeInTheDocument();
    await user.keyboard("{ArrowLeft}");

    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(opener).toHaveFocus();
  });

  it("closes with its Close button too, focus back on the opener", async () => {
    const user = userEvent.setup();
    renderPreview();
    const opener = screen.getByRole("button", { name: "Full screen: b.mp4" });
    await user.click(opener);
    expect(screen.getByRole("dialog", { name: "b.mp4 (2 of 3)" })).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Close" }));
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(opener).toHaveFocus();
  });

  it("keeps Tab inside the dialog", async () => {
    const user = userEvent.setup();
    renderPreview();
    await user.click(screen.getByRole("button", { name: "Open c.png" }));
    const dialog = screen.getByRole("dialog");
    // The last control is Next (disabled on the last item): go to a.png where it is enabled.
    await user.keyboard("{ArrowLeft}{ArrowLeft}");
    within(dialog).getByRole("button", { name: "Next" }).focus();
    await user.tab();
    expect(within(dialog).getByRole("link", { name: "Download" })).toHaveFocus();
    await user.tab({ shift: true });
    expect(within(dialog).getByRole("button", { name: "Next" })).toHaveFocus();
  });

  it("keeps Tab inside the dialog on the last item too, where Next is disabled", async () => {
    const user = userEvent.setup();
    renderPreview();
    await user.click(screen.getByRole("button", { name: "Open c.png" }));
    const dialog = screen.getByRole("dialog", { name: "c.png (3 of 3)" });
    const previous = within(dialog).getByRole("button", { name: "Previous" });
    previous.focus();
    await user.tab();
    expect(dialog).toContainElement(document.activeElement as HTMLElement);
    expect(within(dialog).getByRole("link", { name: "Download" })).toHaveFocus();
    await user.tab({ shift: true });
    expect(previous).toHaveFocus();
  });
});
