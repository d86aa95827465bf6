// The pieces every insight form shares: a date range picker, property filter rows, an event
// picker (type, custom name, filters) and the form error note. Each is a controlled component
// over the plain form state of lib/insights/forms.ts.

import { useId, type ReactNode } from "react";

import { Field } from "../Field";
import { EVENT_TYPES, PROPERTY_SUGGESTIONS } from "../../lib/insights/catalogue";
import {
  FILTER_OPS,
  emptyFilter,
  type DateRangeForm,
  type FilterForm,
  type FormError,
  type SelectorForm,
} from "../../lib/insights/forms";
import type { FilterOp } from "../../lib/insights/types";

const PRESETS: readonly { value: string; label: string }[] = [
  { value: "24h", label: "Last 24 hours" },
  { value: "7d", label: "Last 7 days" },
  { value: "14d", label: "Last 14 days" },
  { value: "30d", label: "Last 30 days" },
  { value: "90d", label: "Last 90 days" },
  { value: "8w", label: "Last 8 weeks" },
  { value: "6m", label: "Last 6 months" },
  { value: "12m", label: "Last 12 months" },
];
const CUSTOM = "custom";

/** A date range: presets, any "last N" the form already holds, or from/to dates. */
export function DateRangeFields({
  value,
  onChange,
  label = "Date range",
  extra,
}: {
  value: DateRangeForm;
  onChange: (next: DateRangeForm) => void;
  label?: string;
  /** Extra leading options (value → label), e.g. the dashboard's "Each tile's own". */
  extra?: { value: string; label: string; selected: boolean; onSelect: () => void };
}): ReactNode {
  const selected =
    extra?.selected === true ? extra.value : value.mode === "between" ? CUSTOM : value.last;
  const known = PRESETS.some((p) => p.value === value.last);
  return (
    <>
      <Field label={label}>
        <select
          value={selected}
          onChange={(event) => {
            const next = event.target.value;
            if (extra !== undefined && next === extra.value) extra.onSelect();
            else if (next === CUSTOM) onChange({ ...value, mode: "between" });
            else onChange({ ...value, mode: "last", last: next });
          }}
        >
          {extra !== undefined && <option value={extra.value}>{extra.label}</option>}
          {!known && value.last !== "" && <option value={value.last}>Last {value.last}</option>}
          {PRESETS.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
          <option value={CUSTOM}>Between dates…</option>
        </select>
      </Field>
      {value.mode === "between" && extra?.selected !== true && (
        <>
          <Field label="From">
            <input
              type="date"
              value={value.from}
              onChange={(event) => onChange({ ...value, from: event.target.value })}
            />
          </Field>
          <Field label="To" hint="Inclusive; empty: today">
            <input
              type="date"
              value={value.to}
              onChange={(event) => onChange({ ...value, to: event.target.value })}
            />
          </Field>
        </>
      )}
    </>
  );
}

/** A datalist of property names, rendered once per form and referenced by id. */
export function PropertyList({ id }: { id: string }): ReactNode {
  return (
    <datalist id={id}>
      {PROPERTY_SUGGESTIONS.map((p) => (
        <option key={p} value={p} />
      ))}
    </datalist>
  );
}

/** Property filter rows with Add / Remove; `name` prefixes the labels ("Step 2 filter 1"). */
export function FilterRows({
  filters,
  onChange,
  name,
}: {
  filters: FilterForm[];
  onChange: (next: FilterForm[]) => void;
  name: string;
}): ReactNode {
  const listId = useId();
  const update = (i: number, patch: Partial<FilterForm>): void =>
    onChange(filters.map((f, k) => (k === i ? { ...f, ...patch } : f)));
  return (
    <div className="filter-rows">
      <PropertyList id={listId} />
      {filters.map((f, i) => {
        const label = `${name} filter ${i + 1}`;
        const noValue = f.op === "is_set" || f.op === "is_not_set";
        return (
          <div className="filter-row" key={i} role="group" aria-label={label}>
            <Field label={`${label} property`}>
              <input
                list={listId}
                value={f.property}
                placeholder="platform or properties.key"
                onChange={(event) => update(i, { property: event.target.value })}
              />
            </Field>
            <Field label="Operator">
              <select
                value={f.op}
                onChange={(event) => update(i, { op: event.target.value as FilterOp })}
              >
                {FILTER_OPS.map((o) => (
                  <option key={o.op} value={o.op}>
                    {o.label}
                  </option>
                ))}
              </select>
            </Field>
            {!noValue && (
              <Field label="Value">
                <input
                  value={f.value}
                  placeholder={f.op === "in" ? "a, b, c" : ""}
                  onChange={(event) => update(i, { value: event.target.value })}
                />
              </Field>
            )}
            <button
              type="button"
              className="link"
              aria-label={`Remove ${label}`}
              onClick={() => onChange(filters.filter((_, k) => k !== i))}
            >
              Remove
            </button>
          </div>
        );
      })}
      <div>
        <button type="button" className="link" onClick={() => onChange([...filters, emptyFilter()])}>
          + Add filter
        </button>
      </div>
    </div>
  );
}

/** Which events: a type (or any), the name of a custom event, and filters. */
export function SelectorFields({
  value,
  onChange,
  name,
  typeLabel,
  anyLabel = "Any event",
  children,
}: {
  value: SelectorForm;
  onChange: (next: SelectorForm) => void;
  /** Prefix for labels, e.g. "Step 1". */
  name: string;
  typeLabel?: string;
  anyLabel?: string;
  /** Controls shown beside the event type (a series' math, a step's Remove). */
  children?: ReactNode;
}): ReactNode {
  return (
    <>
      <div className="form-row">
        <Field label={typeLabel ?? `${name} event`}>
          <select
            value={value.eventType}
            onChange={(event) => onChange({ ...value, eventType: event.target.value })}
          >
            <option value="">{anyLabel}</option>
            {EVENT_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </Field>
        {value.eventType === "custom" && (
          <Field label={`${name} custom event name`}>
            <input
              value={value.eventName}
              onChange={(event) => onChange({ ...value, eventName: event.target.value })}
            />
          </Field>
        )}
        {children}
      </div>
      <FilterRows
        filters={value.filters}
        name={name}
        onChange={(filters) => onChange({ ...value, filters })}
      />
    </>
  );
}

/** A form problem in words, naming the field as the gateway would. */
export function FormErrorNote({ error }: { error: FormError | null }): ReactNode {
  if (error === null) return null;
  return (
    <div className="error-note" role="alert">
      <span>{error.message}</span>{" "}
      <span className="error-field">
        (field: <code>{error.field}</code>)
      </span>
    </div>
  );
}
