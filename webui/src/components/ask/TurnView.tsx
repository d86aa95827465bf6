// One turn of an Ask thread: the question, then each step as it streamed in (the prompt's
// context, every SQL attempt with why it was refused or failed, the agent's plan and findings,
// the result, the explanation, the chart), and the final SQL in an editable panel.

import type { ReactNode } from "react";

import { attemptOutcome, type Turn } from "../../lib/ask";
import { formatDuration, formatNumber } from "../../lib/format";
import { ResultView } from "./ResultView";
import { SqlPanel } from "./SqlPanel";

const STATUS_WORDS: Record<Turn["status"], string> = {
  streaming: "Working…",
  running: "Still running (or stopped without an answer)",
  answered: "Answered",
  failed: "Not answered",
  interrupted: "Interrupted before the answer",
};

export function TurnView({ turn, index }: { turn: Turn; index: number }): ReactNode {
  const label = `question ${index + 1}`;
  const done = turn.status !== "streaming";
  return (
    <article className={`ask-turn ask-turn-${turn.status}`} aria-label={`Question ${index + 1}: ${turn.question}`}>
      <header className="ask-question">
        <p>
          <strong>{turn.question}</strong>
          {turn.mode === "agent" && <span className="ask-badge">agent</span>}
        </p>
        <p className="muted small" aria-live="polite">
          {STATUS_WORDS[turn.status]}
          {turn.elapsedMs !== null && done ? ` · ${formatDuration(turn.elapsedMs)}` : ""}
          {turn.tokens !== null
            ? ` · ${formatNumber(turn.tokens.prompt)} prompt + ${formatNumber(turn.tokens.completion)} completion tokens`
            : ""}
        </p>
      </header>

      <ol className="ask-steps" aria-label={`Steps of ${label}`}>
        {turn.context !== null && (
          <li className="ask-step">
            <span className="ask-step-kind">Context</span> prompt of {formatNumber(turn.context.prompt_chars)} characters
            {turn.context.examples.length > 0 && (
              <details>
                <summary>{turn.context.examples.length} examples chosen</summary>
                <ul>
                  {turn.context.examples.map((e) => (
                    <li key={e}>{e}</li>
                  ))}
                </ul>
              </details>
            )}
          </li>
        )}
        {turn.plan.length > 0 && (
          <li className="ask-step">
            <span className="ask-step-kind">Plan</span>
            <ol>
              {turn.plan.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ol>
          </li>
        )}
        {turn.attempts.map((a) => (
          <li key={a.attempt} className={`ask-step${a.rejected || a.error ? " ask-step-bad" : ""}`}>
            <span className="ask-step-kind">SQL, attempt {a.attempt}</span>
            {a.intent && <span className="muted small"> {a.intent}</span>}
            {a.sql ? <pre className="ask-sql">{a.sql}</pre> : <p className="muted small">(no readable SQL)</p>}
            {(a.rejected || a.error) && <p className="ask-step-reason">{attemptOutcome(a)}</p>}
          </li>
        ))}
        {turn.findings.map((f, i) => (
          <li key={`${i}:${f.title}`} className="ask-step">
            <span className="ask-step-kind">Finding: {f.title}</span>
            <p>{f.summary}</p>
            {f.columns.length > 0 && (
              <ResultView columns={f.columns} rows={f.rows} chart={null} label={`finding ${f.title}`} />
            )}
          </li>
        ))}
        {turn.status === "streaming" && (
          <li className="ask-step muted" role="status">
            {turn.attempts.length === 0 ? "Writing SQL…" : turn.result === null ? "Running the query…" : "Explaining…"}
          </li>
        )}
      </ol>

      {turn.result !== null && (
        <section className="ask-answer" aria-label={`Answer to ${label}`}>
          {turn.explanation !== null && <p className="ask-explanation">{turn.explanation}</p>}
          {turn.chart?.title ? <h3 className="ask-chart-title">{turn.chart.title}</h3> : null}
          <ResultView
            columns={turn.result.columns}
            rows={turn.result.rows}
            chart={turn.chart}
            rowCount={turn.result.row_count}
            truncated={turn.result.truncated}
            label={turn.question}
          />
        </section>
      )}
      {turn.result === null && turn.explanation !== null && <p className="ask-explanation">{turn.explanation}</p>}

      {turn.failed !== null && (
        <div className="error-note" role="alert">
          <strong>Could not answer: </strong>
          {turn.failed.reason} <span className="muted small">({turn.failed.code})</span>
        </div>
      )}

      {done && turn.sql !== "" && (
        <details className="ask-sql-details" open>
          <summary>SQL (edit, run again or explain)</summary>
          <SqlPanel key={turn.sql} sql={turn.sql} question={turn.question} turnLabel={label} />
        </details>
      )}
    </article>
  );
}

export default TurnView;
