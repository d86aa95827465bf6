import { describe, expect, it } from "vitest";

import {
  funnelOption,
  funnelRows,
  funnelSummary,
  pathsOption,
  pathsRows,
  retentionOption,
  retentionRows,
  trendsIsEmpty,
  trendsOption,
  trendsRows,
  type ChartOption,
} from "./charts";
import { formatChange, formatCount, formatDuration, formatPercent, formatRatio } from "./format";
import type { FunnelResult, PathsResult, RetentionResult, TrendsResult } from "./types";

// Answers in the exact shapes causality/analytics/*.shape() returns.
const trends: TrendsResult = {
  interval: "day",
  date_range: { from: "2026-11-01T00:00:00+00:00", to: "2026-11-04T00:00:00+00:00" },
  labels: ["2026-11-01", "2026-11-02", "2026-11-03"],
  series: [
    {
      label: "purchase_complete · ios",
      math: "total",
      data: [3, 0, 5],
      labels: ["2026-11-01", "2026-11-02", "2026-11-03"],
      total: 8,
      breakdown_value: "ios",
      other: false,
      compare: { data: [2, 2, 0], labels: ["2026-10-29", "2026-10-30", "2026-10-31"], total: 4 },
    },
    {
      label: "purchase_complete · Other",
      math: "total",
      data: [1, 1, 1],
      labels: ["2026-11-01", "2026-11-02", "2026-11-03"],
      total: 3,
      breakdown_value: null,
      other: true,
      compare: { data: [0, 0, 0], labels: ["2026-10-29", "2026-10-30", "2026-10-31"], total: 0 },
    },
  ],
  truncated: false,
  compare_range: { from: "2026-10-29T00:00:00+00:00", to: "2026-11-01T00:00:00+00:00" },
};

function step(order: number, name: string, count: number, first: number, previous: number) {
  return {
    order,
    name,
    count,
    conversion_from_start: first ? count / first : 0,
    conversion_from_previous: previous ? count / previous : 0,
    drop_off: previous - count,
    drop_off_rate: previous ? (previous - count) / previous : 0,
    median_time_to_convert_s: order === 0 ? null : 90 * order,
  };
}

const funnel: FunnelResult = {
  counted_by: "device",
  steps: [
    step(0, "product_view", 12, 12, 12),
    step(1, "add_to_cart", 8, 12, 12),
    step(2, "purchase_complete", 4, 12, 8),
  ],
  breakdowns: [],
  truncated: false,
};

const retention: RetentionResult = {
  period: "week",
  counted_by: "device",
  labels: ["Week 0", "Week 1", "Week 2"],
  cohorts: [
    { date: "2026-11-02", size: 10, values: [10, 5, 2], percentages: [100, 50, 20] },
    { date: "2026-11-09", size: 3, values: [3, 1], percentages: [100, 100 / 3] },
    { date: "2026-11-16", size: 0, values: [0], percentages: [0] },
  ],
  truncated: false,
};

const paths: PathsResult = {
  direction: "next",
  start: "home",
  nodes: [
    { name: "1_home", step: 1, screen: "home" },
    { name: "2_cart", step: 2, screen: "cart" },
    { name: "2_search", step: 2, screen: "search" },
    { name: "3_{checkout}", step: 3, screen: "{checkout}" },
  ],
  links: [
    { source: "1_home", target: "2_search", value: 4 },
    { source: "1_home", target: "2_cart", value: 7 },
    { source: "2_cart", target: "3_{checkout}", value: 4 },
  ],
  truncated: false,
};

function seriesOf(option: ChartOption): ChartOption[] {
  return option.series as ChartOption[];
}

describe("format", () => {
  it("pins the texts the tables show", () => {
    expect(formatCount(1234)).toBe("1,234");
    expect(formatCount(12.345)).toBe("12.35");
    expect(formatRatio(2 / 3)).toBe("66.7%");
    expect(formatRatio(1)).toBe("100%");
    expect(formatRatio(0)).toBe("0%");
    expect(formatPercent(33.333)).toBe("33.3%");
    expect(formatDuration(45)).toBe("45s");
    expect(formatDuration(90)).toBe("1m 30s");
    expect(formatDuration(7200)).toBe("2h");
    expect(formatDuration(90000)).toBe("1d 1h");
    expect(formatDuration(null)).toBe("–");
    expect(formatChange(8, 4)).toBe("+100%");
    expect(formatChange(2, 4)).toBe("-50%");
    expect(formatChange(3, 0)).toBe("–");
  });
});

describe("trends", () => {
  it("draws a series per breakdown value and a dashed previous period", () => {
    const option = trendsOption(trends, "line");
    expect((option.xAxis as { data: string[] }).data).toEqual(trends.labels);
    const series = seriesOf(option);
    expect(series.map((s) => s.name)).toEqual([
      "purchase_complete · ios",
      "purchase_complete · ios (previous period)",
      "purchase_complete · Other",
      "purchase_complete · Other (previous period)",
    ]);
    expect(series[0]).toMatchObject({ type: "line", data: [3, 0, 5] });
    expect(series[1]).toMatchObject({ type: "line", data: [2, 2, 0], lineStyle: { type: "dashed" } });
  });

  it("draws bars when asked", () => {
    const series = seriesOf(trendsOption(trends, "bar"));
    expect(series.every((s) => s.type === "bar")).toBe(true);
    expect((trendsOption(trends, "bar").xAxis as { boundaryGap: boolean }).boundaryGap).toBe(true);
  });

  it("tabulates totals with the change from the previous period", () => {
    expect(trendsRows(trends)).toEqual([
      { label: "purchase_complete · ios", total: "8", previous: "4", change: "+100%" },
      { label: "purchase_complete · Other", total: "3", previous: "0", change: "new" },
    ]);
    expect(trendsIsEmpty(trends)).toBe(false);
    expect(
      trendsIsEmpty({ ...trends, series: [{ ...trends.series[0]!, data: [0, 0, 0], total: 0 }] }),
    ).toBe(true);
  });
});

