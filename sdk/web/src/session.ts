import type { KV } from "./kv";
import { uuid } from "./uuid";

export const SESSION_TIMEOUT_MS = 30 * 60 * 1000;
const KEY = "causality.session";

interface Stored {
  id: string;
  last: number;
}

/** Sessions shared by the tabs of one origin: a session ends after `timeoutMs` without any
 * event, so the next event starts a new one. Kept in localStorage so reloads, new tabs and
 * offline periods shorter than the timeout stay in one session. */
export class Sessions {
  constructor(
    private readonly kv: KV,
    private readonly now: () => number = Date.now,
    private readonly timeoutMs: number = SESSION_TIMEOUT_MS,
    private readonly newId: () => string = uuid,
  ) {}

  /** The session of an event happening now; counts as activity. */
  touch(): string {
    const t = this.now();
    let s = this.read();
    if (!s || t - s.last > this.timeoutMs) s = { id: this.newId(), last: t };
    // a clock set back must not extend the session into the past
    s.last = Math.max(s.last, t);
    this.kv.set(KEY, JSON.stringify(s));
    return s.id;
  }

  /** Forget the session: the next event starts a new one. */
  reset(): void {
    this.kv.remove(KEY);
  }

  private read(): Stored | undefined {
    try {
      const s = JSON.parse(this.kv.get(KEY) ?? "null") as Partial<Stored> | null;
      if (s && typeof s.id === "string" && typeof s.last === "number") {
        return { id: s.id, last: s.last };
      }
    } catch {
      // unreadable: start a new session
    }
    return undefined;
  }
}
