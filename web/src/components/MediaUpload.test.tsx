import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Attachment, Message, Policy } from "../lib/types";
import { MediaUpload } from "./MediaUpload";

// IndexedDB does not exist in jsdom: the tray is kept in a Map instead.
const idb = vi.hoisted(() => ({ store: new Map<string, unknown>() }));
vi.mock("idb-keyval", () => ({
  get: async (key: string) => idb.store.get(key),
  set: async (key: string, value: unknown) => {
    idb.store.set(key, value);
  },
  del: async (key: string) => {
    idb.store.delete(key);
  },
}));

const CONVERSATION = "c0ffee00-0000-4000-8000-000000000001";

const POLICY: Policy = {
  max_upload_size: 52_428_800,
  extensions: {
    image: ["gif", "jpeg", "jpg", "png", "webp"],
    document: ["pdf", "txt", "docx"],
    video: ["mp4", "webm"],
  },
  max_attachments_per_message: 10,
  max_image_pixels: 50_000_000,
  resumable: { path: "/api/v1/media/uploads", max_size: 52_428_800, ttl_s: 86_400 },
  quota: { limit: null, used: 1234, remaining: null },
  upload_rate_per_minute: 60,
};

/** What the service saw, in the order it saw it. */
let log: string[] = [];
let posted: { content: string; attachment_ids?: string[] }[] = [];
let attachmentCount = 0;

function attachmentFor(file: File, messageId: string | null): Attachment {
  attachmentCount += 1;
  const id = `a${attachmentCount}`;
  return {
    id,
    message_id: messageId,
    uploader_id: "alice",
    filename: `${id}.${file.name.split(".").pop()}`,
    original_name: file.name,
    content_type: file.type,
    kind: "document",
    size: file.size,
    sha256: "0".repeat(64),
    url: `/api/v1/media/files/${id}?exp=1&u=alice&sig=x`,
    created_at: "2025-01-01T00:00:00Z",
  };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

async function fakeFetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
  const url = String(input);
  const method = init.method ?? "GET";
  const headers = new Headers(init.headers);
  if (headers.get("Authorization") !== "Bearer t") return json(401, { status_code: 401, detail: "no token" });
  if (method === "GET" && url === "/api/v1/media/policy") return json(200, POLICY);
  const messages = url.match(/^\/api\/v1\/conversations\/([^/?]+)\/messages$/);
  if (method === "POST" && messages) {
    const body = JSON.parse(String(init.body)) as { content: string; attachment_ids?: string[] };
    posted.push(body);
    log.push(`POST message ${JSON.stringify(body)}`);
    const message: Message = {
      id: "m1",
      conversation_id: messages[1],
      sender_id: "alice",
      content: body.content,
      has_media: (body.attachment_ids ?? []).length > 0,
      attachments: [],
      created_at: "2025-01-01T00:00:00Z",
    };
    return json(201, message);
  }
  if (method === "DELETE" && url.startsWith("/api/v1/media/")) {
    log.push(`DELETE ${url}`);
    return new Response(null, { status: 204 });
  }
  return json(404, { status_code: 404, detail: "Not found." });
}

