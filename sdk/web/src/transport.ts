/** Posting batches to the gateway, and what to do when that fails. */

/** What became of one batch. `retry` keeps the events; `drop` means the gateway refused
 * them for good (bad key, invalid events), so sending them again cannot help. */
export type Outcome =
  | { kind: "sent" }
  | { kind: "retry"; afterMs?: number }
  | { kind: "drop"; status: number };

/** Both fetch keepalive and sendBeacon refuse bodies over 64 KiB in flight. */
export const MAX_BODY_BYTES = 60_000;

/** Retry-After in milliseconds, from delta-seconds or an HTTP date; undefined if absent. */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const s = Number(value);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** Exponential backoff with jitter: 1 s, 2 s, 4 s … capped, each drawn from [d/2, d]. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs: number = 1000,
    private readonly maxMs: number = 60_000,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const d = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt++);
    return Math.round(d / 2 + (this.random() * d) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** POST one batch with the key in X-API-Key (CORS preflight, cached a day by the gateway). */
export async function postBatch(
  fetchFn: typeof fetch,
  url: string,
  apiKey: string,
  body: string,
): Promise<Outcome> {
  let res: Response;
  try {
    res = await fetchFn(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": apiKey },
      body,
      credentials: "omit",
      // lets the request finish when the page goes away; refused for larger bodies
      keepalive: new Blob([body]).size <= MAX_BODY_BYTES,
    });
  } catch {
    return { kind: "retry" }; // offline, DNS, CORS or connection refused: all look alike
  }
  if (res.ok) return { kind: "sent" };
  if (res.status === 429 || res.status === 408 || res.status >= 500) {
    const afterMs = retryAfterMs(res.headers.get("Retry-After"));
    return afterMs === undefined ? { kind: "retry" } : { kind: "retry", afterMs };
  }
  return { kind: "drop", status: res.status };
}

/** Queue one batch with navigator.sendBeacon, which survives the page but sets no headers:
 * the key travels as `?api_key=` and the body as text/plain (no preflight). */
export function sendBeacon(url: string, apiKey: string, body: string): boolean {
  try {
    const blob = new Blob([body], { type: "text/plain" });
    return navigator.sendBeacon(`${url}?api_key=${encodeURIComponent(apiKey)}`, blob);
  } catch {
    return false;
  }
}
