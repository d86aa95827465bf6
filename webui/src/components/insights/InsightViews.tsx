// Insight answers drawn: the chart, and the same numbers as a table (for reading, copying and
// the browser tests). `compact` (dashboard tiles) keeps the chart and drops the long tables.

import { useMemo, type ReactNode } from "react";

import { Chart } from "../Chart";
import { EmptyState } from "../EmptyState";
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
  type TrendsChartType,
} from "../../lib/insights/charts";
import { formatCount, formatDuration, formatRatio } from "../../lib/insights/format";
import type {
  FunnelResult,
  InsightKind,
  InsightResults,
  PathsResult,
  RetentionResult,
  TrendsResult,
} from "../../lib/insights/types";

function Truncated({ truncated }: { truncated: boolean }): ReactNode {
  if (!truncated) return null;
  return (
    <p className="notice" role="status">
      The answer hit the row limit: narrow the date range or the breakdown for complete numbers.
    </p>
  );
}

function NoData({ what }: { what: string }): ReactNode {
  return (
    <EmptyState title={`No ${what} in this range`}>
      <p>
        Try a longer date range, another event, or fewer filters. Events appear here once the
        SDK or the ingestion API has sent them.
      </p>
    </EmptyState>
  );
}

export function TrendsView({
  result,
  chart = "line",
  compact = false,
  height,
}: {
  result: TrendsResult;
  chart?: TrendsChartType;
  compact?: boolean;
  height?: number;
}): ReactNode {
  const option = useMemo(() => trendsOption(result, chart), [result, chart]);
  if (trendsIsEmpty(result)) return <NoData what="events" />;
  const rows = trendsRows(result);
  const compared = result.compare_range !== undefined;
  return (
    <div className="insight-result">
      <Chart option={option} height={height ?? (compact ? 220 : 340)} ariaLabel="Trends chart" />
      <Truncated truncated={result.truncated} />
      {!compact && (
        <div className="table-wrap">
          <table className="list insight-table" aria-label="Trends totals">
            <thead>
              <tr>
                <th scope="col">Series</th>
                <th scope="col" className="num">
                  Total
                </th>
                {compared && (
                  <>
                    <th scope="col" className="num">
                      Previous period
                    </th>
                    <th scope="col" className="num">
                      Change
                    </th>
                  </>
                )}
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => (
                <tr key={i}>
                  <th scope="row">{r.label}</th>
                  <td className="num">{r.total}</td>
                  {compared && (
                    <>
                      <td className="num">{r.previous}</td>
                      <td className="num">{r.change}</td>
                    </>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function FunnelTable({
  result,
  label,
}: {
  result: Pick<FunnelResult, "steps" | "counted_by">;
  label: string;
}): ReactNode {
  const actors = result.counted_by === "user" ? "Users" : "Devices";
  return (
    <div className="table-wrap">
      <table className="list insight-table" aria-label={label}>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Event</th>
            <th scope="col" className="num">
              {actors}
            </th>
            <th scope="col" className="num">
              Conversion
            </th>
            <th scope="col" className="num">
              From previous
            </th>
            <th scope="col" className="num">
              Drop-off
            </th>
            <th scope="col" className="num">
              Drop-off %
            </th>
            <th scope="col" className="num">
              Median time
            </th>
          </tr>
        </thead>
        <tbody>
          {funnelRows(result.steps).map((r) => (
            <tr key={r.step}>
              <td>{r.step}</td>
              <th scope="row">{r.name}</th>
              <td className="num">{r.users}</td>
              <td className="num">{r.conversion}</td>
              <td className="num">{r.fromPrevious}</td>
              <td className="num">{r.dropOff}</td>
              <td className="num">{r.dropOffRate}</td>
              <td className="num">{r.step === 1 ? "–" : formatDuration(r.medianTime)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function FunnelView({
  result,
  compact = false,
  height,
}: {
  result: FunnelResult;
  compact?: boolean;
  height?: number;
}): ReactNode {
  const option = useMemo(() => funnelOption(result), [result]);
  if ((result.steps[0]?.count ?? 0) === 0) return <NoData what="first-step events" />;
  return (
    <div className="insight-result">
      <p className="insight-summary">
        <strong>{funnelSummary(result)}</strong>
      </p>
      <Chart
        option={option}
        height={height === undefined ? (compact ? 220 : 340) : Math.max(140, height - 40)}
        ariaLabel="Funnel chart"
      />
      <Truncated truncated={result.truncated} />
      {!compact && <FunnelTable result={result} label="Funnel steps" />}
      {!compact && result.breakdowns.length > 0 && (
        <div className="table-wrap">
          <table className="list insight-table" aria-label="Funnel by breakdown">
            <thead>
              <tr>
                <th scope="col">Value</th>
                {result.steps.map((s) => (
                  <th scope="col" className="num" key={s.order}>
                    {s.order + 1}. {s.name}
                  </th>
                ))}
                <th scope="col" className="num">
                  Conversion
                </th>
              </tr>
            </thead>
            <tbody>
              {result.breakdowns.map((b, i) => {
                const last = b.steps[b.steps.length - 1];
                return (
                  <tr key={i}>
                    <th scope="row">
                      {b.other ? "Other" : b.breakdown_value === null ? "(none)" : b.breakdown_value}
                    </th>
                    {b.steps.map((s) => (
                      <td className="num" key={s.order}>
                        {formatCount(s.count)}
                      </td>
                    ))}
                    <td className="num">{last ? formatRatio(last.conversion_from_start) : "–"}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function RetentionView({
  result,
  compact = false,
  height,
}: {
  result: RetentionResult;
  compact?: boolean;
  height?: number;
}): ReactNode {
  const option = useMemo(() => retentionOption(result), [result]);
  if (result.cohorts.every((c) => c.size === 0)) return <NoData what="cohort events" />;
  const rows = retentionRows(result);
  const chartHeight = height ?? Math.min(640, Math.max(compact ? 200 : 260, 90 + 28 * rows.length));
  return (
    <div className="insight-result">
      <Chart option={option} height={chartHeight} ariaLabel="Retention grid" />
      <Truncated truncated={result.truncated} />
      {!compact && (
        <div className="table-wrap">
          <table className="list insight-table retention-table" aria-label="Retention by cohort">
            <thead>
              <tr>
                <th scope="col">Cohort</th>
                <th scope="col" className="num">
                  Size
                </th>
                {result.labels.map((l) => (
                  <th scope="col" className="num" key={l}>
                    {l}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.cohort}>
                  <th scope="row">{r.cohort}</th>
                  <td className="num">{r.size}</td>
                  {r.cells.map((c, k) =>
                    c === null ? (
                      <td className="cell empty" key={k} />
                    ) : (
                      <td
                        className="cell"
                        key={k}
                        title={`${c.value} of ${r.size}`}
                        style={{
                          background: `color-mix(in srgb, var(--accent) ${Math.round(
                            c.ratio * 70,
                          )}%, transparent)`,
                        }}
                      >
                        {c.percent}
                      </td>
                    ),
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function PathsView({
  result,
  compact = false,
  height,
}: {
  result: PathsResult;
  compact?: boolean;
  height?: number;
}): ReactNode {
  const option = useMemo(() => pathsOption(result), [result]);
  if (result.links.length === 0) return <NoData what="screen paths" />;
  const rows = pathsRows(result);
  const steps = new Map<number, number>();
  for (const n of result.nodes) steps.set(n.step, (steps.get(n.step) ?? 0) + 1);
  const tallest = Math.max(1, ...steps.values());
  const chartHeight = height ?? Math.min(720, Math.max(compact ? 220 : 320, 40 * tallest));
  return (
    <div className="insight-result">
      <Chart option={option} height={chartHeight} ariaLabel="Paths Sankey diagram" />
      <Truncated truncated={result.truncated} />
      {!compact && (
        <div className="table-wrap">
          <table className="list insight-table" aria-label="Path links">
            <thead>
              <tr>
                <th scope="col" className="num">
                  Step
                </th>
                <th scope="col">From</th>
                <th scope="col">To</th>
                <th scope="col" className="num">
                  Paths
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => (
                <tr key={i}>
                  <td className="num">{r.step}</td>
                  <td>{r.from}</td>
                  <td>{r.to}</td>
                  <td className="num">{r.paths}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

/** Any insight's answer by kind (dashboard tiles). */
export function InsightView<K extends InsightKind>({
  kind,
  result,
  compact,
  height,
}: {
  kind: K;
  result: InsightResults[K];
  compact?: boolean;
  height?: number;
}): ReactNode {
  switch (kind) {
    case "trends":
      return <TrendsView result={result as TrendsResult} compact={compact} height={height} />;
    case "funnels":
      return <FunnelView result={result as FunnelResult} compact={compact} height={height} />;
    case "retention":
      return <RetentionView result={result as RetentionResult} compact={compact} height={height} />;
    default:
      return <PathsView result={result as PathsResult} compact={compact} height={height} />;
  }
}
