// Settings (admin only): apps, their ingestion keys (the secret shown once, with the SDK
// snippet), and users with their roles and apps. Lists are paged here: the admin API answers
// whole lists, which stay small (apps, keys and people, not events).

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";
import { useSearchParams } from "react-router";

import { ApiError, api } from "../api/client";
import { useSession, type Role } from "../api/session";
import { CopyButton } from "../components/CopyButton";
import { EmptyState } from "../components/EmptyState";
import { ErrorNote } from "../components/ErrorNote";
import { Field } from "../components/Field";
import { Loading } from "../components/Loading";
import { PageHeader } from "../components/PageHeader";
import { Pager } from "../components/Pager";
import { Tabs, type TabItem } from "../components/Tabs";
import { formatDateTime, formatRelative } from "../lib/format";

interface App {
  id: string;
  name: string;
  created_at: string;
}

interface ApiKey {
  id: string;
  app_id: string;
  name: string;
  prefix: string;
  created_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
}

interface User {
  id: string;
  email: string;
  role: Role;
  disabled: boolean;
  app_ids: string[] | null;
  created_at: string;
  updated_at: string;
}

type TabId = "apps" | "keys" | "users";

const TABS: readonly TabItem<TabId>[] = [
  { id: "apps", label: "Apps" },
  { id: "keys", label: "API keys" },
  { id: "users", label: "Users" },
];

const PAGE = 20;
const ROLES: readonly Role[] = ["viewer", "editor", "admin"];

/** The error for one field of a form, when the gateway named that field. */
function fieldError(error: unknown, field: string): string | null {
  return error instanceof ApiError && error.field === field ? error.message : null;
}

/** The error for the form as a whole: any not tied to a field shown above. */
function formError(error: unknown, fields: readonly string[]): unknown {
  return error instanceof ApiError && error.field !== undefined && fields.includes(error.field) ? null : error;
}

function useApps(): ReturnType<typeof useQuery<App[]>> {
  return useQuery({
    queryKey: ["admin", "apps"],
    queryFn: async ({ signal }) => (await api<{ apps: App[] }>("/api/v1/admin/apps", { signal })).apps,
  });
}

/** The snippet that sends events with this key: the script tag, and the same by curl. */
export function sdkSnippet(origin: string, secret: string): string {
  return [
    "<!-- on your site -->",
    `<script async src="${origin}/sdk/causality.js" data-api-key="${secret}"></script>`,
    "",
    "# or from a shell",
    `curl -X POST ${origin}/api/v1/events/ingest \\`,
    `  -H 'X-API-Key: ${secret}' -H 'Content-Type: application/json' \\`,
    `  -d '{"type":"screen_view","device_id":"d-1","properties":{"screen_name":"home"}}'`,
  ].join("\n");
}

// -- apps -----------------------------------------------------------------------------------

function AppsTab({ onKeys }: { onKeys: (appId: string) => void }): ReactNode {
  const client = useQueryClient();
  const apps = useApps();
  const [offset, setOffset] = useState(0);
  const [name, setName] = useState("");
  const [id, setId] = useState("");
  const create = useMutation({
    mutationFn: (body: { name: string; id?: string }) =>
      api<{ app: App }>("/api/v1/admin/apps", { method: "POST", body }),
    onSuccess: async () => {
      setName("");
      setId("");
      await client.invalidateQueries({ queryKey: ["admin", "apps"] });
    },
  });

  function submit(event: FormEvent): void {
    event.preventDefault();
    const trimmed = id.trim();
    create.mutate(trimmed === "" ? { name: name.trim() } : { name: name.trim(), id: trimmed });
  }

  const list = apps.data ?? [];
  return (
    <>
      <section className="card" aria-labelledby="new-app">
        <h2 id="new-app">New app</h2>
        <form onSubmit={submit} className="form-row">
          <Field label="Name" error={fieldError(create.error, "name")}>
            <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
          </Field>
          <Field label="ID (optional)" error={fieldError(create.error, "id")} hint="lowercase letters, digits, - and _">
            <input value={id} onChange={(e) => setId(e.target.value)} maxLength={63} pattern="[a-z0-9][a-z0-9_-]*" />
          </Field>
          <button type="submit" className="primary" disabled={create.isPending || name.trim() === ""}>
            Create app
          </button>
        </form>
        <ErrorNote error={formError(create.error, ["name", "id"])} title="Could not create the app" />
        {create.isSuccess && (
          <p className="notice ok" role="status">
            Created app <strong>{create.data.app.name}</strong> (<code>{create.data.app.id}</code>).{" "}
            <button type="button" className="link" onClick={() => onKeys(create.data.app.id)}>
              Create its API key
            </button>
          </p>
        )}
      </section>
      {apps.isPending && <Loading />}
      <ErrorNote error={apps.error} title="Could not load the apps" />
      {apps.isSuccess && list.length === 0 && (
        <EmptyState title="No apps yet">
          <p>Create your first app above, then give it an API key to start sending events.</p>
        </EmptyState>
      )}
      {list.length > 0 && (
        <>
          <div className="table-wrap">
            <table className="list">
              <caption className="visually-hidden">Apps</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">ID</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.slice(offset, offset + PAGE).map((app) => (
                  <tr key={app.id}>
                    <td>{app.name}</td>
                    <td>
                      <code>{app.id}</code>
                    </td>
                    <td title={formatDateTime(app.created_at)}>{formatRelative(app.created_at)}</td>
                    <td className="actions">
                      <button type="button" onClick={() => onKeys(app.id)} aria-label={`API keys of ${app.name}`}>
                        API keys
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager total={list.length} limit={PAGE} offset={offset} onChange={setOffset} label="App pages" />
        </>
      )}
    </>
  );
}

