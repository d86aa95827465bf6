// Saved queries: everyone can list and open them; editors also delete them (saving happens in
// the editor's toolbar, where the SQL is).

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";

import { api } from "../../api/client";
import { EmptyState } from "../EmptyState";
import { ErrorNote } from "../ErrorNote";
import { Loading } from "../Loading";
import { Pager } from "../Pager";
import { formatRelative } from "../../lib/format";
import { ANALYTICS, sqlPreview, type SavedQuery, type SavedQueryPage } from "../../lib/sql";

export const SAVED_KEY = ["analytics", "saved-queries"] as const;
const LIMIT = 20;

export interface SavedQueriesProps {
  canEdit: boolean;
  onLoad: (saved: SavedQuery) => void;
  /** The saved query open in the editor, if any (it is marked, and forgotten when deleted). */
  currentId: string | null;
  onDeleted: (id: string) => void;
}

export function SavedQueries({ canEdit, onLoad, currentId, onDeleted }: SavedQueriesProps): ReactNode {
  const [offset, setOffset] = useState(0);
  const client = useQueryClient();
  const list = useQuery({
    queryKey: [...SAVED_KEY, offset],
    queryFn: ({ signal }) => api<SavedQueryPage>(`${ANALYTICS}/saved-queries?limit=${LIMIT}&offset=${offset}`, { signal }),
    placeholderData: (previous) => previous,
  });
  const remove = useMutation({
    mutationFn: (id: string) => api<void>(`${ANALYTICS}/saved-queries/${encodeURIComponent(id)}`, { method: "DELETE" }),
    onSuccess: (_, id) => {
      onDeleted(id);
      void client.invalidateQueries({ queryKey: SAVED_KEY });
    },
  });
  const items = list.data?.items ?? [];
  return (
    <div className="sql-side-list">
      {list.isPending && <Loading label="Loading saved queries…" />}
      <ErrorNote error={list.error} title="Could not load saved queries" />
      <ErrorNote error={remove.error} title="Could not delete the query" />
      {list.isSuccess && list.data.total === 0 && (
        <EmptyState title="No saved queries">
          <p>
            {canEdit
              ? "Write a query, give it a name and press Save: it is shared with everyone in this workspace."
              : "Editors can save queries here for everyone to reuse."}
          </p>
        </EmptyState>
      )}
      <ul aria-label="Saved queries">
        {items.map((saved) => (
          <li key={saved.id} className={saved.id === currentId ? "current" : ""}>
            <button
              type="button"
              className="sql-list-item"
              onClick={() => onLoad(saved)}
              aria-label={`Open saved query ${saved.name}`}
              aria-current={saved.id === currentId ? "true" : undefined}
            >
              <strong>{saved.name}</strong>
              {saved.description && <span className="small">{saved.description}</span>}
              <code className="small">{sqlPreview(saved.sql, 80)}</code>
              <span className="muted small">changed {formatRelative(saved.updated_at)}</span>
            </button>
            {canEdit && (
              <button
                type="button"
                className="small-button danger"
                disabled={remove.isPending}
                aria-label={`Delete saved query ${saved.name}`}
                onClick={() => {
                  if (window.confirm(`Delete the saved query "${saved.name}"?`)) remove.mutate(saved.id);
                }}
              >
                Delete
              </button>
            )}
          </li>
        ))}
      </ul>
      {list.data !== undefined && (
        <Pager total={list.data.total} limit={LIMIT} offset={offset} onChange={setOffset} label="Saved query pages" />
      )}
    </div>
  );
}

export default SavedQueries;
