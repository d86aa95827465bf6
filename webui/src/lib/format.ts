// Numbers, durations, dates and cells in words people read at a glance. Pure functions: the
// grid, the charts' tooltips and the pages share them, and they are tested without a browser.

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** 1234567 → "1,234,567"; 0.12345 → "0.12"; non-finite → "—". */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return Number.isInteger(value) ? integer.format(value) : decimal.format(value);
}

/** 1234567 → "1.2M", 950 → "950": for axes and tiles where space is short. */
export function formatCompact(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return compact.format(value);
}

/** A ratio (0.4567) as a percentage ("45.7%"); `digits` after the point. */
export function formatPercent(ratio: number | null | undefined, digits = 1): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return "—";
  const pct = ratio * 100;
  const fixed = pct.toFixed(digits);
  // "-0.0%" reads as a bug
  return `${Number(fixed) === 0 ? (0).toFixed(digits) : fixed}%`;
}

/** Milliseconds as "850 ms", "12.3 s", "4m 05s", "2h 03m", "3d 4h". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const sign = ms < 0 ? "-" : "";
  const abs = Math.abs(ms);
  if (abs < 1000) return `${sign}${Math.round(abs)} ms`;
  const s = abs / 1000;
  if (s < 60) return `${sign}${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const totalS = Math.round(s);
  const m = Math.floor(totalS / 60);
  if (m < 60) return `${sign}${m}m ${String(totalS % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${sign}${h}h ${String(m % 60).padStart(2, "0")}m`;
  const d = Math.floor(h / 24);
  return `${sign}${d}d ${h % 24}h`;
}

/** Bytes as "512 B", "1.5 KB", "3.2 MB" (powers of 1024, as the size report uses). */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 ? String(Math.round(value)) : value.toFixed(value < 10 ? 1 : 0);
  return `${bytes < 0 ? "-" : ""}${text} ${units[unit]}`;
}

function toDate(value: string | number | Date): Date | null {
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

const pad = (n: number): string => String(n).padStart(2, "0");

/** "2026-03-04 14:05:09" in the browser's time zone (or UTC with `utc`); invalid → the input. */
export function formatDateTime(value: string | number | Date, utc = false): string {
  const d = toDate(value);
  if (d === null) return String(value);
  const [y, mo, da, h, mi, s] = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  return `${y}-${pad(mo)}-${pad(da)} ${pad(h)}:${pad(mi)}:${pad(s)}`;
}

/** "2026-03-04" (local, or UTC with `utc`). */
export function formatDate(value: string | number | Date, utc = false): string {
  const d = toDate(value);
  if (d === null) return String(value);
  return utc
    ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
    : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago", or "in 4 min" for the future. */
export function formatRelative(value: string | number | Date, now: number = Date.now()): string {
  const d = toDate(value);
  if (d === null) return String(value);
  const diffS = Math.round((now - d.getTime()) / 1000);
  const future = diffS < 0;
  const s = Math.abs(diffS);
  let text: string;
  if (s < 45) return "just now";
  if (s < 3600) text = `${Math.round(s / 60)} min`;
  else if (s < 86_400) text = `${Math.round(s / 3600)} h`;
  else {
    const days = Math.round(s / 86_400);
    text = `${days} day${days === 1 ? "" : "s"}`;
  }
  return future ? `in ${text}` : `${text} ago`;
}

/** Any value a query returns, as grid text: null stays visible, objects as compact JSON. */
export function formatCell(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") return Number.isFinite(value) ? formatNumber(value) : String(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "string") return value;
  if (value instanceof Date) return formatDateTime(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Plural in words: plural(1, "event") → "1 event", plural(3, "query", "queries"). */
export function plural(count: number, one: string, many: string = `${one}s`): string {
  return `${formatNumber(count)} ${count === 1 ? one : many}`;
}

/**
 * Where to go after logging in: a path inside the app from ?next=, or "/". Anything else
 * ("//evil.example", "https://…", "javascript:") is refused: an open redirect would let a link
 * send a freshly logged-in user anywhere.
 */
export function safeNext(next: string | null | undefined): string {
  if (next === null || next === undefined || next === "") return "/";
  if (!next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  if (next.startsWith("/login")) return "/";
  return next;
}