// -- keys -----------------------------------------------------------------------------------

function KeysTab({ appId, onApp }: { appId: string | null; onApp: (appId: string) => void }): ReactNode {
  const client = useQueryClient();
  const apps = useApps();
  const [offset, setOffset] = useState(0);
  const [name, setName] = useState("");
  const [confirming, setConfirming] = useState<string | null>(null);
  const [created, setCreated] = useState<{ key: ApiKey; secret: string } | null>(null);
  const chosen = appId ?? apps.data?.[0]?.id ?? null;

  const keys = useQuery({
    queryKey: ["admin", "keys", chosen],
    enabled: chosen !== null,
    queryFn: async ({ signal }) =>
      (await api<{ keys: ApiKey[] }>(`/api/v1/admin/apps/${encodeURIComponent(chosen ?? "")}/keys`, { signal })).keys,
  });
  const create = useMutation({
    mutationFn: (body: { name: string }) =>
      api<{ key: ApiKey; secret: string }>(`/api/v1/admin/apps/${encodeURIComponent(chosen ?? "")}/keys`, {
        method: "POST",
        body,
      }),
    onSuccess: async (data) => {
      setCreated(data);
      setName("");
      await client.invalidateQueries({ queryKey: ["admin", "keys", chosen] });
    },
  });
  const revoke = useMutation({
    mutationFn: (keyId: string) => api<void>(`/api/v1/admin/keys/${encodeURIComponent(keyId)}`, { method: "DELETE" }),
    onSuccess: async () => {
      setConfirming(null);
      await client.invalidateQueries({ queryKey: ["admin", "keys", chosen] });
    },
  });

  if (apps.isPending) return <Loading />;
  if (apps.error !== null) return <ErrorNote error={apps.error} title="Could not load the apps" />;
  if (chosen === null) {
    return (
      <EmptyState title="No apps yet">
        <p>API keys belong to an app: create an app on the Apps tab first.</p>
      </EmptyState>
    );
  }

  const list = keys.data ?? [];
  const origin = window.location.origin;
  return (
    <>
      <div className="form-row">
        <Field label="App">
          <select
            value={chosen}
            onChange={(e) => {
              setCreated(null);
              setOffset(0);
              onApp(e.target.value);
            }}
          >
            {(apps.data ?? []).map((app) => (
              <option key={app.id} value={app.id}>
                {app.name} ({app.id})
              </option>
            ))}
          </select>
        </Field>
      </div>
      <section className="card" aria-labelledby="new-key">
        <h2 id="new-key">New API key</h2>
        <form
          className="form-row"
          onSubmit={(e) => {
            e.preventDefault();
            setCreated(null);
            create.mutate({ name: name.trim() === "" ? "default" : name.trim() });
          }}
        >
          <Field label="Key name" error={fieldError(create.error, "name")}>
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="default" maxLength={100} />
          </Field>
          <button type="submit" className="primary" disabled={create.isPending}>
            Create key
          </button>
        </form>
        <ErrorNote error={formError(create.error, ["name"])} title="Could not create the key" />
        {created !== null && (
          <div className="notice ok" role="status">
            <p>
              <strong>Copy this key now: it is not shown again.</strong>
            </p>
            <div className="form-row">
              <code className="secret" data-testid="new-key-secret">
                {created.secret}
              </code>
              <CopyButton text={created.secret} />
            </div>
            <p>Send events with it:</p>
            <pre>{sdkSnippet(origin, created.secret)}</pre>
            <CopyButton text={sdkSnippet(origin, created.secret)} label="Copy snippet" />
          </div>
        )}
      </section>
      {keys.isPending && <Loading />}
      <ErrorNote error={keys.error} title="Could not load the keys" />
      <ErrorNote error={revoke.error} title="Could not revoke the key" />
      {keys.isSuccess && list.length === 0 && created === null && (
        <EmptyState title="This app has no API keys">
          <p>Create one above; then send events with the snippet shown with it:</p>
          <pre>{sdkSnippet(origin, "ck_…")}</pre>
        </EmptyState>
      )}
      {list.length > 0 && (
        <>
          <div className="table-wrap">
            <table className="list">
              <caption className="visually-hidden">API keys of {chosen}</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Key</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.slice(offset, offset + PAGE).map((key) => (
                  <tr key={key.id}>
                    <td>{key.name}</td>
                    <td>
                      <code>{key.prefix}…</code>
                    </td>
                    <td title={formatDateTime(key.created_at)}>{formatRelative(key.created_at)}</td>
                    <td>{key.last_used_at === null ? "never" : formatRelative(key.last_used_at)}</td>
                    <td>
                      {key.revoked_at === null ? (
                        <span className="badge">active</span>
                      ) : (
                        <span className="badge danger">revoked</span>
                      )}
                    </td>
                    <td className="actions">
                      {key.revoked_at === null &&
                        (confirming === key.id ? (
                          <>
                            <button
                              type="button"
                              className="danger"
                              disabled={revoke.isPending}
                              onClick={() => revoke.mutate(key.id)}
                            >
                              Confirm revoke
                            </button>
                            <button type="button" onClick={() => setConfirming(null)}>
                              Cancel
                            </button>
                          </>
                        ) : (
                          <button type="button" onClick={() => setConfirming(key.id)} aria-label={`Revoke key ${key.name}`}>
                            Revoke
                          </button>
                        ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager total={list.length} limit={PAGE} offset={offset} onChange={setOffset} label="Key pages" />
        </>
      )}
    </>
  );
}

// -- users ----------------------------------------------------------------------------------

function parseAppIds(text: string): string[] | null {
  const ids = text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return ids.length === 0 ? null : ids;
}

function UsersTab(): ReactNode {
  const client = useQueryClient();
  const { user: me } = useSession();
  const [offset, setOffset] = useState(0);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [password, setPassword] = useState("");
  const [appIds, setAppIds] = useState("");
  const [generated, setGenerated] = useState<{ email: string; password: string } | null>(null);

  const users = useQuery({
    queryKey: ["admin", "users"],
    queryFn: async ({ signal }) => (await api<{ users: User[] }>("/api/v1/admin/users", { signal })).users,
  });
  const invalidate = (): Promise<void> => client.invalidateQueries({ queryKey: ["admin", "users"] });
  const create = useMutation({
    mutationFn: (body: { email: string; role: Role; password?: string; app_ids: string[] | null }) =>
      api<{ user: User; password?: string }>("/api/v1/admin/users", { method: "POST", body }),
    onSuccess: async (data) => {
      setGenerated(data.password !== undefined ? { email: data.user.email, password: data.password } : null);
      setEmail("");
      setPassword("");
      setAppIds("");
      setRole("viewer");
      await invalidate();
    },
  });
  const update = useMutation({
    mutationFn: ({ id, body }: { id: string; body: { role?: Role; disabled?: boolean } }) =>
      api<{ user: User }>(`/api/v1/admin/users/${encodeURIComponent(id)}`, { method: "PATCH", body }),
    onSettled: invalidate,
  });

  function submit(event: FormEvent): void {
    event.preventDefault();
    setGenerated(null);
    const body: { email: string; role: Role; password?: string; app_ids: string[] | null } = {
      email: email.trim(),
      role,
      app_ids: parseAppIds(appIds),
    };
    if (password !== "") body.password = password;
    create.mutate(body);
  }

  const list = users.data ?? [];
  return (
    <>
      <section className="card" aria-labelledby="new-user">
        <h2 id="new-user">New user</h2>
        <form onSubmit={submit}>
          <div className="form-row">
            <Field label="Email" error={fieldError(create.error, "email")}>
              <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required autoComplete="off" />
            </Field>
            <Field label="Role" error={fieldError(create.error, "role")}>
              <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
                {ROLES.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            </Field>
            <Field
              label="Password (optional)"
              error={fieldError(create.error, "password")}
              hint="empty: one is generated and shown once"
            >
              <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" />
            </Field>
            <Field label="Apps (optional)" error={fieldError(create.error, "app_ids")} hint="app IDs, comma-separated; empty: all apps">
              <input value={appIds} onChange={(e) => setAppIds(e.target.value)} />
            </Field>
            <button type="submit" className="primary" disabled={create.isPending || email.trim() === ""}>
              Create user
            </button>
          </div>
        </form>
        <ErrorNote error={formError(create.error, ["email", "role", "password", "app_ids"])} title="Could not create the user" />
        {generated !== null && (
          <div className="notice ok" role="status">
            <p>
              <strong>Password for {generated.email}: copy it now, it is not shown again.</strong>
            </p>
            <div className="form-row">
              <code className="secret">{generated.password}</code>
              <CopyButton text={generated.password} />
            </div>
          </div>
        )}
      </section>
      {users.isPending && <Loading />}
      <ErrorNote error={users.error} title="Could not load the users" />
      <ErrorNote error={update.error} title="Could not change the user" />
      {list.length > 0 && (
        <>
          <div className="table-wrap">
            <table className="list">
              <caption className="visually-hidden">Users</caption>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">Apps</th>
                  <th scope="col">State</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.slice(offset, offset + PAGE).map((u) => (
                  <tr key={u.id}>
                    <td>
                      {u.email}
                      {u.id === me?.id && <span className="muted"> (you)</span>}
                    </td>
                    <td>
                      <label className="visually-hidden" htmlFor={`role-${u.id}`}>
                        Role of {u.email}
                      </label>
                      <select
                        id={`role-${u.id}`}
                        value={u.role}
                        disabled={update.isPending}
                        onChange={(e) => update.mutate({ id: u.id, body: { role: e.target.value as Role } })}
                      >
                        {ROLES.map((r) => (
                          <option key={r} value={r}>
                            {r}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td>{u.app_ids === null ? <span className="muted">all</span> : u.app_ids.join(", ")}</td>
                    <td>{u.disabled ? <span className="badge danger">disabled</span> : <span className="badge">active</span>}</td>
                    <td className="actions">
                      <button
                        type="button"
                        disabled={update.isPending}
                        onClick={() => update.mutate({ id: u.id, body: { disabled: !u.disabled } })}
                        aria-label={`${u.disabled ? "Enable" : "Disable"} ${u.email}`}
                      >
                        {u.disabled ? "Enable" : "Disable"}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager total={list.length} limit={PAGE} offset={offset} onChange={setOffset} label="User pages" />
        </>
      )}
    </>
  );
}

// -- page -----------------------------------------------------------------------------------

export default function SettingsPage(): ReactNode {
  const { can } = useSession();
  const [params, setParams] = useSearchParams();
  const raw = params.get("tab");
  const tab: TabId = raw === "keys" || raw === "users" ? raw : "apps";
  const appId = params.get("app");

  const go = (next: TabId, app?: string | null): void => {
    const p = new URLSearchParams();
    if (next !== "apps") p.set("tab", next);
    if (app !== undefined && app !== null) p.set("app", app);
    setParams(p, { replace: false });
  };

  if (!can("admin")) {
    return (
      <>
        <PageHeader title="Settings" />
        <p className="notice">Settings needs the admin role. Ask an admin to change apps, API keys or users.</p>
      </>
    );
  }

  return (
    <>
      <PageHeader title="Settings" description="Apps, their ingestion keys, and who can use Causality." />
      <Tabs tabs={TABS} value={tab} onChange={(id) => go(id, id === "keys" ? appId : null)} label="Settings sections">
        {tab === "apps" && <AppsTab onKeys={(id) => go("keys", id)} />}
        {tab === "keys" && <KeysTab appId={appId} onApp={(id) => go("keys", id)} />}
        {tab === "users" && <UsersTab />}
      </Tabs>
    </>
  );
}
