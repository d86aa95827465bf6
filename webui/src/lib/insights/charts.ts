/**
 * Chart data shaping: the insight endpoints' JSON answers into ECharts options and into the
 * rows of the tables shown under each chart (the tables carry the same numbers as text, for
 * screen readers, for copying, and for the browser tests to read).
 *
 * Options are plain data (no formatter functions) so they can be compared in tests and so
 * the Chart component can merge its theme into them.
 */

import { formatCount, formatPercent, formatRatio } from "./format";
import type {
  FunnelResult,
  FunnelStep,
  PathsResult,
  RetentionResult,
  TrendsResult,
} from "./types";

/** An ECharts option object (the Chart component's `option`). */
export type ChartOption = { [key: string]: unknown };

export type TrendsChartType = "line" | "bar";

// -- trends --------------------------------------------------------------------------------------

/** Lines or bars per series (breakdown values are series); the previous period dashed. */
export function trendsOption(result: TrendsResult, chart: TrendsChartType = "line"): ChartOption {
  const series: ChartOption[] = [];
  for (const s of result.series) {
    series.push({
      name: s.label,
      type: chart,
      data: s.data,
      ...(chart === "line" ? { showSymbol: s.data.length <= 31, smooth: false } : {}),
      emphasis: { focus: "series" },
    });
    if (s.compare) {
      series.push({
        name: `${s.label} (previous period)`,
        type: chart,
        data: s.compare.data,
        ...(chart === "line"
          ? { showSymbol: false, lineStyle: { type: "dashed", opacity: 0.7 } }
          : { itemStyle: { opacity: 0.45 } }),
        emphasis: { focus: "series" },
      });
    }
  }
  return {
    tooltip: { trigger: "axis" },
    legend: { type: "scroll", top: 0 },
    grid: { left: 48, right: 16, top: 40, bottom: 32, containLabel: true },
    xAxis: { type: "category", data: result.labels, boundaryGap: chart === "bar" },
    yAxis: { type: "value", minInterval: 1 },
    series,
  };
}

export interface TrendsRow {
  label: string;
  total: string;
  previous: string | null;
  change: string | null;
}

/** One row per series: its total over the window, and the previous period's when compared. */
export function trendsRows(result: TrendsResult): TrendsRow[] {
  return result.series.map((s) => ({
    label: s.label,
    total: formatCount(s.total),
    previous: s.compare ? formatCount(s.compare.total) : null,
    change: s.compare ? formatChangeText(s.total, s.compare.total) : null,
  }));
}

function formatChangeText(current: number, previous: number): string {
  if (previous === 0) return current === 0 ? "0%" : "new";
  const change = ((current - previous) / Math.abs(previous)) * 100;
  return `${change > 0 ? "+" : ""}${formatPercent(change)}`;
}

/** Whether a trends answer has anything to draw. */
export function trendsIsEmpty(result: TrendsResult): boolean {
  return result.series.every((s) => s.total === 0 && s.data.every((v) => v === 0));
}

// -- funnels -------------------------------------------------------------------------------------

/**
 * Conversion bars with drop-off: each step's bar is stacked from the actors who reached it
 * (labelled with the count and % from the first step) and, on top, the actors lost since
 * the previous step, so every bar stands as tall as the step before it.
 */
export function funnelOption(result: FunnelResult): ChartOption {
  const names = result.steps.map((s) => `${s.order + 1}. ${s.name}`);
  return {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0, data: ["Converted", "Dropped off"] },
    grid: { left: 48, right: 16, top: 40, bottom: 32, containLabel: true },
    xAxis: { type: "category", data: names },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      {
        name: "Converted",
        type: "bar",
        stack: "funnel",
        data: result.steps.map((s) => ({
          value: s.count,
          label: {
            show: true,
            position: "inside",
            lineHeight: 16,
            formatter: `${formatCount(s.count)}\n${formatRatio(s.conversion_from_start)}`,
          },
        })),
      },
      {
        name: "Dropped off",
        type: "bar",
        stack: "funnel",
        itemStyle: { opacity: 0.3 },
        data: result.steps.map((s) => ({
          value: s.drop_off,
          label: {
            show: s.drop_off > 0,
            position: "top",
            formatter: `−${formatCount(s.drop_off)} (${formatRatio(s.drop_off_rate)})`,
          },
        })),
      },
    ],
  };
}

export interface FunnelRow {
  step: number;
  name: string;
  users: string;
  conversion: string;
  fromPrevious: string;
  dropOff: string;
  dropOffRate: string;
  medianTime: number | null;
}

