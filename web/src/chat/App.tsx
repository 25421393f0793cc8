// The demo chat page: conversations on the side, one conversation open, live over the socket.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ChatApi, ApiError } from "../lib/api";
import { connectLive, type LiveState } from "../lib/live";
import { forgetToken, subjectOf, takeToken } from "../lib/session";
import type { Conversation, ServerEvent } from "../lib/types";
import { ConversationView } from "./ConversationView";
import { NewConversation } from "./NewConversation";

const LIVE_LABEL: Record<LiveState, string> = {
  connecting: "Connecting…",
  live: "Live",
  offline: "Offline: reconnecting",
  "signed-out": "Signed out",
  reload: "Catching up",
};

export function App() {
  const [token] = useState(takeToken);
  if (!token) return <SignIn />;
  return <Chat token={token} />;
}

function SignIn() {
  return (
    <main className="sign-in">
      <h1>chat-media</h1>
      <p>
        Open the sign-in link that <code>make run</code> printed (it ends in <code>#token=…</code>), or mint one with{" "}
        <code>make token user=bob</code> and open <code>/#token=&lt;token&gt;</code>.
      </p>
    </main>
  );
}

function Chat({ token }: { token: string }) {
  const me = subjectOf(token) ?? "you";
  const getToken = useCallback(() => token, [token]);
  const api = useMemo(() => new ChatApi("", getToken), [getToken]);
  const [conversations, setConversations] = useState<Conversation[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [live, setLive] = useState<LiveState>("connecting");
  const [problem, setProblem] = useState<string | null>(null);
  const [signedOut, setSignedOut] = useState(false);
  const listeners = useRef(new Set<(event: ServerEvent) => void>());
  const [epoch, setEpoch] = useState(0); // bumped to reload the history after a 4409

  const onProblem = useCallback((sentence: string) => setProblem(sentence), []);

  const loadConversations = useCallback(
    () =>
      api.conversations().then(
        (all) => {
          setConversations(all);
          setSelected((current) => current ?? all[0]?.id ?? null);
        },
        (error: Error) => {
          if (error instanceof ApiError && error.status === 401) setSignedOut(true);
          else setProblem(error.message);
        },
      ),
    [api],
  );

  useEffect(() => {
    void loadConversations();
  }, [loadConversations]);

  useEffect(
    () =>
      connectLive(api, {
        onState: (state) => {
          setLive(state);
          if (state === "signed-out") setSignedOut(true);
          if (state === "reload") setEpoch((n) => n + 1);
        },
        onEvent: (event) => {
          if (event.type === "message.created" && !conversations.some((c) => c.id === event.conversation_id)) {
            void loadConversations(); // someone started a conversation with us
          }
          for (const listener of listeners.current) listener(event);
        },
      }),
    // One socket for the page; the conversation list it checks is read fresh by loadConversations.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [api],
  );

  const subscribe = useCallback((listener: (event: ServerEvent) => void) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);

  const current = conversations.find((c) => c.id === selected) ?? null;
  return (
    <div className="chat">
      <aside className="sidebar" aria-label="Conversations">
        <div className="me">
          <span>
            Signed in as <strong>{me}</strong>
          </span>
          <span className={`live live-${live}`} role="status">
            {LIVE_LABEL[live]}
          </span>
        </div>
        <nav>
          <ul className="conversation-list">
            {conversations.map((conversation) => (
              <li key={conversation.id}>
                <button
                  type="button"
                  aria-current={conversation.id === selected ? "true" : undefined}
                  onClick={() => setSelected(conversation.id)}
                >
                  {conversation.title ?? conversation.member_ids.filter((id) => id !== me).join(", ")}
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <NewConversation
          api={api}
          onCreated={(conversation) => {
            setConversations((all) => [conversation, ...all.filter((c) => c.id !== conversation.id)]);
            setSelected(conversation.id);
          }}
          onProblem={onProblem}
        />
      </aside>
      <main className="main">
        {signedOut && (
          <p role="alert" className="banner problem">
            Your session has ended. Sign in again with a new link.{" "}
            <button
              type="button"
              onClick={() => {
                forgetToken();
                window.location.reload();
              }}
            >
              Sign out
            </button>
          </p>
        )}
        {problem && (
          <p role="alert" className="banner problem">
            {problem}{" "}
            <button type="button" className="quiet" onClick={() => setProblem(null)} aria-label="Dismiss">
              Dismiss
            </button>
          </p>
        )}
        {current ? (
          <ConversationView
            key={`${current.id}:${epoch}`}
            api={api}
            getToken={getToken}
            me={me}
            conversation={current}
            subscribe={subscribe}
            onProblem={onProblem}
          />
        ) : (
          <p className="muted empty">No conversation yet: start one on the left.</p>
        )}
      </main>
    </div>
  );
}
