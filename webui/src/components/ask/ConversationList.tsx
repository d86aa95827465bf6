// The user's conversations, most recently active first: open one, rename it, delete it.

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";

import { api } from "../../api/client";
import { EmptyState } from "../EmptyState";
import { ErrorNote } from "../ErrorNote";
import { Loading } from "../Loading";
import { Pager } from "../Pager";
import type { ConversationPage, ConversationSummary } from "../../lib/ask";
import { formatRelative } from "../../lib/format";

export const CONVERSATIONS_KEY = ["llm", "conversations"] as const;
const LIMIT = 20;

export interface ConversationListProps {
  selected: string | null;
  onSelect: (id: string) => void;
  onNew: () => void;
  onDeleted: (id: string) => void;
}

function Row({
  item,
  selected,
  onSelect,
  onDeleted,
}: {
  item: ConversationSummary;
  selected: boolean;
  onSelect: (id: string) => void;
  onDeleted: (id: string) => void;
}): ReactNode {
  const client = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(item.title);
  const rename = useMutation({
    mutationFn: (t: string) =>
      api<ConversationSummary>(`/api/v1/llm/conversations/${encodeURIComponent(item.id)}`, {
        method: "PATCH",
        body: { title: t },
      }),
    onSuccess: () => {
      setEditing(false);
      void client.invalidateQueries({ queryKey: CONVERSATIONS_KEY });
    },
  });
  const remove = useMutation({
    mutationFn: () => api<void>(`/api/v1/llm/conversations/${encodeURIComponent(item.id)}`, { method: "DELETE" }),
    onSuccess: () => {
      onDeleted(item.id);
      void client.invalidateQueries({ queryKey: CONVERSATIONS_KEY });
    },
  });
  return (
    <li className={selected ? "current" : ""}>
      {editing ? (
        <form
          className="ask-rename"
          onSubmit={(e) => {
            e.preventDefault();
            rename.mutate(title);
          }}
        >
          <label className="visually-hidden" htmlFor={`rename-${item.id}`}>
            New title
          </label>
          <input id={`rename-${item.id}`} value={title} maxLength={200} onChange={(e) => setTitle(e.target.value)} autoFocus />
          <button type="submit" disabled={rename.isPending || title.trim() === ""}>
            Save
          </button>
          <button
            type="button"
            onClick={() => {
              setEditing(false);
              setTitle(item.title);
              rename.reset();
            }}
          >
            Cancel
          </button>
        </form>
      ) : (
        <>
          <button
            type="button"
            className="sql-list-item"
            onClick={() => onSelect(item.id)}
            aria-label={`Open conversation ${item.title}`}
            aria-current={selected ? "true" : undefined}
          >
            <strong>{item.title}</strong>
            <span className="muted small">
              {item.turns} {item.turns === 1 ? "question" : "questions"} · {formatRelative(item.updated_at)}
            </span>
          </button>
          <span className="ask-row-actions">
            <button type="button" className="small-button" onClick={() => setEditing(true)} aria-label={`Rename ${item.title}`}>
              Rename
            </button>
            <button
              type="button"
              className="small-button danger"
              disabled={remove.isPending}
              aria-label={`Delete ${item.title}`}
              onClick={() => {
                if (window.confirm(`Delete the conversation "${item.title}" and all its answers?`)) remove.mutate();
              }}
            >
              Delete
            </button>
          </span>
        </>
      )}
      <ErrorNote error={rename.error} title="Could not rename" />
      <ErrorNote error={remove.error} title="Could not delete" />
    </li>
  );
}

export function ConversationList({ selected, onSelect, onNew, onDeleted }: ConversationListProps): ReactNode {
  const [offset, setOffset] = useState(0);
  const list = useQuery({
    queryKey: [...CONVERSATIONS_KEY, offset],
    queryFn: ({ signal }) => api<ConversationPage>(`/api/v1/llm/conversations?limit=${LIMIT}&offset=${offset}`, { signal }),
    placeholderData: (previous) => previous,
  });
  return (
    <section className="ask-conversations sql-side-list" aria-labelledby="ask-conv-title">
      <div className="ask-conv-head">
        <h2 id="ask-conv-title">Conversations</h2>
        <button type="button" onClick={onNew}>
          New conversation
        </button>
      </div>
      {list.isPending && <Loading label="Loading conversations…" />}
      <ErrorNote error={list.error} title="Could not load conversations" />
      {list.isSuccess && list.data.total === 0 && (
        <EmptyState title="No conversations yet">
          <p>Ask a question: it starts a conversation, and follow-ups continue it.</p>
        </EmptyState>
      )}
      <ul aria-label="Conversations">
        {(list.data?.items ?? []).map((item) => (
          <Row key={item.id} item={item} selected={item.id === selected} onSelect={onSelect} onDeleted={onDeleted} />
        ))}
      </ul>
      {list.data !== undefined && (
        <Pager total={list.data.total} limit={LIMIT} offset={offset} onChange={setOffset} label="Conversation pages" />
      )}
    </section>
  );
}

export default ConversationList;
