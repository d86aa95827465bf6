import { describe, expect, it } from "vitest";
import { Backoff, MAX_BODY_BYTES, postBatch, retryAfterMs } from "../src/transport";

type Call = { url: string; init: RequestInit };

function fakeFetch(answer: () => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fn = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return answer();
  }) as unknown as typeof fetch;
  return { fn, calls };
}

describe("retryAfterMs", () => {
  it("reads delta-seconds and HTTP dates", () => {
    expect(retryAfterMs("3")).toBe(3000);
    expect(retryAfterMs("0")).toBe(0);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000);
    expect(retryAfterMs("Thu, 01 Jan 2025 00:00:10 GMT", now)).toBe(0);
  });

  it("is undefined when absent or unreadable", () => {
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs("")).toBeUndefined();
    expect(retryAfterMs("soon")).toBeUndefined();
  });
});

describe("Backoff", () => {
  it("doubles up to the cap and starts over after reset", () => {
    const b = new Backoff(1000, 8000, () => 1); // no jitter: the upper end
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([1000, 2000, 4000, 8000, 8000]);
    b.reset();
    expect(b.next()).toBe(1000);
  });

  it("draws each delay from its upper half", () => {
    const b = new Backoff(1000, 60_000, () => 0);
    expect([b.next(), b.next()]).toEqual([500, 1000]);
  });
});

describe("postBatch", () => {
  it("posts JSON with the key header and keepalive", async () => {
    const f = fakeFetch(() => new Response('{"accepted":1}', { status: 202 }));
    expect(await postBatch(f.fn, "http://gw/api/v1/events/batch", "ck_1", '{"events":[]}')).toEqual({
      kind: "sent",
    });
    const { url, init } = f.calls[0] as Call;
    expect(url).toBe("http://gw/api/v1/events/batch");
    expect(init.method).toBe("POST");
    expect(init.keepalive).toBe(true);
    expect(init.headers).toEqual({ "Content-Type": "application/json", "X-API-Key": "ck_1" });
  });

  it("gives up keepalive for bodies over its 64 KiB limit", async () => {
    const f = fakeFetch(() => new Response("{}", { status: 202 }));
    await postBatch(f.fn, "u", "k", "x".repeat(MAX_BODY_BYTES + 1));
    expect(f.calls[0]?.init.keepalive).toBe(false);
  });

  it("retries after Retry-After on 429 and 503", async () => {
    for (const status of [429, 503]) {
      const f = fakeFetch(() => new Response("{}", { status, headers: { "Retry-After": "7" } }));
      expect(await postBatch(f.fn, "u", "k", "{}")).toEqual({ kind: "retry", afterMs: 7000 });
    }
  });

  it("retries with backoff on other server errors, timeouts and network failures", async () => {
    for (const status of [500, 502, 408]) {
      const f = fakeFetch(() => new Response("{}", { status }));
      expect(await postBatch(f.fn, "u", "k", "{}")).toEqual({ kind: "retry" });
    }
    const offline = fakeFetch(() => Promise.reject(new TypeError("Failed to fetch")));
    expect(await postBatch(offline.fn, "u", "k", "{}")).toEqual({ kind: "retry" });
  });

  it("drops batches the gateway refuses for good", async () => {
    for (const status of [400, 401, 413]) {
      const f = fakeFetch(() => new Response("{}", { status }));
      expect(await postBatch(f.fn, "u", "k", "{}")).toEqual({ kind: "drop", status });
    }
  });
});
