import { IDBFactory } from "fake-indexeddb";
import { describe, expect, it } from "vitest";
import { memoryKV } from "../src/kv";
import { EventQueue, type QueueStore } from "../src/queue";
import { idbStore, kvStore, memoryStore, openDatabase, persistentStore } from "../src/stores";
import type { Envelope } from "../src/types";
import { envelope, settle } from "./helpers";

const keys = (events: Envelope[]) => events.map((e) => e.idempotency_key);

describe("EventQueue", () => {
  it("hands out the oldest events and forgets them once acknowledged", async () => {
    const q = new EventQueue(memoryStore());
    await q.ready;
    const [a, b, c] = [envelope(), envelope(), envelope()];
    [a, b, c].forEach((e) => q.add(e));
    expect(keys(q.take(2, 60_000))).toEqual(keys([a, b]));
    expect(keys(q.take(10, 60_000))).toEqual(keys([c])); // a and b are in flight
    q.ack([a, b]);
    expect(q.size).toBe(1);
  });

  it("gives released events out again, and in-flight ones never twice", async () => {
    const q = new EventQueue(memoryStore());
    await q.ready;
    const a = envelope();
    q.add(a);
    const first = q.take(10, 60_000);
    expect(q.take(10, 60_000)).toEqual([]);
    q.release(first);
    expect(keys(q.take(10, 60_000))).toEqual(keys([a]));
  });

  it("limits a batch's serialized size but always takes at least one event", async () => {
    const q = new EventQueue(memoryStore());
    await q.ready;
    const big = (n: number) => envelope({ properties: { event_name: "big", pad: "x".repeat(n) } });
    const bytes = (e: Envelope) => new TextEncoder().encode(JSON.stringify(e)).length + 1;
    const [a, b, c] = [big(400), big(400), big(5000)];
    [a, b, c].forEach((e) => q.add(e));
    const limit = 12 + bytes(a) + bytes(b); // exactly {"events":[a,b]}
    expect(JSON.stringify({ events: [a, b] }).length).toBe(limit);
    expect(keys(q.take(10, limit))).toEqual(keys([a, b]));
    expect(keys(q.take(10, 1200))).toEqual(keys([c])); // larger than the limit on its own
  });

  it("drops the oldest events beyond maxSize, in memory and in the store", async () => {
    const store = memoryStore();
    const q = new EventQueue(store, 3);
    await q.ready;
    const events = [envelope(), envelope(), envelope(), envelope(), envelope()];
    events.forEach((e) => q.add(e));
    await settle();
    expect(q.size).toBe(3);
    expect(keys(q.take(10, 60_000))).toEqual(keys(events.slice(2)));
    expect(keys(await store.load()).sort()).toEqual(keys(events.slice(2)).sort());
  });

  it("survives a reload: a new queue on the same store starts with what was not sent", async () => {
    const store = memoryStore();
    const q1 = new EventQueue(store);
    await q1.ready;
    const [a, b, c] = [envelope(), envelope(), envelope()];
    [a, b, c].forEach((e) => q1.add(e));
    q1.ack(q1.take(1, 60_000)); // a delivered
    q1.take(1, 60_000); // b in flight when the page went away: not delivered
    await settle();

    const q2 = new EventQueue(store);
    const d = envelope();
    q2.add(d); // tracked before the stored events were loaded
    await q2.ready;
    expect(keys(q2.take(10, 60_000))).toEqual(keys([b, c, d]));
  });

  it("does not resend what was acknowledged when the page died before the store forgot it", async () => {
    const kv = memoryKV();
    const backing = memoryStore();
    // removals that never commit: the page went away first
    const dying: QueueStore = { ...backing, remove: () => new Promise(() => {}) };
    const q1 = new EventQueue(dying, 1000, kv, "j");
    await q1.ready;
    const [a, b] = [envelope(), envelope()];
    q1.add(a);
    q1.add(b);
    q1.ack(q1.take(1, 60_000)); // a delivered, e.g. by a beacon on pagehide
    await settle();
    expect(keys(await backing.load()).sort()).toEqual(keys([a, b]).sort());

    const q2 = new EventQueue(backing, 1000, kv, "j");
    await q2.ready;
    expect(q2.restored).toBe(1);
    expect(keys(q2.take(10, 60_000))).toEqual(keys([b]));
    await settle();
    expect(keys(await backing.load())).toEqual(keys([b])); // a is gone from the store now
    expect(kv.get("j")).toBeNull(); // and the journal is empty again
  });

  it("keeps working in memory when the store fails", async () => {
    const broken: QueueStore = {
      load: () => Promise.reject(new Error("no storage")),
      put: () => Promise.reject(new Error("full")),
      remove: () => Promise.reject(new Error("gone")),
    };
    const q = new EventQueue(broken);
    await q.ready;
    const a = envelope();
    q.add(a);
    const batch = q.take(10, 60_000);
    expect(keys(batch)).toEqual(keys([a]));
    q.ack(batch);
    await settle();
    expect(q.size).toBe(0);
  });
});

// the same contract for every store the SDK may pick
const stores: Array<[string, () => Promise<QueueStore>]> = [
  ["memory", async () => memoryStore()],
  ["localStorage", async () => kvStore(memoryKV(), "q")],
  ["IndexedDB", async () => idbStore(await openDatabase("q", new IDBFactory()))],
];

describe.each(stores)("%s store", (_name, make) => {
  it("loads events in the order they were put, whatever their keys", async () => {
    const store = await make();
    const events = ["z", "a", "m", "b"].map((k) => envelope({ idempotency_key: `${k}-${Math.random()}`, timestamp_ms: 1 }));
    for (const e of events) await store.put([e]);
    expect(keys(await store.load())).toEqual(keys(events));
  });

  it("loads what was put and not removed", async () => {
    const store = await make();
    const [a, b, c] = [envelope(), envelope(), envelope()];
    await store.put([a, b]);
    await store.put([c, a]); // putting again replaces, never duplicates
    await store.remove([b.idempotency_key, "unknown"]);
    const loaded = await store.load();
    expect(keys(loaded).sort()).toEqual(keys([a, c]).sort());
    expect(loaded.find((e) => e.idempotency_key === c.idempotency_key)).toEqual(c);
  });
});

describe("persistentStore", () => {
  it("uses IndexedDB when it opens, shared by the pages of the origin", async () => {
    const idb = new IDBFactory();
    const kv = memoryKV();
    const a = envelope();
    await persistentStore("db", kv, idb).put([a]);
    expect(kv.get("db")).toBeNull();
    expect(keys(await persistentStore("db", kv, idb).load())).toEqual(keys([a]));
  });

  it("falls back to localStorage where IndexedDB is missing or refused", async () => {
    const refusing = {
      open: () => {
        throw new DOMException("denied", "SecurityError");
      },
    } as unknown as IDBFactory;
    const missing = undefined as unknown as IDBFactory;
    for (const idb of [refusing, missing]) {
      const kv = memoryKV();
      const a = envelope();
      await persistentStore("db", kv, idb).put([a]);
      expect(keys(JSON.parse(kv.get("db") ?? "[]"))).toEqual(keys([a]));
      expect(keys(await persistentStore("db", kv, idb).load())).toEqual(keys([a]));
    }
  });

  it("treats unreadable localStorage content as empty", async () => {
    const kv = memoryKV();
    kv.set("q", "{broken");
    expect(await kvStore(kv, "q").load()).toEqual([]);
    kv.set("q", '{"not": "a list"}');
    expect(await kvStore(kv, "q").load()).toEqual([]);
  });
});
