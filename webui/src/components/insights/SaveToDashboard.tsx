// "Save to dashboard": adds the insight last run as a tile to an existing dashboard (read
// fresh, then replaced whole, as the API wants) or to a new one. Editors only: the builders
// render it when the session can("editor").

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { Link } from "react-router";

import { api } from "../../api/client";
import { ErrorNote } from "../ErrorNote";
import { Field } from "../Field";
import { withTile } from "../../lib/insights/dashboards";
import type { Dashboard, InsightKind, Paged } from "../../lib/insights/types";
import { ANALYTICS } from "./useInsight";

const NEW = "__new__";

export function SaveToDashboard({
  kind,
  query,
  defaultTitle,
}: {
  kind: InsightKind;
  /** The definition last run, or null before a run (the button is then disabled). */
  query: object | null;
  defaultTitle: string;
}): ReactNode {
  const [open, setOpen] = useState(false);
  const [target, setTarget] = useState<string>("");
  const [newName, setNewName] = useState("");
  const [title, setTitle] = useState("");
  const [nameError, setNameError] = useState<string | null>(null);
  const client = useQueryClient();

  const list = useQuery({
    queryKey: ["dashboards", "picker"],
    queryFn: ({ signal }) =>
      api<Paged<Dashboard>>(`${ANALYTICS}/dashboards?limit=200&offset=0`, { signal }),
    enabled: open,
  });
  const dashboards = list.data?.items ?? [];
  const chosen = target !== "" ? target : (dashboards[0]?.id ?? NEW);

  const save = useMutation({
    mutationFn: async (): Promise<Dashboard> => {
      const tile = {
        kind,
        title: title.trim() || defaultTitle,
        query: query as Record<string, unknown>,
      };
      if (chosen === NEW) {
        const body = withTile(
          {
            id: "",
            owner_id: null,
            name: newName.trim(),
            description: "",
            date_range: null,
            tiles: [],
            refresh_s: 0,
            created_at: "",
            updated_at: "",
          },
          tile,
        );
        return api<Dashboard>(`${ANALYTICS}/dashboards`, { method: "POST", body });
      }
      const current = await api<Dashboard>(`${ANALYTICS}/dashboards/${chosen}`);
      return api<Dashboard>(`${ANALYTICS}/dashboards/${chosen}`, {
        method: "PUT",
        body: withTile(current, tile),
      });
    },
    onSuccess: (saved) => {
      void client.invalidateQueries({ queryKey: ["dashboards"] });
      void client.invalidateQueries({ queryKey: ["dashboard", saved.id] });
    },
  });

  if (!open) {
    return (
      <button
        type="button"
        disabled={query === null}
        title={query === null ? "Run the insight first" : undefined}
        onClick={() => {
          setOpen(true);
          save.reset();
        }}
      >
        Save to dashboard
      </button>
    );
  }

  return (
    <form
      className="save-panel"
      aria-label="Save to dashboard"
      onSubmit={(event) => {
        event.preventDefault();
        if (chosen === NEW && newName.trim() === "") {
          setNameError("Name the new dashboard");
          return;
        }
        setNameError(null);
        save.mutate();
      }}
    >
      <Field label="Dashboard">
        <select value={chosen} onChange={(event) => setTarget(event.target.value)}>
          {dashboards.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name}
            </option>
          ))}
          <option value={NEW}>New dashboard…</option>
        </select>
      </Field>
      {chosen === NEW && (
        <Field label="New dashboard name" error={nameError}>
          <input value={newName} onChange={(event) => setNewName(event.target.value)} />
        </Field>
      )}
      <Field label="Tile title">
        <input
          value={title}
          placeholder={defaultTitle}
          maxLength={200}
          onChange={(event) => setTitle(event.target.value)}
        />
      </Field>
      <button type="submit" className="primary" disabled={save.isPending || query === null}>
        {save.isPending ? "Saving…" : "Save"}
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Close
      </button>
      <ErrorNote error={list.error} title="Could not list dashboards" />
      <ErrorNote error={save.error} title="Could not save the tile" />
      {save.isSuccess && (
        <p className="notice ok" role="status">
          Saved to <Link to={`/dashboards/${save.data.id}`}>{save.data.name}</Link>.
        </p>
      )}
    </form>
  );
}
