/**
 * Dashboard editing and tile running, as plain functions over the API's shapes.
 *
 * The gateway replaces a dashboard whole (PUT with every field), so each edit is "take the
 * stored dashboard, change one thing, send the body" — `toBody` drops the server's fields
 * (id, owner, timestamps) that the body struct would refuse. A dashboard's shared date range
 * overrides each insight tile's own when the tile runs (sql tiles run their saved SQL as is).
 */

import type {
  Dashboard,
  DashboardBody,
  DateRange,
  InsightKind,
  Tile,
  TileKind,
  TileLayout,
} from "./types";

export const INSIGHT_KINDS: readonly InsightKind[] = ["trends", "funnels", "retention", "paths"];

export const REFRESH_CHOICES: readonly { seconds: number; label: string }[] = [
  { seconds: 0, label: "Off" },
  { seconds: 30, label: "Every 30 seconds" },
  { seconds: 60, label: "Every minute" },
  { seconds: 300, label: "Every 5 minutes" },
  { seconds: 900, label: "Every 15 minutes" },
  { seconds: 3600, label: "Every hour" },
];

export function isInsightKind(kind: TileKind): kind is InsightKind {
  return (INSIGHT_KINDS as readonly string[]).includes(kind);
}

/** The body of a PUT that leaves the dashboard as it is. */
export function toBody(d: Dashboard): DashboardBody {
  return {
    name: d.name,
    description: d.description,
    date_range: d.date_range,
    tiles: d.tiles.map((t) => ({ ...t, layout: { ...t.layout } })),
    refresh_s: d.refresh_s,
  };
}

function overlaps(a: TileLayout, b: TileLayout): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/**
 * The first free slot of w × h, scanning rows top to bottom, left then right; with `after`,
 * only slots that read after that one (so packing keeps the tiles' order).
 */
export function nextLayout(tiles: Tile[], w = 6, h = 4, after?: TileLayout): TileLayout {
  for (let y = after?.y ?? 0; y <= 1000; y += 1) {
    for (let x = 0; x + w <= 12; x += w) {
      if (after !== undefined && y === after.y && x < after.x + after.w) continue;
      const candidate = { x, y, w, h };
      if (!tiles.some((t) => overlaps(candidate, t.layout))) return candidate;
    }
  }
  return { x: 0, y: 1000, w, h };
}

/** A tile id not used on the dashboard yet. */
export function newTileId(tiles: Tile[]): string {
  const used = new Set(tiles.map((t) => t.id));
  for (let n = tiles.length + 1; ; n += 1) {
    const id = `t${n}`;
    if (!used.has(id)) return id;
  }
}

export interface NewTile {
  kind: TileKind;
  title: string;
  query?: Record<string, unknown>;
  savedQueryId?: string;
}

/** Build a tile for `tiles`, placed in the first free slot. */
export function makeTile(tiles: Tile[], tile: NewTile): Tile {
  const base = { id: newTileId(tiles), title: tile.title.trim(), layout: nextLayout(tiles) };
  if (tile.kind === "sql") {
    return { ...base, kind: "sql", query: null, saved_query_id: tile.savedQueryId ?? null };
  }
  return { ...base, kind: tile.kind, query: tile.query ?? {}, saved_query_id: null };
}

/** The dashboard with one more tile, as a PUT body. */
export function withTile(d: Dashboard, tile: NewTile): DashboardBody {
  const body = toBody(d);
  body.tiles.push(makeTile(body.tiles, tile));
  return body;
}

/** The dashboard without a tile, as a PUT body. */
export function withoutTile(d: Dashboard, tileId: string): DashboardBody {
  const body = toBody(d);
  body.tiles = packTiles(body.tiles.filter((t) => t.id !== tileId));
  return body;
}

/**
 * The dashboard with a tile moved one place earlier (-1) or later (+1) in reading order;
 * the two tiles swap their grid slots, so the layout stays free of overlaps.
 */
export function withTileMoved(d: Dashboard, tileId: string, delta: -1 | 1): DashboardBody {
  const body = toBody(d);
  const order = sortedTiles(body.tiles);
  const i = order.findIndex((t) => t.id === tileId);
  const j = i + delta;
  const a = order[i];
  const b = order[j];
  if (i < 0 || a === undefined || b === undefined) return body;
  const slot = a.layout;
  a.layout = { ...b.layout, w: slot.w, h: slot.h };
  b.layout = { ...slot, w: b.layout.w, h: b.layout.h };
  // keep the array in the new reading order too (the API stores tiles ordered)
  body.tiles = sortedTiles(body.tiles);
  return body;
}

/**
 * Tiles re-placed in reading order, each in the first free slot of its size: what is left
 * after a tile is removed or resized closes up instead of leaving holes.
 */
export function packTiles(tiles: Tile[]): Tile[] {
  const placed: Tile[] = [];
  for (const tile of sortedTiles(tiles)) {
    const { w, h } = tile.layout;
    const previous = placed[placed.length - 1]?.layout;
    placed.push({ ...tile, layout: nextLayout(placed, w, h, previous) });
  }
  return placed;
}

/** The dashboard with a tile made full or half width, as a PUT body. */
export function withTileWidth(d: Dashboard, tileId: string, w: number): DashboardBody {
  const body = toBody(d);
  const tile = body.tiles.find((t) => t.id === tileId);
  if (tile === undefined) return body;
  tile.layout = { ...tile.layout, w, x: Math.min(tile.layout.x, 12 - w) };
  body.tiles = packTiles(body.tiles);
  return body;
}

/** Tiles in reading order: by row, then column (the order a one-column phone layout shows). */
export function sortedTiles(tiles: Tile[]): Tile[] {
  return [...tiles].sort((a, b) => a.layout.y - b.layout.y || a.layout.x - b.layout.x);
}

/** A tile's insight query with the dashboard's shared date range applied, if it has one. */
export function tileQuery(tile: Tile, shared: DateRange | null): Record<string, unknown> {
  const query = { ...(tile.query ?? {}) };
  if (shared !== null) query.date_range = shared;
  return query;
}

/** Where to open a tile's insight in its builder (`?q=` holds the definition). */
export function builderHref(tile: Tile): string | null {
  if (!isInsightKind(tile.kind) || tile.query === null || tile.query === undefined) return null;
  return `/insights/${tile.kind}?q=${encodeURIComponent(JSON.stringify(tile.query))}`;
}

/** ms between automatic refreshes, or false when off. */
export function refreshInterval(refreshS: number): number | false {
  return refreshS > 0 ? refreshS * 1000 : false;
}

/** The `?q=` of a builder URL back into a query object, or null when absent or broken. */
export function parseQueryParam(raw: string | null): Record<string, unknown> | null {
  if (raw === null || raw === "") return null;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
