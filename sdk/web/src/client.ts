import { CATALOGUE } from "./catalogue";
import { deviceContext, pageParams, routedHash, screenName } from "./context";
import { browserKV, type KV } from "./kv";
import { EventQueue } from "./queue";
import { Sessions } from "./session";
import { persistentStore } from "./stores";
import { Backoff, MAX_BODY_BYTES, postBatch, sendBeacon } from "./transport";
import type { DeviceContext, Envelope, Options, Properties } from "./types";
import { uuid } from "./uuid";

const DEVICE_KEY = "causality.device_id";
const USER_KEY = "causality.user_id";
const MAX_BATCH_EVENTS = 100;

/** A cheap stable hash, so each API key gets its own queue without storing the key twice. */
function hash(s: string): string {
  let h = 5381;
  for (let i = 0; i < s.length; i++) h = (h * 33) ^ s.charCodeAt(i);
  return (h >>> 0).toString(36);
}

/** One tracker bound to one API key: identity, sessions, the queue and its delivery. */
export class Client {
  private readonly kv: KV = browserKV();
  private readonly queue: EventQueue;
  private readonly sessions: Sessions;
  private readonly backoff = new Backoff();
  private readonly context: DeviceContext;
  private readonly url: string;
  private readonly flushAt: number;
  private readonly flushIntervalMs: number;
  private deviceId: string;
  private userId: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private due = 0;
  private blockedUntil = 0;
  /** The last attempt failed: the gateway may be unreachable, so no beacons (unknowable). */
  private failing = false;
  private sending: Promise<void> | undefined;
  private lastUrl: string | undefined;
  private lastScreen: string | undefined;
  private readonly cleanup: Array<() => void> = [];

  constructor(private readonly options: Options) {
    const host = (options.host ?? location.origin).replace(/\/+$/, "");
    this.url = `${host}/api/v1/events/batch`;
    this.flushAt = options.flushAt ?? 20;
    this.flushIntervalMs = options.flushIntervalMs ?? 2000;
    this.context = deviceContext(options.appVersion);
    this.deviceId = this.kv.get(DEVICE_KEY) ?? this.newDevice();
    this.userId = this.kv.get(USER_KEY) ?? undefined;
    this.sessions = new Sessions(this.kv, Date.now, options.sessionTimeoutMs);
    const name = `causality-${hash(options.apiKey + host)}`;
    this.queue = new EventQueue(
      persistentStore(name, this.kv),
      options.maxQueueSize,
      this.kv,
      `${name}.acked`,
    );
    this.listen(window, "online", () => {
      this.blockedUntil = 0;
      this.backoff.reset();
      void this.flush();
    });
    // pagehide is the last event a leaving page reliably gets; hidden tabs may never return
    this.listen(window, "pagehide", () => this.beacon());
    this.listen(document, "visibilitychange", () => {
      if (document.visibilityState === "hidden" && Date.now() >= this.blockedUntil) void this.flush();
    });
    if (options.autoPageviews !== false) {
      this.page();
      this.watchHistory();
    }
    // what earlier pages left behind (offline, closed too early) goes out now
    void this.queue.ready.then(() => this.queue.restored && this.schedule(0));
  }

  /** A catalogued type (`add_to_cart`, …) is sent typed; any other name as a `custom` event
   * with `event_name`. */
  track(event: string, properties: Properties = {}): void {
    if (CATALOGUE.has(event)) this.enqueue(event, properties);
    else this.enqueue("custom", { ...properties, event_name: event });
  }

  /** A page view (`screen_view`, platform web) of the current URL; the referrer is the
   * previous URL after a single-page-app navigation. */
  page(properties: Properties = {}): void {
    const href = location.href;
    const name = screenName(new URL(href));
    const payload: Properties = {
      screen_name: name,
      params: pageParams(href, document.title, this.lastUrl ?? document.referrer),
    };
    if (this.lastScreen) payload.previous_screen = this.lastScreen;
    this.enqueue("screen_view", { ...payload, ...properties });
    this.lastUrl = href;
    this.lastScreen = name;
  }

  /** Later events carry this `user_id` (kept across reloads until `reset`). */
  identify(userId: string): void {
    this.userId = userId;
    this.kv.set(USER_KEY, userId);
  }

