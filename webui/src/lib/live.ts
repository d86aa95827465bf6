/**
 * Live events' logic: the stream URL from the filters, events as the SSE tail sends them
 * (causality/gateway/stream_routes.py: the stored event envelope as JSON), and a bounded
 * newest-first list that buffers while paused. Bounded on both sides, so a busy app can run
 * in a tab for hours without the page growing.
 */

export const STREAM_PATH = "/api/v1/analytics/events/stream";
export const MAX_EVENTS = 500;

/** The catalogued event types (causality/events/catalogue.py CATEGORY_OF); the stream refuses
 * any other `type`, so the filter offers exactly these. */
export const EVENT_TYPES = [
  "login", "logout", "signup", "profile_update",
  "screen_view", "screen_exit",
  "button_tap", "swipe", "scroll", "text_input", "long_press", "double_tap",
  "product_view", "add_to_cart", "remove_from_cart", "checkout_start", "checkout_step",
  "purchase_complete", "purchase_failed",
  "app_start", "app_background", "app_foreground", "app_crash",
  "network_change", "permission_request", "permission_result", "memory_warning",
  "battery_change", "custom",
] as const;

export interface LiveFilters {
  appId: string;
  type: string;
  eventName: string;
  /** `key:value` lines; each one must match. */
  properties: string;
}

export const EMPTY_FILTERS: LiveFilters = { appId: "", type: "", eventName: "", properties: "" };

export class FilterError extends Error {
  constructor(
    readonly field: keyof LiveFilters,
    message: string,
  ) {
    super(message);
    this.name = "FilterError";
  }
}

/** Property filters from the text box: one `key:value` per line or comma-free list item. */
export function parseProperties(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const sep = line.indexOf(":");
    if (sep <= 0) throw new FilterError("properties", `"${line}" is not key:value`);
    out.push([line.slice(0, sep).trim(), line.slice(sep + 1).trim()]);
  }
  return out;
}

/** GET path of the live tail for these filters (empty ones are left out). Throws FilterError
 * naming the field when a property filter is not `key:value`, before any request is made. */
export function streamPath(filters: LiveFilters): string {
  const params = new URLSearchParams();
  if (filters.appId.trim()) params.set("app_id", filters.appId.trim());
  if (filters.type.trim()) params.set("type", filters.type.trim());
  if (filters.eventName.trim()) params.set("event_name", filters.eventName.trim());
  for (const [key, value] of parseProperties(filters.properties)) {
    params.append("property", `${key}:${value}`);
  }
  const query = params.toString();
  return query ? `${STREAM_PATH}?${query}` : STREAM_PATH;
}

/** One event of the tail, as stored (causality/events/model.py Event). */
export interface LiveEvent {
  id: string;
  app_id: string;
  device_id: string;
  event_category: string;
  event_type: string;
  event_name?: string | null;
  user_id?: string | null;
  session_id?: string | null;
  correlation_id?: string | null;
  timestamp_ms: number;
  received_at_ms: number;
  device_context?: Record<string, unknown> | null;
  properties?: Record<string, unknown> | null;
  idempotency_key?: string;
}

/** An `event` frame's data as a LiveEvent, or null when it is not one (never throws: one odd
 * frame must not end the tail). */
export function parseLiveEvent(data: unknown): LiveEvent | null {
  let value = data;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return null;
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const e = value as Record<string, unknown>;
  if (typeof e.id !== "string" || typeof e.event_type !== "string") return null;
  return {
    ...(e as Partial<LiveEvent>),
    id: e.id,
    app_id: typeof e.app_id === "string" ? e.app_id : "",
    device_id: typeof e.device_id === "string" ? e.device_id : "",
    event_category: typeof e.event_category === "string" ? e.event_category : "",
    event_type: e.event_type,
    timestamp_ms: typeof e.timestamp_ms === "number" ? e.timestamp_ms : 0,
    received_at_ms: typeof e.received_at_ms === "number" ? e.received_at_ms : 0,
  };
}

/** The event's name in the list: custom events by their name, others by their type. */
export function eventLabel(e: LiveEvent): string {
  return e.event_type === "custom" && e.event_name ? `custom: ${e.event_name}` : e.event_type;
}

/** A time of day with milliseconds (events arrive many per second). */
export function eventTime(ms: number): string {
  if (!ms) return "";
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Every field of the event, with its times also in ISO form, as indented JSON. */
export function eventDetail(e: LiveEvent): string {
  const iso = (ms: number) => (ms ? new Date(ms).toISOString() : null);
  return JSON.stringify({ ...e, timestamp: iso(e.timestamp_ms), received_at: iso(e.received_at_ms) }, null, 2);
}

/** The tail's state: what is shown, what waits while paused, and what was lost. */
export interface LiveState {
  /** Newest first, at most MAX_EVENTS. */
  events: LiveEvent[];
  paused: boolean;
  /** Arrived while paused, newest first, at most MAX_EVENTS kept. */
  pending: LiveEvent[];
  /** How many arrived while paused (also those that no longer fit in `pending`). */
  pendingCount: number;
  /** Events the server dropped for this client because it fell behind (all connections). */
  serverDropped: number;
  /** The current connection's own cumulative drop count (the server counts per connection). */
  connectionDropped: number;
  /** Events received since the tail started. */
  received: number;
}

export const INITIAL_LIVE: LiveState = {
  events: [],
  paused: false,
  pending: [],
  pendingCount: 0,
  serverDropped: 0,
  connectionDropped: 0,
  received: 0,
};

export type LiveAction =
  | { type: "events"; events: LiveEvent[] } // oldest first, as they arrived
  | { type: "dropped"; total: number } // the server's cumulative count on this connection
  | { type: "connected" } // a new connection: its drop count starts at 0
  | { type: "pause" }
  | { type: "resume" }
  | { type: "clear" };

/** Newest-first merge of `arrived` (oldest first) onto `list`, keeping at most `max`. */
function prepend(list: LiveEvent[], arrived: LiveEvent[], max: number): LiveEvent[] {
  const newest = arrived.slice(-max).reverse();
  return newest.length >= max ? newest : newest.concat(list.slice(0, max - newest.length));
}

export function liveReducer(state: LiveState, action: LiveAction, max = MAX_EVENTS): LiveState {
  switch (action.type) {
    case "events": {
      if (action.events.length === 0) return state;
      const received = state.received + action.events.length;
      if (state.paused) {
        return {
          ...state,
          received,
          pending: prepend(state.pending, action.events, max),
          pendingCount: state.pendingCount + action.events.length,
        };
      }
      return { ...state, received, events: prepend(state.events, action.events, max) };
    }
    case "dropped": {
      const more = action.total - state.connectionDropped;
      if (more <= 0) return state;
      return { ...state, serverDropped: state.serverDropped + more, connectionDropped: action.total };
    }
    case "connected":
      return state.connectionDropped === 0 ? state : { ...state, connectionDropped: 0 };
    case "pause":
      return state.paused ? state : { ...state, paused: true };
    case "resume": {
      if (!state.paused) return state;
      const pending = [...state.pending].reverse(); // oldest first
      return {
        ...state,
        paused: false,
        events: prepend(state.events, pending, max),
        pending: [],
        pendingCount: 0,
      };
    }
    case "clear":
      return { ...state, events: [], pending: [], pendingCount: 0 };
    default:
      return state;
  }
}
