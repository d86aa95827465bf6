/**
 * The analytics API's insight and dashboard shapes, mirrored from
 * causality/analytics/{common,filters,trends,funnels,retention,paths}.py and
 * causality/gateway/insight_routes.py. Request types are what we POST; result types are the
 * builders' chart-ready JSON answers.
 */

export type Interval = "hour" | "day" | "week" | "month";
export type CountedBy = "device" | "user";
export type Scalar = string | number | boolean;

/** `"30d"` or `{last: "30d"}` or `{from: "2026-11-01", to: "2026-11-30"}`. */
export type DateRange = string | { last: string } | { from: string; to?: string };

export type FilterOp =
  | "eq"
  | "neq"
  | "gt"
  | "gte"
  | "lt"
  | "lte"
  | "contains"
  | "not_contains"
  | "is_set"
  | "is_not_set"
  | "in";

export interface PropertyFilter {
  property: string;
  op: FilterOp;
  value?: Scalar | Scalar[];
}

export interface EventSelector {
  event_type?: string;
  event_name?: string;
  filters?: PropertyFilter[];
  label?: string;
}

export type TrendMath = "total" | "unique_devices" | "unique_users" | "sum" | "avg" | "min" | "max";

export interface TrendSeries extends EventSelector {
  math: TrendMath;
  property?: string;
}

export interface TrendsQuery {
  series: TrendSeries[];
  date_range: DateRange;
  interval: Interval;
  filters?: PropertyFilter[];
  breakdown?: string;
  breakdown_limit?: number;
  compare?: boolean;
}

export type WindowUnit = "minute" | "hour" | "day" | "week";

export interface FunnelQuery {
  steps: EventSelector[];
  date_range: DateRange;
  window: { value: number; unit: WindowUnit };
  counted_by: CountedBy;
  filters?: PropertyFilter[];
  breakdown?: string;
  breakdown_limit?: number;
}

export type RetentionPeriod = "day" | "week" | "month";

export interface RetentionQuery {
  cohort_event: EventSelector;
  return_event: EventSelector;
  period: RetentionPeriod;
  date_range: DateRange;
  counted_by: CountedBy;
  filters?: PropertyFilter[];
}

export interface PathsQuery {
  start?: string;
  direction: "next" | "previous";
  steps: number;
  date_range: DateRange;
  filters?: PropertyFilter[];
  screen_property?: string;
  max_links?: number;
}

export type InsightKind = "trends" | "funnels" | "retention" | "paths";

export interface InsightQueries {
  trends: TrendsQuery;
  funnels: FunnelQuery;
  retention: RetentionQuery;
  paths: PathsQuery;
}

// -- results -----------------------------------------------------------------------------------

export interface TrendsSeriesResult {
  label: string;
  math: TrendMath;
  data: number[];
  labels: string[];
  total: number;
  breakdown_value?: string | null;
  other?: boolean;
  compare?: { data: number[]; labels: string[]; total: number };
}

export interface TrendsResult {
  interval: Interval;
  date_range: { from: string; to: string };
  labels: string[];
  series: TrendsSeriesResult[];
  truncated: boolean;
  compare_range?: { from: string; to: string };
}

export interface FunnelStep {
  order: number;
  name: string;
  count: number;
  conversion_from_start: number;
  conversion_from_previous: number;
  drop_off: number;
  drop_off_rate: number;
  median_time_to_convert_s: number | null;
}

export interface FunnelResult {
  counted_by: CountedBy;
  steps: FunnelStep[];
  breakdowns: { breakdown_value: string | null; other: boolean; steps: FunnelStep[] }[];
  truncated: boolean;
}

export interface RetentionCohort {
  date: string;
  size: number;
  values: number[];
  percentages: number[];
}

export interface RetentionResult {
  period: RetentionPeriod;
  counted_by: CountedBy;
  labels: string[];
  cohorts: RetentionCohort[];
  truncated: boolean;
}

export interface PathsNode {
  name: string;
  step: number;
  screen: string;
}

export interface PathsLink {
  source: string;
  target: string;
  value: number;
}

export interface PathsResult {
  direction: "next" | "previous";
  start: string | null;
  nodes: PathsNode[];
  links: PathsLink[];
  truncated: boolean;
}

export interface InsightResults {
  trends: TrendsResult;
  funnels: FunnelResult;
  retention: RetentionResult;
  paths: PathsResult;
}

/** POST /api/v1/analytics/query's answer (used by sql tiles). */
export interface QueryPage {
  columns: string[];
  types: string[];
  rows: unknown[][];
  page: number;
  page_size: number;
  has_more: boolean;
  elapsed_ms: number;
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

// -- dashboards --------------------------------------------------------------------------------

export interface TileLayout {
  x: number;
  y: number;
  w: number;
  h: number;
}

export type TileKind = InsightKind | "sql";

export interface Tile {
  id: string;
  title: string;
  kind: TileKind;
  query?: Record<string, unknown> | null;
  saved_query_id?: string | null;
  layout: TileLayout;
}

export interface Dashboard {
  id: string;
  owner_id: string | null;
  name: string;
  description: string;
  date_range: DateRange | null;
  tiles: Tile[];
  refresh_s: number;
  created_at: string;
  updated_at: string;
}

/** The body of POST /dashboards and PUT /dashboards/{id}. */
export interface DashboardBody {
  name: string;
  description: string;
  date_range: DateRange | null;
  tiles: Tile[];
  refresh_s: number;
}

export interface Paged<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}
