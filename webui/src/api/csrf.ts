// The session's CSRF token and the "not logged in any more" hook, in memory only.
// Kept apart from session.ts so that client.ts (plain fetch code, tested without React) does not
// import React; session.ts fills these in when it learns the token from /api/v1/auth/me or login.

let csrfToken: string | null = null;

export function getCsrfToken(): string | null {
  return csrfToken;
}

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

type UnauthorizedHandler = () => void;

function defaultUnauthorized(): void {
  // no session provider mounted (a test, or a page outside the app): a full navigation works too
  if (typeof window === "undefined") return;
  const here = window.location.pathname + window.location.search;
  if (window.location.pathname.startsWith("/app/login")) return;
  window.location.assign(`/app/login?next=${encodeURIComponent(here)}`);
}

let unauthorized: UnauthorizedHandler = defaultUnauthorized;

/** Who to tell when the gateway answers 401 (the session expired or was ended elsewhere). */
export function setUnauthorizedHandler(handler: UnauthorizedHandler | null): void {
  unauthorized = handler ?? defaultUnauthorized;
}

export function notifyUnauthorized(): void {
  unauthorized();
}