/** XMLHttpRequest as far as ChatApi.upload uses it; the test plays the service. */
class FakeXHR {
  static sent: FakeXHR[] = [];
  method = "";
  url = "";
  headers: Record<string, string> = {};
  responseType = "";
  status = 0;
  response: unknown = null;
  responseHeaders: Record<string, string> = {};
  body: FormData | null = null;
  aborted = false;
  upload: { onprogress: ((event: Partial<ProgressEvent>) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;

  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  getResponseHeader(name: string): string | null {
    return this.responseHeaders[name] ?? null;
  }
  send(body: FormData) {
    this.body = body;
    const messageId = body.get("message_id");
    log.push(`upload ${this.file.name}${messageId ? ` message_id=${String(messageId)}` : ""}`);
    FakeXHR.sent.push(this);
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }

  get file(): File {
    return this.body?.get("file") as File;
  }
  /** What a browser reports: bytes of the whole multipart body, a little more than the file. */
  get bodySize(): number {
    return this.file.size + 200;
  }
  async progress(fraction: number) {
    await act(async () => {
      this.upload.onprogress?.({ lengthComputable: true, loaded: Math.round(this.bodySize * fraction), total: this.bodySize });
    });
  }
  async succeed(messageId: string | null = null): Promise<Attachment> {
    const attachment = attachmentFor(this.file, messageId);
    await this.respond(201, [attachment]);
    return attachment;
  }
  async respond(status: number, body: unknown, headers: Record<string, string> = {}) {
    await act(async () => {
      this.status = status;
      this.response = body;
      this.responseHeaders = headers;
      this.onload?.();
    });
  }
}

function fileOf(name: string, size: number, type: string): File {
  return new File(["x".repeat(size)], name, { type });
}

function renderUpload(props: Partial<Parameters<typeof MediaUpload>[0]> = {}) {
  const onSent = vi.fn();
  const getToken = () => "t";
  render(<MediaUpload baseUrl="" getToken={getToken} conversationId={CONVERSATION} onSent={onSent} {...props} />);
  return { onSent };
}

async function picker() {
  return screen.findByLabelText<HTMLInputElement>("Attach files");
}

function card(name: string): HTMLElement {
  return screen.getByRole("listitem", { name });
}

beforeEach(() => {
  idb.store.clear();
  log = [];
  posted = [];
  attachmentCount = 0;
  FakeXHR.sent = [];
  vi.stubGlobal("fetch", vi.fn(fakeFetch));
  vi.stubGlobal("XMLHttpRequest", FakeXHR);
  // jsdom's URL.createObjectURL does not take jsdom's File.
  let blobs = 0;
  vi.spyOn(URL, "createObjectURL").mockImplementation(() => `blob:preview-${(blobs += 1)}`);
  vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => undefined);
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("MediaUpload", () => {
  it("shows a card per picked file, with its name and size", async () => {
    const user = userEvent.setup();
    renderUpload();
    await user.upload(await picker(), [fileOf("photo.png", 1500, "image/png"), fileOf("notes.pdf", 20, "application/pdf")]);

    const tray = screen.getByRole("list", { name: "Files to send" });
    expect(within(tray).getAllByRole("listitem")).toHaveLength(2);
    expect(within(card("photo.png")).getByText("photo.png")).toBeInTheDocument();
    expect(card("photo.png")).toHaveTextContent("1.5 KB");
    expect(within(card("notes.pdf")).getByText("notes.pdf")).toBeInTheDocument();
    expect(card("notes.pdf")).toHaveTextContent("20 B");
    // An image is previewed from the picked bytes.
    expect(within(card("photo.png")).getByRole("presentation")).toHaveAttribute("src", expect.stringMatching(/^blob:/));
  });

  it("tells why a refused file cannot go, beside it, while the other one uploads", async () => {
    // Past the picker's accept filter, as with "All files" in the dialog.
    const user = userEvent.setup({ applyAccept: false });
    renderUpload();
    await user.upload(await picker(), [fileOf("setup.exe", 300, "application/octet-stream"), fileOf("notes.pdf", 300, "application/pdf")]);

    expect(within(card("setup.exe")).getByRole("alert")).toHaveTextContent(
      ".exe files are not accepted. Allowed: .docx, .gif, .jpeg, .jpg, .mp4, .pdf, .png, .txt, .webm, .webp.",
    );
    expect(card("setup.exe")).toHaveTextContent("Not accepted");
    expect(within(card("setup.exe")).queryByRole("progressbar")).not.toBeInTheDocument();

    await waitFor(() => expect(FakeXHR.sent).toHaveLength(1));
    expect(FakeXHR.sent[0].file.name).toBe("notes.pdf");
    expect(FakeXHR.sent[0].headers.Authorization).toBe("Bearer t");
    await FakeXHR.sent[0].succeed();
    expect(card("notes.pdf")).toHaveTextContent("Uploaded");
    expect(within(card("notes.pdf")).queryByRole("alert")).not.toBeInTheDocument();
  });

  it("shows the upload's progress as it goes", async () => {
    const user = userEvent.setup();
    renderUpload();
    await user.upload(await picker(), fileOf("notes.pdf", 1000, "application/pdf"));
    await waitFor(() => expect(FakeXHR.sent).toHaveLength(1));
    const bar = within(card("notes.pdf")).getByRole("progressbar", { name: "Upload of notes.pdf" });
    expect(card("notes.pdf")).toHaveTextContent("Uploading");
    expect(bar).toHaveAttribute("aria-valuenow", "0");

    await FakeXHR.sent[0].progress(0.5);
    expect(bar).toHaveAttribute("aria-valuenow", "50");
    expect(bar).toHaveAttribute("aria-valuetext", "500 B of 1.0 KB");

    await FakeXHR.sent[0].progress(1);
    expect(bar).toHaveAttribute("aria-valuenow", "100");
    expect(bar).toHaveAttribute("aria-valuetext", "1.0 KB of 1.0 KB");

    await FakeXHR.sent[0].succeed();
    expect(card("notes.pdf")).toHaveTextContent("Uploaded");
    expect(within(card("notes.pdf")).getByRole("progressbar")).toHaveAttribute("aria-valuenow", "100");
  });

  it("cancels an upload: the card goes and the request is aborted", async () => {
    const user = userEvent.setup();
    renderUpload();
    await user.upload(await picker(), fileOf("notes.pdf", 1000, "application/pdf"));
    await waitFor(() => expect(FakeXHR.sent).toHaveLength(1));
    await FakeXHR.sent[0].progress(0.3);

    await user.click(within(card("notes.pdf")).getByRole("button", { name: "Cancel notes.pdf" }));

    expect(screen.queryByRole("listitem", { name: "notes.pdf" })).not.toBeInTheDocument();
    expect(screen.queryByRole("list", { name: "Files to send" })).not.toBeInTheDocument();
    expect(FakeXHR.sent[0].aborted).toBe(true);
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();
  });

  it("uploads three at a time, the next starting as one finishes", async () => {
    const user = userEvent.setup();
    renderUpload();
    const names = ["a.pdf", "b.pdf", "c.pdf", "d.pdf", "e.pdf"];
    await user.upload(await picker(), names.map((n) => fileOf(n, 10, "application/pdf")));
    await waitFor(() => expect(FakeXHR.sent).toHaveLength(3));
    expect(card("d.pdf")).toHaveTextContent("Waiting to upload");
    await FakeXHR.sent[0].succeed();
    await waitFor(() => expect(FakeXHR.sent).toHaveLength(4));
    expect(FakeXHR.sent.map((xhr) => xhr.file.name)).toEqual(["a.pdf", "b.pdf", "c.pdf", "d.pdf"]);
  });

  it("waits out a 429's Retry-After, then uploads again by itself", async () => {
    const user = userEvent.setup();
    renderUpload();
    await user.upload(await picker(), [fileOf("notes.pdf", 10, "application/pdf")]);
    await waitFor(() => expect(FakeXHR.sent).toHaveLength(1));
    await FakeXHR.sent[0].respond(429, { status_code: 429, detail: "Too many uploads." }, { "Retry-After": "1" });
    expect(card("notes.pdf")).toHaveTextContent("Too many uploads: trying again in 1 s.");
    expect(FakeXHR.sent).toHaveLength(1); // not before the second is up
    await waitFor(() => expect(FakeXHR.sent).toHaveLength(2), { timeout: 2500 });
    await FakeXHR.sent[1].succeed();
    expect(card("notes.pdf")).toHaveTextContent("Uploaded");
  });

  it("shows the service's reason for a 415 and uploads again on Retry", async () => {
    const user = userEvent.setup();
    renderUpload();
    await user.upload(await picker(), fileOf("notes.pdf", 1000, "application/pdf"));
    await waitFor(() => expect(FakeXHR.sent).toHaveLength(1));
    await FakeXHR.sent[0].respond(415, { status_code: 415, detail: "The file's bytes are not a PDF." });

    expect(within(card("notes.pdf")).getByRole("alert")).toHaveTextContent("The file's bytes are not a PDF.");
    expect(card("notes.pdf")).toHaveTextContent("Failed");
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();

    await user.click(within(card("notes.pdf")).getByRole("button", { name: "Retry notes.pdf" }));
    await waitFor(() => expect(FakeXHR.sent).toHaveLength(2));
    expect(FakeXHR.sent[1].file.name).toBe("notes.pdf");
    await FakeXHR.sent[1].succeed();

    expect(card("notes.pdf")).toHaveTextContent("Uploaded");
    expect(within(card("notes.pdf")).queryByRole("alert")).not.toBeInTheDocument();
    expect(within(card("notes.pdf")).queryByRole("button", { name: /Retry/ })).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Send" })).toBeEnabled();
  });

  it("shows the service's reason for a 413", async () => {
    const user = userEvent.setup();
    renderUpload();
    await user.upload(await picker(), fileOf("notes.pdf", 1000, "application/pdf"));
    await waitFor(() => expect(FakeXHR.sent).toHaveLength(1));
    await FakeXHR.sent[0].respond(413, { status_code: 413, detail: "Your storage is full." });
    expect(within(card("notes.pdf")).getByRole("alert")).toHaveTextContent("Your storage is full.");
  });

  it("sends once every upload is done: the ids in the tray's order and the caption", async () => {
    const user = userEvent.setup();
    const { onSent } = renderUpload();
    await user.upload(await picker(), [fileOf("first.pdf", 100, "application/pdf"), fileOf("second.txt", 200, "text/plain")]);
    await user.type(screen.getByRole("textbox", { name: "Message" }), "  Both files  ");
    await waitFor(() => expect(FakeXHR.sent).toHaveLength(2));
    const send = screen.getByRole("button", { name: "Send" });
    expect(send).toBeDisabled();

    // The second finishes first: the message still lists them as they were picked.
    const [first, second] = FakeXHR.sent;
    expect([first.file.name, second.file.name]).toEqual(["first.pdf", "second.txt"]);
    const secondAttachment = await second.succeed();
    expect(send).toBeDisabled();
    const firstAttachment = await first.succeed();
    expect(send).toBeEnabled();

    await user.click(send);

    await waitFor(() => expect(screen.queryByRole("list", { name: "Files to send" })).not.toBeInTheDocument());
    expect(posted).toEqual([{ content: "Both files", attachment_ids: [firstAttachment.id, secondAttachment.id] }]);
    expect(screen.getByRole("textbox", { name: "Message" })).toHaveValue("");
    expect(onSent).toHaveBeenCalledTimes(1);
    expect(onSent.mock.calls[0][0]).toMatchObject({ id: "m1", content: "Both files", has_media: true });
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();
    // Nothing is left to come back after a reload.
    await waitFor(() => expect(idb.store.size).toBe(0));
  });

  it("sends a caption alone with Enter", async () => {
    const user = userEvent.setup();
    renderUpload();
    await user.type(await screen.findByRole("textbox", { name: "Message" }), "hello{Enter}");
    await waitFor(() => expect(posted).toEqual([{ content: "hello", attachment_ids: [] }]));
    await waitFor(() => expect(screen.getByRole("textbox", { name: "Message" })).toHaveValue(""));
  });

  it("brings a tray back after a reload", async () => {
    const user = userEvent.setup();
    const first = render(<MediaUpload baseUrl="" getToken={() => "t"} conversationId={CONVERSATION} />);
    await user.upload(await picker(), fileOf("notes.pdf", 1000, "application/pdf"));
    await user.type(screen.getByRole("textbox", { name: "Message" }), "later");
    await waitFor(() => expect(FakeXHR.sent).toHaveLength(1));
    await FakeXHR.sent[0].succeed();
    await waitFor(() => expect(idb.store.size).toBe(1));
    first.unmount();

    render(<MediaUpload baseUrl="" getToken={() => "t"} conversationId={CONVERSATION} />);
    expect(await screen.findByRole("listitem", { name: "notes.pdf" })).toHaveTextContent("Uploaded");
    expect(screen.getByRole("textbox", { name: "Message" })).toHaveValue("later");
    expect(FakeXHR.sent).toHaveLength(1); // an uploaded draft is not sent again
    expect(screen.getByRole("button", { name: "Send" })).toBeEnabled();
  });

  it("message-first: posts the message, then uploads each file to it", async () => {
    const user = userEvent.setup();
    const { onSent } = renderUpload({ flow: "message-first" });
    await user.upload(await picker(), [fileOf("first.pdf", 100, "application/pdf"), fileOf("second.txt", 200, "text/plain")]);
    expect(card("first.pdf")).toHaveTextContent("Ready");
    expect(card("second.txt")).toHaveTextContent("Ready");
    expect(FakeXHR.sent).toHaveLength(0); // nothing goes before Send
    await user.type(screen.getByRole("textbox", { name: "Message" }), "Look");

    await user.click(screen.getByRole("button", { name: "Send" }));
    await waitFor(() => expect(FakeXHR.sent).toHaveLength(2));

    expect(log).toEqual([
      `POST message ${JSON.stringify({ content: "Look", attachment_ids: [] })}`,
      "upload first.pdf message_id=m1",
      "upload second.txt message_id=m1",
    ]);
    expect(FakeXHR.sent.map((xhr) => xhr.body?.get("message_id"))).toEqual(["m1", "m1"]);
    expect(screen.getByRole("button", { name: "Sending…" })).toBeDisabled();

    await FakeXHR.sent[0].succeed("m1");
    await FakeXHR.sent[1].succeed("m1");

    await waitFor(() => expect(screen.queryByRole("list", { name: "Files to send" })).not.toBeInTheDocument());
    expect(onSent).toHaveBeenCalledTimes(1);
    expect(onSent.mock.calls[0][0]).toMatchObject({ id: "m1", content: "Look", has_media: true });
  });

  it("says so when the policy cannot be read", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => json(503, { status_code: 503, detail: "down" })));
    renderUpload();
    expect(await screen.findByRole("alert")).toHaveTextContent("The service is unavailable for a moment. Try again shortly.");
  });
});
