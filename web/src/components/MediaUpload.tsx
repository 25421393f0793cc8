// The seed's MediaUpload: a file picker with previews and validation, per-file progress, cancel
// and retry, compression of large photos, resumable large files, and a caption. It takes the
// API's base URL and a token function (the host app owns sign-in) and talks only to the contract.
import { useEffect, useId, useImperativeHandle, useMemo, useRef, useState, type Ref } from "react";
import { ChatApi, type TokenSource } from "../lib/api";
import { humanSize } from "../lib/format";
import { allowedTypes } from "../lib/policy";
import type { Message, Policy } from "../lib/types";
import { useUploadTray, type Flow, type TrayItem } from "../lib/uploadTray";
import { KindIcon } from "./KindIcon";

export interface MediaUploadHandle {
  /** Adds files as if picked: for a drop zone or a paste elsewhere on the page. */
  add(files: Iterable<File>): void;
}

export interface MediaUploadProps {
  baseUrl: string;
  getToken: TokenSource;
  conversationId: string;
  /** "drafts" (default): upload first, send once. "message-first": the seed's flow. */
  flow?: Flow;
  resumableThreshold?: number;
  onSent?: (message: Message) => void;
  ref?: Ref<MediaUploadHandle>;
}

export function MediaUpload(props: MediaUploadProps) {
  const { baseUrl, getToken } = props;
  const api = useMemo(() => new ChatApi(baseUrl, getToken), [baseUrl, getToken]);
  const [policy, setPolicy] = useState<Policy | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    api.policy().then(
      (answer) => live && setPolicy(answer),
      (error: Error) => live && setProblem(error.message),
    );
    return () => {
      live = false;
    };
  }, [api]);
  if (problem) return <p role="alert" className="problem">{problem}</p>;
  if (!policy) return <p className="muted">Loading…</p>;
  return <Tray {...props} api={api} policy={policy} key={props.conversationId} />;
}

function Tray(props: MediaUploadProps & { api: ChatApi; policy: Policy }) {
  const { api, policy, conversationId } = props;
  const [original, setOriginal] = useState(false);
  const tray = useUploadTray({
    api,
    conversationId,
    policy,
    flow: props.flow ?? "drafts",
    compress: !original,
    resumableThreshold: props.resumableThreshold,
    onSent: props.onSent,
  });
  const input = useRef<HTMLInputElement>(null);
  const captionId = useId();
  useImperativeHandle(props.ref, () => ({ add: (files) => void tray.add(files) }), [tray]);
  const accept = Object.values(policy.extensions)
    .flat()
    .map((extension) => `.${extension}`)
    .join(",");

  return (
    <form
      className="composer"
      aria-label="Compose a message"
      onSubmit={(event) => {
        event.preventDefault();
        if (tray.ready) void tray.send();
      }}
      onPaste={(event) => {
        const files = Array.from(event.clipboardData.files);
        if (files.length > 0) {
          event.preventDefault();
          void tray.add(files);
        }
      }}
    >
      {tray.items.length > 0 && (
        <ul className="tray" aria-label="Files to send">
          {tray.items.map((item) => (
            <TrayCard key={item.key} item={item} onRemove={tray.remove} onRetry={tray.retry} />
          ))}
        </ul>
      )}
      <div className="composer-row">
        <button type="button" className="attach" onClick={() => input.current?.click()}>
          Attach files
        </button>
        <input
          ref={input}
          type="file"
          multiple
          hidden
          accept={accept}
          aria-label="Attach files"
          onChange={(event) => {
            const files = Array.from(event.target.files ?? []);
            event.target.value = "";
            void tray.add(files);
          }}
        />
        <label htmlFor={captionId} className="visually-hidden">
          Message
        </label>
        <textarea
          id={captionId}
          rows={1}
          placeholder="Write a message or a caption"
          value={tray.caption}
          onChange={(event) => tray.setCaption(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === "Enter" && !event.shiftKey) {
              event.preventDefault();
              if (tray.ready) void tray.send();
            }
          }}
        />
        <button type="submit" className="primary" disabled={!tray.ready}>
          {tray.sending ? "Sending…" : "Send"}
        </button>
      </div>
      <div className="composer-options">
        <label>
          <input type="checkbox" checked={original} onChange={(event) => setOriginal(event.target.checked)} />{" "}
          Original quality (no compression of photos)
        </label>
        <span className="muted">
          Up to {humanSize(policy.max_upload_size)} a file: {allowedTypes(policy)}
        </span>
      </div>
      {tray.sendProblem && (
        <p role="alert" className="problem">
          {tray.sendProblem}
        </p>
      )}
    </form>
  );
}

const STATUS: Record<TrayItem["state"], string> = {
  preparing: "Ready",
  queued: "Waiting to upload",
  uploading: "Uploading",
  waiting: "Waiting",
  done: "Uploaded",
  failed: "Failed",
  refused: "Not accepted",
};

export function TrayCard(props: { item: TrayItem; onRemove(key: string): void; onRetry(key: string): void }) {
  const { item } = props;
  const [unreadable, setUnreadable] = useState(false); // a "photo" the browser cannot draw: its icon
  const total = item.file.size;
  const percent = total > 0 ? Math.min(100, Math.round((item.sent / total) * 100)) : 0;
  const name = item.file.name;
  return (
    <li className={`tray-card state-${item.state}`} aria-label={name}>
      <div className="tray-preview">
        {item.kind === "image" && item.previewUrl && !unreadable ? (
          <img src={item.previewUrl} alt="" onError={() => setUnreadable(true)} />
        ) : item.kind === "video" && item.previewUrl && !unreadable ? (
          <video src={item.previewUrl} muted preload="metadata" onError={() => setUnreadable(true)} />
        ) : (
          <KindIcon kind={item.kind ?? "document"} />
        )}
      </div>
      <div className="tray-facts">
        <span className="tray-name" title={name}>
          {name}
        </span>
        <span className="muted">
          {humanSize(total)}
          {item.originalSize ? ` (compressed from ${humanSize(item.originalSize)})` : ""} · {STATUS[item.state]}
          {item.resumable && item.state === "uploading" ? " (resumable)" : ""}
        </span>
        {item.state !== "refused" && (
          <div
            className="progress"
            role="progressbar"
            aria-label={`Upload of ${name}`}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={percent}
            aria-valuetext={`${humanSize(item.sent)} of ${humanSize(total)}`}
          >
            <div className="progress-bar" style={{ width: `${percent}%` }} />
          </div>
        )}
        {item.problem && (
          <span className="problem" role={item.state === "refused" || item.state === "failed" ? "alert" : undefined}>
            {item.problem}
          </span>
        )}
      </div>
      <div className="tray-actions">
        {item.state === "failed" && (
          <button type="button" onClick={() => props.onRetry(item.key)} aria-label={`Retry ${name}`}>
            Retry
          </button>
        )}
        <button
          type="button"
          onClick={() => props.onRemove(item.key)}
          aria-label={`${item.state === "uploading" ? "Cancel" : "Remove"} ${name}`}
        >
          {item.state === "uploading" ? "Cancel" : "Remove"}
        </button>
      </div>
    </li>
  );
}
