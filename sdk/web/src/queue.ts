import { type KV, memoryKV } from "./kv";
import type { Envelope } from "./types";

/** Where queued events survive reloads. Writes are best effort: the in-memory queue is the
 * truth for this page, the store is what the next page starts from. */
export interface QueueStore {
  load(): Promise<Envelope[]>;
  put(events: Envelope[]): Promise<void>;
  remove(keys: string[]): Promise<void>;
}

const encoder = new TextEncoder();
const noop = (): void => {};

/** The events waiting to be sent, oldest first, mirrored into a persistent store.
 *
 * Events handed out by `take` are in flight until `ack` (delivered or refused for good) or
 * `release` (try again later); an in-flight event is never handed out twice, so a keepalive
 * fetch and a pagehide beacon cannot both carry it.
 *
 * Removing from IndexedDB is asynchronous and a page that is going away may die before it
 * commits; the next page would then send those events again, long after the gateway's
 * duplicate window. So `ack` first notes the keys in a synchronous journal (localStorage),
 * which the next page subtracts from what it loads, and clears them once the store has. */
export class EventQueue {
  private readonly items = new Map<string, Envelope>();
  private readonly inflight = new Set<string>();
  /** Settles once what earlier pages left in the store has joined the queue. */
  readonly ready: Promise<void>;
  /** How many events earlier pages left unsent (known once `ready` settled). */
  restored = 0;

  constructor(
    private readonly store: QueueStore,
    private readonly maxSize: number = 1000,
    private readonly journal: KV = memoryKV(),
    private readonly journalKey: string = "causality.acked",
  ) {
    this.ready = store.load().then((stored) => {
      const gone = new Set(this.journaled());
      const done = stored.filter((e) => gone.has(e.idempotency_key));
      if (done.length) this.forget(done.map((e) => e.idempotency_key));
      const left = stored.filter((e) => !gone.has(e.idempotency_key));
      left.sort((a, b) => a.timestamp_ms - b.timestamp_ms);
      this.restored = left.length;
      const fresh = [...this.items.values()];
      this.items.clear();
      for (const e of [...left, ...fresh]) this.items.set(e.idempotency_key, e);
      this.trim();
    }, noop);
  }

  /** Events waiting, in flight included. */
  get size(): number {
    return this.items.size;
  }

  add(event: Envelope): void {
    this.items.set(event.idempotency_key, event);
    this.store.put([event]).catch(noop);
    this.trim();
  }

  /** The oldest events not in flight, at most `maxEvents` and, serialized as one batch,
   * at most `maxBytes` (at least one event, whatever its size); marks them in flight. */
  take(maxEvents: number, maxBytes: number): Envelope[] {
    const out: Envelope[] = [];
    let bytes = 12; // {"events":[…]} is 13 bytes plus one comma fewer than events
    for (const [key, e] of this.items) {
      if (out.length >= maxEvents) break;
      if (this.inflight.has(key)) continue;
      const size = encoder.encode(JSON.stringify(e)).length + 1;
      if (out.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      out.push(e);
    }
    for (const e of out) this.inflight.add(e.idempotency_key);
    return out;
  }

  /** Delivered (or refused for good): forget them here and, for good, in the store. */
  ack(events: Envelope[]): void {
    const keys = events.map((e) => e.idempotency_key);
    for (const k of keys) {
      this.items.delete(k);
      this.inflight.delete(k);
    }
    if (keys.length) this.forget(keys);
  }

  /** Not delivered: they may be taken again. */
  release(events: Envelope[]): void {
    for (const e of events) this.inflight.delete(e.idempotency_key);
  }

  private trim(): void {
    const drop: string[] = [];
    for (const key of this.items.keys()) {
      if (this.items.size - drop.length <= this.maxSize) break;
      if (!this.inflight.has(key)) drop.push(key);
    }
    for (const k of drop) this.items.delete(k);
    if (drop.length) this.forget(drop);
  }

  /** Journal the keys now, remove them from the store, then un-journal them. */
  private forget(keys: string[]): void {
    this.writeJournal([...this.journaled(), ...keys]);
    this.store.remove(keys).then(() => {
      const removed = new Set(keys);
      this.writeJournal(this.journaled().filter((k) => !removed.has(k)));
    }, noop);
  }

  private journaled(): string[] {
    try {
      const v = JSON.parse(this.journal.get(this.journalKey) ?? "[]") as unknown;
      return Array.isArray(v) ? (v as string[]) : [];
    } catch {
      return [];
    }
  }

  private writeJournal(keys: string[]): void {
    if (keys.length) this.journal.set(this.journalKey, JSON.stringify(keys));
    else this.journal.remove(this.journalKey);
  }
}