describe("funnels", () => {
  it("stacks converted and dropped off so each bar is as tall as the step before", () => {
    const option = funnelOption(funnel);
    expect((option.xAxis as { data: string[] }).data).toEqual([
      "1. product_view",
      "2. add_to_cart",
      "3. purchase_complete",
    ]);
    const [converted, dropped] = seriesOf(option);
    const values = (s: ChartOption | undefined) =>
      (s?.data as { value: number }[]).map((d) => d.value);
    expect(values(converted)).toEqual([12, 8, 4]);
    expect(values(dropped)).toEqual([0, 4, 4]);
    const labels = (converted?.data as { label: { formatter: string } }[]).map(
      (d) => d.label.formatter,
    );
    expect(labels).toEqual(["12\n100%", "8\n66.7%", "4\n33.3%"]);
    expect((dropped?.data as { label: { formatter: string } }[])[2]?.label.formatter).toBe(
      "−4 (50%)",
    );
  });

  it("tabulates users, conversion from the first step and drop-off", () => {
    expect(funnelRows(funnel.steps)).toEqual([
      {
        step: 1,
        name: "product_view",
        users: "12",
        conversion: "100%",
        fromPrevious: "100%",
        dropOff: "–",
        dropOffRate: "–",
        medianTime: null,
      },
      {
        step: 2,
        name: "add_to_cart",
        users: "8",
        conversion: "66.7%",
        fromPrevious: "66.7%",
        dropOff: "4",
        dropOffRate: "33.3%",
        medianTime: 90,
      },
      {
        step: 3,
        name: "purchase_complete",
        users: "4",
        conversion: "33.3%",
        fromPrevious: "50%",
        dropOff: "4",
        dropOffRate: "50%",
        medianTime: 180,
      },
    ]);
    expect(funnelSummary(funnel)).toBe("33.3% of 12 converted");
  });
});

describe("retention", () => {
  it("lays the triangle out as heatmap cells of percentages", () => {
    const option = retentionOption(retention);
    expect((option.yAxis as { data: string[]; inverse: boolean }).data).toEqual([
      "2026-11-02 (10)",
      "2026-11-09 (3)",
      "2026-11-16 (0)",
    ]);
    expect((option.yAxis as { inverse: boolean }).inverse).toBe(true);
    const [heat] = seriesOf(option);
    expect(heat?.type).toBe("heatmap");
    expect(heat?.data).toEqual([
      [0, 0, 100],
      [1, 0, 50],
      [2, 0, 20],
      [0, 1, 100],
      [1, 1, 33.3],
      [0, 2, 0],
    ]);
  });

  it("tabulates each cohort with empty cells past the window", () => {
    const rows = retentionRows(retention);
    expect(rows[0]?.cells.map((c) => c?.percent)).toEqual(["100%", "50%", "20%"]);
    expect(rows[1]?.cells.map((c) => c?.percent ?? null)).toEqual(["100%", "33.3%", null]);
    expect(rows[1]?.cells[1]).toMatchObject({ value: "1" });
    expect(rows[2]?.size).toBe("0");
  });
});

describe("paths", () => {
  it("draws a Sankey with screen names as labels, braces escaped", () => {
    const [sankey] = seriesOf(pathsOption(paths));
    expect(sankey?.type).toBe("sankey");
    const nodes = sankey?.data as { name: string; label: { formatter: string } }[];
    expect(nodes.map((n) => n.name)).toEqual(["1_home", "2_cart", "2_search", "3_{checkout}"]);
    expect(nodes.map((n) => n.label.formatter)).toEqual(["home", "cart", "search", "｛checkout｝"]);
    expect(sankey?.links).toEqual(paths.links);
  });

  it("tabulates links heaviest first", () => {
    expect(pathsRows(paths).map((r) => [r.step, r.from, r.to, r.paths])).toEqual([
      [1, "home", "cart", "7"],
      [1, "home", "search", "4"],
      [2, "cart", "{checkout}", "4"],
    ]);
  });

  it("keeps the near step for paths read backwards", () => {
    const backwards: PathsResult = {
      direction: "previous",
      start: "checkout",
      nodes: [
        { name: "2_cart", step: 2, screen: "cart" },
        { name: "1_checkout", step: 1, screen: "checkout" },
      ],
      links: [{ source: "2_cart", target: "1_checkout", value: 3 }],
      truncated: false,
    };
    expect(pathsRows(backwards)).toEqual([
      { step: 1, from: "cart", to: "checkout", paths: "3", value: 3 },
    ]);
  });
});
