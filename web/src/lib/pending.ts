// The tray of a conversation, kept in IndexedDB (idb-keyval: a few hundred bytes over the raw
// API, promise-based) so that a reload or a crash of the tab loses no picked file: the File
// itself (structured-cloned by the browser), its tus upload URL, and its draft once uploaded.
import { del, get, set } from "idb-keyval";

export interface PendingFile {
  key: string;
  file: File;
  originalSize?: number;
  uploadUrl?: string;
  attachmentId?: string;
}

export interface PendingTray {
  caption: string;
  files: PendingFile[];
}

const storeKey = (conversationId: string) => `chat-media:tray:${conversationId}`;

export async function loadTray(conversationId: string): Promise<PendingTray | null> {
  try {
    return ((await get(storeKey(conversationId))) as PendingTray | undefined) ?? null;
  } catch {
    return null; // private windows without IndexedDB: the tray lives in memory only
  }
}

export async function saveTray(conversationId: string, tray: PendingTray): Promise<void> {
  try {
    if (tray.files.length === 0 && !tray.caption) await del(storeKey(conversationId));
    else await set(storeKey(conversationId), tray);
  } catch {
    // as above
  }
}

export async function clearTray(conversationId: string): Promise<void> {
  try {
    await del(storeKey(conversationId));
  } catch {
    // as above
  }
}
