// One conversation: its messages (newest at the bottom, older ones on scrolling up), live
// changes from the event stream, and the composer. The demo page of the two seed components.
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { Lightbox } from "../components/Lightbox";
import { MediaPreview } from "../components/MediaPreview";
import { MediaUpload, type MediaUploadHandle } from "../components/MediaUpload";
import { DropZone } from "../components/DropZone";
import { ApiError, type ChatApi, type TokenSource } from "../lib/api";
import { clockTime } from "../lib/format";
import type { Attachment, Conversation, Message, ServerEvent } from "../lib/types";

const PAGE = 50;

export interface ConversationViewProps {
  api: ChatApi;
  getToken: TokenSource;
  me: string;
  conversation: Conversation;
  subscribe: (listener: (event: ServerEvent) => void) => () => void;
  onProblem: (sentence: string) => void;
}

export function ConversationView({ api, getToken, me, conversation, subscribe, onProblem }: ConversationViewProps) {
  const [messages, setMessages] = useState<Message[]>([]); // oldest first
  const [more, setMore] = useState(true);
  const [loading, setLoading] = useState(true);
  const [open, setOpen] = useState<number | null>(null);
  const list = useRef<HTMLOListElement>(null);
  const upload = useRef<MediaUploadHandle>(null);
  const keepFromBottom = useRef<number | null>(0); // where to hold the scroll after a change

  const report = useCallback(
    (error: unknown) => onProblem(error instanceof Error ? error.message : String(error)),
    [onProblem],
  );

  const put = useCallback((message: Message) => {
    setMessages((all) => {
      const at = all.findIndex((m) => m.id === message.id);
      if (at >= 0) return all.map((m) => (m.id === message.id ? message : m));
      keepFromBottom.current = 0;
      return [...all, message].sort((a, b) => a.created_at.localeCompare(b.created_at));
    });
  }, []);

  const setAttachments = useCallback((messageId: string, change: (list: Attachment[]) => Attachment[]) => {
    setMessages((all) =>
      all.map((m) => {
        if (m.id !== messageId) return m;
        const attachments = change(m.attachments);
        return { ...m, attachments, has_media: attachments.length > 0 };
      }),
    );
  }, []);

  // Frames carry plain paths: the signed URLs come from the HTTP answer, as the seed's flow does.
  const refreshMedia = useCallback(
    (messageId: string) =>
      api.mediaOfMessage(messageId).then(
        (attachments) => setAttachments(messageId, () => attachments),
        (error) => {
          if (!(error instanceof ApiError && error.status === 404)) report(error);
        },
      ),
    [api, report, setAttachments],
  );

  useEffect(() => {
    let live = true;
    setLoading(true);
    setMessages([]);
    api.messages(conversation.id, undefined, PAGE).then(
      (page) => {
        if (!live) return;
        keepFromBottom.current = 0;
        setMessages(page.slice().reverse());
        setMore(page.length === PAGE);
        setLoading(false);
      },
      (error) => {
        if (live) {
          report(error);
          setLoading(false);
        }
      },
    );
    return () => {
      live = false;
    };
  }, [api, conversation.id, report]);

  useEffect(
    () =>
      subscribe((event) => {
        if (!("conversation_id" in event) || event.conversation_id !== conversation.id) return;
        if (event.type === "message.created") {
          put(event.message);
          if (event.message.attachments.length > 0) void refreshMedia(event.message.id);
        } else if (event.type === "media.attached") {
          void refreshMedia(event.message_id);
        } else if (event.type === "media.deleted") {
          setAttachments(event.message_id, (all) => all.filter((a) => a.id !== event.media_id));
        } else if (event.type === "message.deleted") {
          setMessages((all) => all.filter((m) => m.id !== event.message_id));
        }
      }),
    [subscribe, conversation.id, put, refreshMedia, setAttachments],
  );

  // New messages keep the view at the bottom; older ones prepended keep what was on screen.
  useLayoutEffect(() => {
    const element = list.current;
    if (!element || keepFromBottom.current === null) return;
    element.scrollTop = element.scrollHeight - element.clientHeight - keepFromBottom.current;
    keepFromBottom.current = null;
  }, [messages]);

  const loadOlder = useCallback(() => {
    if (!more || loading || messages.length === 0) return;
    const element = list.current;
    setLoading(true);
    api.messages(conversation.id, messages[0].id, PAGE).then(
      (page) => {
        if (element) keepFromBottom.current = element.scrollHeight - element.clientHeight - element.scrollTop;
        setMessages((all) => [...page.slice().reverse(), ...all]);
        setMore(page.length === PAGE);
        setLoading(false);
      },
      (error) => {
        report(error);
        setLoading(false);
      },
    );
  }, [api, conversation.id, loading, messages, more, report]);

  const visual = useMemo(
    () => messages.flatMap((m) => m.attachments.filter((a) => a.kind !== "document")),
    [messages],
  );

  const deleteMessage = (message: Message) => {
    if (!window.confirm("Delete this message and its files?")) return;
    api.deleteMessage(message.id).then(() => setMessages((all) => all.filter((m) => m.id !== message.id)), report);
  };
  const deleteAttachment = (attachment: Attachment) =>
    api
      .deleteMedia(attachment.id)
      .then(() => setAttachments(attachment.message_id ?? "", (all) => all.filter((a) => a.id !== attachment.id)), report);

  const title = conversation.title ?? conversation.member_ids.filter((id) => id !== me).join(", ");
  return (
    <DropZone onFiles={(files) => upload.current?.add(files)}>
      <section className="conversation" aria-label={`Conversation: ${title}`}>
        <header className="conversation-header">
          <h2>{title}</h2>
          <span className="muted">{conversation.member_ids.join(", ")}</span>
        </header>
        <ol
          className="messages"
          ref={list}
          aria-label="Messages"
          aria-busy={loading}
          onScroll={(event) => {
            if (event.currentTarget.scrollTop < 80) loadOlder();
          }}
        >
          {more && !loading && messages.length > 0 && (
            <li className="older">
              <button type="button" className="quiet" onClick={loadOlder}>
                Show older messages
              </button>
            </li>
          )}
          {!loading && messages.length === 0 && <li className="muted empty">No messages yet. Say hello, or drop a file here.</li>}
          {messages.map((message) => (
            <li key={message.id} className={`message ${message.sender_id === me ? "mine" : ""}`} data-message-id={message.id}>
              <div className="message-meta">
                <strong>{message.sender_id === me ? "You" : message.sender_id}</strong>{" "}
                <time dateTime={message.created_at}>{clockTime(message.created_at)}</time>
                {message.sender_id === me && (
                  <button type="button" className="quiet" onClick={() => deleteMessage(message)} aria-label="Delete message">
                    Delete
                  </button>
                )}
              </div>
              {message.content && <p className="message-text">{message.content}</p>}
              {message.attachments.length > 0 && (
                <MediaPreview
                  attachments={message.attachments}
                  baseUrl={api.base}
                  getToken={getToken}
                  onOpen={(attachment) => setOpen(visual.findIndex((a) => a.id === attachment.id))}
                  onDelete={deleteAttachment}
                  canDelete={(attachment) => attachment.uploader_id === me}
                />
              )}
            </li>
          ))}
        </ol>
        <MediaUpload ref={upload} baseUrl={api.base} getToken={getToken} conversationId={conversation.id} onSent={put} />
        {open !== null && open >= 0 && visual[open] && (
          <Lightbox api={api} items={visual} index={open} onIndex={setOpen} onClose={() => setOpen(null)} />
        )}
      </section>
    </DropZone>
  );
}
