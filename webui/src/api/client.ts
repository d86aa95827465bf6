// The one way the UI talks to the gateway: JSON in and out, the session cookie, the CSRF token
// on writes, and every error turned into an ApiError that says what went wrong in words.

import { getCsrfToken, notifyUnauthorized, setCsrfToken } from "./csrf";
import { SseParser, type SseHandler } from "./sse";

export type { SseHandler } from "./sse";

/** The gateway's error body, `{"error": {code, message, field}}`, with the HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  /** Seconds from Retry-After (429 login limits, 503 bus down), when the gateway sent one. */
  readonly retryAfter: number | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    field?: string,
    retryAfter?: number,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError;
}

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface ApiInit {
  method?: HttpMethod;
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
}

const WRITE_METHODS = new Set<string>(["POST", "PUT", "PATCH", "DELETE"]);
/** 401 from these means "wrong password" or "no session yet", not "your session ended". */
const AUTH_PATHS = ["/api/v1/auth/login", "/api/v1/auth/me"];

function statusText(status: number): string {
  if (status === 0) return "the gateway could not be reached";
  if (status === 502 || status === 504) return "the gateway did not answer in time";
  if (status === 503) return "the service is unavailable right now; try again shortly";
  return `the request failed with HTTP ${status}`;
}

/** An ApiError from a failed response: the gateway's JSON error, or the status in words. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  const retryHeader = response.headers.get("Retry-After");
  const retryAfter = retryHeader !== null && /^\d+$/.test(retryHeader) ? Number(retryHeader) : undefined;
  let text = "";
  try {
    text = await response.text();
  } catch {
    text = "";
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed !== null && typeof parsed === "object" && "error" in parsed) {
      const err = (parsed as { error: unknown }).error;
      if (err !== null && typeof err === "object") {
        const e = err as { code?: unknown; message?: unknown; field?: unknown };
        const code = typeof e.code === "string" ? e.code : "http_error";
        const message = typeof e.message === "string" && e.message !== "" ? e.message : statusText(response.status);
        const field = typeof e.field === "string" ? e.field : undefined;
        return new ApiError(response.status, code, message, field, retryAfter);
      }
    }
  } catch {
    // not JSON: a proxy's HTML page, say; the status says enough
  }
  return new ApiError(response.status, "http_error", statusText(response.status), undefined, retryAfter);
}

function isAuthPath(path: string): boolean {
  return AUTH_PATHS.some((p) => path === p || path.startsWith(`${p}?`));
}

function headersFor(method: string, hasBody: boolean, accept: string): Record<string, string> {
  const headers: Record<string, string> = { Accept: accept };
  if (hasBody) headers["Content-Type"] = "application/json";
  if (WRITE_METHODS.has(method)) {
    const token = getCsrfToken();
    if (token !== null) headers["X-CSRF-Token"] = token;
  }
  return headers;
}

/** Fetch the session's CSRF token again (another tab logged in anew, say); true when one came. */
async function refreshCsrf(): Promise<boolean> {
  try {
    const response = await fetch("/api/v1/auth/me", {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) return false;
    const body = (await response.json()) as { csrf_token?: unknown };
    if (typeof body.csrf_token !== "string") return false;
    setCsrfToken(body.csrf_token);
    return true;
  } catch {
    return false;
  }
}

/**
 * Send a request and answer the response's JSON. A write refused for a stale CSRF token is
 * retried once with a fresh one; a 401 outside the auth endpoints sends the user to log in.
 */
async function send(
  path: string,
  init: ApiInit,
  accept: string,
): Promise<Response> {
  const method = init.method ?? (init.body === undefined ? "GET" : "POST");
  const hasBody = init.body !== undefined;
  const attempt = (): Promise<Response> =>
    fetch(path, {
      method,
      credentials: "same-origin",
      headers: headersFor(method, hasBody, accept),
      body: hasBody ? JSON.stringify(init.body) : undefined,
      signal: init.signal,
    });
  let response: Response;
  try {
    response = await attempt();
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "network_error", statusText(0));
  }
  if (response.ok) return response;
  let error = await errorFromResponse(response);
  if (error.status === 403 && error.code === "csrf_failed" && (await refreshCsrf())) {
    response = await attempt();
    if (response.ok) return response;
    error = await errorFromResponse(response);
  }
  if (error.status === 401 && !isAuthPath(path)) notifyUnauthorized();
  throw error;
}

/** JSON request to the gateway; resolves with the decoded body (undefined for 204). */
export async function api<T>(path: string, init: ApiInit = {}): Promise<T> {
  const response = await send(path, init, "application/json");
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  if (text === "") return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, "bad_response", "the gateway answered something that is not JSON");
  }
}

/** Read a streaming body through the SSE parser until it ends or `signal` aborts. */
export async function readSse(response: Response, onEvent: SseHandler): Promise<void> {
  const body = response.body;
  if (body === null) return;
  const parser = new SseParser(onEvent);
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value !== undefined) parser.push(value);
    }
    parser.end();
  } finally {
    reader.releaseLock();
  }
}

/** A POST whose answer is an event stream (`/api/v1/llm/ask`): resolves when the stream ends. */
export async function postSse(
  path: string,
  body: unknown,
  onEvent: SseHandler,
  signal?: AbortSignal,
): Promise<void> {
  const response = await send(path, { method: "POST", body, signal }, "text/event-stream");
  await readSse(response, onEvent);
}

/** A GET event stream (`/api/v1/analytics/events/stream`): resolves when the server ends it. */
export async function getSse(path: string, onEvent: SseHandler, signal?: AbortSignal): Promise<void> {
  const response = await send(path, { method: "GET", signal }, "text/event-stream");
  await readSse(response, onEvent);
}

/** The file name from Content-Disposition, if the gateway named one. */
function dispositionName(header: string | null): string | undefined {
  if (header === null) return undefined;
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(header);
  return match?.[1] !== undefined ? decodeURIComponent(match[1]) : undefined;
}

/**
 * Fetch a file (CSV export) and hand it to the browser as a download. `body` undefined: GET;
 * otherwise POST with the body as JSON. Errors come back as ApiError like any other call.
 */
export async function downloadBlob(path: string, body: unknown, filename?: string): Promise<void> {
  const response = await send(
    path,
    body === undefined ? { method: "GET" } : { method: "POST", body },
    "text/csv, application/octet-stream, */*",
  );
  const blob = await response.blob();
  const name = filename ?? dispositionName(response.headers.get("Content-Disposition")) ?? "download";
  const url = URL.createObjectURL(blob);
  try {
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.rel = "noopener";
    link.style.display = "none";
    document.body.appendChild(link);
    link.click();
    link.remove();
  } finally {
    // the click has started the download; a short delay lets slower browsers read the URL
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
