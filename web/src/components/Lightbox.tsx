// Full size, over the page: previous/next through the conversation's images and videos with the
// arrow keys, Escape closes and focus goes back where it was, wheel and pinch zoom, a download.
import { useEffect, useRef, useState, type PointerEvent as ReactPointerEvent } from "react";
import type { ChatApi } from "../lib/api";
import { downloadName } from "../lib/format";
import type { Attachment } from "../lib/types";

export interface LightboxProps {
  api: ChatApi;
  items: Attachment[];
  index: number;
  onIndex: (index: number) => void;
  onClose: () => void;
}

const MIN_ZOOM = 1;
const MAX_ZOOM = 5;
const clamp = (zoom: number) => Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom));

export function Lightbox({ api, items, index, onIndex, onClose }: LightboxProps) {
  const dialog = useRef<HTMLDivElement>(null);
  const [zoom, setZoom] = useState(1);
  const pointers = useRef(new Map<number, { x: number; y: number }>());
  const pinchFrom = useRef<number | null>(null);
  const item = items[index];
  const has = (to: number) => to >= 0 && to < items.length;

  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    dialog.current?.focus();
    return () => before?.focus();
  }, []);

  useEffect(() => setZoom(1), [index]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") {
        event.preventDefault();
        onClose();
      } else if (event.key === "ArrowRight" && has(index + 1)) {
        event.preventDefault();
        onIndex(index + 1);
      } else if (event.key === "ArrowLeft" && has(index - 1)) {
        event.preventDefault();
        onIndex(index - 1);
      } else if (event.key === "Tab") {
        // Focus stays inside the dialog while it is open (a disabled button cannot take it).
        const focusable = dialog.current?.querySelectorAll<HTMLElement>(
          "button:not([disabled]), a[href], video[controls]",
        );
        if (!focusable || focusable.length === 0) return;
        const first = focusable[0];
        const last = focusable[focusable.length - 1];
        if (event.shiftKey && document.activeElement === first) {
          event.preventDefault();
          last.focus();
        } else if (!event.shiftKey && document.activeElement === last) {
          event.preventDefault();
          first.focus();
        }
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  });

  if (!item) return null;

  const distance = () => {
    const [a, b] = [...pointers.current.values()];
    return Math.hypot(a.x - b.x, a.y - b.y);
  };
  const onPointerDown = (event: ReactPointerEvent) => {
    pointers.current.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pointers.current.size === 2) pinchFrom.current = distance() / zoom;
  };
  const onPointerMove = (event: ReactPointerEvent) => {
    if (!pointers.current.has(event.pointerId)) return;
    pointers.current.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (pointers.current.size === 2 && pinchFrom.current) setZoom(clamp(distance() / pinchFrom.current));
  };
  const onPointerUp = (event: ReactPointerEvent) => {
    pointers.current.delete(event.pointerId);
    if (pointers.current.size < 2) pinchFrom.current = null;
  };

  return (
    <div className="lightbox-backdrop" onClick={(event) => event.target === event.currentTarget && onClose()}>
      <div
        ref={dialog}
        className="lightbox"
        role="dialog"
        aria-modal="true"
        aria-label={`${item.original_name} (${index + 1} of ${items.length})`}
        tabIndex={-1}
      >
        <div className="lightbox-bar">
          <span className="lightbox-title">
            {item.original_name} · {index + 1} of {items.length}
          </span>
          <a className="button" href={api.resolve(item.url)} download={downloadName(item.original_name, item.filename)}>
            Download
          </a>
          <button type="button" onClick={onClose} aria-label="Close">
            Close
          </button>
        </div>
        <div
          className="lightbox-stage"
          onWheel={(event) => setZoom((z) => clamp(z * (event.deltaY < 0 ? 1.15 : 1 / 1.15)))}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={onPointerUp}
        >
          {item.kind === "video" ? (
            <video
              key={item.id}
              controls
              autoPlay
              muted
              preload="metadata"
              poster={item.thumbnail_url ? api.resolve(item.thumbnail_url) : undefined}
              src={api.resolve(item.url)}
              aria-label={item.original_name}
            />
          ) : (
            <img
              key={item.id}
              // The display-size preview where there is one (a 12 MP photo in ~200 KB, not 4 MB);
              // the Download link above keeps the original.
              src={api.resolve(item.preview_url ?? item.url)}
              alt={item.original_name}
              style={{ transform: `scale(${zoom})` }}
              data-zoom={zoom.toFixed(2)}
              draggable={false}
            />
          )}
        </div>
        <div className="lightbox-nav">
          <button type="button" disabled={!has(index - 1)} onClick={() => onIndex(index - 1)} aria-label="Previous">
            ‹ Previous
          </button>
          <button type="button" disabled={!has(index + 1)} onClick={() => onIndex(index + 1)} aria-label="Next">
            Next ›
          </button>
        </div>
      </div>
    </div>
  );
}
