// The tail, newest first (at most MAX_EVENTS kept): one button per event, its detail beside.

import type { ReactNode } from "react";

import { CopyButton } from "../CopyButton";
import { eventDetail, eventLabel, eventTime, type LiveEvent } from "../../lib/live";

export function EventList({
  events,
  selectedId,
  onSelect,
}: {
  events: readonly LiveEvent[];
  selectedId: string | null;
  onSelect: (e: LiveEvent) => void;
}): ReactNode {
  return (
    <ol className="live-list" aria-label="Live events, newest first">
      {events.map((e) => (
        <li key={e.id}>
          <button
            type="button"
            className={`live-item${e.id === selectedId ? " selected" : ""}`}
            aria-pressed={e.id === selectedId}
            onClick={() => onSelect(e)}
          >
            <time className="live-time" dateTime={new Date(e.timestamp_ms || e.received_at_ms).toISOString()}>
              {eventTime(e.timestamp_ms || e.received_at_ms)}
            </time>
            <span className="live-label">{eventLabel(e)}</span>
            <span className="live-app">{e.app_id}</span>
            <span className="live-who">{e.user_id ?? e.device_id}</span>
          </button>
        </li>
      ))}
    </ol>
  );
}

export function EventDetail({ event, onClose }: { event: LiveEvent; onClose: () => void }): ReactNode {
  const json = eventDetail(event);
  return (
    <section className="live-detail" aria-labelledby="live-detail-title">
      <div className="live-detail-head">
        <h2 id="live-detail-title">
          {eventLabel(event)} <span className="muted small">{event.id}</span>
        </h2>
        <CopyButton text={json} />
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      <pre className="live-json" tabIndex={0} aria-label="Event as JSON">
        {json}
      </pre>
    </section>
  );
}
