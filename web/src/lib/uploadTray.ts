// The tray's state and its upload queue, apart from how it is drawn (components/MediaUpload.tsx).
// Upload first, send once: each accepted file becomes a draft as soon as it is picked, and the
// message is posted with every draft's id, so that nobody sees a message waiting for its files.
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, type ChatApi } from "./api";
import { compressImage } from "./compress";
import { clearTray, loadTray, saveTray, type PendingFile } from "./pending";
import { kindOf, refusal } from "./policy";
import { RESUMABLE_THRESHOLD, uploadResumable } from "./resumable";
import type { MediaKind, Message, Policy } from "./types";

export type ItemState = "preparing" | "queued" | "uploading" | "waiting" | "done" | "failed" | "refused";

export interface TrayItem {
  key: string;
  file: File;
  kind: MediaKind | null;
  previewUrl: string | null;
  state: ItemState;
  sent: number;
  /** Why it was refused or failed, in a sentence. */
  problem: string | null;
  originalSize?: number;
  uploadUrl?: string;
  attachmentId?: string;
  resumable: boolean;
}

export type Flow = "drafts" | "message-first";

export interface TrayOptions {
  api: ChatApi;
  conversationId: string;
  policy: Policy | null;
  flow: Flow;
  compress: boolean;
  /** At most this many uploads at a time. */
  parallel?: number;
  resumableThreshold?: number;
  onSent?: (message: Message) => void;
}

let counter = 0;
const newKey = () => `f${Date.now().toString(36)}-${(counter += 1)}`;

function previewOf(file: File, kind: MediaKind | null): string | null {
  return kind === "image" || kind === "video" ? URL.createObjectURL(file) : null;
}

