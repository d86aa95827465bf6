/**
 * Insight form state and the query builders: form state (strings, as inputs hold them) in,
 * the exact request body of POST /api/v1/analytics/{trends,funnels,retention,paths} out.
 *
 * Why here and not in the pages: the conversions (typed filter values, date ranges, optional
 * fields left out rather than sent empty — the gateway forbids unknown and refuses some empty
 * values) are where the bugs hide, and plain functions can be tested without a browser.
 * Problems the form can see are reported as a FormError naming the field with the same path
 * the gateway would use (`steps[1].event_type`), so both kinds of error read alike.
 *
 * The reverse mapping (`*FormFromQuery`) lets a saved tile or a shared URL (`?q=`) reopen in
 * its builder.
 */

import { propertyKind } from "./catalogue";
import type {
  CountedBy,
  DateRange,
  EventSelector,
  FilterOp,
  FunnelQuery,
  Interval,
  PathsQuery,
  PropertyFilter,
  RetentionPeriod,
  RetentionQuery,
  Scalar,
  TrendMath,
  TrendSeries,
  TrendsQuery,
  WindowUnit,
} from "./types";

/** A problem in the form, named by the request field it would become. */
export class FormError extends Error {
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.name = "FormError";
    this.field = field;
  }
}

// -- shared pieces -------------------------------------------------------------------------------

export interface FilterForm {
  property: string;
  op: FilterOp;
  value: string;
}

export interface SelectorForm {
  /** "" = any event. */
  eventType: string;
  /** Only for `custom` events. */
  eventName: string;
  filters: FilterForm[];
}

export interface DateRangeForm {
  mode: "last" | "between";
  last: string;
  from: string;
  to: string;
}

export const FILTER_OPS: readonly { op: FilterOp; label: string }[] = [
  { op: "eq", label: "equals" },
  { op: "neq", label: "does not equal" },
  { op: "contains", label: "contains" },
  { op: "not_contains", label: "does not contain" },
  { op: "gt", label: ">" },
  { op: "gte", label: "≥" },
  { op: "lt", label: "<" },
  { op: "lte", label: "≤" },
  { op: "in", label: "is one of" },
  { op: "is_set", label: "is set" },
  { op: "is_not_set", label: "is not set" },
];

export function emptySelector(eventType = ""): SelectorForm {
  return { eventType, eventName: "", filters: [] };
}

export function emptyFilter(): FilterForm {
  return { property: "", op: "eq", value: "" };
}

export function defaultRange(last = "30d"): DateRangeForm {
  return { mode: "last", last, from: "", to: "" };
}

const RELATIVE = /^-?[1-9][0-9]{0,3}[hdwm]$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/** A date range form as the API's `date_range`: `"30d"` or `{from, to?}`. */
export function buildDateRange(form: DateRangeForm, field = "date_range"): DateRange {
  if (form.mode === "last") {
    const last = form.last.trim();
    if (!RELATIVE.test(last)) {
      throw new FormError(field, "expected like 7d, 30d, 24h, 4w or 3m");
    }
    return last;
  }
  const from = form.from.trim();
  const to = form.to.trim();
  if (!ISO_DATE.test(from)) throw new FormError(`${field}.from`, "pick a start date");
  if (to === "") return { from };
  if (!ISO_DATE.test(to)) throw new FormError(`${field}.to`, "expected a date like 2026-11-30");
  if (to.length === 10 && from.length === 10 && to < from) {
    throw new FormError(`${field}.to`, "must be on or after the start date");
  }
  return { from, to };
}

/** The API's `date_range` (or a dashboard's) back into form state. */
export function dateRangeForm(range: DateRange | null | undefined, fallback = "30d"): DateRangeForm {
  if (range === null || range === undefined) return defaultRange(fallback);
  if (typeof range === "string") return defaultRange(range);
  if ("last" in range) return defaultRange(range.last);
  return { mode: "between", last: fallback, from: range.from, to: range.to ?? "" };
}

/** Words for a date range, for headers and tile captions. */
export function describeRange(range: DateRange | null | undefined): string {
  if (range === null || range === undefined) return "";
  if (typeof range === "string" || "last" in range) {
    const last = typeof range === "string" ? range : range.last;
    const match = /^-?(\d+)([hdwm])$/.exec(last);
    if (match === null) return last;
    const n = Number(match[1]);
    const unit = { h: "hour", d: "day", w: "week", m: "month" }[match[2] as "h" | "d" | "w" | "m"];
    return `Last ${n} ${unit}${n === 1 ? "" : "s"}`;
  }
  return range.to ? `${range.from} – ${range.to}` : `Since ${range.from}`;
}

