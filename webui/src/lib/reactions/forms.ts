/**
 * Pure helpers behind the Reactions tabs: list query strings, scope summaries, webhook headers
 * and bodies (the secret is write-only), detector parameters per kind, the rule test's sample
 * event and trace wording. Kept out of the components so they can be unit-tested without a DOM.
 */

import type { AuthType, DetectorKind, Scope, TraceNode } from "./types";

export const ADMIN = "/api/v1/admin";

/** `path?limit=..&offset=..&k=v`, leaving out empty filters (the API treats "" as a value). */
export function listPath(
  path: string,
  params: Readonly<Record<string, string | number | null | undefined>>,
): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    search.set(key, String(value));
  }
  const qs = search.toString();
  return qs ? `${path}?${qs}` : path;
}

/** "app shop · commerce / purchase_failed", or "every event" for an empty scope. */
export function scopeSummary(scope: Scope): string {
  const parts: string[] = [];
  if (scope.app_id) parts.push(`app ${scope.app_id}`);
  const kind = [scope.event_category, scope.event_type].filter(Boolean).join(" / ");
  if (kind) parts.push(kind);
  return parts.length ? parts.join(" · ") : "every event";
}

/** A text input's value as a nullable scope field ("" means "any"). */
export function orNull(text: string): string | null {
  const t = text.trim();
  return t === "" ? null : t;
}

// -- webhooks ----------------------------------------------------------------------------------

export type HeaderParse =
  | { readonly ok: true; readonly headers: Record<string, string> }
  | { readonly ok: false; readonly message: string };

/** Extra headers typed one per line as `Name: value`. */
export function parseHeaders(text: string): HeaderParse {
  const headers: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) {
      return { ok: false, message: `line ${i + 1}: write a header as "Name: value"` };
    }
    const name = line.slice(0, colon).trim();
    if (Object.keys(headers).some((h) => h.toLowerCase() === name.toLowerCase())) {
      return { ok: false, message: `line ${i + 1}: ${name} is given twice` };
    }
    headers[name] = line.slice(colon + 1).trim();
  }
  return { ok: true, headers };
}

export function formatHeaders(headers: Readonly<Record<string, string>>): string {
  return Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");
}

export interface WebhookForm {
  readonly name: string;
  readonly url: string;
  readonly auth_type: AuthType;
  readonly auth_username: string;
  /** The new secret; empty keeps the stored one when editing. */
  readonly secret: string;
  /** Editing only: drop the stored secret. */
  readonly removeSecret: boolean;
  readonly headers: string;
  readonly enabled: boolean;
  readonly max_attempts: string;
  readonly timeout_s: string;
}

export type BodyResult =
  | { readonly ok: true; readonly body: Record<string, unknown> }
  | { readonly ok: false; readonly field: string; readonly message: string };

/**
 * The POST/PUT body for a webhook form. The secret is write-only: left empty while editing it
 * is not sent (the server keeps it); "remove" sends null. Empty limits take the server's
 * defaults.
 */
export function webhookBody(form: WebhookForm, editing: boolean): BodyResult {
  const headers = parseHeaders(form.headers);
  if (!headers.ok) return { ok: false, field: "headers", message: headers.message };
  const body: Record<string, unknown> = {
    name: form.name.trim(),
    url: form.url.trim(),
    auth_type: form.auth_type,
    headers: headers.headers,
    enabled: form.enabled,
  };
  if (form.auth_type === "basic") body.auth_username = form.auth_username.trim() || null;
  if (form.auth_type !== "none") {
    if (form.secret !== "") body.auth_secret = form.secret;
    else if (editing && form.removeSecret) body.auth_secret = null;
  } else if (editing) {
    body.auth_secret = null;
  }
  for (const key of ["max_attempts", "timeout_s"] as const) {
    const raw = form[key].trim();
    if (raw === "") continue;
    const n = Number(raw);
    if (!Number.isFinite(n)) return { ok: false, field: key, message: "must be a number" };
    body[key] = n;
  }
  return { ok: true, body };
}

// -- detectors ---------------------------------------------------------------------------------

export interface ParamSpec {
  readonly name: string;
  readonly label: string;
  readonly type: "number" | "integer" | "text" | "select";
  readonly required: boolean;
  readonly options?: readonly string[];
  readonly hint?: string;
  readonly placeholder?: string;
}

