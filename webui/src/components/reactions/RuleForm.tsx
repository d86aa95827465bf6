// Create or edit a rule: name, scope, priority, switches, webhooks and the condition tree.
// Local problems (a value that is not a number) are shown on their node before anything is
// sent; the API's 422 names a field, which is shown next to that input or, for
// "condition.all[1].op", next to that node of the tree.

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";

import { ApiError, api } from "../../api/client";
import { ErrorNote } from "../ErrorNote";
import { Field } from "../Field";
import {
  apiErrorOnNode,
  emptyTree,
  fromApi,
  toApi,
  type EditorGroup,
  type NodeError,
} from "../../lib/reactions/condition";
import { ADMIN, orNull } from "../../lib/reactions/forms";
import type { Rule, RuleInput } from "../../lib/reactions/types";
import { ConditionEditor } from "./ConditionEditor";
import { Checkbox, RX, ScopeFields, WebhookPicker, type ScopeValue } from "./shared";

interface State {
  name: string;
  description: string;
  scope: ScopeValue;
  priority: string;
  enabled: boolean;
  publish_alert: boolean;
  webhook_ids: string[];
  tree: EditorGroup;
}

function initial(rule: Rule | null): { state: State; loadError: string | null } {
  let tree = emptyTree();
  let loadError: string | null = null;
  if (rule) {
    try {
      tree = fromApi(rule.condition);
    } catch (e) {
      loadError = `The stored condition cannot be edited here (${e instanceof Error ? e.message : String(e)}); saving replaces it.`;
    }
  }
  return {
    loadError,
    state: {
      name: rule?.name ?? "",
      description: rule?.description ?? "",
      scope: {
        app_id: rule?.app_id ?? "",
        event_category: rule?.event_category ?? "",
        event_type: rule?.event_type ?? "",
      },
      priority: String(rule?.priority ?? 0),
      enabled: rule?.enabled ?? true,
      publish_alert: rule?.publish_alert ?? false,
      webhook_ids: [...(rule?.webhook_ids ?? [])],
      tree,
    },
  };
}

export function RuleForm({
  rule,
  onDone,
}: {
  rule: Rule | null;
  onDone: (saved: Rule | null) => void;
}): ReactNode {
  const [start] = useState(() => initial(rule));
  const [state, setState] = useState<State>(start.state);
  const [nodeErrors, setNodeErrors] = useState<readonly NodeError[]>([]);
  const [localError, setLocalError] = useState<string | null>(start.loadError);
  const client = useQueryClient();

  const save = useMutation({
    mutationFn: (body: RuleInput) =>
      rule
        ? api<Rule>(`${ADMIN}/rules/${rule.id}`, { method: "PUT", body })
        : api<Rule>(`${ADMIN}/rules`, { method: "POST", body }),
    onSuccess: async (saved) => {
      await client.invalidateQueries({ queryKey: [RX] });
      onDone(saved);
    },
    onError: (error) => {
      if (error instanceof ApiError) {
        const placed = apiErrorOnNode(state.tree, error.field, error.message);
        setNodeErrors(placed ? [placed] : []);
      }
    },
  });

  const apiError = save.error instanceof ApiError ? save.error : null;
  const fieldError = (name: string): string | null =>
    apiError && apiError.field === name ? apiError.message : null;

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    setLocalError(null);
    const converted = toApi(state.tree);
    if (!converted.ok) {
      setNodeErrors(converted.errors);
      setLocalError("Fix the marked conditions first.");
      return;
    }
    const priority = Number(state.priority);
    if (!Number.isInteger(priority)) {
      setLocalError("Priority must be a whole number between -1000 and 1000.");
      return;
    }
    setNodeErrors([]);
    save.mutate({
      name: state.name.trim(),
      description: state.description,
      app_id: orNull(state.scope.app_id),
      event_category: orNull(state.scope.event_category),
      event_type: orNull(state.scope.event_type),
      condition: converted.condition,
      priority,
      enabled: state.enabled,
      publish_alert: state.publish_alert,
      webhook_ids: state.webhook_ids,
    });
  };

  const title = rule ? `Edit rule ${rule.name}` : "New rule";
  return (
    <form className="rx-form" aria-label={title} onSubmit={submit} noValidate>
      <h2>{title}</h2>
      <div className="rx-form-grid">
        <Field label="Name" error={fieldError("name")}>
          <input
            value={state.name}
            required
            maxLength={200}
            onChange={(e) => setState({ ...state, name: e.target.value })}
          />
        </Field>
        <Field label="Priority" hint="-1000 to 1000; higher runs first" error={fieldError("priority")}>
          <input
            type="number"
            min={-1000}
            max={1000}
            step={1}
            value={state.priority}
            onChange={(e) => setState({ ...state, priority: e.target.value })}
          />
        </Field>
      </div>
      <Field label="Description" error={fieldError("description")}>
        <textarea
          rows={2}
          maxLength={5000}
          value={state.description}
          onChange={(e) => setState({ ...state, description: e.target.value })}
        />
      </Field>
      <ScopeFields
        value={state.scope}
        onChange={(scope) => setState({ ...state, scope })}
        errorField={apiError?.field}
        errorMessage={apiError?.message ?? ""}
      />
      <div className="rx-switches">
        <Checkbox label="Enabled" checked={state.enabled} onChange={(enabled) => setState({ ...state, enabled })} />
        <Checkbox
          label="Publish alert on NATS"
          checked={state.publish_alert}
          onChange={(publish_alert) => setState({ ...state, publish_alert })}
        />
      </div>
      <WebhookPicker
        value={state.webhook_ids}
        onChange={(webhook_ids) => setState({ ...state, webhook_ids })}
        error={fieldError("webhook_ids")}
      />
      <fieldset className="rx-condition">
        <legend>Condition</legend>
        <ConditionEditor
          value={state.tree}
          onChange={(tree) => setState({ ...state, tree })}
          errors={nodeErrors}
        />
      </fieldset>
      {localError && (
        <div className="error-note" role="alert">
          {localError}
        </div>
      )}
      <ErrorNote error={save.error} title="Could not save the rule" />
      <div className="rx-form-actions">
        <button type="submit" className="primary" disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save"}
        </button>
        <button type="button" onClick={() => onDone(null)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export default RuleForm;
