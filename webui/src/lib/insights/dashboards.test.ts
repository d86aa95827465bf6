import { describe, expect, it } from "vitest";

import {
  builderHref,
  makeTile,
  newTileId,
  nextLayout,
  packTiles,
  parseQueryParam,
  refreshInterval,
  sortedTiles,
  tileQuery,
  toBody,
  withTile,
  withTileMoved,
  withTileWidth,
  withoutTile,
} from "./dashboards";
import type { Dashboard, Tile } from "./types";

function tile(id: string, x: number, y: number, w = 6, h = 4): Tile {
  return {
    id,
    title: id,
    kind: "trends",
    query: { series: [{ math: "total" }], date_range: "7d", interval: "day" },
    saved_query_id: null,
    layout: { x, y, w, h },
  };
}

const dashboard: Dashboard = {
  id: "d1",
  owner_id: "u1",
  name: "Shop",
  description: "",
  date_range: "30d",
  tiles: [tile("t1", 0, 0), tile("t2", 6, 0)],
  refresh_s: 60,
  created_at: "2026-11-01T00:00:00Z",
  updated_at: "2026-11-01T00:00:00Z",
};

describe("dashboard bodies", () => {
  it("drop the server's own fields", () => {
    expect(Object.keys(toBody(dashboard)).sort()).toEqual([
      "date_range",
      "description",
      "name",
      "refresh_s",
      "tiles",
    ]);
  });

  it("add a tile in the first free slot with a fresh id", () => {
    const body = withTile(dashboard, {
      kind: "funnels",
      title: " Checkout ",
      query: { steps: [{ event_type: "login" }, { event_type: "logout" }] },
    });
    expect(body.tiles).toHaveLength(3);
    expect(body.tiles[2]).toEqual({
      id: "t3",
      title: "Checkout",
      kind: "funnels",
      query: { steps: [{ event_type: "login" }, { event_type: "logout" }] },
      saved_query_id: null,
      layout: { x: 0, y: 4, w: 6, h: 4 },
    });
    // the stored dashboard is left as it was
    expect(dashboard.tiles).toHaveLength(2);
  });

  it("make sql tiles with a saved query and no query", () => {
    expect(makeTile([], { kind: "sql", title: "Top", savedQueryId: "q1" })).toMatchObject({
      kind: "sql",
      query: null,
      saved_query_id: "q1",
      layout: { x: 0, y: 0, w: 6, h: 4 },
    });
  });

  it("remove, move and widen tiles without overlaps", () => {
    expect(withoutTile(dashboard, "t1").tiles.map((t) => t.id)).toEqual(["t2"]);
    const moved = withTileMoved(dashboard, "t2", -1);
    expect(moved.tiles.map((t) => [t.id, t.layout.x, t.layout.y])).toEqual([
      ["t2", 0, 0],
      ["t1", 6, 0],
    ]);
    expect(withTileMoved(dashboard, "t1", -1).tiles.map((t) => t.id)).toEqual(["t1", "t2"]);
    // full width takes the row; t2 moves below it
    const wide = withTileWidth(dashboard, "t1", 12);
    expect(wide.tiles.map((t) => [t.id, t.layout])).toEqual([
      ["t1", { x: 0, y: 0, w: 12, h: 4 }],
      ["t2", { x: 0, y: 4, w: 6, h: 4 }],
    ]);
    // removing closes the gap
    expect(withoutTile(dashboard, "t1").tiles[0]?.layout).toEqual({ x: 0, y: 0, w: 6, h: 4 });
  });
});

describe("layout", () => {
  it("fills half-width slots left to right, top to bottom", () => {
    expect(nextLayout([])).toEqual({ x: 0, y: 0, w: 6, h: 4 });
    expect(nextLayout([tile("a", 0, 0)])).toEqual({ x: 6, y: 0, w: 6, h: 4 });
    expect(nextLayout([tile("a", 0, 0, 12)])).toEqual({ x: 0, y: 4, w: 6, h: 4 });
    expect(nextLayout([tile("a", 6, 0)])).toEqual({ x: 0, y: 0, w: 6, h: 4 });
  });

  it("packs tiles without holes, keeping their sizes", () => {
    expect(
      packTiles([tile("a", 0, 8, 12), tile("b", 6, 0), tile("c", 0, 20)]).map((t) => [
        t.id,
        t.layout.x,
        t.layout.y,
        t.layout.w,
      ]),
    ).toEqual([
      ["b", 0, 0, 6],
      ["a", 0, 4, 12],
      ["c", 0, 8, 6],
    ]);
  });

  it("orders tiles as they read", () => {
    expect(sortedTiles([tile("c", 0, 4), tile("b", 6, 0), tile("a", 0, 0)]).map((t) => t.id)).toEqual(
      ["a", "b", "c"],
    );
  });

  it("picks unused ids", () => {
    expect(newTileId([tile("t2", 0, 0)])).toBe("t3");
    expect(newTileId([tile("t2", 0, 0), tile("t3", 0, 0)])).toBe("t4");
    expect(newTileId([])).toBe("t1");
  });
});

describe("running tiles", () => {
  it("applies the shared date range over the tile's own", () => {
    const t = tile("t1", 0, 0);
    expect(tileQuery(t, { from: "2026-11-01", to: "2026-11-07" })).toMatchObject({
      date_range: { from: "2026-11-01", to: "2026-11-07" },
    });
    expect(tileQuery(t, null)).toMatchObject({ date_range: "7d" });
    expect(t.query?.date_range).toBe("7d");
  });

  it("links a tile to its builder and reads it back", () => {
    const href = builderHref(tile("t1", 0, 0));
    expect(href?.startsWith("/insights/trends?q=")).toBe(true);
    const q = new URLSearchParams(href?.split("?")[1]).get("q");
    expect(parseQueryParam(q)).toEqual(tile("t1", 0, 0).query);
    expect(parseQueryParam("not json")).toBeNull();
    expect(parseQueryParam("[1]")).toBeNull();
    expect(builderHref({ ...tile("t", 0, 0), kind: "sql", query: null })).toBeNull();
  });

  it("refreshes only when asked", () => {
    expect(refreshInterval(0)).toBe(false);
    expect(refreshInterval(30)).toBe(30000);
  });
});
