// The shapes of docs/api-contract.md, as a client reads them.

export type MediaKind = "image" | "document" | "video";

export interface Attachment {
  id: string;
  message_id: string | null;
  uploader_id: string;
  filename: string;
  original_name: string;
  content_type: string;
  kind: MediaKind;
  size: number;
  sha256: string;
  url: string;
  created_at: string;
  width?: number;
  height?: number;
  duration_s?: number;
  thumbnail_url?: string;
  /** A display-size WebP (at most 1600 px) of a large image, for the lightbox; `url` stays the download. */
  preview_url?: string;
  blurhash?: string;
  urls_expire_at?: string;
  scanned?: false; // only on a file stored while the malware scanner was down
  /** Videos: false when kept as they came, the phone's tags (place, device) still in them. */
  scrubbed?: boolean;
}

export interface Message {
  id: string;
  conversation_id: string;
  sender_id: string;
  content: string;
  has_media: boolean;
  attachments: Attachment[];
  created_at: string;
}

export interface Conversation {
  id: string;
  kind: "direct" | "group";
  title: string | null;
  member_ids: string[];
  created_at: string;
}

export interface Policy {
  max_upload_size: number;
  extensions: Record<MediaKind, string[]>;
  max_attachments_per_message: number;
  max_image_pixels: number;
  resumable: { path: string; max_size: number; ttl_s: number } | null;
  quota: { limit: number | null; used: number; remaining: number | null };
  upload_rate_per_minute: number;
}

export interface SignedUrls {
  id: string;
  url: string;
  thumbnail_url?: string;
  preview_url?: string;
  urls_expire_at: string;
}

export type ServerEvent =
  | { type: "ready"; cursor: number }
  | { type: "ping" }
  | { type: "message.created"; conversation_id: string; seq: number; cursor: number; message: Message }
  | {
      type: "media.attached";
      conversation_id: string;
      seq: number;
      cursor: number;
      message_id: string;
      attachments: Attachment[];
    }
  | {
      type: "media.deleted";
      conversation_id: string;
      seq: number;
      cursor: number;
      message_id: string;
      media_id: string;
      has_media: boolean;
    }
  | { type: "message.deleted"; conversation_id: string; seq: number; cursor: number; message_id: string };
