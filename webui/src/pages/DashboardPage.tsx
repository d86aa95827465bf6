// One dashboard: its tiles on a 12-column grid (one column on phones), a shared date range
// that overrides each tile's own, auto-refresh every refresh_s, and for editors: save the
// range and refresh, add tiles (from a builder or a saved SQL query), move, resize, remove.

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState, type ReactNode } from "react";
import { Link, useParams } from "react-router";

import { api } from "../api/client";
import { useSession } from "../api/session";
import { EmptyState } from "../components/EmptyState";
import { ErrorNote } from "../components/ErrorNote";
import { Field } from "../components/Field";
import { Loading } from "../components/Loading";
import { PageHeader } from "../components/PageHeader";
import { DateRangeFields, FormErrorNote } from "../components/insights/FormPieces";
import { TileCard } from "../components/insights/TileCard";
import { ANALYTICS } from "../components/insights/useInsight";
import "../components/insights/insights.css";
import {
  REFRESH_CHOICES,
  refreshInterval,
  sortedTiles,
  toBody,
  withTile,
  withTileMoved,
  withTileWidth,
  withoutTile,
} from "../lib/insights/dashboards";
import {
  FormError,
  buildDateRange,
  dateRangeForm,
  describeRange,
  type DateRangeForm,
} from "../lib/insights/forms";
import type { Dashboard, DashboardBody, DateRange, Paged, SavedQuery } from "../lib/insights/types";

const OWN = "__own__";

/** The range in effect: the picker's when valid, else the stored one. */
function effectiveRange(
  own: boolean,
  form: DateRangeForm,
): { range: DateRange | null; error: FormError | null } {
  if (own) return { range: null, error: null };
  try {
    return { range: buildDateRange(form), error: null };
  } catch (error) {
    if (error instanceof FormError) return { range: null, error };
    throw error;
  }
}

function AddSavedQuery({
  onAdd,
  busy,
}: {
  onAdd: (saved: SavedQuery) => void;
  busy: boolean;
}): ReactNode {
  const [chosen, setChosen] = useState("");
  const saved = useQuery({
    queryKey: ["saved-queries", "picker"],
    queryFn: ({ signal }) =>
      api<Paged<SavedQuery>>(`${ANALYTICS}/saved-queries?limit=200&offset=0`, { signal }),
  });
  const items = saved.data?.items ?? [];
  const pick = items.find((q) => q.id === chosen) ?? items[0];
  if (saved.isError) return <ErrorNote error={saved.error} title="Could not list saved queries" />;
  if (items.length === 0) {
    return (
      <p className="muted">
        No saved queries yet: save one on the <Link to="/sql">SQL</Link> page to show it here.
      </p>
    );
  }
  return (
    <div className="form-row">
      <Field label="Saved query">
        <select value={pick?.id ?? ""} onChange={(event) => setChosen(event.target.value)}>
          {items.map((q) => (
            <option key={q.id} value={q.id}>
              {q.name}
            </option>
          ))}
        </select>
      </Field>
      <div className="field">
        <button type="button" disabled={busy || pick === undefined} onClick={() => pick && onAdd(pick)}>
          Add saved query
        </button>
      </div>
    </div>
  );
}

