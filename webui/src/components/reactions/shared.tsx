// Pieces the rule, detector and webhook forms share: the scope fields, the webhook picker,
// the cached webhooks list, and a checkbox with its label. The query keys live here so every
// tab invalidates the same cache after a write.

import { useQuery } from "@tanstack/react-query";
import { useId, type ReactNode } from "react";

import { api } from "../../api/client";
import { useSession } from "../../api/session";
import { Field } from "../Field";
import { ADMIN } from "../../lib/reactions/forms";
import { CATEGORIES, categoryOf, typesFor, type Page, type Webhook } from "../../lib/reactions/types";

/** Every reactions query key starts with this, so one invalidation refreshes the page. */
export const RX = "reactions";

export interface ScopeValue {
  app_id: string;
  event_category: string;
  event_type: string;
}

/** Which scope field the API named in a 422, if any. */
export function scopeError(field: string | undefined, message: string, name: keyof ScopeValue): string | null {
  return field === name ? message : null;
}

export function ScopeFields({
  value,
  onChange,
  errorField,
  errorMessage,
  disabled,
}: {
  value: ScopeValue;
  onChange: (next: ScopeValue) => void;
  errorField: string | undefined;
  errorMessage: string;
  disabled?: boolean;
}): ReactNode {
  const { user } = useSession();
  const appsId = useId();
  const typesId = useId();
  const apps = user?.app_ids ?? [];
  return (
    <div className="rx-scope">
      <Field
        label="App"
        hint={apps.length ? "one of your apps" : "empty: every app"}
        error={scopeError(errorField, errorMessage, "app_id")}
      >
        <input
          value={value.app_id}
          list={appsId}
          placeholder="any app"
          disabled={disabled}
          onChange={(e) => onChange({ ...value, app_id: e.target.value })}
        />
      </Field>
      <datalist id={appsId}>
        {apps.map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <Field label="Category" error={scopeError(errorField, errorMessage, "event_category")}>
        <select
          value={value.event_category}
          disabled={disabled}
          onChange={(e) => {
            const category = e.target.value;
            const keepType = category === "" || categoryOf(value.event_type) === category;
            onChange({ ...value, event_category: category, event_type: keepType ? value.event_type : "" });
          }}
        >
          <option value="">any category</option>
          {CATEGORIES.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Event type" error={scopeError(errorField, errorMessage, "event_type")}>
        <input
          value={value.event_type}
          list={typesId}
          placeholder="any type"
          disabled={disabled}
          onChange={(e) => onChange({ ...value, event_type: e.target.value })}
        />
      </Field>
      <datalist id={typesId}>
        {typesFor(value.event_category || null).map((t) => (
          <option key={t} value={t} />
        ))}
      </datalist>
    </div>
  );
}

/** The first page of webhooks (200: the API's largest page), for pickers and names. */
export function useWebhookOptions(): { hooks: readonly Webhook[]; error: unknown } {
  const query = useQuery({
    queryKey: [RX, "webhooks", "options"],
    queryFn: ({ signal }) => api<Page<Webhook>>(`${ADMIN}/webhooks?limit=200`, { signal }),
    staleTime: 30_000,
  });
  return { hooks: query.data?.items ?? [], error: query.error };
}

export function WebhookPicker({
  value,
  onChange,
  error,
}: {
  value: readonly string[];
  onChange: (ids: string[]) => void;
  error: string | null;
}): ReactNode {
  const { hooks } = useWebhookOptions();
  const known = new Set(hooks.map((h) => h.id));
  const unknown = value.filter((id) => !known.has(id));
  return (
    <fieldset className="rx-webhooks">
      <legend>Webhooks</legend>
      {hooks.length === 0 && unknown.length === 0 && (
        <p className="rx-muted">No webhooks yet: create one in the Webhooks tab to deliver alerts.</p>
      )}
      {hooks.map((hook) => (
        <Checkbox
          key={hook.id}
          label={`${hook.name} (${hook.url})`}
          checked={value.includes(hook.id)}
          onChange={(on) =>
            onChange(on ? [...value, hook.id] : value.filter((id) => id !== hook.id))
          }
        />
      ))}
      {unknown.map((id) => (
        <Checkbox key={id} label={id} checked onChange={() => onChange(value.filter((v) => v !== id))} />
      ))}
      {error && (
        <div className="field-error" role="alert">
          {error}
        </div>
      )}
    </fieldset>
  );
}

export function Checkbox({
  label,
  checked,
  onChange,
  disabled,
}: {
  label: ReactNode;
  checked: boolean;
  onChange: (checked: boolean) => void;
  disabled?: boolean;
}): ReactNode {
  const id = useId();
  return (
    <div className="rx-check">
      <input
        id={id}
        type="checkbox"
        checked={checked}
        disabled={disabled}
        onChange={(e) => onChange(e.target.checked)}
      />
      <label htmlFor={id}>{label}</label>
    </div>
  );
}

/** A JSON value, readable. */
export function JsonBlock({ value, label }: { value: unknown; label: string }): ReactNode {
  return (
    <pre className="rx-json" aria-label={label} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** "On"/"Off" with a word, never colour alone. */
export function StatusBadge({ on, onText = "Enabled", offText = "Disabled" }: { on: boolean; onText?: string; offText?: string }): ReactNode {
  return <span className={`rx-badge ${on ? "rx-on" : "rx-off"}`}>{on ? onText : offText}</span>;
}
