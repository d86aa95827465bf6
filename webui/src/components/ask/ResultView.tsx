// A result drawn the way its ChartSpec says (a number, a line, bars, a funnel or the table),
// with the rows always one click away: a chart is a summary, the table is the truth.

import { useMemo, type ReactNode } from "react";

import { Chart } from "../Chart";
import { DataGrid } from "../DataGrid";
import type { ChartSpec } from "../../lib/ask";
import { chartView } from "../../lib/askChart";
import { formatNumber } from "../../lib/format";

export interface ResultViewProps {
  columns: string[];
  rows: unknown[][];
  chart: ChartSpec | null;
  rowCount?: number;
  truncated?: boolean;
  /** What the result answers, for the chart's accessible name. */
  label: string;
}

export function ResultView({ columns, rows, chart, rowCount, truncated, label }: ResultViewProps): ReactNode {
  const view = useMemo(() => chartView(chart, { columns, rows }), [chart, columns, rows]);
  const gridColumns = useMemo(() => columns.map((c, i) => ({ key: `${i}:${c}`, label: c })), [columns]);
  const count = rowCount ?? rows.length;
  const height = Math.min(320, 40 + rows.length * 32);
  const table = (
    <DataGrid columns={gridColumns} rows={rows} height={height} ariaLabel={`Rows: ${label}`} />
  );
  const summary = `${formatNumber(count)} ${count === 1 ? "row" : "rows"}${truncated ? " (first rows shown)" : ""}`;
  return (
    <div className="ask-result">
      {view.kind === "number" && (
        <div className="ask-number" role="group" aria-label={view.label}>
          <span className="ask-number-value">{view.value}</span>
          <span className="ask-number-label">{view.label}</span>
        </div>
      )}
      {view.kind === "echarts" && <Chart option={view.option} height={300} ariaLabel={`${view.chartType} chart: ${label}`} />}
      {view.kind === "table" ? (
        <>
          <p className="muted small">{summary}</p>
          {columns.length > 0 && table}
        </>
      ) : (
        <details className="ask-table">
          <summary>Table ({summary})</summary>
          {table}
        </details>
      )}
    </div>
  );
}

export default ResultView;
