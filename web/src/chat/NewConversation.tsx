import { useId, useState } from "react";
import type { ChatApi } from "../lib/api";
import type { Conversation } from "../lib/types";

export function NewConversation(props: {
  api: ChatApi;
  onCreated: (conversation: Conversation) => void;
  onProblem: (sentence: string) => void;
}) {
  const [title, setTitle] = useState("");
  const [members, setMembers] = useState("");
  const titleId = useId();
  const membersId = useId();
  return (
    <form
      className="new-conversation"
      aria-label="New conversation"
      onSubmit={(event) => {
        event.preventDefault();
        const member_ids = members
          .split(/[\s,]+/)
          .map((id) => id.trim())
          .filter(Boolean);
        if (member_ids.length === 0) return;
        const body = title.trim()
          ? { kind: "group" as const, title: title.trim(), member_ids }
          : member_ids.length === 1
            ? { kind: "direct" as const, member_ids }
            : { kind: "group" as const, title: member_ids.join(", "), member_ids };
        props.api.createConversation(body).then(
          (conversation) => {
            setTitle("");
            setMembers("");
            props.onCreated(conversation);
          },
          (error: Error) => props.onProblem(error.message),
        );
      }}
    >
      <h2>New conversation</h2>
      <label htmlFor={membersId}>Members (user ids)</label>
      <input id={membersId} value={members} onChange={(e) => setMembers(e.target.value)} placeholder="bob, carol" />
      <label htmlFor={titleId}>Group title (optional)</label>
      <input id={titleId} value={title} onChange={(e) => setTitle(e.target.value)} />
      <button type="submit">Start</button>
    </form>
  );
}