export function useUploadTray(options: TrayOptions) {
  const { api, conversationId, policy, flow } = options;
  const parallel = options.parallel ?? 3;
  const threshold = options.resumableThreshold ?? RESUMABLE_THRESHOLD;
  const [items, setItems] = useState<TrayItem[]>([]);
  const [caption, setCaption] = useState("");
  const [sending, setSending] = useState(false);
  // The seed's flow: the message posted by Send, which the files then join (retries included).
  const [posted, setPosted] = useState<Message | null>(null);
  const [sendProblem, setSendProblem] = useState<string | null>(null);
  const controllers = useRef(new Map<string, AbortController>());
  const itemsRef = useRef(items);
  itemsRef.current = items;
  const restored = useRef(false);

  const update = useCallback((key: string, change: Partial<TrayItem>) => {
    setItems((all) => all.map((item) => (item.key === key ? { ...item, ...change } : item)));
  }, []);

  // Kept in IndexedDB whenever what a reload would need changes.
  useEffect(() => {
    if (!restored.current) return;
    const files: PendingFile[] = items
      .filter((item) => item.state !== "refused")
      .map(({ key, file, originalSize, uploadUrl, attachmentId }) => ({
        key,
        file,
        originalSize,
        uploadUrl,
        attachmentId,
      }));
    void saveTray(conversationId, { caption, files });
  }, [items, caption, conversationId]);

  // The tray of a page closed mid-upload comes back, and its uploads go on.
  useEffect(() => {
    let live = true;
    restored.current = false;
    void loadTray(conversationId).then((tray) => {
      if (!live) return;
      if (tray) {
        setCaption(tray.caption);
        setItems(
          tray.files.map((pending) => {
            const kind = policy ? kindOf(pending.file.name, policy) : null;
            return {
              key: pending.key,
              file: pending.file,
              kind,
              previewUrl: previewOf(pending.file, kind),
              state: pending.attachmentId ? "done" : flow === "drafts" ? "queued" : "preparing",
              sent: pending.attachmentId ? pending.file.size : 0,
              problem: null,
              originalSize: pending.originalSize,
              uploadUrl: pending.uploadUrl,
              attachmentId: pending.attachmentId,
              resumable: pending.file.size > threshold,
            };
          }),
        );
      }
      restored.current = true;
    });
    return () => {
      live = false;
    };
    // Restored once per conversation; the policy arrives first (MediaUpload waits for it).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [conversationId]);

  // Object URLs are released with their items.
  useEffect(
    () => () => {
      for (const item of itemsRef.current) if (item.previewUrl) URL.revokeObjectURL(item.previewUrl);
    },
    [],
  );

  const startUpload = useCallback(
    async (item: TrayItem, messageId?: string): Promise<string | null> => {
      const controller = new AbortController();
      controllers.current.set(item.key, controller);
      update(item.key, { state: "uploading", problem: null });
      // The multipart request's total is the whole body (the file plus its form framing): its
      // fraction, applied to the file's size, is what the bar and "x of y" show.
      const onProgress = ({ sent, total }: { sent: number; total: number }) =>
        update(item.key, { sent: total > 0 ? Math.min(item.file.size, Math.round((sent / total) * item.file.size)) : sent });
      try {
        let id: string;
        if (item.resumable && policy?.resumable) {
          id = await uploadResumable(api, item.file, {
            endpoint: policy.resumable.path,
            uploadUrl: item.uploadUrl,
            messageId,
            signal: controller.signal,
            onProgress,
            onUploadUrl: (uploadUrl) => update(item.key, { uploadUrl }),
          });
        } else {
          const attachment = await api.upload(item.file, item.file.name, {
            messageId,
            signal: controller.signal,
            onProgress,
          });
          id = attachment.id;
        }
        update(item.key, { state: "done", sent: item.file.size, attachmentId: id });
        return id;
      } catch (error) {
        if (error instanceof DOMException && error.name === "AbortError") return null;
        if (error instanceof ApiError && error.status === 429) {
          // Honour Retry-After: wait, then go again by itself.
          const wait = error.retryAfter ?? 5;
          update(item.key, { state: "waiting", problem: error.message });
          window.setTimeout(() => update(item.key, { state: "queued", problem: null }), wait * 1000);
          return null;
        }
        if (error instanceof ApiError && error.status === 404 && item.uploadUrl) {
          // The session expired or was swept: start again from the first byte.
          update(item.key, { state: "queued", uploadUrl: undefined, sent: 0 });
          return null;
        }
        update(item.key, {
          state: "failed",
          problem: error instanceof Error ? error.message : String(error),
          uploadUrl: error instanceof ApiError && error.status !== 0 ? undefined : item.uploadUrl,
        });
        return null;
      } finally {
        controllers.current.delete(item.key);
      }
    },
    [api, policy, update],
  );

  // The queue: a few at a time, in the order they were picked.
  useEffect(() => {
    if (flow !== "drafts" && posted === null) return;
    const running = items.filter((item) => item.state === "uploading").length;
    const next = items.filter((item) => item.state === "queued").slice(0, Math.max(0, parallel - running));
    for (const item of next) void startUpload(item, posted?.id);
  }, [items, flow, parallel, startUpload, posted]);

  const add = useCallback(
    async (files: Iterable<File>) => {
      if (!policy) return;
      for (const picked of files) {
        const key = newKey();
        const kind = kindOf(picked.name, policy);
        const problem = refusal(picked, policy);
        const item: TrayItem = {
          key,
          file: picked,
          kind,
          previewUrl: problem ? null : previewOf(picked, kind),
          state: problem ? "refused" : "preparing",
          sent: 0,
          problem,
          resumable: picked.size > threshold,
        };
        setItems((all) => [...all, item]);
        if (problem) continue;
        let file = picked;
        let originalSize: number | undefined;
        if (kind === "image" && options.compress) {
          const compressed = await compressImage(picked);
          if (compressed) {
            file = compressed.file;
            originalSize = compressed.originalSize;
          }
        }
        update(key, {
          file,
          originalSize,
          resumable: file.size > threshold,
          state: flow === "drafts" ? "queued" : "preparing",
        });
      }
    },
    [policy, threshold, options.compress, flow, update],
  );

  const remove = useCallback(
    (key: string) => {
      const item = itemsRef.current.find((candidate) => candidate.key === key);
      if (!item) return;
      controllers.current.get(key)?.abort();
      if (item.previewUrl) URL.revokeObjectURL(item.previewUrl);
      // A draft nobody will send: gone now rather than at the sweep.
      if (item.attachmentId) void api.deleteMedia(item.attachmentId).catch(() => undefined);
      setItems((all) => all.filter((candidate) => candidate.key !== key));
    },
    [api],
  );

  const retry = useCallback((key: string) => update(key, { state: "queued", problem: null }), [update]);

  const sendable = items.filter((item) => item.state !== "refused");
  const busy = sendable.some((item) => ["preparing", "queued", "uploading", "waiting"].includes(item.state));
  const failed = sendable.some((item) => item.state === "failed");
  const ready =
    !sending &&
    (flow === "message-first"
      ? posted === null && sendable.every((item) => item.state === "preparing")
      : !busy && !failed) &&
    (sendable.length > 0 || caption.trim().length > 0);

  const finish = useCallback(
    (message: Message) => {
      for (const item of itemsRef.current) if (item.previewUrl) URL.revokeObjectURL(item.previewUrl);
      setItems([]);
      setCaption("");
      void clearTray(conversationId);
      options.onSent?.(message);
    },
    [conversationId, options],
  );

  useEffect(() => {
    if (posted === null) return;
    if (items.every((item) => item.state === "done" || item.state === "refused")) {
      setPosted(null);
      finish({ ...posted, has_media: items.some((item) => item.state === "done") });
    }
  }, [posted, items, finish]);

  const send = useCallback(async () => {
    setSending(true);
    setSendProblem(null);
    try {
      const files = itemsRef.current.filter((item) => item.state !== "refused");
      if (flow === "drafts") {
        const ids = files.map((item) => item.attachmentId).filter((id): id is string => Boolean(id));
        finish(await api.postMessage(conversationId, caption.trim(), ids));
        return;
      }
      // The seed's flow: the message first, then each file joins it through the queue above.
      const message = await api.postMessage(conversationId, caption.trim());
      setPosted(message); // onSent once its files have joined it (finish, above)
      setItems((all) => all.map((item) => (item.state === "preparing" ? { ...item, state: "queued" } : item)));
    } catch (error) {
      setSendProblem(error instanceof Error ? error.message : String(error));
    } finally {
      setSending(false);
    }
  }, [api, caption, conversationId, flow, finish]);

  return { items, caption, setCaption, add, remove, retry, send, ready, sending: sending || posted !== null, sendProblem };
}
