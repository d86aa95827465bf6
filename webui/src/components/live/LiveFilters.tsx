// The live tail's filters: app, event type, event name, property key:value pairs. Applied on
// submit (each change would otherwise reconnect the stream on every key stroke).

import { useState, type ReactNode } from "react";

import { Field } from "../Field";
import { EVENT_TYPES, FilterError, streamPath, type LiveFilters as Filters } from "../../lib/live";

export interface LiveFiltersProps {
  initial: Filters;
  apps: readonly string[];
  seenTypes: readonly string[];
  onApply: (filters: Filters, path: string) => void;
}

export function LiveFilters({ initial, apps, seenTypes, onApply }: LiveFiltersProps): ReactNode {
  const [draft, setDraft] = useState<Filters>(initial);
  const [problem, setProblem] = useState<FilterError | null>(null);
  const types = [...new Set<string>([...seenTypes, ...EVENT_TYPES])].sort();
  const set = (field: keyof Filters) => (value: string) => setDraft((d) => ({ ...d, [field]: value }));
  return (
    <form
      className="live-filters"
      aria-label="Filters"
      onSubmit={(e) => {
        e.preventDefault();
        try {
          const path = streamPath(draft);
          setProblem(null);
          onApply(draft, path);
        } catch (err) {
          if (err instanceof FilterError) setProblem(err);
          else throw err;
        }
      }}
    >
      <Field label="App">
        <input value={draft.appId} onChange={(e) => set("appId")(e.target.value)} list="live-apps" placeholder="all apps" />
      </Field>
      <datalist id="live-apps">
        {apps.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <Field label="Event type">
        <select value={draft.type} onChange={(e) => set("type")(e.target.value)}>
          <option value="">any type</option>
          {types.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Event name">
        <input value={draft.eventName} onChange={(e) => set("eventName")(e.target.value)} placeholder="custom events' name" />
      </Field>
      <Field
        label="Property (key:value)"
        hint="One per line; all must match."
        error={problem?.field === "properties" ? problem.message : null}
      >
        <textarea
          rows={1}
          value={draft.properties}
          onChange={(e) => set("properties")(e.target.value)}
          placeholder="currency:EUR"
        />
      </Field>
      <div className="live-filter-actions">
        <button type="submit">Apply filters</button>
        <button
          type="button"
          onClick={() => {
            const empty = { appId: "", type: "", eventName: "", properties: "" };
            setDraft(empty);
            setProblem(null);
            onApply(empty, streamPath(empty));
          }}
        >
          Reset
        </button>
      </div>
    </form>
  );
}

export default LiveFilters;