function DashboardView({ dashboard }: { dashboard: Dashboard }): ReactNode {
  const { can } = useSession();
  const editor = can("editor");
  const client = useQueryClient();
  const [own, setOwn] = useState(dashboard.date_range === null);
  const [rangeForm, setRangeForm] = useState<DateRangeForm>(() =>
    dateRangeForm(dashboard.date_range, "30d"),
  );
  const [refreshS, setRefreshS] = useState(dashboard.refresh_s);
  const [adding, setAdding] = useState(false);
  const [updatedAt, setUpdatedAt] = useState(() => new Date());

  const { range, error: rangeError } = effectiveRange(own, rangeForm);
  const stored = JSON.stringify(dashboard.date_range);
  const changed =
    refreshS !== dashboard.refresh_s || (rangeError === null && JSON.stringify(range) !== stored);

  const save = useMutation({
    mutationFn: (body: DashboardBody) =>
      api<Dashboard>(`${ANALYTICS}/dashboards/${dashboard.id}`, { method: "PUT", body }),
    onSuccess: (updated) => {
      client.setQueryData(["dashboard", dashboard.id], updated);
      void client.invalidateQueries({ queryKey: ["dashboards"] });
    },
  });
  const tiles = useMemo(() => sortedTiles(dashboard.tiles), [dashboard.tiles]);
  const interval = refreshInterval(refreshS);

  const refreshNow = (): void => {
    void client.invalidateQueries({ queryKey: ["tile"] });
    setUpdatedAt(new Date());
  };

  return (
    <>
      <PageHeader
        title={dashboard.name}
        description={
          <>
            <Link to="/">Dashboards</Link>
            {dashboard.description !== "" && <> · {dashboard.description}</>}
          </>
        }
        actions={
          <>
            <button type="button" onClick={refreshNow}>
              Refresh
            </button>
            {editor && (
              <button type="button" onClick={() => setAdding((a) => !a)} aria-expanded={adding}>
                Add tile
              </button>
            )}
          </>
        }
      />
      <form
        className="dashboard-toolbar"
        aria-label="Dashboard settings"
        onSubmit={(event) => {
          event.preventDefault();
          if (rangeError !== null) return;
          save.mutate({ ...toBody(dashboard), date_range: range, refresh_s: refreshS });
        }}
      >
        <DateRangeFields
          value={rangeForm}
          onChange={(next) => {
            setOwn(false);
            setRangeForm(next);
          }}
          extra={{
            value: OWN,
            label: "Each tile's own range",
            selected: own,
            onSelect: () => setOwn(true),
          }}
        />
        <Field label="Auto-refresh">
          <select value={refreshS} onChange={(event) => setRefreshS(Number(event.target.value))}>
            {!REFRESH_CHOICES.some((c) => c.seconds === refreshS) && (
              <option value={refreshS}>Every {refreshS} s</option>
            )}
            {REFRESH_CHOICES.map((c) => (
              <option key={c.seconds} value={c.seconds}>
                {c.label}
              </option>
            ))}
          </select>
        </Field>
        {editor && changed && (
          <div className="field">
            <button type="submit" className="primary" disabled={save.isPending}>
              Save
            </button>
          </div>
        )}
        <p className="muted" aria-live="polite">
          {own ? "Tiles use their own ranges" : describeRange(range)}
          {interval !== false && ` · refreshes ${REFRESH_CHOICES.find((c) => c.seconds === refreshS)?.label.toLowerCase() ?? `every ${refreshS} s`}`}
          {` · updated ${updatedAt.toLocaleTimeString()}`}
        </p>
      </form>
      <FormErrorNote error={rangeError} />
      <ErrorNote error={save.error} title="Could not save the dashboard" />
      {adding && editor && (
        <section className="card" aria-label="Add a tile">
          <h2>Add a tile</h2>
          <p>
            Build an insight in <Link to="/insights/trends">Trends</Link>,{" "}
            <Link to="/insights/funnels">Funnels</Link>, <Link to="/insights/retention">Retention</Link>{" "}
            or <Link to="/insights/paths">Paths</Link>, run it, then choose “Save to dashboard” and pick{" "}
            <strong>{dashboard.name}</strong>. Or add a saved SQL query:
          </p>
          <AddSavedQuery
            busy={save.isPending}
            onAdd={(saved) =>
              save.mutate(
                withTile(dashboard, { kind: "sql", title: saved.name, savedQueryId: saved.id }),
                { onSuccess: () => setAdding(false) },
              )
            }
          />
        </section>
      )}
      {tiles.length === 0 ? (
        <EmptyState title="This dashboard has no tiles yet">
          <p>
            {editor
              ? "Choose “Add tile”, or run an insight and choose “Save to dashboard”."
              : "An editor can add insights to it."}
          </p>
        </EmptyState>
      ) : (
        <div className="dashboard-grid">
          {tiles.map((tile, i) => (
            <TileCard
              key={tile.id}
              tile={tile}
              range={range}
              refetchInterval={interval}
              first={i === 0}
              last={i === tiles.length - 1}
              actions={
                editor
                  ? {
                      busy: save.isPending,
                      move: (delta) => save.mutate(withTileMoved(dashboard, tile.id, delta)),
                      width: (w) => save.mutate(withTileWidth(dashboard, tile.id, w)),
                      remove: () => save.mutate(withoutTile(dashboard, tile.id)),
                    }
                  : undefined
              }
            />
          ))}
        </div>
      )}
    </>
  );
}

export default function DashboardPage(): ReactNode {
  const { id = "" } = useParams();
  const dashboard = useQuery({
    queryKey: ["dashboard", id],
    queryFn: ({ signal }) => api<Dashboard>(`${ANALYTICS}/dashboards/${encodeURIComponent(id)}`, { signal }),
  });
  if (dashboard.isError) {
    return (
      <>
        <PageHeader title="Dashboard" />
        <ErrorNote error={dashboard.error} title="Could not open the dashboard" />
        <p>
          <Link to="/">Back to the dashboards</Link>
        </p>
      </>
    );
  }
  if (dashboard.data === undefined) {
    return (
      <>
        <PageHeader title="Dashboard" />
        <Loading />
      </>
    );
  }
  // keyed by id and version: the picker's state starts from what is stored
  return <DashboardView key={dashboard.data.id} dashboard={dashboard.data} />;
}
