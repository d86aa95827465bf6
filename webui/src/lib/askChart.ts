/**
 * ChartSpec (what Ask's `chart` step says to draw) → what the page renders: a big number, the
 * table, or an ECharts option for a line, bar or funnel chart. The server already checked the
 * spec against the result's columns (causality/llm/chart.py); this still degrades to the table
 * whenever a named column is missing, so a stored turn from an older server never breaks.
 */
import type { EChartsCoreOption } from "echarts/core";
import type { ChartSpec } from "./ask";

export interface ResultLike {
  columns: string[];
  rows: unknown[][];
}

export type ChartView =
  | { kind: "number"; value: string; label: string }
  | { kind: "table" }
  | { kind: "echarts"; option: EChartsCoreOption; chartType: "line" | "bar" | "funnel" };

/** A cell as a number when it is one (DECIMALs and HUGEINTs may arrive as numeric text). */
export function toNumber(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) {
    return Number(value);
  }
  return null;
}

/** An axis label: dates at midnight lose their time, everything else is its text. */
export function toLabel(value: unknown): string {
  if (value === null || value === undefined) return "(none)";
  if (typeof value === "string") {
    const midnight = /^(\d{4}-\d{2}-\d{2})[T ]00:00:00(\.0+)?(Z|[+-]00(:?00)?)?$/.exec(value);
    return midnight?.[1] ?? value;
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

const numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

export function formatNumber(value: number): string {
  return numberFormat.format(value);
}

function columnIndex(result: ResultLike, name: string | null | undefined): number {
  if (!name) return -1;
  const exact = result.columns.indexOf(name);
  if (exact >= 0) return exact;
  const lower = name.toLowerCase();
  return result.columns.findIndex((c) => c.toLowerCase() === lower);
}

/** What to draw for `spec` over `result`; the table whenever the spec does not fit. */
export function chartView(spec: ChartSpec | null, result: ResultLike): ChartView {
  if (spec === null || spec.type === "table" || result.rows.length === 0) return { kind: "table" };
  const ys = (spec.y ?? []).map((y) => columnIndex(result, y));
  if (ys.length === 0 || ys.some((i) => i < 0)) return { kind: "table" };
  const title = spec.title ?? "";
  if (spec.type === "number") {
    const first = result.rows[0];
    const yi = ys[0] ?? -1;
    const value = first === undefined ? null : first[yi];
    const n = toNumber(value);
    return {
      kind: "number",
      value: n === null ? toLabel(value) : formatNumber(n),
      label: title || (result.columns[yi] ?? ""),
    };
  }
  const xi = columnIndex(result, spec.x);
  if (xi < 0) return { kind: "table" };
  if (spec.type === "funnel") return funnelView(result, xi, ys[0] ?? -1, title);
  const si = columnIndex(result, spec.series);
  const option =
    si >= 0 && ys.length === 1
      ? pivoted(result, spec.type, xi, ys[0] ?? -1, si, title)
      : wide(result, spec.type, xi, ys, title);
  return { kind: "echarts", option, chartType: spec.type };
}

function base(title: string, legend: boolean): EChartsCoreOption {
  return {
    title: title ? { text: title, left: "center", textStyle: { fontSize: 14 } } : undefined,
    tooltip: { trigger: "axis" },
    legend: legend ? { type: "scroll", bottom: 0 } : undefined,
    grid: { left: 8, right: 16, top: title ? 40 : 16, bottom: legend ? 40 : 8, containLabel: true },
  };
}

/** One series per `y` column, x values in result order. */
function wide(
  result: ResultLike,
  type: "line" | "bar",
  xi: number,
  ys: number[],
  title: string,
): EChartsCoreOption {
  return {
    ...base(title, ys.length > 1),
    xAxis: { type: "category", data: result.rows.map((r) => toLabel(r[xi])) },
    yAxis: { type: "value" },
    series: ys.map((yi) => ({
      name: result.columns[yi] ?? "",
      type,
      showSymbol: type === "line" ? result.rows.length <= 60 : undefined,
      data: result.rows.map((r) => toNumber(r[yi])),
    })),
  };
}

/** One series per distinct value of the `series` column, aligned on the distinct x values
 * (missing points are gaps, never zeros that would read as real data). */
function pivoted(
  result: ResultLike,
  type: "line" | "bar",
  xi: number,
  yi: number,
  si: number,
  title: string,
): EChartsCoreOption {
  const xs: string[] = [];
  const xPos = new Map<string, number>();
  const groups = new Map<string, Map<string, number | null>>();
  for (const row of result.rows) {
    const x = toLabel(row[xi]);
    if (!xPos.has(x)) {
      xPos.set(x, xs.length);
      xs.push(x);
    }
    const s = toLabel(row[si]);
    let points = groups.get(s);
    if (points === undefined) {
      points = new Map();
      groups.set(s, points);
    }
    points.set(x, toNumber(row[yi]));
  }
  return {
    ...base(title, true),
    xAxis: { type: "category", data: xs },
    yAxis: { type: "value", name: result.columns[yi] ?? "" },
    series: [...groups.entries()].map(([name, points]) => ({
      name,
      type,
      showSymbol: type === "line" ? xs.length <= 60 : undefined,
      data: xs.map((x) => points.get(x) ?? null),
    })),
  };
}

/** A funnel as bars, each labelled with its count and its share of the first step, which
 * reads more exactly than trapezoid widths and needs no other chart type loaded. */
function funnelView(result: ResultLike, xi: number, yi: number, title: string): ChartView {
  const counts = result.rows.map((r) => toNumber(r[yi]) ?? 0);
  const first = counts[0] ?? 0;
  const data = counts.map((value, i) => ({
    value,
    label: {
      show: true,
      position: "top",
      formatter: `${formatNumber(value)} (${first > 0 ? formatNumber((100 * value) / first) : "0"}%)`,
    },
    name: toLabel(result.rows[i]?.[xi]),
  }));
  return {
    kind: "echarts",
    chartType: "funnel",
    option: {
      ...base(title, false),
      xAxis: { type: "category", data: data.map((d) => d.name) },
      yAxis: { type: "value", name: result.columns[yi] ?? "" },
      series: [{ name: result.columns[yi] ?? "", type: "bar", data }],
    },
  };
}
