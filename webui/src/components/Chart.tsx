// One ECharts chart. ECharts is loaded on first use (its own chunk), the chart follows the
// container's size and is rebuilt in the app's theme when the user switches light/dark.

import type { EChartsCoreOption, EChartsType } from "echarts/core";
import { useEffect, useRef, useState, type ReactNode } from "react";

import { useTheme } from "../lib/theme";

export type ChartOption = EChartsCoreOption;

export interface ChartProps {
  option: ChartOption;
  /** Pixels; default 320. */
  height?: number;
  /** What the chart shows, for screen readers (the canvas itself says nothing). */
  ariaLabel: string;
  /** A click on a data item (a bar, a point, a Sankey link). */
  onClick?: (params: unknown) => void;
}

type EchartsModule = typeof import("./echarts");

let loading: Promise<EchartsModule> | null = null;
function loadEcharts(): Promise<EchartsModule> {
  loading ??= import("./echarts");
  return loading;
}

export function Chart({ option, height = 320, ariaLabel, onClick }: ChartProps): ReactNode {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<EChartsType | null>(null);
  const theme = useTheme();
  const [failed, setFailed] = useState<string | null>(null);
  const [ready, setReady] = useState(0);
  const clickRef = useRef(onClick);
  clickRef.current = onClick;

  // (re)create on mount and on theme change: ECharts applies a theme only at init
  useEffect(() => {
    let disposed = false;
    let observer: ResizeObserver | null = null;
    loadEcharts()
      .then(({ echarts }) => {
        if (disposed || el.current === null) return;
        const instance = echarts.init(el.current, theme === "dark" ? "dark" : undefined, { renderer: "canvas" });
        instance.on("click", (params: unknown) => clickRef.current?.(params));
        chart.current = instance;
        if (typeof ResizeObserver !== "undefined") {
          observer = new ResizeObserver(() => instance.resize());
          observer.observe(el.current);
        }
        setReady((n) => n + 1);
      })
      .catch((error: unknown) => setFailed(error instanceof Error ? error.message : "the chart library did not load"));
    return () => {
      disposed = true;
      observer?.disconnect();
      chart.current?.dispose();
      chart.current = null;
    };
  }, [theme]);

  useEffect(() => {
    const instance = chart.current;
    if (instance === null) return;
    instance.setOption({ backgroundColor: "transparent", aria: { enabled: true }, ...option }, { notMerge: true });
  }, [option, ready]);

  if (failed !== null) {
    return (
      <div className="error-note" role="alert">
        Could not draw the chart: {failed}
      </div>
    );
  }
  return <div className="chart" ref={el} role="img" aria-label={ariaLabel} style={{ height, width: "100%" }} />;
}

export default Chart;
