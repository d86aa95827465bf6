// The Detectors tab: anomaly detectors (threshold, rate, count, baseline) with the scope and
// condition of a rule, kind-specific parameters, cooldown; enable/disable from the list.

import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";

import { ApiError, api } from "../../api/client";
import { useSession } from "../../api/session";
import { EmptyState } from "../EmptyState";
import { ErrorNote } from "../ErrorNote";
import { Field } from "../Field";
import { Loading } from "../Loading";
import { Pager } from "../Pager";
import { apiErrorOnNode, emptyTree, fromApi, toApi, type EditorGroup, type NodeError } from "../../lib/reactions/condition";
import {
  ADMIN,
  DETECTOR_PARAMS,
  formFromParams,
  formatSeconds,
  listPath,
  orNull,
  paramsFromForm,
  paramsSummary,
  scopeSummary,
} from "../../lib/reactions/forms";
import { DETECTOR_KINDS, type Detector, type DetectorInput, type DetectorKind, type Page } from "../../lib/reactions/types";
import { ConditionEditor } from "./ConditionEditor";
import { Checkbox, RX, ScopeFields, StatusBadge, WebhookPicker, type ScopeValue } from "./shared";

const LIMIT = 20;

const KIND_HELP: Record<DetectorKind, string> = {
  threshold: "fires for an event whose value is below the minimum or above the maximum",
  rate: "fires when more events than the limit arrive in one minute",
  count: "fires when more than the limit arrive within the window",
  baseline: "learns the normal volume per bucket and fires when it departs by k standard deviations",
};

interface State {
  name: string;
  description: string;
  kind: DetectorKind;
  params: Record<DetectorKind, Record<string, string>>;
  scope: ScopeValue;
  cooldown_s: string;
  enabled: boolean;
  publish_alert: boolean;
  webhook_ids: string[];
  tree: EditorGroup;
}

function initial(det: Detector | null): { state: State; loadError: string | null } {
  const params = Object.fromEntries(DETECTOR_KINDS.map((k) => [k, formFromParams(k, {})])) as Record<
    DetectorKind,
    Record<string, string>
  >;
  if (det) params[det.kind] = formFromParams(det.kind, det.params);
  let tree = emptyTree();
  let loadError: string | null = null;
  try {
    if (det) tree = fromApi(det.condition);
  } catch (e) {
    loadError = `The stored condition cannot be edited here (${e instanceof Error ? e.message : String(e)}); saving replaces it.`;
  }
  const state: State = {
    name: det?.name ?? "",
    description: det?.description ?? "",
    kind: det?.kind ?? "count",
    params,
    scope: {
      app_id: det?.app_id ?? "",
      event_category: det?.event_category ?? "",
      event_type: det?.event_type ?? "",
    },
    cooldown_s: String(det?.cooldown_s ?? 300),
    enabled: det?.enabled ?? true,
    publish_alert: det?.publish_alert ?? false,
    webhook_ids: [...(det?.webhook_ids ?? [])],
    tree,
  };
  return { state, loadError };
}

