// The seed's MediaPreview: images inline (BlurHash box, then the thumbnail, the display-size
// preview, or the full image where there is none, in the lightbox on demand), videos in an inline player that streams and seeks, documents as a card
// with a download link. Every URL is the signed one the service gave, renewed when it expires.
import { useMemo, useState } from "react";
import { ChatApi, type TokenSource } from "../lib/api";
import { humanSize } from "../lib/format";
import { useSignedAttachments } from "../lib/signing";
import type { Attachment } from "../lib/types";
import { BlurBox } from "./BlurBox";
import { KindIcon } from "./KindIcon";
import { Lightbox } from "./Lightbox";

export interface MediaPreviewProps {
  attachments: Attachment[];
  baseUrl: string;
  getToken: TokenSource;
  /** Opens an image or a video full size; without it, a lightbox over these attachments. */
  onOpen?: (attachment: Attachment) => void;
  /** Offered on each attachment where given (e.g. for the caller's own), after a confirm. */
  onDelete?: (attachment: Attachment) => void;
  canDelete?: (attachment: Attachment) => boolean;
}

export function MediaPreview(props: MediaPreviewProps) {
  const { baseUrl, getToken } = props;
  const api = useMemo(() => new ChatApi(baseUrl, getToken), [baseUrl, getToken]);
  const { current, renew } = useSignedAttachments(api, props.attachments);
  const [open, setOpen] = useState<number | null>(null);
  const visual = current.filter((attachment) => attachment.kind !== "document");
  const openOne = (attachment: Attachment) =>
    props.onOpen ? props.onOpen(attachment) : setOpen(visual.findIndex((a) => a.id === attachment.id));

  return (
    <div className="media-preview">
      {current.map((attachment) => (
        <div className="media-item" key={attachment.id}>
          {attachment.kind === "image" ? (
            <ImageTile api={api} attachment={attachment} onOpen={openOne} onBroken={renew} />
          ) : attachment.kind === "video" ? (
            <VideoTile api={api} attachment={attachment} onOpen={openOne} onBroken={renew} />
          ) : (
            <DocumentCard api={api} attachment={attachment} />
          )}
          {props.onDelete && (props.canDelete?.(attachment) ?? true) && (
            <button
              type="button"
              className="quiet"
              aria-label={`Delete ${attachment.original_name}`}
              onClick={() => {
                if (window.confirm(`Delete ${attachment.original_name}?`)) props.onDelete?.(attachment);
              }}
            >
              Delete
            </button>
          )}
        </div>
      ))}
      {open !== null && open >= 0 && (
        <Lightbox api={api} items={visual} index={open} onIndex={setOpen} onClose={() => setOpen(null)} />
      )}
    </div>
  );
}

interface TileProps {
  api: ChatApi;
  attachment: Attachment;
  onOpen: (attachment: Attachment) => void;
  onBroken: (id: string) => void;
}

function ImageTile({ api, attachment, onOpen, onBroken }: TileProps) {
  const [loaded, setLoaded] = useState(false);
  const source = attachment.thumbnail_url ?? attachment.url;
  return (
    <button
      type="button"
      className="tile"
      aria-label={`Open ${attachment.original_name}`}
      onClick={() => onOpen(attachment)}
    >
      <BlurBox width={attachment.width} height={attachment.height} blurhash={attachment.blurhash}>
        <img
          src={api.resolve(source)}
          alt={attachment.original_name}
          loading="lazy"
          decoding="async"
          className={loaded ? "loaded" : undefined}
          onLoad={() => setLoaded(true)}
          onError={() => onBroken(attachment.id)}
        />
      </BlurBox>
    </button>
  );
}

function VideoTile({ api, attachment, onOpen, onBroken }: TileProps) {
  return (
    <div className="video-tile">
      <BlurBox width={attachment.width} height={attachment.height} blurhash={attachment.blurhash}>
        <video
          controls
          preload="metadata"
          poster={attachment.thumbnail_url ? api.resolve(attachment.thumbnail_url) : undefined}
          src={api.resolve(attachment.url)}
          aria-label={attachment.original_name}
          onError={() => onBroken(attachment.id)}
        />
      </BlurBox>
      <button type="button" className="quiet" onClick={() => onOpen(attachment)}>
        Full screen: {attachment.original_name}
      </button>
    </div>
  );
}

const TYPE_NAMES: Record<string, string> = {
  "application/pdf": "PDF document",
  "application/zip": "ZIP archive",
  "text/plain": "Text",
  "application/msword": "Word document",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
};

export function DocumentCard({ api, attachment }: { api: ChatApi; attachment: Attachment }) {
  return (
    <div className="document-card">
      <KindIcon kind="document" />
      <div className="document-facts">
        <span className="document-name">{attachment.original_name}</span>
        <span className="muted">
          {humanSize(attachment.size)} · {TYPE_NAMES[attachment.content_type] ?? attachment.content_type}
        </span>
      </div>
      <a
        className="button"
        href={api.resolve(attachment.url)}
        download={attachment.original_name}
        aria-label={`Download ${attachment.original_name}`}
      >
        Download
      </a>
    </div>
  );
}
