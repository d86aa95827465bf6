// One dashboard tile: runs its insight (with the dashboard's shared date range) or its saved
// SQL query, refreshes on the dashboard's interval, and offers editors move/resize/remove.

import { useQuery } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { Link } from "react-router";

import { api } from "../../api/client";
import { DataGrid } from "../DataGrid";
import { ErrorNote } from "../ErrorNote";
import { Loading } from "../Loading";
import { builderHref, isInsightKind, tileQuery } from "../../lib/insights/dashboards";
import type { DateRange, InsightKind, QueryPage, SavedQuery, Tile } from "../../lib/insights/types";
import { InsightView } from "./InsightViews";
import { ANALYTICS, runInsight } from "./useInsight";

const ROW_PX = 80;
const GAP_PX = 12;

export interface TileActions {
  move: (delta: -1 | 1) => void;
  width: (w: number) => void;
  remove: () => void;
  busy: boolean;
}

function InsightTileBody({
  tile,
  kind,
  range,
  refetchInterval,
  height,
}: {
  tile: Tile;
  kind: InsightKind;
  range: DateRange | null;
  refetchInterval: number | false;
  height: number;
}): ReactNode {
  const query = tileQuery(tile, range);
  const result = useQuery({
    queryKey: ["tile", kind, query],
    queryFn: ({ signal }) => runInsight(kind, query, signal),
    refetchInterval,
  });
  if (result.isError) return <ErrorNote error={result.error} title="Could not run this tile" />;
  if (result.data === undefined) return <Loading />;
  return <InsightView kind={kind} result={result.data} compact height={height} />;
}

function SqlTileBody({
  tile,
  refetchInterval,
  height,
}: {
  tile: Tile;
  refetchInterval: number | false;
  height: number;
}): ReactNode {
  const saved = useQuery({
    queryKey: ["saved-query", tile.saved_query_id],
    queryFn: ({ signal }) =>
      api<SavedQuery>(`${ANALYTICS}/saved-queries/${tile.saved_query_id ?? ""}`, { signal }),
    enabled: typeof tile.saved_query_id === "string",
  });
  const sql = saved.data?.sql;
  const page = useQuery({
    queryKey: ["tile", "sql", tile.saved_query_id, sql],
    queryFn: ({ signal }) =>
      api<QueryPage>(`${ANALYTICS}/query`, {
        method: "POST",
        body: { sql, page: 1, page_size: 500 },
        signal,
      }),
    enabled: sql !== undefined,
    refetchInterval,
  });
  if (saved.isError) return <ErrorNote error={saved.error} title="Could not load the saved query" />;
  if (page.isError) return <ErrorNote error={page.error} title="Could not run the saved query" />;
  if (page.data === undefined) return <Loading />;
  return (
    <DataGrid
      columns={page.data.columns}
      rows={page.data.rows}
      height={height}
      ariaLabel={`${tile.title || saved.data?.name || "Query"} rows`}
    />
  );
}

export function TileCard({
  tile,
  range,
  refetchInterval,
  actions,
  first,
  last,
}: {
  tile: Tile;
  range: DateRange | null;
  refetchInterval: number | false;
  /** Editors' actions; undefined for viewers. */
  actions?: TileActions;
  first: boolean;
  last: boolean;
}): ReactNode {
  const [confirming, setConfirming] = useState(false);
  const { x, y, w, h } = tile.layout;
  const title = tile.title || (tile.kind === "sql" ? "Saved query" : tile.kind);
  const href = builderHref(tile);
  // the body's height: the tile's rows less its header and padding
  const height = Math.max(160, h * ROW_PX + (h - 1) * GAP_PX - 64);
  return (
    <article
      className="tile"
      aria-label={title}
      style={{ gridColumn: `${x + 1} / span ${w}`, gridRow: `${y + 1} / span ${h}` }}
    >
      <div className="tile-head">
        <h2>{title}</h2>
        <div className="tile-actions">
          {href !== null && (
            <Link className="button" to={href} aria-label={`Open ${title} in its builder`}>
              Open
            </Link>
          )}
          {actions !== undefined && (
            <>
              <button
                type="button"
                aria-label={`Move ${title} earlier`}
                disabled={first || actions.busy}
                onClick={() => actions.move(-1)}
              >
                ←
              </button>
              <button
                type="button"
                aria-label={`Move ${title} later`}
                disabled={last || actions.busy}
                onClick={() => actions.move(1)}
              >
                →
              </button>
              <button
                type="button"
                disabled={actions.busy}
                onClick={() => actions.width(w >= 12 ? 6 : 12)}
              >
                {w >= 12 ? "Half width" : "Full width"}
              </button>
              {confirming ? (
                <>
                  <button type="button" className="danger" disabled={actions.busy} onClick={actions.remove}>
                    Confirm remove
                  </button>
                  <button type="button" onClick={() => setConfirming(false)}>
                    Keep
                  </button>
                </>
              ) : (
                <button type="button" aria-label={`Remove ${title}`} onClick={() => setConfirming(true)}>
                  Remove
                </button>
              )}
            </>
          )}
        </div>
      </div>
      <div className="tile-body">
        {isInsightKind(tile.kind) ? (
          <InsightTileBody
            tile={tile}
            kind={tile.kind}
            range={range}
            refetchInterval={refetchInterval}
            height={height}
          />
        ) : (
          <SqlTileBody tile={tile} refetchInterval={refetchInterval} height={height} />
        )}
      </div>
    </article>
  );
}