function DetectorForm({ detector, onDone }: { detector: Detector | null; onDone: () => void }): ReactNode {
  const [start] = useState(() => initial(detector));
  const [state, setState] = useState<State>(start.state);
  const [paramErrors, setParamErrors] = useState<Readonly<Record<string, string>>>({});
  const [nodeErrors, setNodeErrors] = useState<readonly NodeError[]>([]);
  const [local, setLocal] = useState<string | null>(start.loadError);
  const client = useQueryClient();
  const save = useMutation({
    mutationFn: (body: DetectorInput) =>
      detector
        ? api<Detector>(`${ADMIN}/anomaly-detectors/${detector.id}`, { method: "PUT", body })
        : api<Detector>(`${ADMIN}/anomaly-detectors`, { method: "POST", body }),
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: [RX] });
      onDone();
    },
    onError: (error) => {
      if (error instanceof ApiError) {
        const placed = apiErrorOnNode(state.tree, error.field, error.message);
        setNodeErrors(placed ? [placed] : []);
      }
    },
  });
  const apiError = save.error instanceof ApiError ? save.error : null;
  const err = (name: string): string | null => (apiError?.field === name ? apiError.message : null);
  const paramErr = (name: string): string | null =>
    paramErrors[name] ?? (apiError?.field === `params.${name}` ? apiError.message : null);

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    setLocal(null);
    const params = paramsFromForm(state.kind, state.params[state.kind]);
    const converted = toApi(state.tree);
    setParamErrors(params.ok ? {} : params.errors);
    setNodeErrors(converted.ok ? [] : converted.errors);
    const cooldown = Number(state.cooldown_s);
    if (!Number.isInteger(cooldown) || cooldown < 0) {
      setLocal("Cooldown must be a whole number of seconds (0 to 604800).");
      return;
    }
    if (!params.ok || !converted.ok) {
      setLocal("Fix the marked fields first.");
      return;
    }
    save.mutate({
      name: state.name.trim(),
      description: state.description,
      kind: state.kind,
      params: params.params,
      app_id: orNull(state.scope.app_id),
      event_category: orNull(state.scope.event_category),
      event_type: orNull(state.scope.event_type),
      condition: converted.condition,
      cooldown_s: cooldown,
      enabled: state.enabled,
      publish_alert: state.publish_alert,
      webhook_ids: state.webhook_ids,
    });
  };

  const setParam = (name: string, value: string): void =>
    setState({ ...state, params: { ...state.params, [state.kind]: { ...state.params[state.kind], [name]: value } } });

  const title = detector ? `Edit detector ${detector.name}` : "New anomaly detector";
  return (
    <form className="rx-form" aria-label={title} onSubmit={submit} noValidate>
      <h2>{title}</h2>
      <div className="rx-form-grid">
        <Field label="Name" error={err("name")}>
          <input value={state.name} maxLength={200} onChange={(e) => setState({ ...state, name: e.target.value })} />
        </Field>
        <Field label="Kind" hint={KIND_HELP[state.kind]} error={err("kind")}>
          <select value={state.kind} onChange={(e) => setState({ ...state, kind: e.target.value as DetectorKind })}>
            {DETECTOR_KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field label="Description" error={err("description")}>
        <textarea rows={2} value={state.description} onChange={(e) => setState({ ...state, description: e.target.value })} />
      </Field>
      <fieldset className="rx-params">
        <legend>Parameters ({state.kind})</legend>
        {apiError?.field === "params" && (
          <div className="field-error" role="alert">
            {apiError.message}
          </div>
        )}
        <div className="rx-form-grid">
          {DETECTOR_PARAMS[state.kind].map((spec) => (
            <Field
              key={`${state.kind}-${spec.name}`}
              label={spec.label + (spec.required ? "" : " (optional)")}
              hint={spec.hint}
              error={paramErr(spec.name)}
            >
              {spec.type === "select" ? (
                <select value={state.params[state.kind][spec.name] ?? ""} onChange={(e) => setParam(spec.name, e.target.value)}>
                  <option value="">default ({spec.options?.[0]})</option>
                  {spec.options?.map((o) => (
                    <option key={o} value={o}>
                      {o}
                    </option>
                  ))}
                </select>
              ) : (
                <input
                  value={state.params[state.kind][spec.name] ?? ""}
                  placeholder={spec.placeholder}
                  inputMode={spec.type === "text" ? undefined : "decimal"}
                  onChange={(e) => setParam(spec.name, e.target.value)}
                />
              )}
            </Field>
          ))}
        </div>
      </fieldset>
      <ScopeFields
        value={state.scope}
        onChange={(scope) => setState({ ...state, scope })}
        errorField={apiError?.field}
        errorMessage={apiError?.message ?? ""}
      />
      <Field label="Cooldown (seconds)" hint="silent this long after firing; up to 7 days" error={err("cooldown_s")}>
        <input
          type="number"
          min={0}
          max={604800}
          value={state.cooldown_s}
          onChange={(e) => setState({ ...state, cooldown_s: e.target.value })}
        />
      </Field>
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
        error={err("webhook_ids")}
      />
      <fieldset className="rx-condition">
        <legend>Only count events where</legend>
        <ConditionEditor value={state.tree} onChange={(tree) => setState({ ...state, tree })} errors={nodeErrors} />
      </fieldset>
      {local && (
        <div className="error-note" role="alert">
          {local}
        </div>
      )}
      <ErrorNote error={save.error} title="Could not save the detector" />
      <div className="rx-form-actions">
        <button type="submit" className="primary" disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save"}
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function DetectorsTab(): ReactNode {
  const { can } = useSession();
  const editor = can("editor");
  const client = useQueryClient();
  const [offset, setOffset] = useState(0);
  const [editing, setEditing] = useState<{ detector: Detector | null } | null>(null);

  const list = useQuery({
    queryKey: [RX, "detectors", offset],
    queryFn: ({ signal }) =>
      api<Page<Detector>>(listPath(`${ADMIN}/anomaly-detectors`, { limit: LIMIT, offset }), { signal }),
    placeholderData: keepPreviousData,
  });
  const toggle = useMutation({
    mutationFn: (d: Detector) =>
      api<Detector>(`${ADMIN}/anomaly-detectors/${d.id}`, { method: "PATCH", body: { enabled: !d.enabled } }),
    onSuccess: () => client.invalidateQueries({ queryKey: [RX] }),
  });
  const remove = useMutation({
    mutationFn: (d: Detector) => api<void>(`${ADMIN}/anomaly-detectors/${d.id}`, { method: "DELETE" }),
    onSuccess: () => client.invalidateQueries({ queryKey: [RX] }),
  });

  if (editing) return <DetectorForm detector={editing.detector} onDone={() => setEditing(null)} />;
  const page = list.data;

  return (
    <div className="rx-tab">
      <div className="rx-toolbar">
        <p className="rx-muted">Detectors watch the volume or the values of a scope and fire when it departs from normal.</p>
        {editor && (
          <button type="button" className="primary" onClick={() => setEditing({ detector: null })}>
            Create detector
          </button>
        )}
      </div>
      <ErrorNote error={list.error} title="Could not load the detectors" />
      <ErrorNote error={toggle.error} title="Could not change the detector" />
      <ErrorNote error={remove.error} title="Could not delete the detector" />
      {list.isPending && <Loading />}
      {page && page.total === 0 && (
        <EmptyState title="No anomaly detectors yet">
          {editor ? (
            <>
              <p>For example: alert when more than 50 app crashes arrive within 5 minutes.</p>
              <button type="button" className="primary" onClick={() => setEditing({ detector: null })}>
                Create your first detector
              </button>
            </>
          ) : (
            <p>An editor can create detectors here.</p>
          )}
        </EmptyState>
      )}
      {page && page.items.length > 0 && (
        <div className="table-wrap">
          <table className="list rx-table">
            <caption className="visually-hidden">Anomaly detectors</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Scope</th>
                <th scope="col">Cooldown</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((d) => (
                <tr key={d.id}>
                  <th scope="row">
                    {d.name}
                    {d.description && <div className="rx-muted">{d.description}</div>}
                  </th>
                  <td>
                    {d.kind}
                    <div className="rx-muted">{paramsSummary(d.params)}</div>
                  </td>
                  <td>{scopeSummary(d)}{d.condition !== null ? " (with a condition)" : ""}</td>
                  <td>{formatSeconds(d.cooldown_s)}</td>
                  <td>
                    <StatusBadge on={d.enabled} />
                  </td>
                  <td className="rx-row-actions">
                    {editor && (
                      <>
                        <button type="button" onClick={() => setEditing({ detector: d })} aria-label={`Edit ${d.name}`}>
                          Edit
                        </button>
                        <button
                          type="button"
                          disabled={toggle.isPending}
                          onClick={() => toggle.mutate(d)}
                          aria-label={`${d.enabled ? "Disable" : "Enable"} ${d.name}`}
                        >
                          {d.enabled ? "Disable" : "Enable"}
                        </button>
                        <button
                          type="button"
                          disabled={remove.isPending}
                          aria-label={`Delete ${d.name}`}
                          onClick={() => {
                            if (window.confirm(`Delete the detector "${d.name}"? Its alerts stay in the history.`)) {
                              remove.mutate(d);
                            }
                          }}
                        >
                          Delete
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && <Pager total={page.total} limit={LIMIT} offset={offset} onChange={setOffset} label="Detectors pages" />}
    </div>
  );
}

export default DetectorsTab;
