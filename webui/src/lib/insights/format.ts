/**
 * Number formatting for insight tables and chart labels. Kept beside the insights (rather than
 * shared) so the exact text the browser tests read — "66.7%", "1,234" — is pinned by this
 * module's own tests.
 */

const INTEGER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const DECIMAL = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

/** 1234 → "1,234"; 12.345 → "12.35". */
export function formatCount(value: number): string {
  return Number.isInteger(value) ? INTEGER.format(value) : DECIMAL.format(value);
}

/** A 0..1 ratio as a percentage with one decimal: 0.6667 → "66.7%". */
export function formatRatio(ratio: number): string {
  return formatPercent(ratio * 100);
}

/** A 0..100 percentage with one decimal: 66.666 → "66.7%"; 100 → "100%". */
export function formatPercent(percent: number): string {
  if (!Number.isFinite(percent)) return "–";
  const rounded = Math.round(percent * 10) / 10;
  return `${Number.isInteger(rounded) ? rounded.toFixed(0) : rounded.toFixed(1)}%`;
}

/** Seconds in the largest fitting unit: 45 → "45s", 90 → "1m 30s", 7200 → "2h". */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) {
    const rest = s % 60;
    return rest ? `${Math.floor(s / 60)}m ${rest}s` : `${s / 60}m`;
  }
  if (s < 86400) {
    const minutes = Math.round((s % 3600) / 60);
    return minutes ? `${Math.floor(s / 3600)}h ${minutes}m` : `${Math.floor(s / 3600)}h`;
  }
  const hours = Math.round((s % 86400) / 3600);
  return hours ? `${Math.floor(s / 86400)}d ${hours}h` : `${Math.floor(s / 86400)}d`;
}

/** The relative change from `previous` to `current` as "+12.5%", or "–" from zero. */
export function formatChange(current: number, previous: number): string {
  if (previous === 0) return current === 0 ? "0%" : "–";
  const change = ((current - previous) / Math.abs(previous)) * 100;
  const text = formatPercent(change);
  return change > 0 ? `+${text}` : text;
}
