// Live events: the SSE tail of incoming events with filters, Pause/Resume (events keep
// arriving while paused and are counted, then shown on Resume), a bounded newest-first list and
// each event's full detail. The stream starts when the page opens; nothing is stored here.

import { useQuery } from "@tanstack/react-query";
import { useReducer, useState, type ReactNode } from "react";

import { api } from "../api/client";
import { useSession } from "../api/session";
import { EmptyState } from "../components/EmptyState";
import { ErrorNote } from "../components/ErrorNote";
import { PageHeader } from "../components/PageHeader";
import { EventDetail, EventList } from "../components/live/EventList";
import { LiveFilters } from "../components/live/LiveFilters";
import { useLiveTail, type TailStatus } from "../components/live/useLiveTail";
import "../components/live/live.css";
import "../components/sql/sql.css";
import { formatNumber } from "../lib/format";
import { EMPTY_FILTERS, INITIAL_LIVE, MAX_EVENTS, STREAM_PATH, liveReducer, type LiveAction, type LiveEvent, type LiveState } from "../lib/live";
import { ANALYTICS, type SchemaResponse } from "../lib/sql";

const STATUS_WORDS: Record<TailStatus, string> = {
  off: "Not connected",
  listening: "Listening",
  reconnecting: "Reconnecting…",
  failed: "Stopped",
};

export default function LivePage(): ReactNode {
  const { user, can } = useSession();
  const [state, dispatch] = useReducer((s: LiveState, a: LiveAction) => liveReducer(s, a), INITIAL_LIVE);
  const [path, setPath] = useState<string>(STREAM_PATH);
  const [filters, setFilters] = useState(EMPTY_FILTERS);
  const [selected, setSelected] = useState<LiveEvent | null>(null);
  const tail = useLiveTail(path, (action) => dispatch(action));

  const schema = useQuery({
    queryKey: ["analytics", "schema"],
    queryFn: ({ signal }) => api<SchemaResponse>(`${ANALYTICS}/schema`, { signal }),
    staleTime: 5 * 60_000,
  });
  const adminApps = useQuery({
    queryKey: ["admin", "apps", "names"],
    queryFn: ({ signal }) => api<{ apps: { id: string }[] }>("/api/v1/admin/apps", { signal }),
    enabled: can("admin"),
    staleTime: 60_000,
  });
  const apps = user?.app_ids ?? (adminApps.data?.apps ?? []).map((a) => a.id);
  const seenTypes = (schema.data?.event_types ?? []).map((t) => t.event_type);

  return (
    <div className="live-page">
      <PageHeader
        title="Live events"
        description={`Events as they arrive, newest first (the last ${MAX_EVENTS} are kept).`}
        actions={
          state.paused ? (
            <button type="button" className="primary" onClick={() => dispatch({ type: "resume" })}>
              Resume
            </button>
          ) : (
            <button type="button" onClick={() => dispatch({ type: "pause" })}>
              Pause
            </button>
          )
        }
      />
      <LiveFilters
        initial={filters}
        apps={apps}
        seenTypes={seenTypes}
        onApply={(next, nextPath) => {
          setFilters(next);
          setPath(nextPath);
          setSelected(null);
          dispatch({ type: "clear" });
        }}
      />
      <div className="live-bar">
        <span className="live-status" role="status" aria-live="polite">
          <span className={`live-dot ${tail.status}`} aria-hidden="true" />
          {STATUS_WORDS[tail.status]}
        </span>
        <span data-testid="live-received">{formatNumber(state.received)} received</span>
        {state.paused && (
          <span className="live-paused" role="status" data-testid="live-pending">
            Paused: {formatNumber(state.pendingCount)} new {state.pendingCount === 1 ? "event" : "events"} waiting
            {state.pendingCount > state.pending.length ? ` (the newest ${formatNumber(state.pending.length)} will be shown)` : ""}
          </span>
        )}
        {state.serverDropped > 0 && (
          <span className="muted">
            {formatNumber(state.serverDropped)} skipped by the server while this page fell behind
          </span>
        )}
        <button
          type="button"
          onClick={() => {
            dispatch({ type: "clear" });
            setSelected(null);
          }}
          disabled={state.events.length === 0 && state.pendingCount === 0}
        >
          Clear
        </button>
      </div>
      <ErrorNote error={tail.error} title={tail.status === "failed" ? "The live tail stopped" : "The live tail was interrupted"} />
      {state.events.length === 0 ? (
        <EmptyState title={state.paused ? "Paused" : "Waiting for events"}>
          <p>
            {state.paused
              ? "Press Resume to see what arrived."
              : "Events that match the filters appear here as soon as the gateway accepts them. Send one with an SDK, or:"}
          </p>
          {!state.paused && (
            <pre className="live-json">
              {`curl -X POST ${window.location.origin}/api/v1/events/ingest \\
  -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \\
  -d '{"type":"screen_view","device_id":"d-1","properties":{"screen_name":"home"}}'`}
            </pre>
          )}
        </EmptyState>
      ) : (
        <div className="live-body">
          <EventList events={state.events} selectedId={selected?.id ?? null} onSelect={setSelected} />
          {selected !== null ? (
            <EventDetail event={selected} onClose={() => setSelected(null)} />
          ) : (
            <p className="muted">Choose an event to see all its fields and properties.</p>
          )}
        </div>
      )}
    </div>
  );
}