function parseScalar(raw: string, kind: ReturnType<typeof propertyKind>, field: string): Scalar {
  const text = raw.trim();
  if (kind === "string") return text;
  if (kind === "number") {
    if (!NUMBER.test(text)) throw new FormError(field, "expected a number");
    return Number(text);
  }
  if (kind === "bool") {
    if (text !== "true" && text !== "false") throw new FormError(field, "expected true or false");
    return text === "true";
  }
  // a JSON property: "quoted" stays text; true/false and numbers are typed
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) return text.slice(1, -1);
  if (text === "true" || text === "false") return text === "true";
  if (NUMBER.test(text)) return Number(text);
  return text;
}

/** One filter row as the API's PropertyFilter, the value typed by the property's kind. */
export function buildFilter(form: FilterForm, field: string): PropertyFilter {
  const property = form.property.trim();
  if (property === "") throw new FormError(`${field}.property`, "choose a property");
  const kind = propertyKind(property);
  if (kind === null) {
    throw new FormError(`${field}.property`, "a column name or properties.<key>");
  }
  const { op } = form;
  if (op === "is_set" || op === "is_not_set") return { property, op };
  const valueField = `${field}.value`;
  if (op === "in") {
    const parts = form.value.split(",").map((part) => part.trim()).filter((part) => part !== "");
    if (parts.length === 0) throw new FormError(valueField, "give one or more values, comma separated");
    return { property, op, value: parts.map((part) => parseScalar(part, kind, valueField)) };
  }
  if (form.value.trim() === "") throw new FormError(valueField, "give a value");
  if (op === "gt" || op === "gte" || op === "lt" || op === "lte") {
    if (kind === "string" || kind === "bool") {
      throw new FormError(`${field}.op`, `${op} needs a numeric property`);
    }
    if (!NUMBER.test(form.value.trim())) throw new FormError(valueField, "expected a number");
    return { property, op, value: Number(form.value.trim()) };
  }
  if (op === "contains" || op === "not_contains") {
    if (kind === "number" || kind === "bool") {
      throw new FormError(`${field}.op`, `${op} needs a text property`);
    }
    return { property, op, value: form.value.trim() };
  }
  return { property, op, value: parseScalar(form.value, kind, valueField) };
}

function buildFilters(forms: FilterForm[], field: string): PropertyFilter[] {
  return forms.map((form, i) => buildFilter(form, `${field}[${i}]`));
}

/** A selector form as an EventSelector, leaving out what is not set. */
export function buildSelector(form: SelectorForm, field: string): EventSelector {
  const out: EventSelector = {};
  if (form.eventType !== "") out.event_type = form.eventType;
  if (form.eventType === "custom") {
    const name = form.eventName.trim();
    if (name === "") throw new FormError(`${field}.event_name`, "name the custom event");
    out.event_name = name;
  }
  const filters = buildFilters(form.filters, `${field}.filters`);
  if (filters.length > 0) out.filters = filters;
  return out;
}

function filterForm(filter: PropertyFilter): FilterForm {
  const { value } = filter;
  let text = "";
  if (Array.isArray(value)) text = value.map(String).join(", ");
  else if (typeof value === "string" && propertyKind(filter.property) === "json") {
    // keep text that looks like a number or boolean as text on the way back
    text = NUMBER.test(value) || value === "true" || value === "false" ? `"${value}"` : value;
  } else if (value !== undefined) text = String(value);
  return { property: filter.property, op: filter.op, value: text };
}

function selectorForm(selector: EventSelector | undefined): SelectorForm {
  return {
    eventType: selector?.event_type ?? "",
    eventName: selector?.event_name ?? "",
    filters: (selector?.filters ?? []).map(filterForm),
  };
}

function optionalProperty(value: string, field: string): string | undefined {
  const text = value.trim();
  if (text === "") return undefined;
  if (propertyKind(text) === null) throw new FormError(field, "a column name or properties.<key>");
  return text;
}

function positiveInt(raw: string, field: string, low: number, high: number): number {
  const text = raw.trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < low || value > high) {
    throw new FormError(field, `a whole number from ${low} to ${high}`);
  }
  return value;
}

// -- trends --------------------------------------------------------------------------------------

