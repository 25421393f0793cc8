// A client of docs/api-contract.md: JSON routes by fetch, uploads by XMLHttpRequest (the one
// browser API that reports upload progress), errors as sentences a person understands.
import type { Attachment, Conversation, Message, Policy, SignedUrls } from "./types";

export type TokenSource = () => string | Promise<string>;

export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly retryAfter: number | null;

  constructor(status: number, detail: string, retryAfter: number | null = null) {
    super(explain(status, detail, retryAfter));
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

/** The sentence shown for an answer: the service's own detail, framed by what the person can do. */
export function explain(status: number, detail: string, retryAfter: number | null = null): string {
  switch (status) {
    case 0:
      return "The connection dropped. Check your network and try again.";
    case 401:
      return "Your session has ended. Sign in again.";
    case 403:
      return detail || "You are not allowed to do that.";
    case 404:
      return detail || "It is not there any more, or it is not yours to see.";
    case 413:
      return detail || "The file is too large.";
    case 415:
      return detail || "This type of file is not accepted.";
    case 429:
      return retryAfter === null
        ? detail || "Too many uploads. Wait a moment and try again."
        : `Too many uploads: trying again in ${retryAfter} s.`;
    case 503:
      return "The service is unavailable for a moment. Try again shortly.";
    default:
      return detail || `The service answered ${status}.`;
  }
}

function retryAfterOf(header: string | null): number | null {
  if (header === null) return null;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds) : null;
}

async function errorOf(response: Response): Promise<ApiError> {
  let detail = "";
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object" && "detail" in body && typeof body.detail === "string") {
      detail = body.detail;
    }
  } catch {
    // not JSON: the status alone speaks
  }
  return new ApiError(response.status, detail, retryAfterOf(response.headers.get("Retry-After")));
}

export interface UploadProgress {
  sent: number;
  total: number;
}

export interface UploadOptions {
  messageId?: string;
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

export class ChatApi {
  readonly base: string;
  private readonly token: TokenSource;

  /** `base` is the service's origin ("" for the page's own); `token` returns a current JWT. */
  constructor(base: string, token: TokenSource) {
    this.base = base.replace(/\/$/, "");
    this.token = token;
  }

  async authorization(): Promise<string> {
    return `Bearer ${await this.token()}`;
  }

  /** An absolute URL for a path of the service (signed media URLs are paths). */
  resolve(path: string): string {
    return /^https?:/.test(path) ? path : `${this.base}${path}`;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.resolve(path), {
        method,
        headers: {
          Authorization: await this.authorization(),
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "");
    }
    if (!response.ok) throw await errorOf(response);
    return (response.status === 204 ? undefined : await response.json()) as T;
  }

  conversations(): Promise<Conversation[]> {
    return this.call("GET", "/api/v1/conversations");
  }

  createConversation(body: { kind: "direct" | "group"; title?: string; member_ids: string[] }): Promise<Conversation> {
    return this.call("POST", "/api/v1/conversations", body);
  }

  /** Newest first, as the service answers; `before` is the oldest message already shown. */
  messages(conversationId: string, before?: string, limit = 50): Promise<Message[]> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before) query.set("before", before);
    return this.call("GET", `/api/v1/conversations/${conversationId}/messages?${query}`);
  }

  postMessage(conversationId: string, content: string, attachmentIds: string[] = []): Promise<Message> {
    return this.call("POST", `/api/v1/conversations/${conversationId}/messages`, {
      content,
      attachment_ids: attachmentIds,
    });
  }

  deleteMessage(messageId: string): Promise<void> {
    return this.call("DELETE", `/api/v1/messages/${messageId}`);
  }

  mediaOfMessage(messageId: string): Promise<Attachment[]> {
    return this.call("GET", `/api/v1/media/message/${messageId}`);
  }

  deleteMedia(mediaId: string): Promise<void> {
    return this.call("DELETE", `/api/v1/media/${mediaId}`);
  }

  policy(): Promise<Policy> {
    return this.call("GET", "/api/v1/media/policy");
  }

  sign(attachmentIds: string[]): Promise<SignedUrls[]> {
    return this.call("POST", "/api/v1/media/sign", { attachment_ids: attachmentIds });
  }

  /** One file by multipart (`POST /api/v1/media/upload`): a draft without `messageId`. */
  async upload(file: Blob, name: string, options: UploadOptions = {}): Promise<Attachment> {
    const form = new FormData();
    // The message's id first: the service checks it before it reads the file.
    if (options.messageId) form.append("message_id", options.messageId);
    form.append("file", file, name);
    const authorization = await this.authorization();
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", this.resolve("/api/v1/media/upload"));
      xhr.setRequestHeader("Authorization", authorization);
      xhr.responseType = "json";
      xhr.upload.onprogress = (event) => {
        // Of the whole body (the file and the form's framing): the tray scales it to the file.
        if (event.lengthComputable) options.onProgress?.({ sent: event.loaded, total: event.total });
      };
      xhr.onload = () => {
        if (xhr.status === 201) {
          resolve((xhr.response as Attachment[])[0]);
          return;
        }
        const body = xhr.response as { detail?: unknown } | null;
        const detail = body && typeof body.detail === "string" ? body.detail : "";
        reject(new ApiError(xhr.status, detail, retryAfterOf(xhr.getResponseHeader("Retry-After"))));
      };
      xhr.onerror = () => reject(new ApiError(0, ""));
      xhr.onabort = () => reject(new DOMException("The upload was cancelled.", "AbortError"));
      options.signal?.addEventListener("abort", () => xhr.abort(), { once: true });
      if (options.signal?.aborted) {
        reject(new DOMException("The upload was cancelled.", "AbortError"));
        return;
      }
      xhr.send(form);
    });
  }

  /** The socket's URL: the token goes in the query (a browser's WebSocket sends no header). */
  async socketUrl(since: number | null): Promise<string> {
    const origin = this.base || window.location.origin;
    const url = new URL("/api/v1/ws", origin.replace(/^http/, "ws"));
    url.searchParams.set("token", await this.token());
    if (since !== null) url.searchParams.set("since", String(since));
    return url.toString();
  }
}
