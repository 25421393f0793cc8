// Large files go over tus (the contract's resumable uploads) with tus-js-client, which owns the
// protocol: offsets, HEAD on resume, retries with delays. The upload URL is kept by us beside the
// picked File in IndexedDB (pending.ts), so a reload resumes where the bytes stopped.
import * as tus from "tus-js-client";
import { ApiError, type ChatApi, type UploadProgress } from "./api";

/** Files above this go over tus; smaller ones in one multipart request. */
export const RESUMABLE_THRESHOLD = 8 * 1024 * 1024;
/** Each PATCH carries at most this much: a cut connection loses at most one chunk's progress. */
export const CHUNK_SIZE = 4 * 1024 * 1024;

export interface ResumableOptions {
  endpoint: string;
  uploadUrl?: string;
  messageId?: string;
  onUploadUrl?: (url: string) => void;
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
  retryDelays?: number[];
}

function errorOf(error: Error): Error {
  if (error instanceof tus.DetailedError && error.originalResponse) {
    const response = error.originalResponse;
    let detail = "";
    try {
      const body: unknown = JSON.parse(response.getBody());
      if (body && typeof body === "object" && "detail" in body && typeof body.detail === "string") {
        detail = body.detail;
      }
    } catch {
      // not JSON
    }
    const retry = Number(response.getHeader("Retry-After"));
    return new ApiError(response.getStatus(), detail, Number.isFinite(retry) ? retry : null);
  }
  if (error instanceof tus.DetailedError) return new ApiError(0, "");
  return error;
}

/** Uploads `file` (resuming at `uploadUrl` when given) and resolves to the attachment's id. */
export function uploadResumable(api: ChatApi, file: File, options: ResumableOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    let attachmentId: string | null = null;
    const metadata: Record<string, string> = { filename: file.name };
    if (options.messageId) metadata.message_id = options.messageId;
    const upload = new tus.Upload(file, {
      endpoint: api.resolve(options.endpoint),
      uploadUrl: options.uploadUrl ? api.resolve(options.uploadUrl) : null,
      metadata,
      chunkSize: CHUNK_SIZE,
      retryDelays: options.retryDelays ?? [0, 1000, 3000, 5000, 10000],
      storeFingerprintForResuming: false,
      onBeforeRequest: async (request) => {
        request.setHeader("Authorization", await api.authorization());
      },
      onAfterResponse: (_request, response) => {
        const id = response.getHeader("Upload-Attachment-Id");
        if (id) attachmentId = id;
      },
      onUploadUrlAvailable: () => {
        if (upload.url) options.onUploadUrl?.(upload.url);
      },
      onShouldRetry: (error) => {
        const status = error.originalResponse?.getStatus() ?? 0;
        // A dropped connection, the service busy or restarting, a PATCH racing a stale one.
        return status === 0 || status === 409 || status === 423 || status === 429 || status >= 500;
      },
      onProgress: (sent, total) => options.onProgress?.({ sent, total }),
      onError: (error) => reject(errorOf(error)),
      onSuccess: () => {
        if (attachmentId) resolve(attachmentId);
        else reject(new ApiError(500, "The upload finished but the service named no attachment."));
      },
    });
    options.signal?.addEventListener(
      "abort",
      () => {
        // Cancelled by the person: the session and its bytes go too.
        void upload.abort(true).catch(() => undefined);
        reject(new DOMException("The upload was cancelled.", "AbortError"));
      },
      { once: true },
    );
    upload.start();
  });
}
