// The dashboards list (the app's home): paged, newest change first; editors create and delete.

import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { Link, useNavigate } from "react-router";

import { api } from "../api/client";
import { useSession } from "../api/session";
import { EmptyState } from "../components/EmptyState";
import { ErrorNote } from "../components/ErrorNote";
import { Field } from "../components/Field";
import { Loading } from "../components/Loading";
import { PageHeader } from "../components/PageHeader";
import { Pager } from "../components/Pager";
import { ANALYTICS } from "../components/insights/useInsight";
import "../components/insights/insights.css";
import { REFRESH_CHOICES } from "../lib/insights/dashboards";
import { describeRange } from "../lib/insights/forms";
import type { Dashboard, DashboardBody, Paged } from "../lib/insights/types";

const LIMIT = 20;

function refreshLabel(seconds: number): string {
  return REFRESH_CHOICES.find((c) => c.seconds === seconds)?.label ?? `Every ${seconds} s`;
}

function CreateDashboard({ onDone }: { onDone: () => void }): ReactNode {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [nameError, setNameError] = useState<string | null>(null);
  const navigate = useNavigate();
  const client = useQueryClient();
  const create = useMutation({
    mutationFn: (body: DashboardBody) =>
      api<Dashboard>(`${ANALYTICS}/dashboards`, { method: "POST", body }),
    onSuccess: (created) => {
      void client.invalidateQueries({ queryKey: ["dashboards"] });
      onDone();
      void navigate(`/dashboards/${created.id}`);
    },
  });
  return (
    <form
      className="card"
      aria-label="New dashboard"
      onSubmit={(event) => {
        event.preventDefault();
        if (name.trim() === "") {
          setNameError("Give the dashboard a name");
          return;
        }
        setNameError(null);
        create.mutate({
          name: name.trim(),
          description: description.trim(),
          date_range: "30d",
          tiles: [],
          refresh_s: 0,
        });
      }}
    >
      <h2>New dashboard</h2>
      <Field label="Name" error={nameError}>
        <input value={name} maxLength={200} onChange={(event) => setName(event.target.value)} />
      </Field>
      <Field label="Description">
        <textarea
          value={description}
          rows={2}
          maxLength={5000}
          onChange={(event) => setDescription(event.target.value)}
        />
      </Field>
      <ErrorNote error={create.error} title="Could not create the dashboard" />
      <div className="insight-actions">
        <button type="submit" className="primary" disabled={create.isPending}>
          Create
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function DeleteButton({ dashboard }: { dashboard: Dashboard }): ReactNode {
  const [confirming, setConfirming] = useState(false);
  const client = useQueryClient();
  const remove = useMutation({
    mutationFn: () => api<void>(`${ANALYTICS}/dashboards/${dashboard.id}`, { method: "DELETE" }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["dashboards"] }),
  });
  if (!confirming) {
    return (
      <button type="button" aria-label={`Delete ${dashboard.name}`} onClick={() => setConfirming(true)}>
        Delete
      </button>
    );
  }
  return (
    <>
      <button
        type="button"
        className="danger"
        disabled={remove.isPending}
        onClick={() => remove.mutate()}
      >
        Confirm delete
      </button>{" "}
      <button type="button" onClick={() => setConfirming(false)}>
        Keep
      </button>
      <ErrorNote error={remove.error} title="Could not delete" />
    </>
  );
}

export default function DashboardsPage(): ReactNode {
  const { can } = useSession();
  const editor = can("editor");
  const [offset, setOffset] = useState(0);
  const [creating, setCreating] = useState(false);
  const list = useQuery({
    queryKey: ["dashboards", "list", offset],
    queryFn: ({ signal }) =>
      api<Paged<Dashboard>>(`${ANALYTICS}/dashboards?limit=${LIMIT}&offset=${offset}`, { signal }),
    placeholderData: keepPreviousData,
  });
  const items = list.data?.items ?? [];

  return (
    <>
      <PageHeader
        title="Dashboards"
        description="Insights side by side, on a shared date range."
        actions={
          editor && !creating ? (
            <button type="button" className="primary" onClick={() => setCreating(true)}>
              New dashboard
            </button>
          ) : undefined
        }
      />
      {creating && <CreateDashboard onDone={() => setCreating(false)} />}
      <ErrorNote error={list.error} title="Could not load the dashboards" />
      {list.isPending && <Loading />}
      {list.isSuccess && items.length === 0 && offset === 0 && (
        <EmptyState title="No dashboards yet">
          <p>
            Build an insight in <Link to="/insights/trends">Trends</Link>,{" "}
            <Link to="/insights/funnels">Funnels</Link>, <Link to="/insights/retention">Retention</Link>{" "}
            or <Link to="/insights/paths">Paths</Link>
            {editor ? ", then choose “Save to dashboard” — or create an empty dashboard first." : "; an editor can save them here."}
          </p>
          {editor && !creating && (
            <button type="button" className="primary" onClick={() => setCreating(true)}>
              Create your first dashboard
            </button>
          )}
        </EmptyState>
      )}
      {items.length > 0 && (
        <div className="table-wrap">
          <table className="list" aria-label="Dashboards">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Tiles</th>
                <th scope="col">Date range</th>
                <th scope="col">Auto-refresh</th>
                <th scope="col">Updated</th>
                {editor && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.id}>
                  <th scope="row">
                    <Link to={`/dashboards/${d.id}`}>{d.name}</Link>
                    {d.description !== "" && <div className="muted">{d.description}</div>}
                  </th>
                  <td>{d.tiles.length}</td>
                  <td>{d.date_range === null ? "Each tile's own" : describeRange(d.date_range)}</td>
                  <td>{refreshLabel(d.refresh_s)}</td>
                  <td>
                    <time dateTime={d.updated_at}>{new Date(d.updated_at).toLocaleString()}</time>
                  </td>
                  {editor && (
                    <td className="actions">
                      <DeleteButton dashboard={d} />
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.data !== undefined && (
        <Pager total={list.data.total} limit={LIMIT} offset={offset} onChange={setOffset} label="Dashboard pages" />
      )}
    </>
  );
}
