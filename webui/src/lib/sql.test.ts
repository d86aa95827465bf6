import { describe, expect, it } from "vitest";
import {
  columnWidth,
  completionSchema,
  exportFilename,
  insertSnippet,
  isNumericType,
  queryBody,
  rowRange,
  sampleQuery,
  sqlIdent,
  sqlPreview,
  sqlString,
} from "./sql";

describe("queryBody", () => {
  it("passes valid values through", () => {
    expect(queryBody("SELECT 1", 2, 1000)).toEqual({ sql: "SELECT 1", page: 2, page_size: 1000 });
  });
  it("clamps to what the API accepts", () => {
    expect(queryBody("x", 0, 50_000)).toEqual({ sql: "x", page: 1, page_size: 10_000 });
    expect(queryBody("x", Number.NaN, Number.NaN)).toEqual({ sql: "x", page: 1, page_size: 100 });
    expect(queryBody("x", 3.7, 0.5).page).toBe(3);
  });
});

describe("rowRange", () => {
  it("names the rows of a page", () => {
    expect(rowRange({ page: 1, page_size: 100, rows: [[1], [2]] })).toBe("rows 1–2");
    expect(rowRange({ page: 3, page_size: 100, rows: Array.from({ length: 100 }, () => [0]) })).toBe(
      "rows 201–300",
    );
    expect(rowRange({ page: 2, page_size: 10, rows: [[1]] })).toBe("row 11");
    expect(rowRange({ page: 2, page_size: 10_000, rows: Array.from({ length: 10_000 }, () => [0]) })).toBe(
      "rows 10,001–20,000",
    );
    expect(rowRange({ page: 1, page_size: 10, rows: [] })).toBe("no rows");
  });
});

describe("quoting", () => {
  it("escapes string literals", () => {
    expect(sqlString("it's")).toBe("'it''s'");
    expect(sqlString("a'; DROP TABLE x; --")).toBe("'a''; DROP TABLE x; --'");
  });
  it("quotes only unusual identifiers", () => {
    expect(sqlIdent("event_type")).toBe("event_type");
    expect(sqlIdent("Mixed Case")).toBe('"Mixed Case"');
    expect(sqlIdent('a"b')).toBe('"a""b"');
  });
});

describe("insertSnippet", () => {
  it("appends with a separating space", () => {
    expect(insertSnippet("SELECT", "app_id")).toEqual({ text: "SELECT app_id", cursor: 13 });
  });
  it("inserts into an empty editor as is", () => {
    expect(insertSnippet("", "events")).toEqual({ text: "events", cursor: 6 });
  });
  it("inserts at the cursor with spaces on both sides when needed", () => {
    const r = insertSnippet("SELECT FROM events", "app_id", 6);
    expect(r.text).toBe("SELECT app_id FROM events");
    expect(r.cursor).toBe(13);
    expect(insertSnippet("count()", "id", 6).text).toBe("count(id)");
    expect(insertSnippet("a, b", "c", 2).text).toBe("a, c b");
  });
  it("clamps a cursor out of range", () => {
    expect(insertSnippet("ab", "c", 99).text).toBe("ab c");
    expect(insertSnippet("ab", "c", -5).text).toBe("c ab");
  });
});

describe("sampleQuery", () => {
  it("filters on the type, and the name for custom events, quoted", () => {
    expect(sampleQuery({ event_type: "purchase_complete", event_name: null })).toContain(
      "WHERE event_type = 'purchase_complete'\n",
    );
    expect(sampleQuery({ event_type: "custom", event_name: "it's" })).toContain(
      "event_type = 'custom' AND event_name = 'it''s'",
    );
  });
});

describe("completionSchema", () => {
  it("maps tables to column names", () => {
    expect(
      completionSchema({
        tables: [
          {
            name: "events",
            description: "",
            columns: [
              { name: "id", type: "VARCHAR", description: "" },
              { name: "app_id", type: "VARCHAR", description: "" },
            ],
          },
        ],
        event_types: [],
        event_types_since: "",
      }),
    ).toEqual({ events: ["id", "app_id"] });
    expect(completionSchema(undefined)).toEqual({});
  });
});

describe("isNumericType", () => {
  it("knows DuckDB's number types", () => {
    for (const t of ["BIGINT", "INTEGER", "DOUBLE", "DECIMAL(18,3)", "HUGEINT", "float"]) {
      expect(isNumericType(t)).toBe(true);
    }
    for (const t of ["VARCHAR", "TIMESTAMP WITH TIME ZONE", "BOOLEAN", "INTERVAL", undefined]) {
      expect(isNumericType(t)).toBe(false);
    }
  });
});

describe("exportFilename and sqlPreview", () => {
  it("names the CSV after the time", () => {
    expect(exportFilename(new Date("2025-03-04T05:06:07.891Z"))).toBe("query-2025-03-04-050607.csv");
  });
  it("flattens and cuts long SQL", () => {
    expect(sqlPreview("SELECT\n  *\nFROM events")).toBe("SELECT * FROM events");
    const long = sqlPreview("x".repeat(300), 10);
    expect(long).toHaveLength(10);
    expect(long.endsWith("…")).toBe(true);
  });
});

describe("columnWidth", () => {
  it("fits the name and the values, within bounds", () => {
    expect(columnWidth("n", [1, 22, 333])).toBe(80);
    expect(columnWidth("event_type", ["purchase_complete"])).toBe(17 * 8 + 28);
    expect(columnWidth("properties", ["x".repeat(500)])).toBe(360);
    expect(columnWidth("a_long_column_name", [null])).toBe(18 * 8 + 28);
    expect(columnWidth("obj", [{ a: 1 }])).toBe(7 * 8 + 28);
  });
});