/** Each kind's parameters, as docs/reactions.md describes them (defaults in placeholders). */
export const DETECTOR_PARAMS: Readonly<Record<DetectorKind, readonly ParamSpec[]>> = {
  threshold: [
    {
      name: "field",
      label: "Numeric field",
      type: "text",
      required: true,
      placeholder: "properties.amount",
    },
    { name: "min", label: "Minimum", type: "number", required: false, hint: "fires below" },
    { name: "max", label: "Maximum", type: "number", required: false, hint: "fires above" },
  ],
  rate: [
    { name: "max_per_minute", label: "Max events per minute", type: "number", required: true },
  ],
  count: [
    { name: "max_count", label: "Max events", type: "integer", required: true },
    {
      name: "window_s",
      label: "Window (seconds)",
      type: "integer",
      required: true,
      hint: "1 to 86400",
    },
  ],
  baseline: [
    { name: "bucket_s", label: "Bucket (seconds)", type: "integer", required: false, placeholder: "60" },
    { name: "k", label: "Standard deviations (k)", type: "number", required: false, placeholder: "3" },
    { name: "alpha", label: "Learning rate (alpha)", type: "number", required: false, placeholder: "0.1" },
    {
      name: "warmup_buckets",
      label: "Warm-up buckets",
      type: "integer",
      required: false,
      placeholder: "30",
    },
    { name: "min_std", label: "Minimum std", type: "number", required: false, placeholder: "1" },
    {
      name: "direction",
      label: "Direction",
      type: "select",
      required: false,
      options: ["both", "up", "down"],
    },
  ],
};

export type ParamsResult =
  | { readonly ok: true; readonly params: Record<string, unknown> }
  | { readonly ok: false; readonly errors: Readonly<Record<string, string>> };

/** Typed params from the form's text values; empty optional ones are left to the defaults. */
export function paramsFromForm(
  kind: DetectorKind,
  values: Readonly<Record<string, string>>,
): ParamsResult {
  const params: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const spec of DETECTOR_PARAMS[kind]) {
    const raw = (values[spec.name] ?? "").trim();
    if (raw === "") {
      if (spec.required) errors[spec.name] = "is required";
      continue;
    }
    if (spec.type === "number" || spec.type === "integer") {
      const n = Number(raw);
      if (!Number.isFinite(n)) errors[spec.name] = "must be a number";
      else if (spec.type === "integer" && !Number.isInteger(n)) {
        errors[spec.name] = "must be a whole number";
      } else params[spec.name] = n;
    } else {
      params[spec.name] = raw;
    }
  }
  if (kind === "threshold" && !("min" in params) && !("max" in params) && !errors.min) {
    errors.min = "set a minimum, a maximum or both";
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, params };
}

/** The form's text values for stored params (the server fills in defaults). */
export function formFromParams(
  kind: DetectorKind,
  params: Readonly<Record<string, unknown>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of DETECTOR_PARAMS[kind]) {
    const value = params[spec.name];
    out[spec.name] = value === null || value === undefined ? "" : String(value);
  }
  return out;
}

/** "max_count 50 · window_s 300" for the detectors list. */
export function paramsSummary(params: Readonly<Record<string, unknown>>): string {
  return Object.entries(params)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(" · ");
}

// -- rule test ---------------------------------------------------------------------------------

/** A starting sample event for a rule's scope, so "Test" is one click away from useful. */
export function sampleEvent(scope: Scope): string {
  const type = scope.event_type ?? "custom";
  const event: Record<string, unknown> = {
    type,
    device_id: "sample-device",
    device_context: { platform: "ios" },
    properties: {},
  };
  if (type === "custom") event.event_name = "sample";
  return JSON.stringify(event, null, 2);
}

export type JsonParse =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly message: string };

export function parseJson(text: string): JsonParse {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, message: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** One line for a trace leaf: "properties.amount gte 100: actual 120". */
export function describeTraceLeaf(node: TraceNode): string {
  if (!("field" in node)) return node.op === "always" ? "no condition: every event in scope" : node.op;
  const value = "value" in node ? ` ${show(node.value)}` : "";
  const actual = node.missing ? "missing" : `actual ${show(node.actual)}`;
  return `${node.field} ${node.op}${value}: ${actual}`;
}

/** How many leaves of a trace matched, of how many. */
export function traceCounts(node: TraceNode): { matched: number; total: number } {
  if ("children" in node) {
    return node.children.reduce(
      (acc, child) => {
        const c = traceCounts(child);
        return { matched: acc.matched + c.matched, total: acc.total + c.total };
      },
      { matched: 0, total: 0 },
    );
  }
  if ("field" in node) return { matched: node.matched ? 1 : 0, total: 1 };
  return { matched: 0, total: 0 };
}

/** "5m", "1h 30m": cooldowns and windows read better than seconds. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [h ? `${h}h` : "", m ? `${m}m` : "", s ? `${s}s` : ""].filter(Boolean).join(" ");
}
