// Funnels: ordered steps ("Add step"), a conversion window, who counts; conversion bars with
// drop-off, and the same numbers in a table (step, users, conversion from the first step,
// drop-off).

import type { ReactNode } from "react";

import { Field } from "../components/Field";
import { BuilderFrame } from "../components/insights/BuilderFrame";
import { DateRangeFields, FilterRows, PropertyList, SelectorFields } from "../components/insights/FormPieces";
import { FunnelView } from "../components/insights/InsightViews";
import { useBuilder } from "../components/insights/useBuilder";
import {
  buildFunnelQuery,
  defaultFunnelForm,
  defaultTitle,
  emptySelector,
  funnelFormFromQuery,
  type FunnelForm,
  type SelectorForm,
} from "../lib/insights/forms";
import type { CountedBy, WindowUnit } from "../lib/insights/types";

const MAX_STEPS = 10;

export default function FunnelsPage(): ReactNode {
  const { form, setForm, formError, onRun, run } = useBuilder(
    "funnels",
    defaultFunnelForm,
    funnelFormFromQuery,
    buildFunnelQuery,
  );
  const set = (patch: Partial<FunnelForm>): void => setForm({ ...form, ...patch });
  const setStep = (i: number, step: SelectorForm): void =>
    set({ steps: form.steps.map((s, k) => (k === i ? step : s)) });
  const move = (i: number, delta: number): void => {
    const steps = [...form.steps];
    const a = steps[i];
    const b = steps[i + delta];
    if (a === undefined || b === undefined) return;
    steps[i] = b;
    steps[i + delta] = a;
    set({ steps });
  };

  return (
    <BuilderFrame
      title="Funnels"
      description="How many get through each step, in order, within the conversion window."
      kind="funnels"
      onRun={onRun}
      formError={formError}
      submitted={run.submitted}
      defaultTitle={run.submitted ? defaultTitle("funnels", run.submitted) : "Funnel"}
      result={run.result}
      idle={<p>Pick two or more steps (for example product_view, add_to_cart, purchase_complete) and press Run.</p>}
      render={(data) => <FunnelView result={data} />}
    >
      <fieldset>
        <legend>Steps</legend>
        <ol className="step-list">
          {form.steps.map((step, i) => (
            <li key={i} aria-label={`Step ${i + 1}`}>
              <SelectorFields value={step} onChange={(next) => setStep(i, next)} name={`Step ${i + 1}`}>
                <div className="step-head">
                  <button
                    type="button"
                    className="link"
                    aria-label={`Move step ${i + 1} up`}
                    disabled={i === 0}
                    onClick={() => move(i, -1)}
                  >
                    ↑
                  </button>
                  <button
                    type="button"
                    className="link"
                    aria-label={`Move step ${i + 1} down`}
                    disabled={i === form.steps.length - 1}
                    onClick={() => move(i, 1)}
                  >
                    ↓
                  </button>
                  <button
                    type="button"
                    className="link"
                    aria-label={`Remove step ${i + 1}`}
                    disabled={form.steps.length <= 2}
                    onClick={() => set({ steps: form.steps.filter((_, k) => k !== i) })}
                  >
                    Remove step
                  </button>
                </div>
              </SelectorFields>
            </li>
          ))}
        </ol>
        <p>
          <button
            type="button"
            disabled={form.steps.length >= MAX_STEPS}
            onClick={() => set({ steps: [...form.steps, emptySelector()] })}
          >
            Add step
          </button>
        </p>
      </fieldset>
      <div className="form-row">
        <DateRangeFields value={form.dateRange} onChange={(dateRange) => set({ dateRange })} />
        <Field label="Conversion window">
          <input
            type="number"
            min={1}
            inputMode="numeric"
            value={form.windowValue}
            onChange={(event) => set({ windowValue: event.target.value })}
            style={{ width: "6rem" }}
          />
        </Field>
        <Field label="Window unit">
          <select
            value={form.windowUnit}
            onChange={(event) => set({ windowUnit: event.target.value as WindowUnit })}
          >
            <option value="minute">minutes</option>
            <option value="hour">hours</option>
            <option value="day">days</option>
            <option value="week">weeks</option>
          </select>
        </Field>
        <Field label="Count">
          <select
            value={form.countedBy}
            onChange={(event) => set({ countedBy: event.target.value as CountedBy })}
          >
            <option value="device">Devices</option>
            <option value="user">Identified users</option>
          </select>
        </Field>
        <Field label="Breakdown" hint="Optional: a column or properties.key">
          <input
            list="funnel-breakdown-properties"
            value={form.breakdown}
            onChange={(event) => set({ breakdown: event.target.value })}
          />
        </Field>
        <PropertyList id="funnel-breakdown-properties" />
      </div>
      <fieldset>
        <legend>Filters on every step</legend>
        <FilterRows filters={form.filters} name="Funnel" onChange={(filters) => set({ filters })} />
      </fieldset>
    </BuilderFrame>
  );
}
