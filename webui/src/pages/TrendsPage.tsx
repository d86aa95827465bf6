// Trends: one or more series of events per time bucket (count, unique devices/users, or a
// property's sum/avg/min/max), as lines or bars, broken down by a property and compared with
// the previous period.

import { useState, type ReactNode } from "react";

import { Field } from "../components/Field";
import { BuilderFrame } from "../components/insights/BuilderFrame";
import { DateRangeFields, FilterRows, PropertyList, SelectorFields } from "../components/insights/FormPieces";
import { TrendsView } from "../components/insights/InsightViews";
import { useBuilder } from "../components/insights/useBuilder";
import type { TrendsChartType } from "../lib/insights/charts";
import {
  TREND_MATHS,
  buildTrendsQuery,
  defaultTitle,
  defaultTrendsForm,
  emptySeries,
  trendsFormFromQuery,
  type SeriesForm,
  type TrendsForm,
} from "../lib/insights/forms";
import type { Interval, TrendMath } from "../lib/insights/types";

const MAX_SERIES = 10;
const PROPERTY_MATHS = new Set<TrendMath>(["sum", "avg", "min", "max"]);

export default function TrendsPage(): ReactNode {
  const { form, setForm, formError, onRun, run } = useBuilder(
    "trends",
    defaultTrendsForm,
    trendsFormFromQuery,
    buildTrendsQuery,
  );
  // the chart type is display only (not part of the query): switching it needs no new run
  const [chart, setChart] = useState<TrendsChartType>(form.chart);
  const set = (patch: Partial<TrendsForm>): void => setForm({ ...form, ...patch });
  const setSeries = (i: number, next: SeriesForm): void =>
    set({ series: form.series.map((s, k) => (k === i ? next : s)) });

  return (
    <BuilderFrame
      title="Trends"
      description="Events over time: counts, unique devices or users, or a property's sum or average."
      kind="trends"
      onRun={onRun}
      formError={formError}
      submitted={run.submitted}
      defaultTitle={run.submitted ? defaultTitle("trends", run.submitted) : "Trend"}
      result={run.result}
      idle={<p>Pick an event (or keep “Any event”) and press Run to see it per day.</p>}
      render={(data) => <TrendsView result={data} chart={chart} />}
    >
      <fieldset>
        <legend>Series</legend>
        <ol className="step-list">
          {form.series.map((series, i) => (
            <li key={i} aria-label={`Series ${i + 1}`}>
              <SelectorFields
                value={series}
                onChange={(next) => setSeries(i, { ...series, ...next })}
                name={`Series ${i + 1}`}
              >
                <Field label={`Series ${i + 1} measure`}>
                  <select
                    value={series.math}
                    onChange={(event) =>
                      setSeries(i, { ...series, math: event.target.value as TrendMath })
                    }
                  >
                    {TREND_MATHS.map((m) => (
                      <option key={m.math} value={m.math}>
                        {m.label}
                      </option>
                    ))}
                  </select>
                </Field>
                {PROPERTY_MATHS.has(series.math) && (
                  <Field label={`Series ${i + 1} numeric property`}>
                    <input
                      list="trends-properties"
                      value={series.property}
                      placeholder="properties.price_cents"
                      onChange={(event) => setSeries(i, { ...series, property: event.target.value })}
                    />
                  </Field>
                )}
                <button
                  type="button"
                  className="link"
                  aria-label={`Remove series ${i + 1}`}
                  disabled={form.series.length <= 1}
                  onClick={() => set({ series: form.series.filter((_, k) => k !== i) })}
                >
                  Remove series
                </button>
              </SelectorFields>
            </li>
          ))}
        </ol>
        <p>
          <button
            type="button"
            disabled={form.series.length >= MAX_SERIES}
            onClick={() => set({ series: [...form.series, emptySeries()] })}
          >
            Add series
          </button>
        </p>
      </fieldset>
      <PropertyList id="trends-properties" />
      <div className="form-row">
        <DateRangeFields value={form.dateRange} onChange={(dateRange) => set({ dateRange })} />
        <Field label="Interval">
          <select
            value={form.interval}
            onChange={(event) => set({ interval: event.target.value as Interval })}
          >
            <option value="hour">Hour</option>
            <option value="day">Day</option>
            <option value="week">Week</option>
            <option value="month">Month</option>
          </select>
        </Field>
        <Field label="Chart">
          <select
            value={chart}
            onChange={(event) => {
              const next = event.target.value as TrendsChartType;
              setChart(next);
              set({ chart: next });
            }}
          >
            <option value="line">Line</option>
            <option value="bar">Bar</option>
          </select>
        </Field>
        <Field label="Breakdown" hint="Optional: a column or properties.key">
          <input
            list="trends-properties"
            value={form.breakdown}
            onChange={(event) => set({ breakdown: event.target.value })}
          />
        </Field>
        {form.breakdown.trim() !== "" && (
          <Field label="Top values">
            <input
              type="number"
              min={1}
              max={50}
              value={form.breakdownLimit}
              onChange={(event) => set({ breakdownLimit: event.target.value })}
              style={{ width: "5rem" }}
            />
          </Field>
        )}
        <div className="field">
          <label>
            <input
              type="checkbox"
              checked={form.compare}
              onChange={(event) => set({ compare: event.target.checked })}
            />{" "}
            Compare to previous period
          </label>
        </div>
      </div>
      <fieldset>
        <legend>Filters on every series</legend>
        <FilterRows filters={form.filters} name="Trends" onChange={(filters) => set({ filters })} />
      </fieldset>
    </BuilderFrame>
  );
}
