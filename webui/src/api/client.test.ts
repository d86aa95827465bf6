import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { ApiError, api, errorFromResponse, getSse, postSse } from "./client";
import { setCsrfToken, setUnauthorizedHandler } from "./csrf";

type FetchArgs = [input: string, init: RequestInit];

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

function streamResponse(chunks: (string | Uint8Array)[]): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

let fetchMock: ReturnType<typeof vi.fn<(...args: FetchArgs) => Promise<Response>>>;

beforeEach(() => {
  fetchMock = vi.fn<(...args: FetchArgs) => Promise<Response>>();
  vi.stubGlobal("fetch", fetchMock);
  setCsrfToken("csrf-123");
});

afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken(null);
  setUnauthorizedHandler(null);
});

function headersOf(call: number): Record<string, string> {
  const init = fetchMock.mock.calls[call]?.[1];
  return (init?.headers ?? {}) as Record<string, string>;
}

describe("api()", () => {
  it("sends JSON with the session cookie and decodes the answer", async () => {
    fetchMock.mockResolvedValueOnce(jsonResponse(200, { apps: [{ id: "shop" }] }));
    const out = await api<{ apps: { id: string }[] }>("/api/v1/admin/apps");
    expect(out.apps[0]?.id).toBe("shop");
    const [url, init] = fetchMock.mock.calls[0] ?? [];
    expect(url).toBe("/api/v1/admin/apps");
    expect(init?.method).toBe("GET");
    expect(init?.credentials).toBe("same-origin");
    expect(init?.body).toBeUndefined();
  });

  it("adds X-CSRF-Token on writes only", async () => {
    fetchMock.mockImplementation(() => Promise.resolve(jsonResponse(200, {})));
    await api("/api/v1/x");
    await api("/api/v1/x", { method: "POST", body: { a: 1 } });
    await api("/api/v1/x", { method: "PATCH", body: { a: 2 } });
    await api("/api/v1/x", { method: "DELETE" });
    expect(headersOf(0)["X-CSRF-Token"]).toBeUndefined();
    expect(headersOf(1)["X-CSRF-Token"]).toBe("csrf-123");
    expect(headersOf(1)["Content-Type"]).toBe("application/json");
    expect(fetchMock.mock.calls[1]?.[1].body).toBe('{"a":1}');
    expect(headersOf(2)["X-CSRF-Token"]).toBe("csrf-123");
    expect(headersOf(3)["X-CSRF-Token"]).toBe("csrf-123");
    expect(headersOf(3)["Content-Type"]).toBeUndefined();
  });

  it("a body without a method is a POST", async () => {
    fetchMock.mockResolvedValueOnce(jsonResponse(201, { ok: true }));
    await api("/api/v1/x", { body: { a: 1 } });
    expect(fetchMock.mock.calls[0]?.[1].method).toBe("POST");
  });

  it("answers undefined for 204", async () => {
    fetchMock.mockResolvedValueOnce(new Response(null, { status: 204 }));
    await expect(api("/api/v1/admin/keys/k1", { method: "DELETE" })).resolves.toBeUndefined();
  });

  it("parses the gateway's error body, field included", async () => {
    fetchMock.mockResolvedValueOnce(
      jsonResponse(422, { error: { code: "invalid_body", message: "name must not be empty", field: "name" } }),
    );
    const error = await api("/api/v1/admin/apps", { method: "POST", body: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const e = error as ApiError;
    expect(e.status).toBe(422);
    expect(e.code).toBe("invalid_body");
    expect(e.message).toBe("name must not be empty");
    expect(e.field).toBe("name");
  });

  it("says the status in words when the body is not the gateway's JSON", async () => {
    fetchMock.mockResolvedValueOnce(new Response("<html>Bad Gateway</html>", { status: 502 }));
    const e = (await api("/api/v1/x").catch((x: unknown) => x)) as ApiError;
    expect(e.status).toBe(502);
    expect(e.code).toBe("http_error");
    expect(e.message).toMatch(/did not answer/);
  });

  it("keeps Retry-After", async () => {
    const e = await errorFromResponse(
      jsonResponse(429, { error: { code: "too_many_attempts", message: "slow down" } }, { "Retry-After": "30" }),
    );
    expect(e.retryAfter).toBe(30);
  });

  it("turns a network failure into an ApiError", async () => {
    fetchMock.mockRejectedValueOnce(new TypeError("Failed to fetch"));
    const e = (await api("/api/v1/x").catch((x: unknown) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe("network_error");
  });

  it("tells the session about a 401, except from the auth endpoints", async () => {
    const handler = vi.fn();
    setUnauthorizedHandler(handler);
    const unauth = { error: { code: "not_authenticated", message: "log in" } };
    fetchMock.mockResolvedValueOnce(jsonResponse(401, unauth));
    await expect(api("/api/v1/analytics/queries")).rejects.toBeInstanceOf(ApiError);
    expect(handler).toHaveBeenCalledTimes(1);
    fetchMock.mockResolvedValueOnce(jsonResponse(401, { error: { code: "invalid_credentials", message: "no" } }));
    await expect(api("/api/v1/auth/login", { method: "POST", body: {} })).rejects.toBeInstanceOf(ApiError);
    fetchMock.mockResolvedValueOnce(jsonResponse(401, unauth));
    await expect(api("/api/v1/auth/me")).rejects.toBeInstanceOf(ApiError);
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it("retries a write once with a fresh CSRF token", async () => {
    fetchMock
      .mockResolvedValueOnce(jsonResponse(403, { error: { code: "csrf_failed", message: "bad token" } }))
      .mockResolvedValueOnce(jsonResponse(200, { user: {}, csrf_token: "fresh" }))
      .mockResolvedValueOnce(jsonResponse(201, { ok: true }));
    await expect(api("/api/v1/x", { method: "POST", body: {} })).resolves.toEqual({ ok: true });
    expect(fetchMock.mock.calls[1]?.[0]).toBe("/api/v1/auth/me");
    expect(headersOf(2)["X-CSRF-Token"]).toBe("fresh");
  });
});

describe("postSse() / getSse()", () => {
  it("streams events with the CSRF header and JSON data", async () => {
    fetchMock.mockResolvedValueOnce(
      streamResponse(['event: sql\ndata: {"sql":"SELECT 1"}\n', "\nevent: done\nda", 'ta: {"ok":true}\n\n']),
    );
    const events: [string, unknown][] = [];
    await postSse("/api/v1/llm/ask", { question: "how many?" }, (event, data) => events.push([event, data]));
    expect(events).toEqual([
      ["sql", { sql: "SELECT 1" }],
      ["done", { ok: true }],
    ]);
    expect(headersOf(0)["X-CSRF-Token"]).toBe("csrf-123");
    expect(headersOf(0).Accept).toBe("text/event-stream");
  });

  it("throws the gateway's error before any event", async () => {
    fetchMock.mockResolvedValueOnce(
      jsonResponse(503, { error: { code: "llm_not_configured", message: "no model is configured" } }),
    );
    const onEvent = vi.fn();
    const e = (await postSse("/api/v1/llm/ask", {}, onEvent).catch((x: unknown) => x)) as ApiError;
    expect(e.code).toBe("llm_not_configured");
    expect(onEvent).not.toHaveBeenCalled();
  });

  it("reads GET streams", async () => {
    fetchMock.mockResolvedValueOnce(streamResponse([': keepalive\n\nevent: event\ndata: {"type":"page_view"}\n\n']));
    const events: [string, unknown][] = [];
    await getSse("/api/v1/analytics/events/stream?app_id=shop", (event, data) => events.push([event, data]));
    expect(events).toEqual([["event", { type: "page_view" }]]);
    expect(fetchMock.mock.calls[0]?.[1].method).toBe("GET");
  });
});