export interface SeriesForm extends SelectorForm {
  math: TrendMath;
  property: string;
}

export interface TrendsForm {
  series: SeriesForm[];
  dateRange: DateRangeForm;
  interval: Interval;
  filters: FilterForm[];
  breakdown: string;
  breakdownLimit: string;
  compare: boolean;
  chart: "line" | "bar";
}

export const TREND_MATHS: readonly { math: TrendMath; label: string }[] = [
  { math: "total", label: "Total events" },
  { math: "unique_devices", label: "Unique devices" },
  { math: "unique_users", label: "Unique users" },
  { math: "sum", label: "Sum of property" },
  { math: "avg", label: "Average of property" },
  { math: "min", label: "Minimum of property" },
  { math: "max", label: "Maximum of property" },
];

export function emptySeries(eventType = ""): SeriesForm {
  return { ...emptySelector(eventType), math: "total", property: "" };
}

export function defaultTrendsForm(): TrendsForm {
  return {
    series: [emptySeries()],
    dateRange: defaultRange("30d"),
    interval: "day",
    filters: [],
    breakdown: "",
    breakdownLimit: "10",
    compare: false,
    chart: "line",
  };
}

export function buildTrendsQuery(form: TrendsForm): TrendsQuery {
  if (form.series.length === 0) throw new FormError("series", "add a series");
  const series = form.series.map((s, i): TrendSeries => {
    const field = `series[${i}]`;
    const out: TrendSeries = { ...buildSelector(s, field), math: s.math };
    if (s.math === "sum" || s.math === "avg" || s.math === "min" || s.math === "max") {
      const property = optionalProperty(s.property, `${field}.property`);
      if (property === undefined) {
        throw new FormError(`${field}.property`, "choose the numeric property to aggregate");
      }
      out.property = property;
    }
    return out;
  });
  const query: TrendsQuery = {
    series,
    date_range: buildDateRange(form.dateRange),
    interval: form.interval,
  };
  const filters = buildFilters(form.filters, "filters");
  if (filters.length > 0) query.filters = filters;
  const breakdown = optionalProperty(form.breakdown, "breakdown");
  if (breakdown !== undefined) {
    query.breakdown = breakdown;
    query.breakdown_limit = positiveInt(form.breakdownLimit, "breakdown_limit", 1, 50);
  }
  if (form.compare) query.compare = true;
  return query;
}

export function trendsFormFromQuery(q: TrendsQuery): TrendsForm {
  return {
    series: q.series.map((s) => ({ ...selectorForm(s), math: s.math, property: s.property ?? "" })),
    dateRange: dateRangeForm(q.date_range),
    interval: q.interval,
    filters: (q.filters ?? []).map(filterForm),
    breakdown: q.breakdown ?? "",
    breakdownLimit: String(q.breakdown_limit ?? 10),
    compare: q.compare ?? false,
    chart: "line",
  };
}

// -- funnels -------------------------------------------------------------------------------------

export interface FunnelForm {
  steps: SelectorForm[];
  dateRange: DateRangeForm;
  windowValue: string;
  windowUnit: WindowUnit;
  countedBy: CountedBy;
  filters: FilterForm[];
  breakdown: string;
}

export function defaultFunnelForm(): FunnelForm {
  return {
    steps: [emptySelector(), emptySelector()],
    dateRange: defaultRange("30d"),
    windowValue: "1",
    windowUnit: "day",
    countedBy: "device",
    filters: [],
    breakdown: "",
  };
}

const WINDOW_MAX: Record<WindowUnit, number> = {
  minute: 90 * 24 * 60,
  hour: 90 * 24,
  day: 90,
  week: 12,
};

export function buildFunnelQuery(form: FunnelForm): FunnelQuery {
  if (form.steps.length < 2 || form.steps.length > 10) {
    throw new FormError("steps", "a funnel has 2 to 10 steps");
  }
  const steps = form.steps.map((step, i) => buildSelector(step, `steps[${i}]`));
  const query: FunnelQuery = {
    steps,
    date_range: buildDateRange(form.dateRange),
    window: {
      value: positiveInt(form.windowValue, "window.value", 1, WINDOW_MAX[form.windowUnit]),
      unit: form.windowUnit,
    },
    counted_by: form.countedBy,
  };
  const filters = buildFilters(form.filters, "filters");
  if (filters.length > 0) query.filters = filters;
  const breakdown = optionalProperty(form.breakdown, "breakdown");
  if (breakdown !== undefined) query.breakdown = breakdown;
  return query;
}

