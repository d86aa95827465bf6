// The user's own runs, newest first (GET /history pages by `before`): a click loads the SQL.
// Failed runs show their error, so "what did I get wrong an hour ago" is one glance.

import { useInfiniteQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";

import { api } from "../../api/client";
import { EmptyState } from "../EmptyState";
import { ErrorNote } from "../ErrorNote";
import { Loading } from "../Loading";
import { formatDuration, formatNumber, formatRelative } from "../../lib/format";
import { ANALYTICS, sqlPreview, type HistoryPage } from "../../lib/sql";

export const HISTORY_KEY = ["analytics", "history"] as const;
const LIMIT = 25;

export function HistoryList({ onLoad }: { onLoad: (sql: string) => void }): ReactNode {
  const query = useInfiniteQuery({
    queryKey: HISTORY_KEY,
    queryFn: ({ pageParam, signal }) =>
      api<HistoryPage>(
        `${ANALYTICS}/history?limit=${LIMIT}${pageParam === null ? "" : `&before=${pageParam}`}`,
        { signal },
      ),
    initialPageParam: null as number | null,
    getNextPageParam: (last) => last.next_before,
  });
  const items = query.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <div className="sql-side-list">
      {query.isPending && <Loading label="Loading your history…" />}
      <ErrorNote error={query.error} title="Could not load the history" />
      {query.isSuccess && items.length === 0 && (
        <EmptyState title="No runs yet">
          <p>Write a query and press Run (or Ctrl/Cmd+Enter): every run is kept here.</p>
        </EmptyState>
      )}
      <ul aria-label="Query history">
        {items.map((entry) => (
          <li key={entry.id} className={entry.status === "ok" ? "" : "failed"}>
            <button type="button" className="sql-list-item" onClick={() => onLoad(entry.sql)} title={entry.sql}>
              <code>{sqlPreview(entry.sql, 90)}</code>
              <span className="muted small">
                {formatRelative(entry.created_at)} ·{" "}
                {entry.status === "ok"
                  ? `${formatNumber(entry.row_count)} rows · ${formatDuration(entry.elapsed_ms)}`
                  : `failed: ${entry.error ?? "error"}`}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {query.hasNextPage && (
        <button type="button" onClick={() => void query.fetchNextPage()} disabled={query.isFetchingNextPage}>
          {query.isFetchingNextPage ? "Loading…" : "Load older runs"}
        </button>
      )}
    </div>
  );
}

export default HistoryList;
