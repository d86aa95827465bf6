import { describe, expect, it } from "vitest";
import {
  EMPTY_FILTERS,
  EVENT_TYPES,
  FilterError,
  INITIAL_LIVE,
  type LiveEvent,
  type LiveState,
  eventDetail,
  eventLabel,
  liveReducer,
  parseLiveEvent,
  parseProperties,
  streamPath,
} from "./live";

function ev(n: number, extra: Partial<LiveEvent> = {}): LiveEvent {
  return {
    id: `e${n}`,
    app_id: "shop",
    device_id: "d-1",
    event_category: "commerce",
    event_type: "add_to_cart",
    timestamp_ms: 1_700_000_000_000 + n,
    received_at_ms: 1_700_000_000_100 + n,
    ...extra,
  };
}
const ids = (list: LiveEvent[]) => list.map((e) => e.id);

describe("streamPath", () => {
  it("is the bare path without filters", () => {
    expect(streamPath(EMPTY_FILTERS)).toBe("/api/v1/analytics/events/stream");
  });
  it("sends every filter, properties repeated", () => {
    const path = streamPath({
      appId: " shop ",
      type: "purchase_complete",
      eventName: "",
      properties: "currency:EUR\n\n  plan : pro:max \n",
    });
    const url = new URL(path, "http://x");
    expect(url.pathname).toBe("/api/v1/analytics/events/stream");
    expect(url.searchParams.get("app_id")).toBe("shop");
    expect(url.searchParams.get("type")).toBe("purchase_complete");
    expect(url.searchParams.has("event_name")).toBe(false);
    expect(url.searchParams.getAll("property")).toEqual(["currency:EUR", "plan:pro:max"]);
  });
  it("refuses a property filter that is not key:value, naming the field", () => {
    expect(() => parseProperties("currency")).toThrow(FilterError);
    try {
      streamPath({ ...EMPTY_FILTERS, properties: ":EUR" });
    } catch (e) {
      expect((e as FilterError).field).toBe("properties");
    }
  });
});

describe("parseLiveEvent", () => {
  it("reads objects and JSON text", () => {
    expect(parseLiveEvent(ev(1))?.id).toBe("e1");
    expect(parseLiveEvent(JSON.stringify(ev(2, { properties: { a: 1 } })))?.properties).toEqual({ a: 1 });
  });
  it("returns null for anything else", () => {
    expect(parseLiveEvent("not json")).toBeNull();
    expect(parseLiveEvent({ dropped: 3 })).toBeNull();
    expect(parseLiveEvent(null)).toBeNull();
    expect(parseLiveEvent([1])).toBeNull();
  });
});

describe("labels and detail", () => {
  it("names custom events by their name", () => {
    expect(eventLabel(ev(1))).toBe("add_to_cart");
    expect(eventLabel(ev(1, { event_type: "custom", event_name: "level_up" }))).toBe("custom: level_up");
  });
  it("shows every field with ISO times", () => {
    const detail = JSON.parse(eventDetail(ev(1, { properties: { price_cents: 1299 } }))) as Record<string, unknown>;
    expect(detail.properties).toEqual({ price_cents: 1299 });
    expect(detail.timestamp).toBe(new Date(1_700_000_000_001).toISOString());
    expect(detail.device_id).toBe("d-1");
  });
  it("offers the catalogue's types", () => {
    expect(EVENT_TYPES).toContain("purchase_complete");
    expect(EVENT_TYPES).toContain("custom");
    expect(new Set(EVENT_TYPES).size).toBe(29);
  });
});

describe("liveReducer", () => {
  it("keeps the newest first", () => {
    let s = liveReducer(INITIAL_LIVE, { type: "events", events: [ev(1), ev(2)] });
    s = liveReducer(s, { type: "events", events: [ev(3)] });
    expect(ids(s.events)).toEqual(["e3", "e2", "e1"]);
    expect(s.received).toBe(3);
  });
  it("is bounded", () => {
    let s: LiveState = INITIAL_LIVE;
    for (let i = 0; i < 20; i++) s = liveReducer(s, { type: "events", events: [ev(i)] }, 5);
    expect(ids(s.events)).toEqual(["e19", "e18", "e17", "e16", "e15"]);
    s = liveReducer(s, { type: "events", events: Array.from({ length: 12 }, (_, i) => ev(100 + i)) }, 5);
    expect(ids(s.events)).toEqual(["e111", "e110", "e109", "e108", "e107"]);
  });
  it("buffers while paused and counts, then shows on resume", () => {
    let s = liveReducer(INITIAL_LIVE, { type: "events", events: [ev(1)] }, 4);
    s = liveReducer(s, { type: "pause" }, 4);
    s = liveReducer(s, { type: "events", events: [ev(2), ev(3)] }, 4);
    s = liveReducer(s, { type: "events", events: [ev(4)] }, 4);
    expect(ids(s.events)).toEqual(["e1"]);
    expect(s.pendingCount).toBe(3);
    expect(ids(s.pending)).toEqual(["e4", "e3", "e2"]);
    s = liveReducer(s, { type: "resume" }, 4);
    expect(s.paused).toBe(false);
    expect(ids(s.events)).toEqual(["e4", "e3", "e2", "e1"]);
    expect(s.pendingCount).toBe(0);
    expect(s.pending).toEqual([]);
  });
  it("counts everything that arrived while paused, even beyond the bound", () => {
    let s = liveReducer(INITIAL_LIVE, { type: "pause" }, 3);
    for (let i = 0; i < 10; i++) s = liveReducer(s, { type: "events", events: [ev(i)] }, 3);
    expect(s.pendingCount).toBe(10);
    expect(ids(s.pending)).toEqual(["e9", "e8", "e7"]);
    s = liveReducer(s, { type: "resume" }, 3);
    expect(ids(s.events)).toEqual(["e9", "e8", "e7"]);
  });
  it("pause and resume are idempotent", () => {
    const s = liveReducer(INITIAL_LIVE, { type: "resume" });
    expect(s).toBe(INITIAL_LIVE);
    const p = liveReducer(INITIAL_LIVE, { type: "pause" });
    expect(liveReducer(p, { type: "pause" })).toBe(p);
  });
  it("adds up the server's drop counts across connections", () => {
    let s = liveReducer(INITIAL_LIVE, { type: "dropped", total: 5 });
    s = liveReducer(s, { type: "dropped", total: 8 });
    expect(s.serverDropped).toBe(8);
    s = liveReducer(s, { type: "dropped", total: 8 });
    expect(s.serverDropped).toBe(8);
    s = liveReducer(s, { type: "connected" });
    s = liveReducer(s, { type: "dropped", total: 2 });
    expect(s.serverDropped).toBe(10);
  });
  it("clears the list and the buffer", () => {
    let s = liveReducer(INITIAL_LIVE, { type: "events", events: [ev(1)] });
    s = liveReducer(s, { type: "pause" });
    s = liveReducer(s, { type: "events", events: [ev(2)] });
    s = liveReducer(s, { type: "clear" });
    expect(s.events).toEqual([]);
    expect(s.pending).toEqual([]);
    expect(s.pendingCount).toBe(0);
    expect(s.paused).toBe(true);
  });
});