  /** Log-out: forget the user, start a new device id and a new session. */
  reset(): void {
    this.userId = undefined;
    this.kv.remove(USER_KEY);
    this.deviceId = this.newDevice();
    this.sessions.reset();
  }

  /** Send everything waiting now (unless offline); settles when this round is done. */
  flush(): Promise<void> {
    this.sending ??= this.drain().finally(() => (this.sending = undefined));
    return this.sending;
  }

  /** Stop listening and sending; queued events stay stored for the next page. */
  shutdown(): void {
    clearTimeout(this.timer);
    this.cleanup.forEach((undo) => undo());
  }

  private enqueue(type: string, properties: Properties): void {
    const event: Envelope = {
      type,
      device_id: this.deviceId,
      idempotency_key: uuid(),
      timestamp_ms: Date.now(),
      session_id: this.sessions.touch(),
      device_context: this.context,
      properties,
    };
    if (this.userId) event.user_id = this.userId;
    this.queue.add(event);
    this.schedule(this.queue.size >= this.flushAt ? 0 : this.flushIntervalMs);
  }

  private schedule(delayMs: number): void {
    const due = Math.max(Date.now() + delayMs, this.blockedUntil);
    if (this.timer !== undefined && this.due <= due) return;
    clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, due - Date.now());
  }

  private async drain(): Promise<void> {
    await this.queue.ready;
    // offline: the `online` listener resumes; events meanwhile wait in the store
    while (this.reachable()) {
      const batch = this.queue.take(MAX_BATCH_EVENTS, MAX_BODY_BYTES);
      if (!batch.length) return;
      const out = await postBatch(fetch, this.url, this.options.apiKey, JSON.stringify({ events: batch }));
      if (out.kind === "retry") {
        this.failing = true;
        this.queue.release(batch);
        const wait = out.afterMs ?? this.backoff.next();
        this.blockedUntil = Date.now() + wait;
        clearTimeout(this.timer); // a flush planned before the failure must wait too
        this.timer = undefined;
        this.schedule(wait);
        return;
      }
      this.failing = false;
      this.backoff.reset();
      this.blockedUntil = 0;
      if (out.kind === "drop") {
        console.warn(`causality: the gateway refused ${batch.length} events (HTTP ${out.status})`);
      }
      this.queue.ack(batch);
    }
  }

  /** The page is going away: hand what is not already in flight to sendBeacon. A beacon's
   * fate is unknown, so only while the gateway looks reachable (online, and the last
   * attempt went through); otherwise the events stay stored and the next page sends them. */
  private beacon(): void {
    if (!this.reachable() || this.failing) return;
    for (;;) {
      const batch = this.queue.take(MAX_BATCH_EVENTS, MAX_BODY_BYTES);
      if (!batch.length) return;
      if (!sendBeacon(this.url, this.options.apiKey, JSON.stringify({ events: batch }))) {
        this.queue.release(batch);
        return;
      }
      this.queue.ack(batch);
    }
  }

  /** navigator.onLine false is certain (true only means "a network exists"). */
  private reachable(): boolean {
    return navigator.onLine !== false;
  }

  private watchHistory(): void {
    const onChange = (): void => {
      // after the router ran (its title update included); anchors within a page are no view
      setTimeout(() => {
        if (!this.lastUrl || this.lastUrl === location.href) return;
        const last = new URL(this.lastUrl);
        const now = new URL(location.href);
        const sameDoc = last.origin + last.pathname + last.search === now.origin + now.pathname + now.search;
        if (sameDoc && !routedHash(now.hash) && !routedHash(last.hash)) return;
        this.page();
      }, 0);
    };
    for (const method of ["pushState", "replaceState"] as const) {
      const original = history[method];
      history[method] = function (this: History, ...args: Parameters<History["pushState"]>) {
        original.apply(this, args);
        onChange();
      };
      this.cleanup.push(() => (history[method] = original));
    }
    this.listen(window, "popstate", onChange);
  }

  private listen(target: EventTarget, type: string, fn: () => void): void {
    target.addEventListener(type, fn);
    this.cleanup.push(() => target.removeEventListener(type, fn));
  }

  private newDevice(): string {
    const id = uuid();
    this.kv.set(DEVICE_KEY, id);
    return id;
  }
}
