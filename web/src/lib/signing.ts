// Signed media URLs expire (urls_expire_at): renewed a minute before, or at once when an element
// fails to load, for the attachments on screen, by POST /api/v1/media/sign without re-listing.
import { useCallback, useEffect, useRef, useState } from "react";
import type { ChatApi } from "./api";
import type { Attachment, SignedUrls } from "./types";

const EARLY_MS = 60_000;

export function useSignedAttachments(api: ChatApi, attachments: Attachment[]): {
  current: Attachment[];
  renew: (id: string) => void;
} {
  const [fresh, setFresh] = useState<Record<string, SignedUrls>>({});
  const asked = useRef(new Set<string>());

  const renewMany = useCallback(
    (ids: string[]) => {
      const wanted = ids.filter((id) => !asked.current.has(id));
      if (wanted.length === 0) return;
      for (const id of wanted) asked.current.add(id);
      api.sign(wanted.slice(0, 100)).then(
        (signed) => {
          setFresh((known) => ({ ...known, ...Object.fromEntries(signed.map((s) => [s.id, s])) }));
          for (const id of wanted) asked.current.delete(id);
        },
        () => {
          for (const id of wanted) asked.current.delete(id);
        },
      );
    },
    [api],
  );

  const current = attachments.map((attachment) => {
    const signed = fresh[attachment.id];
    if (!signed || (attachment.urls_expire_at && signed.urls_expire_at <= attachment.urls_expire_at)) return attachment;
    return {
      ...attachment,
      url: signed.url,
      thumbnail_url: signed.thumbnail_url,
      preview_url: signed.preview_url,
      urls_expire_at: signed.urls_expire_at,
    };
  });

  const soonest = current.reduce<number | null>((first, attachment) => {
    if (!attachment.urls_expire_at) return first;
    const at = Date.parse(attachment.urls_expire_at);
    return first === null || at < first ? at : first;
  }, null);

  useEffect(() => {
    if (soonest === null) return;
    const ids = current.map((attachment) => attachment.id);
    const timer = window.setTimeout(() => renewMany(ids), Math.max(0, soonest - Date.now() - EARLY_MS));
    return () => window.clearTimeout(timer);
    // Rescheduled when the soonest expiry moves, not on every render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [soonest, renewMany]);

  return { current, renew: useCallback((id: string) => renewMany([id]), [renewMany]) };
}
