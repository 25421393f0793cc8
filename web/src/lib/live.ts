// The contract's event stream: one socket, resumed with ?since=<last cursor> after any close but
// 4401 (the token is no longer good: sign in again), with a growing pause between tries.
import type { ChatApi } from "./api";
import type { ServerEvent } from "./types";

export type LiveState = "connecting" | "live" | "offline" | "signed-out" | "reload";

export interface LiveOptions {
  onEvent: (event: ServerEvent) => void;
  onState: (state: LiveState) => void;
}

export function connectLive(api: ChatApi, options: LiveOptions): () => void {
  let cursor: number | null = null;
  let socket: WebSocket | null = null;
  let stopped = false;
  let attempt = 0;
  let timer: number | undefined;

  const open = async () => {
    if (stopped) return;
    options.onState("connecting");
    let url: string;
    try {
      url = await api.socketUrl(cursor);
    } catch {
      options.onState("signed-out");
      return;
    }
    socket = new WebSocket(url);
    socket.onmessage = (frame) => {
      let event: ServerEvent;
      try {
        event = JSON.parse(String(frame.data)) as ServerEvent;
      } catch {
        return;
      }
      if (event.type === "ready") {
        attempt = 0;
        cursor = event.cursor;
        options.onState("live");
      }
      if ("cursor" in event && typeof event.cursor === "number") cursor = Math.max(cursor ?? 0, event.cursor);
      options.onEvent(event);
    };
    socket.onclose = (close) => {
      socket = null;
      if (stopped) return;
      if (close.code === 4401) {
        options.onState("signed-out");
        return;
      }
      if (close.code === 4409) {
        // Too much to replay: the page reloads its history instead, and listens from now on.
        cursor = null;
        options.onState("reload");
      } else {
        options.onState("offline");
      }
      attempt += 1;
      const pause = Math.min(15_000, 500 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() / 2);
      timer = window.setTimeout(() => void open(), pause);
    };
  };

  const online = () => {
    if (socket === null && !stopped) {
      window.clearTimeout(timer);
      attempt = 0;
      void open();
    }
  };
  window.addEventListener("online", online);
  void open();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
    window.removeEventListener("online", online);
    socket?.close(1000);
  };
}
