// A query's result: which rows these are, how long it took, pages when there are more, and the
// virtualized grid (10,000 rows stay fast: only the rows in view are in the DOM).

import { useMemo, type ReactNode } from "react";

import { DataGrid, type DataGridColumn } from "../DataGrid";
import { formatDuration } from "../../lib/format";
import { columnWidth, isNumericType, rowRange, type QueryResult } from "../../lib/sql";

export interface ResultsPanelProps {
  result: QueryResult;
  busy: boolean;
  onPage: (page: number) => void;
  height?: number;
}

export function ResultsPanel({ result, busy, onPage, height = 440 }: ResultsPanelProps): ReactNode {
  const columns = useMemo<DataGridColumn[]>(
    () =>
      result.columns.map((name, i) => ({
        key: `${i}:${name}`,
        label: name,
        width: columnWidth(
          name,
          result.rows.slice(0, 200).map((r) => r[i]),
        ),
        align: isNumericType(result.types[i]) ? "right" : "left",
      })),
    [result.columns, result.types, result.rows],
  );
  return (
    <section className="sql-results" aria-labelledby="sql-results-title">
      <div className="sql-results-head">
        <h2 id="sql-results-title">Results</h2>
        <p className="muted" aria-live="polite" data-testid="sql-result-summary">
          {rowRange(result)}
          {result.has_more ? " (more available)" : ""} · {formatDuration(result.elapsed_ms)}
        </p>
        {(result.page > 1 || result.has_more) && (
          <nav className="pager" aria-label="Result pages">
            <button type="button" disabled={busy || result.page <= 1} onClick={() => onPage(result.page - 1)}>
              Previous page
            </button>
            <span>Page {result.page}</span>
            <button type="button" disabled={busy || !result.has_more} onClick={() => onPage(result.page + 1)}>
              Next page
            </button>
          </nav>
        )}
      </div>
      {result.columns.length === 0 ? (
        <p className="muted">The query returned no columns.</p>
      ) : (
        <DataGrid columns={columns} rows={result.rows} height={height} ariaLabel="Query results" />
      )}
    </section>
  );
}

export default ResultsPanel;
