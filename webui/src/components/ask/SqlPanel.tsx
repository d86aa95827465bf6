// The answer's SQL in an editor the analyst can change, then run again (the SQL editor's own
// endpoint) or have explained (/api/v1/llm/explain), without asking the model to write it anew.

import { useMutation } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";

import { api } from "../../api/client";
import { ErrorNote } from "../ErrorNote";
import { SqlEditor } from "../SqlEditor";
import { readChart } from "../../lib/ask";
import { formatDuration } from "../../lib/format";
import { ANALYTICS, queryBody, runnable, type QueryResult } from "../../lib/sql";
import { ResultView } from "./ResultView";

interface Explained {
  sql: string;
  columns: string[];
  types: string[];
  rows: unknown[][];
  row_count: number;
  truncated: boolean;
  elapsed_ms: number;
  explanation: string;
  chart: unknown;
}

export interface SqlPanelProps {
  sql: string;
  question: string;
  /** Distinguishes the editors' labels when a thread has several turns. */
  turnLabel: string;
}

export function SqlPanel({ sql: initial, question, turnLabel }: SqlPanelProps): ReactNode {
  const [sql, setSql] = useState(initial);
  const run = useMutation({
    mutationFn: (text: string) =>
      api<QueryResult>(`${ANALYTICS}/query`, { method: "POST", body: queryBody(text, 1, 1000) }),
  });
  const explain = useMutation({
    mutationFn: (text: string) => api<Explained>("/api/v1/llm/explain", { method: "POST", body: { sql: text, question } }),
  });
  const doRun = (text: string): void => {
    if (!runnable(text)) return;
    explain.reset();
    run.mutate(text);
  };
  return (
    <section className="ask-sql-panel" aria-label={`SQL of ${turnLabel}`}>
      <SqlEditor value={sql} onChange={setSql} onRun={doRun} label={`SQL of ${turnLabel}`} minHeight={80} />
      <div className="sql-toolbar">
        <button type="button" onClick={() => doRun(sql)} disabled={run.isPending || !runnable(sql)}>
          {run.isPending ? "Running…" : "Run"}
        </button>
        <button
          type="button"
          onClick={() => {
            run.reset();
            explain.mutate(sql);
          }}
          disabled={explain.isPending || !runnable(sql)}
        >
          {explain.isPending ? "Explaining…" : "Explain"}
        </button>
        {sql !== initial && (
          <button type="button" className="link-button" onClick={() => setSql(initial)}>
            Reset to the answer's SQL
          </button>
        )}
      </div>
      <ErrorNote error={run.error} title="The query failed" />
      <ErrorNote error={explain.error} title="Could not explain" />
      {run.data !== undefined && (
        <div className="ask-rerun">
          <p className="muted small">Ran again in {formatDuration(run.data.elapsed_ms)}.</p>
          <ResultView
            columns={run.data.columns}
            rows={run.data.rows}
            chart={null}
            truncated={run.data.has_more}
            label={`the edited SQL of ${turnLabel}`}
          />
        </div>
      )}
      {explain.data !== undefined && (
        <div className="ask-rerun">
          <p className="ask-explanation">{explain.data.explanation}</p>
          <ResultView
            columns={explain.data.columns}
            rows={explain.data.rows}
            chart={readChart(explain.data.chart)}
            rowCount={explain.data.row_count}
            truncated={explain.data.truncated}
            label={`the edited SQL of ${turnLabel}`}
          />
        </div>
      )}
    </section>
  );
}

export default SqlPanel;
