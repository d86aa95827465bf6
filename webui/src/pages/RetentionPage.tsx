// Retention: cohorts by the period of their first cohort event, and the share that comes back
// (with the return event) in each later period — a triangle heat grid plus the same table.

import type { ReactNode } from "react";

import { Field } from "../components/Field";
import { BuilderFrame } from "../components/insights/BuilderFrame";
import { DateRangeFields, SelectorFields } from "../components/insights/FormPieces";
import { RetentionView } from "../components/insights/InsightViews";
import { useBuilder } from "../components/insights/useBuilder";
import {
  buildRetentionQuery,
  defaultRetentionForm,
  defaultTitle,
  retentionFormFromQuery,
  type RetentionForm,
} from "../lib/insights/forms";
import type { CountedBy, RetentionPeriod } from "../lib/insights/types";

export default function RetentionPage(): ReactNode {
  const { form, setForm, formError, onRun, run } = useBuilder(
    "retention",
    defaultRetentionForm,
    retentionFormFromQuery,
    buildRetentionQuery,
  );
  const set = (patch: Partial<RetentionForm>): void => setForm({ ...form, ...patch });

  return (
    <BuilderFrame
      title="Retention"
      description="Who comes back: cohorts by their first event, and the share returning each period after."
      kind="retention"
      onRun={onRun}
      formError={formError}
      submitted={run.submitted}
      defaultTitle={run.submitted ? defaultTitle("retention", run.submitted) : "Retention"}
      result={run.result}
      idle={<p>Pick the event that starts a cohort (signup, say) and the event that counts as coming back, then press Run.</p>}
      render={(data) => <RetentionView result={data} />}
    >
      <fieldset>
        <legend>Cohort: first event</legend>
        <SelectorFields
          value={form.cohort}
          onChange={(cohort) => set({ cohort })}
          name="Cohort"
          typeLabel="Start event"
        />
      </fieldset>
      <fieldset>
        <legend>Coming back</legend>
        <SelectorFields
          value={form.returning}
          onChange={(returning) => set({ returning })}
          name="Return"
          typeLabel="Return event"
        />
      </fieldset>
      <div className="form-row">
        <Field label="Cohort by">
          <select
            value={form.period}
            onChange={(event) => set({ period: event.target.value as RetentionPeriod })}
          >
            <option value="day">Day</option>
            <option value="week">Week</option>
            <option value="month">Month</option>
          </select>
        </Field>
        <DateRangeFields value={form.dateRange} onChange={(dateRange) => set({ dateRange })} />
        <Field label="Count">
          <select
            value={form.countedBy}
            onChange={(event) => set({ countedBy: event.target.value as CountedBy })}
          >
            <option value="device">Devices</option>
            <option value="user">Identified users</option>
          </select>
        </Field>
      </div>
    </BuilderFrame>
  );
}