export function funnelFormFromQuery(q: FunnelQuery): FunnelForm {
  return {
    steps: q.steps.map(selectorForm),
    dateRange: dateRangeForm(q.date_range),
    windowValue: String(q.window?.value ?? 14),
    windowUnit: q.window?.unit ?? "day",
    countedBy: q.counted_by ?? "device",
    filters: (q.filters ?? []).map(filterForm),
    breakdown: q.breakdown ?? "",
  };
}

// -- retention -----------------------------------------------------------------------------------

export interface RetentionForm {
  cohort: SelectorForm;
  returning: SelectorForm;
  period: RetentionPeriod;
  dateRange: DateRangeForm;
  countedBy: CountedBy;
}

export function defaultRetentionForm(): RetentionForm {
  return {
    cohort: emptySelector("signup"),
    returning: emptySelector(),
    period: "week",
    dateRange: defaultRange("8w"),
    countedBy: "device",
  };
}

export function buildRetentionQuery(form: RetentionForm): RetentionQuery {
  return {
    cohort_event: buildSelector(form.cohort, "cohort_event"),
    return_event: buildSelector(form.returning, "return_event"),
    period: form.period,
    date_range: buildDateRange(form.dateRange),
    counted_by: form.countedBy,
  };
}

export function retentionFormFromQuery(q: RetentionQuery): RetentionForm {
  return {
    cohort: selectorForm(q.cohort_event),
    returning: selectorForm(q.return_event),
    period: q.period ?? "week",
    dateRange: dateRangeForm(q.date_range, "8w"),
    countedBy: q.counted_by ?? "device",
  };
}

// -- paths ---------------------------------------------------------------------------------------

export interface PathsForm {
  start: string;
  direction: "next" | "previous";
  steps: string;
  dateRange: DateRangeForm;
  screenProperty: string;
  maxLinks: string;
}

export function defaultPathsForm(): PathsForm {
  return {
    start: "",
    direction: "next",
    steps: "4",
    dateRange: defaultRange("7d"),
    screenProperty: "",
    maxLinks: "50",
  };
}

export function buildPathsQuery(form: PathsForm): PathsQuery {
  const query: PathsQuery = {
    direction: form.direction,
    steps: positiveInt(form.steps, "steps", 2, 10),
    date_range: buildDateRange(form.dateRange),
    max_links: positiveInt(form.maxLinks, "max_links", 1, 500),
  };
  const start = form.start.trim();
  if (start !== "") query.start = start;
  const screen = optionalProperty(form.screenProperty, "screen_property");
  if (screen !== undefined) query.screen_property = screen;
  return query;
}

export function pathsFormFromQuery(q: PathsQuery): PathsForm {
  return {
    start: q.start ?? "",
    direction: q.direction ?? "next",
    steps: String(q.steps ?? 5),
    dateRange: dateRangeForm(q.date_range, "7d"),
    screenProperty: q.screen_property ?? "",
    maxLinks: String(q.max_links ?? 50),
  };
}

// -- titles --------------------------------------------------------------------------------------

function selectorName(s: EventSelector): string {
  return s.label ?? s.event_name ?? s.event_type ?? "Any event";
}

/** A default tile title for a query: what it counts, in a few words. */
export function defaultTitle(kind: "trends", q: TrendsQuery): string;
export function defaultTitle(kind: "funnels", q: FunnelQuery): string;
export function defaultTitle(kind: "retention", q: RetentionQuery): string;
export function defaultTitle(kind: "paths", q: PathsQuery): string;
export function defaultTitle(
  kind: "trends" | "funnels" | "retention" | "paths",
  q: TrendsQuery | FunnelQuery | RetentionQuery | PathsQuery,
): string {
  if (kind === "trends") {
    const t = q as TrendsQuery;
    const names = t.series.map(selectorName).join(", ");
    return t.breakdown ? `${names} by ${t.breakdown}` : names;
  }
  if (kind === "funnels") return (q as FunnelQuery).steps.map(selectorName).join(" → ");
  if (kind === "retention") {
    const r = q as RetentionQuery;
    return `Retention: ${selectorName(r.cohort_event)} → ${selectorName(r.return_event)}`;
  }
  const p = q as PathsQuery;
  return p.start ? `Paths ${p.direction === "next" ? "from" : "to"} ${p.start}` : "Paths";
}
