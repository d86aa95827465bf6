// Ask in plain English: a thread of questions whose steps stream in as the gateway produces
// them (POST /api/v1/llm/ask, Server-Sent Events), the conversation list, and a plain message
// when no model is configured or the model is down (a 503/504 before the stream starts).

import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";

import { ApiError, api, postSse } from "../api/client";
import { ErrorNote } from "../components/ErrorNote";
import { Field } from "../components/Field";
import { Loading } from "../components/Loading";
import { PageHeader } from "../components/PageHeader";
import { CONVERSATIONS_KEY, ConversationList } from "../components/ask/ConversationList";
import { TurnView } from "../components/ask/TurnView";
import "../components/ask/ask.css";
import "../components/sql/sql.css";
import {
  MODEL_DOWN_CODES,
  conversationOf,
  newTurn,
  reduceTurn,
  turnFromStored,
  type ConversationDetail,
  type Turn,
} from "../lib/ask";

const EXAMPLES = [
  "How many purchases per platform in the last 7 days?",
  "Daily active devices this week",
  "Which screens are viewed most?",
];

let keySeq = 0;

function ModelNote({ error }: { error: ApiError }): ReactNode {
  const title =
    error.code === "llm_not_configured"
      ? "Ask is not set up yet"
      : error.code === "llm_timeout"
        ? "The model did not answer in time"
        : "The model is not reachable right now";
  return (
    <div className="error-note ask-model-note" role="alert">
      <strong>{title}.</strong> <span>{error.message}</span>
      {error.code !== "llm_not_configured" && (
        <span> Try again in a moment{error.retryAfter !== undefined ? ` (${error.retryAfter} s)` : ""}.</span>
      )}
    </div>
  );
}

