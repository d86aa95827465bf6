// Paths: the most common screens after (or before) a start screen, as a Sankey and a table of
// the links between screens.

import type { ReactNode } from "react";

import { Field } from "../components/Field";
import { BuilderFrame } from "../components/insights/BuilderFrame";
import { DateRangeFields, PropertyList } from "../components/insights/FormPieces";
import { PathsView } from "../components/insights/InsightViews";
import { useBuilder } from "../components/insights/useBuilder";
import {
  buildPathsQuery,
  defaultPathsForm,
  defaultTitle,
  pathsFormFromQuery,
  type PathsForm,
} from "../lib/insights/forms";

export default function PathsPage(): ReactNode {
  const { form, setForm, formError, onRun, run } = useBuilder(
    "paths",
    defaultPathsForm,
    pathsFormFromQuery,
    buildPathsQuery,
  );
  const set = (patch: Partial<PathsForm>): void => setForm({ ...form, ...patch });

  return (
    <BuilderFrame
      title="Paths"
      description="Where people go from a screen (or how they got there), from screen_view events."
      kind="paths"
      onRun={onRun}
      formError={formError}
      submitted={run.submitted}
      defaultTitle={run.submitted ? defaultTitle("paths", run.submitted) : "Paths"}
      result={run.result}
      idle={<p>Name a start screen (or leave it empty to start at each session's first screen) and press Run.</p>}
      render={(data) => <PathsView result={data} />}
    >
      <div className="form-row">
        <Field label="Start screen" hint="Empty: each session's first screen">
          <input
            value={form.start}
            placeholder="home"
            onChange={(event) => set({ start: event.target.value })}
          />
        </Field>
        <Field label="Direction">
          <select
            value={form.direction}
            onChange={(event) => set({ direction: event.target.value as PathsForm["direction"] })}
          >
            <option value="next">Screens after it</option>
            <option value="previous">Screens before it</option>
          </select>
        </Field>
        <Field label="Depth (screens)">
          <input
            type="number"
            min={2}
            max={10}
            value={form.steps}
            onChange={(event) => set({ steps: event.target.value })}
            style={{ width: "5rem" }}
          />
        </Field>
        <DateRangeFields value={form.dateRange} onChange={(dateRange) => set({ dateRange })} />
      </div>
      <details>
        <summary>More options</summary>
        <div className="form-row">
          <Field label="Screen property" hint="Default: properties.screen_name">
            <input
              list="paths-properties"
              value={form.screenProperty}
              placeholder="properties.screen_name"
              onChange={(event) => set({ screenProperty: event.target.value })}
            />
          </Field>
          <PropertyList id="paths-properties" />
          <Field label="Most links shown">
            <input
              type="number"
              min={1}
              max={500}
              value={form.maxLinks}
              onChange={(event) => set({ maxLinks: event.target.value })}
              style={{ width: "6rem" }}
            />
          </Field>
        </div>
      </details>
    </BuilderFrame>
  );
}
