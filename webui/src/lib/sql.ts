/**
 * The SQL editor's logic, kept out of React so it can be tested: the shapes of the analytics
 * SQL API (README "Analytics API", causality/gateway/query_routes.py), how a schema item is
 * inserted into the editor, how cells are shown, and the request bodies.
 */

/** One column of the `events` table, as GET /api/v1/analytics/schema describes it. */
export interface SchemaColumn {
  name: string;
  type: string;
  description: string;
}

export interface SchemaTable {
  name: string;
  description: string;
  columns: SchemaColumn[];
}

/** An event type seen in the last 30 days (the schema's `event_types`). */
export interface SeenEventType {
  event_category: string;
  event_type: string;
  event_name: string | null;
  events: number;
  last_seen: string | null;
}

export interface SchemaResponse {
  tables: SchemaTable[];
  event_types: SeenEventType[];
  event_types_since: string;
}

export interface QueryRequest {
  sql: string;
  page: number;
  page_size: number;
}

/** POST /api/v1/analytics/query: one page of rows; `has_more` says another page exists. */
export interface QueryResult {
  columns: string[];
  types: string[];
  rows: unknown[][];
  page: number;
  page_size: number;
  has_more: boolean;
  elapsed_ms: number;
}

/** One of the caller's own runs (GET /api/v1/analytics/history). */
export interface HistoryEntry {
  id: number;
  sql: string;
  status: "ok" | "error" | string;
  row_count: number;
  elapsed_ms: number;
  error: string | null;
  created_at: string;
}

export interface HistoryPage {
  items: HistoryEntry[];
  next_before: number | null;
}

export interface SavedQuery {
  id: string;
  owner_id: string | null;
  name: string;
  description: string;
  sql: string;
  created_at: string;
  updated_at: string;
}

export interface SavedQueryPage {
  items: SavedQuery[];
  total: number;
  limit: number;
  offset: number;
}

export const PAGE_SIZES = [100, 1000, 10_000] as const;
export const MAX_PAGE_SIZE = 10_000;
export const ANALYTICS = "/api/v1/analytics";

/** The body of POST /query; page and page size are clamped to what the API accepts, so a
 * stale form value becomes a valid request instead of a 422. */
export function queryBody(sql: string, page: number, pageSize: number): QueryRequest {
  const size = Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(pageSize) || 100));
  return { sql, page: Math.max(1, Math.floor(page) || 1), page_size: size };
}

/** The row numbers a page shows, in words ("rows 101–200"), for the results header. */
export function rowRange(result: Pick<QueryResult, "page" | "page_size" | "rows">): string {
  if (result.rows.length === 0) return "no rows";
  const first = (result.page - 1) * result.page_size + 1;
  const last = first + result.rows.length - 1;
  const n = (v: number): string => v.toLocaleString("en-US");
  return first === last ? `row ${n(first)}` : `rows ${n(first)}–${n(last)}`;
}

/** A SQL string literal ('it''s'): event types and names inserted from the schema browser are
 * data, never trusted to be free of quotes. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** An identifier, quoted only when it is not a plain lower-case name. */
export function sqlIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/**
 * Insert `snippet` into `sql` at `at` (the cursor; the end when omitted), with a space on
 * either side where the neighbours would otherwise run into it. Returns the new text and the
 * cursor after the snippet, so a click in the schema browser reads like typing it.
 */
export function insertSnippet(
  sql: string,
  snippet: string,
  at: number = sql.length,
): { text: string; cursor: number } {
  const pos = Math.max(0, Math.min(at, sql.length));
  const before = sql.slice(0, pos);
  const after = sql.slice(pos);
  const lead = before === "" || /[\s(.]$/.test(before) ? "" : " ";
  const trail = after === "" || /^[\s),;]/.test(after) ? "" : " ";
  const text = before + lead + snippet + trail + after;
  return { text, cursor: before.length + lead.length + snippet.length };
}

/** A starter query for an event type seen in the schema browser. */
export function sampleQuery(seen: Pick<SeenEventType, "event_type" | "event_name">): string {
  const where = [`event_type = ${sqlString(seen.event_type)}`];
  if (seen.event_name) where.push(`event_name = ${sqlString(seen.event_name)}`);
  return `SELECT *\nFROM events\nWHERE ${where.join(" AND ")}\nORDER BY timestamp DESC\nLIMIT 100`;
}

/** The table → columns map CodeMirror's SQL completion takes (`schema` of @codemirror/lang-sql). */
export function completionSchema(schema: SchemaResponse | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const table of schema?.tables ?? []) out[table.name] = table.columns.map((c) => c.name);
  return out;
}

/** Whether a column's values are numbers (right-aligned in the grid). */
export function isNumericType(type: string | undefined): boolean {
  if (!type) return false;
  return /^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UBIGINT|UINTEGER|USMALLINT|UTINYINT|FLOAT|REAL|DOUBLE|DECIMAL|NUMERIC)(?![A-Z])/i.test(
    type.trim(),
  );
}

/** The downloaded file's name: stable, sortable and free of characters file systems refuse. */
export function exportFilename(now: Date = new Date()): string {
  const iso = now.toISOString().replace(/\..*$/, "").replaceAll(":", "").replace("T", "-");
  return `query-${iso}.csv`;
}

/** A one-line preview of SQL for lists (history, saved queries). */
export function sqlPreview(sql: string, max = 120): string {
  const flat = sql.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** Whether the SQL box holds something worth running. */
export function runnable(sql: string): boolean {
  return sql.trim().length > 0;
}

/** A grid column's width in pixels, from its name and a sample of its values: wide enough for
 * typical values, never so wide that one long JSON cell pushes the rest off screen. */
export function columnWidth(name: string, sample: readonly unknown[], charPx = 8): number {
  let longest = name.length;
  for (const value of sample) {
    const text = value === null || value === undefined ? "NULL" : typeof value === "string" ? value : JSON.stringify(value) ?? "";
    if (text.length > longest) longest = text.length;
  }
  return Math.min(360, Math.max(80, longest * charPx + 28));
}
