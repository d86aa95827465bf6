import type { KV } from "./kv";
import type { QueueStore } from "./queue";
import type { Envelope } from "./types";

const STORE = "events";

/** A store that keeps nothing across reloads (tests; browsers without any storage). */
export function memoryStore(): QueueStore {
  const m = new Map<string, Envelope>();
  return {
    load: async () => [...m.values()],
    put: async (events) => void events.forEach((e) => m.set(e.idempotency_key, e)),
    remove: async (keys) => void keys.forEach((k) => m.delete(k)),
  };
}

/** The whole queue as one JSON array under one localStorage key; read-modify-write, so
 * entries another tab wrote survive. */
export function kvStore(kv: KV, key: string): QueueStore {
  const read = (): Envelope[] => {
    try {
      const v = JSON.parse(kv.get(key) ?? "[]") as unknown;
      return Array.isArray(v) ? (v as Envelope[]) : [];
    } catch {
      return [];
    }
  };
  return {
    load: async () => read(),
    put: async (events) => {
      const keys = new Set(events.map((e) => e.idempotency_key));
      kv.set(key, JSON.stringify([...read().filter((e) => !keys.has(e.idempotency_key)), ...events]));
    },
    remove: async (keys) => {
      const gone = new Set(keys);
      kv.set(key, JSON.stringify(read().filter((e) => !gone.has(e.idempotency_key))));
    },
  };
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** Opens (creating) the queue database; rejects where IndexedDB is missing or refused. */
export function openDatabase(name: string, idb: IDBFactory = globalThis.indexedDB): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = idb.open(name, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE, { keyPath: "k" });
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.onblocked = () => reject(new Error("blocked"));
  });
}

/** A record: the event under its idempotency key, and when it was put, for the order. */
interface Row {
  k: string;
  q: number;
  e: Envelope;
}

let seq = 0;

/** One IndexedDB object store keyed by idempotency key; loads in the order events were put
 * (keys are random, and events of one millisecond must keep their order). */
export function idbStore(db: IDBDatabase): QueueStore {
  const write = (fn: (s: IDBObjectStore) => void): Promise<void> =>
    new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, "readwrite");
      fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve();
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  return {
    load: async () => {
      const rows = await request(db.transaction(STORE).objectStore(STORE).getAll() as IDBRequest<Row[]>);
      return rows.sort((a, b) => a.q - b.q).map((r) => r.e);
    },
    put: (events) =>
      write((s) => events.forEach((e) => s.put({ k: e.idempotency_key, q: Date.now() * 1000 + (seq++ % 1000), e }))),
    remove: (keys) => write((s) => keys.forEach((k) => s.delete(k))),
  };
}

/** IndexedDB when it opens, else localStorage: chosen once, lazily, behind one store. */
export function persistentStore(name: string, kv: KV, idb?: IDBFactory): QueueStore {
  let chosen: Promise<QueueStore> | undefined;
  const pick = (): Promise<QueueStore> =>
    (chosen ??= (async () => {
      try {
        return idbStore(await openDatabase(name, idb));
      } catch {
        return kvStore(kv, name);
      }
    })());
  return {
    load: async () => (await pick()).load(),
    put: async (events) => (await pick()).put(events),
    remove: async (keys) => (await pick()).remove(keys),
  };
}