/** The table under a funnel: per step, users, % from step 1, % from previous, drop-off. */
export function funnelRows(steps: FunnelStep[]): FunnelRow[] {
  return steps.map((s) => ({
    step: s.order + 1,
    name: s.name,
    users: formatCount(s.count),
    conversion: formatRatio(s.conversion_from_start),
    fromPrevious: formatRatio(s.conversion_from_previous),
    dropOff: s.order === 0 ? "–" : formatCount(s.drop_off),
    dropOffRate: s.order === 0 ? "–" : formatRatio(s.drop_off_rate),
    medianTime: s.median_time_to_convert_s,
  }));
}

/** The overall conversion, first step to last, as words ("33.3% of 12 converted"). */
export function funnelSummary(result: FunnelResult): string {
  const first = result.steps[0];
  const last = result.steps[result.steps.length - 1];
  if (first === undefined || last === undefined) return "";
  return `${formatRatio(last.conversion_from_start)} of ${formatCount(first.count)} converted`;
}

// -- retention -----------------------------------------------------------------------------------

/**
 * The triangle heat grid: x = periods since the cohort, y = cohorts (first at the top), the
 * colour and label = % of the cohort still returning. Cells past the window are absent,
 * which makes the triangle.
 */
export function retentionOption(result: RetentionResult): ChartOption {
  const cohorts = result.cohorts.map((c) => `${c.date} (${formatCount(c.size)})`);
  const data: [number, number, number][] = [];
  result.cohorts.forEach((cohort, y) => {
    cohort.percentages.forEach((pct, x) => {
      data.push([x, y, Math.round(pct * 10) / 10]);
    });
  });
  return {
    tooltip: { position: "top" },
    grid: { left: 8, right: 16, top: 16, bottom: 64, containLabel: true },
    // no split areas: only the cells inside the window are drawn, which makes the triangle
    xAxis: { type: "category", data: result.labels, splitArea: { show: false } },
    yAxis: { type: "category", data: cohorts, inverse: true, splitArea: { show: false } },
    visualMap: {
      min: 0,
      max: 100,
      calculable: false,
      orient: "horizontal",
      left: "center",
      bottom: 0,
      text: ["100%", "0%"],
    },
    series: [
      {
        name: "Retained %",
        type: "heatmap",
        data,
        label: { show: true, formatter: "{@[2]}%" },
        emphasis: { itemStyle: { shadowBlur: 6 } },
      },
    ],
  };
}

export interface RetentionRow {
  cohort: string;
  size: string;
  /** One cell per period label; null past the window (the triangle's empty corner). */
  cells: ({ percent: string; value: string; ratio: number } | null)[];
}

/** The retention table: per cohort, its size and each period's % (values in the title). */
export function retentionRows(result: RetentionResult): RetentionRow[] {
  return result.cohorts.map((c) => ({
    cohort: c.date,
    size: formatCount(c.size),
    cells: result.labels.map((_, k) => {
      const value = c.values[k];
      const pct = c.percentages[k];
      if (value === undefined || pct === undefined) return null;
      return { percent: formatPercent(pct), value: formatCount(value), ratio: pct / 100 };
    }),
  }));
}

// -- paths ---------------------------------------------------------------------------------------

/** A Sankey of the paths; node labels show the screen without the step prefix. */
export function pathsOption(result: PathsResult): ChartOption {
  return {
    tooltip: { trigger: "item", triggerOn: "mousemove" },
    series: [
      {
        type: "sankey",
        left: 8,
        right: 120,
        top: 16,
        bottom: 16,
        nodeAlign: result.direction === "next" ? "left" : "right",
        emphasis: { focus: "adjacency" },
        lineStyle: { color: "gradient", curveness: 0.5, opacity: 0.35 },
        data: result.nodes.map((n) => ({
          name: n.name,
          label: { formatter: escapeFormatter(n.screen) },
        })),
        links: result.links.map((l) => ({ ...l })),
      },
    ],
  };
}

/** ECharts formatters treat `{…}` as templates: escape braces so a screen name shows as is. */
function escapeFormatter(text: string): string {
  return text.replace(/[{}]/g, (ch) => (ch === "{" ? "｛" : "｝"));
}

export interface PathsRow {
  step: number;
  from: string;
  to: string;
  paths: string;
  value: number;
}

/** The links as a table, heaviest first: step k's screen → the next screen, and how many. */
export function pathsRows(result: PathsResult): PathsRow[] {
  const byName = new Map(result.nodes.map((n) => [n.name, n]));
  return result.links
    .map((l) => {
      const source = byName.get(l.source);
      const target = byName.get(l.target);
      return {
        step: Math.min(source?.step ?? 0, target?.step ?? 0),
        from: source?.screen ?? l.source,
        to: target?.screen ?? l.target,
        paths: formatCount(l.value),
        value: l.value,
      };
    })
    .sort((a, b) => b.value - a.value || a.step - b.step || a.from.localeCompare(b.from));
}