export default function AskPage(): ReactNode {
  const client = useQueryClient();
  const [conversationId, setConversationId] = useState<string | null>(null);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [loadingThread, setLoadingThread] = useState(false);
  const [threadError, setThreadError] = useState<unknown>(null);
  const [question, setQuestion] = useState("");
  const [mode, setMode] = useState<"sql" | "agent">("sql");
  const [askError, setAskError] = useState<unknown>(null);
  const [streaming, setStreaming] = useState(false);
  const aborter = useRef<AbortController | null>(null);
  const threadEnd = useRef<HTMLDivElement>(null);

  useEffect(() => () => aborter.current?.abort(), []);

  const openConversation = useCallback(async (id: string) => {
    aborter.current?.abort();
    setConversationId(id);
    setTurns([]);
    setAskError(null);
    setThreadError(null);
    setLoadingThread(true);
    try {
      const detail = await api<ConversationDetail>(`/api/v1/llm/conversations/${encodeURIComponent(id)}`);
      setTurns(detail.turns.map((t) => turnFromStored(detail.id, t)));
    } catch (error) {
      setThreadError(error);
    } finally {
      setLoadingThread(false);
    }
  }, []);

  const startNew = (): void => {
    aborter.current?.abort();
    setConversationId(null);
    setTurns([]);
    setAskError(null);
    setThreadError(null);
  };

  const ask = async (text: string): Promise<void> => {
    const q = text.trim();
    if (q === "" || streaming) return;
    const controller = new AbortController();
    aborter.current?.abort();
    aborter.current = controller;
    const key = `new-${++keySeq}`;
    const continuing = conversationId ?? conversationOf(turns);
    setTurns((ts) => [...ts, newTurn(key, q, mode)]);
    setAskError(null);
    setStreaming(true);
    setQuestion("");
    const update = (change: (t: Turn) => Turn): void =>
      setTurns((ts) => ts.map((t) => (t.key === key ? change(t) : t)));
    let streamed = false;
    try {
      await postSse(
        "/api/v1/llm/ask",
        { question: q, conversation_id: continuing, mode },
        (event, data) => {
          streamed = true;
          update((t) => reduceTurn(t, event, data));
          if (event === "conversation" && typeof data === "object" && data !== null) {
            const id = (data as { conversation_id?: unknown }).conversation_id;
            if (typeof id === "string") setConversationId(id);
          }
        },
        controller.signal,
      );
      update((t) =>
        t.status === "streaming" ? { ...t, status: "interrupted", failed: { code: "stream_ended", reason: "the answer stream ended early" } } : t,
      );
    } catch (error) {
      const aborted = error instanceof DOMException && error.name === "AbortError";
      if (aborted) {
        update((t) => (t.status === "streaming" ? { ...t, status: "interrupted" } : t));
      } else if (!streamed) {
        // refused before the stream started (no model, rate limit, a bad field): the error is
        // shown by the question box, which gets the question back to send again
        setTurns((ts) => ts.filter((t) => t.key !== key));
        setAskError(error);
        setQuestion(q);
      } else {
        // the stream broke mid-way: the turn keeps what it showed, and says why it stopped
        update((t) =>
          t.status === "streaming"
            ? {
                ...t,
                status: "failed",
                failed: {
                  code: error instanceof ApiError ? error.code : "stream_failed",
                  reason: error instanceof Error ? error.message : "the answer stream failed",
                },
              }
            : t,
        );
      }
    } finally {
      setStreaming(false);
      if (aborter.current === controller) aborter.current = null;
      void client.invalidateQueries({ queryKey: CONVERSATIONS_KEY });
    }
  };

  useEffect(() => {
    threadEnd.current?.scrollIntoView?.({ block: "end", behavior: "smooth" });
  }, [turns.length]);

  const modelDown = askError instanceof ApiError && MODEL_DOWN_CODES.has(askError.code) ? askError : null;

  return (
    <div className="ask-page">
      <PageHeader
        title="Ask"
        description="Questions in plain English become one read-only SQL query over your events."
      />
      <div className="ask-layout">
        <aside className="ask-aside">
          <ConversationList
            selected={conversationId}
            onSelect={(id) => void openConversation(id)}
            onNew={startNew}
            onDeleted={(id) => {
              if (id === conversationId) startNew();
            }}
          />
        </aside>
        <div className="ask-main">
          <section className="ask-thread" aria-label="Thread" aria-busy={streaming}>
            {loadingThread && <Loading label="Loading the conversation…" />}
            <ErrorNote error={threadError} title="Could not open the conversation" />
            {!loadingThread && turns.length === 0 && threadError === null && (
              <div className="ask-intro">
                <h2>Ask a question about your events</h2>
                <p className="muted">For example:</p>
                <ul>
                  {EXAMPLES.map((e) => (
                    <li key={e}>
                      <button type="button" className="link-button" onClick={() => setQuestion(e)}>
                        {e}
                      </button>
                    </li>
                  ))}
                </ul>
              </div>
            )}
            {turns.map((t, i) => (
              <TurnView key={t.key} turn={t} index={i} />
            ))}
            <div ref={threadEnd} />
          </section>
          <form
            className="ask-form"
            onSubmit={(e) => {
              e.preventDefault();
              void ask(question);
            }}
          >
            {modelDown !== null ? <ModelNote error={modelDown} /> : <ErrorNote error={askError} title="Could not ask" />}
            <Field label={turns.length > 0 ? "Follow-up question" : "Question"}>
              <textarea
                value={question}
                rows={2}
                maxLength={2000}
                onChange={(e) => setQuestion(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === "Enter" && (e.ctrlKey || e.metaKey || !e.shiftKey)) {
                    e.preventDefault();
                    void ask(question);
                  }
                }}
                placeholder="How many purchases per platform last week?"
              />
            </Field>
            <div className="sql-toolbar">
              <label className="inline-field">
                Mode
                <select value={mode} onChange={(e) => setMode(e.target.value === "agent" ? "agent" : "sql")}>
                  <option value="sql">One query</option>
                  <option value="agent">Investigate (agent)</option>
                </select>
              </label>
              <button type="submit" className="primary" disabled={streaming || question.trim() === ""}>
                Ask
              </button>
              {streaming && (
                <button type="button" onClick={() => aborter.current?.abort()}>
                  Stop
                </button>
              )}
              <span className="muted small">Enter sends, Shift+Enter adds a line</span>
            </div>
          </form>
        </div>
      </div>
    </div>
  );
}
