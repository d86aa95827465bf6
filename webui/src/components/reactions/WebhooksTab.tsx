// The Webhooks tab: list, create/edit (the secret is write-only: the list says whether one is
// stored, an empty secret field keeps it), "Send test" with the receiver's answer, delete
// (a 409 names the rules and detectors still using it). Viewers see the list only.

import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";

import { ApiError, api } from "../../api/client";
import { useSession } from "../../api/session";
import { EmptyState } from "../EmptyState";
import { ErrorNote } from "../ErrorNote";
import { Field } from "../Field";
import { Loading } from "../Loading";
import { Pager } from "../Pager";
import { formatDuration } from "../../lib/format";
import { ADMIN, formatHeaders, listPath, webhookBody, type WebhookForm } from "../../lib/reactions/forms";
import { AUTH_TYPES, type AuthType, type Page, type Webhook, type WebhookTestResult } from "../../lib/reactions/types";
import { Checkbox, RX, StatusBadge } from "./shared";

const LIMIT = 20;

const AUTH_LABELS: Record<AuthType, string> = {
  none: "None",
  basic: "Basic (user name + password)",
  bearer: "Bearer token",
  hmac: "HMAC signature (recommended)",
};

function formOf(hook: Webhook | null): WebhookForm {
  return {
    name: hook?.name ?? "",
    url: hook?.url ?? "",
    auth_type: hook?.auth_type ?? "hmac",
    auth_username: hook?.auth_username ?? "",
    secret: "",
    removeSecret: false,
    headers: formatHeaders(hook?.headers ?? {}),
    enabled: hook?.enabled ?? true,
    max_attempts: hook ? String(hook.max_attempts) : "",
    timeout_s: hook ? String(hook.timeout_s) : "",
  };
}

