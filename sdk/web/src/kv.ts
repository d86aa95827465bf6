/** Small string storage: localStorage when the browser allows it, memory otherwise. */

export interface KV {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
}

/** A KV that forgets everything on reload; used when localStorage is unavailable. */
export function memoryKV(): KV {
  const m = new Map<string, string>();
  return {
    get: (k) => m.get(k) ?? null,
    set: (k, v) => void m.set(k, v),
    remove: (k) => void m.delete(k),
  };
}

/** localStorage, if it works: it throws in sandboxed iframes, when storage is blocked and
 * when full, and analytics must never break the page because of that. */
export function browserKV(): KV {
  let ls: Storage;
  try {
    ls = globalThis.localStorage;
    ls.setItem("causality.probe", "1");
    ls.removeItem("causality.probe");
  } catch {
    return memoryKV();
  }
  const fallback = memoryKV();
  return {
    get: (k) => {
      try {
        return ls.getItem(k) ?? fallback.get(k);
      } catch {
        return fallback.get(k);
      }
    },
    set: (k, v) => {
      try {
        ls.setItem(k, v);
      } catch {
        fallback.set(k, v);
      }
    },
    remove: (k) => {
      fallback.remove(k);
      try {
        ls.removeItem(k);
      } catch {
        // nothing else to do: the value stays, which only costs a stale id
      }
    },
  };
}
