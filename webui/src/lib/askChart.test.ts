import { describe, expect, it } from "vitest";
import { chartView, toLabel, toNumber } from "./askChart";

type Opt = {
  xAxis: { data: string[] };
  series: { name: string; type: string; data: unknown[] }[];
  legend?: unknown;
  title?: { text: string };
};

describe("toNumber and toLabel", () => {
  it("reads numbers and numeric text", () => {
    expect(toNumber(3)).toBe(3);
    expect(toNumber("12.50")).toBe(12.5);
    expect(toNumber("")).toBeNull();
    expect(toNumber("ios")).toBeNull();
    expect(toNumber(null)).toBeNull();
    expect(toNumber(Number.NaN)).toBeNull();
  });
  it("drops midnight times from dates", () => {
    expect(toLabel("2025-03-04T00:00:00Z")).toBe("2025-03-04");
    expect(toLabel("2025-03-04 00:00:00+00")).toBe("2025-03-04");
    expect(toLabel("2025-03-04T10:00:00Z")).toBe("2025-03-04T10:00:00Z");
    expect(toLabel(null)).toBe("(none)");
    expect(toLabel(true)).toBe("true");
  });
});

describe("chartView", () => {
  const result = {
    columns: ["day", "platform", "purchases", "revenue"],
    rows: [
      ["2025-03-01", "ios", 10, "100.5"],
      ["2025-03-01", "android", 7, "70"],
      ["2025-03-02", "ios", 12, "120"],
    ],
  };

  it("is the table for no chart, a table chart, or no rows", () => {
    expect(chartView(null, result)).toEqual({ kind: "table" });
    expect(chartView({ type: "table" }, result)).toEqual({ kind: "table" });
    expect(chartView({ type: "bar", x: "day", y: ["purchases"] }, { columns: ["day"], rows: [] })).toEqual({ kind: "table" });
  });

  it("falls back to the table when a column is missing", () => {
    expect(chartView({ type: "line", x: "nope", y: ["purchases"] }, result)).toEqual({ kind: "table" });
    expect(chartView({ type: "line", x: "day", y: ["nope"] }, result)).toEqual({ kind: "table" });
    expect(chartView({ type: "line", x: "day", y: [] }, result)).toEqual({ kind: "table" });
  });

  it("shows a number with its label", () => {
    const view = chartView({ type: "number", y: ["N"], title: "" }, { columns: ["n"], rows: [[12345.678]] });
    expect(view).toEqual({ kind: "number", value: "12,345.68", label: "n" });
    const titled = chartView({ type: "number", y: ["n"], title: "Purchases" }, { columns: ["n"], rows: [["7"]] });
    expect(titled).toEqual({ kind: "number", value: "7", label: "Purchases" });
  });

  it("draws one series per y column", () => {
    const view = chartView({ type: "bar", x: "platform", y: ["purchases", "revenue"], title: "By platform" }, result);
    expect(view.kind).toBe("echarts");
    if (view.kind !== "echarts") return;
    const o = view.option as unknown as Opt;
    expect(o.xAxis.data).toEqual(["ios", "android", "ios"]);
    expect(o.series.map((s) => [s.name, s.type])).toEqual([["purchases", "bar"], ["revenue", "bar"]]);
    expect(o.series[1]?.data).toEqual([100.5, 70, 120]);
    expect(o.legend).toBeDefined();
    expect(o.title?.text).toBe("By platform");
  });

  it("splits by the series column, aligning points and leaving gaps", () => {
    const view = chartView({ type: "line", x: "day", y: ["purchases"], series: "platform" }, result);
    if (view.kind !== "echarts") throw new Error("expected a chart");
    const o = view.option as unknown as Opt;
    expect(o.xAxis.data).toEqual(["2025-03-01", "2025-03-02"]);
    expect(o.series.map((s) => s.name)).toEqual(["ios", "android"]);
    expect(o.series[0]?.data).toEqual([10, 12]);
    expect(o.series[1]?.data).toEqual([7, null]);
  });

  it("matches column names case-insensitively", () => {
    const view = chartView({ type: "line", x: "DAY", y: ["Purchases"] }, result);
    expect(view.kind).toBe("echarts");
  });

  it("draws a funnel as bars labelled with the share of the first step", () => {
    const view = chartView(
      { type: "funnel", x: "step", y: ["devices"] },
      { columns: ["step", "devices"], rows: [["1 view", 200], ["2 cart", 50], ["3 buy", 10]] },
    );
    if (view.kind !== "echarts") throw new Error("expected a chart");
    expect(view.chartType).toBe("funnel");
    const series = (view.option as unknown as { series: { type: string; data: { value: number; name: string; label: { formatter: string } }[] }[] }).series[0];
    expect(series?.type).toBe("bar");
    expect(series?.data.map((d) => d.label.formatter)).toEqual(["200 (100%)", "50 (25%)", "10 (5%)"]);
    expect(series?.data.map((d) => d.name)).toEqual(["1 view", "2 cart", "3 buy"]);
  });
});