function WebhookEditor({ hook, onDone }: { hook: Webhook | null; onDone: () => void }): ReactNode {
  const [form, setForm] = useState<WebhookForm>(() => formOf(hook));
  const [local, setLocal] = useState<{ field: string; message: string } | null>(null);
  const client = useQueryClient();
  const save = useMutation({
    mutationFn: (body: Record<string, unknown>) =>
      hook
        ? api<Webhook>(`${ADMIN}/webhooks/${hook.id}`, { method: "PATCH", body })
        : api<Webhook>(`${ADMIN}/webhooks`, { method: "POST", body }),
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: [RX] });
      onDone();
    },
  });
  const apiError = save.error instanceof ApiError ? save.error : null;
  const err = (name: string): string | null => {
    if (local?.field === name) return local.message;
    if (apiError?.field === name || apiError?.field?.startsWith(`${name}.`)) return apiError.message;
    return null;
  };

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const built = webhookBody(form, hook !== null);
    if (!built.ok) {
      setLocal({ field: built.field, message: built.message });
      return;
    }
    setLocal(null);
    save.mutate(built.body);
  };

  const needsSecret = form.auth_type !== "none";
  const title = hook ? `Edit webhook ${hook.name}` : "New webhook";
  return (
    <form className="rx-form" aria-label={title} onSubmit={submit} noValidate>
      <h2>{title}</h2>
      <div className="rx-form-grid">
        <Field label="Name" error={err("name")}>
          <input value={form.name} maxLength={200} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        </Field>
        <Field label="URL" hint="http or https; private addresses are refused" error={err("url")}>
          <input
            type="url"
            value={form.url}
            placeholder="https://hooks.example.com/causality"
            onChange={(e) => setForm({ ...form, url: e.target.value })}
          />
        </Field>
      </div>
      <div className="rx-form-grid">
        <Field label="Authentication" error={err("auth_type")}>
          <select
            value={form.auth_type}
            onChange={(e) => setForm({ ...form, auth_type: e.target.value as AuthType })}
          >
            {AUTH_TYPES.map((t) => (
              <option key={t} value={t}>
                {AUTH_LABELS[t]}
              </option>
            ))}
          </select>
        </Field>
        {form.auth_type === "basic" && (
          <Field label="User name" error={err("auth_username")}>
            <input
              value={form.auth_username}
              autoComplete="off"
              onChange={(e) => setForm({ ...form, auth_username: e.target.value })}
            />
          </Field>
        )}
        {needsSecret && (
          <Field
            label={form.auth_type === "hmac" ? "Signing key" : form.auth_type === "bearer" ? "Token" : "Password"}
            hint={
              hook?.has_secret
                ? "a secret is stored; leave empty to keep it"
                : form.auth_type === "hmac"
                  ? "at least 16 characters; never shown again"
                  : "never shown again"
            }
            error={err("auth_secret")}
          >
            <input
              type="password"
              autoComplete="new-password"
              value={form.secret}
              onChange={(e) => setForm({ ...form, secret: e.target.value, removeSecret: false })}
            />
          </Field>
        )}
      </div>
      {hook?.has_secret && needsSecret && (
        <Checkbox
          label="Remove the stored secret"
          checked={form.removeSecret}
          onChange={(removeSecret) => setForm({ ...form, removeSecret, secret: "" })}
        />
      )}
      <Field label="Extra headers" hint="one per line, Name: value" error={err("headers")}>
        <textarea
          rows={3}
          className="rx-code"
          value={form.headers}
          placeholder="X-Team: payments"
          onChange={(e) => setForm({ ...form, headers: e.target.value })}
        />
      </Field>
      <div className="rx-form-grid">
        <Field label="Max attempts" hint="1 to 50; empty: the default (8)" error={err("max_attempts")}>
          <input
            type="number"
            min={1}
            max={50}
            value={form.max_attempts}
            onChange={(e) => setForm({ ...form, max_attempts: e.target.value })}
          />
        </Field>
        <Field label="Timeout (seconds)" hint="up to 60; empty: the default (10)" error={err("timeout_s")}>
          <input
            type="number"
            min={0.1}
            max={60}
            step="any"
            value={form.timeout_s}
            onChange={(e) => setForm({ ...form, timeout_s: e.target.value })}
          />
        </Field>
      </div>
      <Checkbox label="Enabled" checked={form.enabled} onChange={(enabled) => setForm({ ...form, enabled })} />
      <ErrorNote error={save.error} title="Could not save the webhook" />
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

function TestResult({ result }: { result: WebhookTestResult }): ReactNode {
  return (
    <div className={`rx-test-outcome ${result.ok ? "rx-on" : "rx-off"}`} role="status">
      <strong>{result.ok ? "Delivered" : "Failed"}</strong>
      {": "}
      {result.status_code !== null ? `HTTP ${result.status_code}` : "no HTTP answer"}
      {result.error ? ` — ${result.error}` : ""} in {formatDuration(result.duration_ms)}
    </div>
  );
}

export function WebhooksTab(): ReactNode {
  const { can } = useSession();
  const editor = can("editor");
  const client = useQueryClient();
  const [offset, setOffset] = useState(0);
  const [editing, setEditing] = useState<{ hook: Webhook | null } | null>(null);
  const [results, setResults] = useState<Record<string, WebhookTestResult>>({});
  const [rowError, setRowError] = useState<{ id: string; error: unknown } | null>(null);

  const hooks = useQuery({
    queryKey: [RX, "webhooks", offset],
    queryFn: ({ signal }) => api<Page<Webhook>>(listPath(`${ADMIN}/webhooks`, { limit: LIMIT, offset }), { signal }),
    placeholderData: keepPreviousData,
  });

  const test = useMutation({
    mutationFn: (hook: Webhook) => api<WebhookTestResult>(`${ADMIN}/webhooks/${hook.id}/test`, { method: "POST" }),
    onMutate: (hook) => setRowError((e) => (e?.id === hook.id ? null : e)),
    onSuccess: (result, hook) => {
      setResults((r) => ({ ...r, [hook.id]: result }));
      void client.invalidateQueries({ queryKey: [RX, "deliveries"] });
    },
    onError: (error, hook) => setRowError({ id: hook.id, error }),
  });
  const remove = useMutation({
    mutationFn: (hook: Webhook) => api<void>(`${ADMIN}/webhooks/${hook.id}`, { method: "DELETE" }),
    onMutate: (hook) => setRowError((e) => (e?.id === hook.id ? null : e)),
    onSuccess: () => client.invalidateQueries({ queryKey: [RX] }),
    onError: (error, hook) => setRowError({ id: hook.id, error }),
  });

  if (editing) return <WebhookEditor hook={editing.hook} onDone={() => setEditing(null)} />;
  const page = hooks.data;

  return (
    <div className="rx-tab">
      <div className="rx-toolbar">
        <p className="rx-muted">Webhooks receive a signed JSON POST for each alert of the rules and detectors using them.</p>
        {editor && (
          <button type="button" className="primary" onClick={() => setEditing({ hook: null })}>
            Create webhook
          </button>
        )}
      </div>
      <ErrorNote error={hooks.error} title="Could not load the webhooks" />
      {hooks.isPending && <Loading />}
      {page && page.total === 0 && (
        <EmptyState title="No webhooks yet">
          {editor ? (
            <>
              <p>Add the URL of your Slack, Mattermost or own receiver, then send it a test.</p>
              <button type="button" className="primary" onClick={() => setEditing({ hook: null })}>
                Create your first webhook
              </button>
            </>
          ) : (
            <p>An editor can add webhooks here.</p>
          )}
        </EmptyState>
      )}
      {page && page.items.length > 0 && (
        <div className="table-wrap">
          <table className="list rx-table">
            <caption className="visually-hidden">Webhooks</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">URL</th>
                <th scope="col">Auth</th>
                <th scope="col">Status</th>
                <th scope="col">Retries</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((hook) => (
                <tr key={hook.id}>
                  <th scope="row">{hook.name}</th>
                  <td className="rx-break">{hook.url}</td>
                  <td>
                    {hook.auth_type}
                    {hook.auth_type !== "none" && (
                      <div className="rx-muted">{hook.has_secret ? "secret stored" : "no secret"}</div>
                    )}
                  </td>
                  <td>
                    <StatusBadge on={hook.enabled} />
                  </td>
                  <td>
                    {hook.max_attempts} attempts, {hook.timeout_s}s timeout
                  </td>
                  <td className="rx-row-actions">
                    {editor && (
                      <>
                        <button
                          type="button"
                          disabled={test.isPending && test.variables?.id === hook.id}
                          onClick={() => test.mutate(hook)}
                          aria-label={`Send test to ${hook.name}`}
                        >
                          {test.isPending && test.variables?.id === hook.id ? "Sending…" : "Send test"}
                        </button>
                        <button type="button" onClick={() => setEditing({ hook })} aria-label={`Edit ${hook.name}`}>
                          Edit
                        </button>
                        <button
                          type="button"
                          aria-label={`Delete ${hook.name}`}
                          onClick={() => {
                            if (window.confirm(`Delete the webhook "${hook.name}"?`)) remove.mutate(hook);
                          }}
                        >
                          Delete
                        </button>
                      </>
                    )}
                    {results[hook.id] && <TestResult result={results[hook.id] as WebhookTestResult} />}
                    {rowError?.id === hook.id && <ErrorNote error={rowError.error} title="Failed" />}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && <Pager total={page.total} limit={LIMIT} offset={offset} onChange={setOffset} label="Webhooks pages" />}
    </div>
  );
}

export default WebhooksTab;
