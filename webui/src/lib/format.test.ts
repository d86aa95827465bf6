import { describe, expect, it } from "vitest";

import {
  formatBytes,
  formatCell,
  formatCompact,
  formatDate,
  formatDateTime,
  formatDuration,
  formatNumber,
  formatPercent,
  formatRelative,
  plural,
  safeNext,
} from "./format";

describe("format", () => {
  it("numbers", () => {
    expect(formatNumber(1234567)).toBe("1,234,567");
    expect(formatNumber(0.12345)).toBe("0.12");
    expect(formatNumber(null)).toBe("—");
    expect(formatNumber(Number.NaN)).toBe("—");
    expect(formatCompact(1_234_567)).toBe("1.2M");
    expect(formatCompact(950)).toBe("950");
  });

  it("percentages", () => {
    expect(formatPercent(0.4567)).toBe("45.7%");
    expect(formatPercent(1)).toBe("100.0%");
    expect(formatPercent(0.33333, 0)).toBe("33%");
    expect(formatPercent(-0.00001)).toBe("0.0%");
    expect(formatPercent(undefined)).toBe("—");
  });

  it("durations", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(12_345)).toBe("12 s");
    expect(formatDuration(1_500)).toBe("1.5 s");
    expect(formatDuration(245_000)).toBe("4m 05s");
    expect(formatDuration(2 * 3_600_000 + 3 * 60_000)).toBe("2h 03m");
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe("3d 4h");
    expect(formatDuration(-500)).toBe("-500 ms");
  });

  it("bytes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MB");
    expect(formatBytes(50 * 1024 * 1024)).toBe("50 MB");
  });

  it("dates", () => {
    expect(formatDateTime("2026-03-04T14:05:09Z", true)).toBe("2026-03-04 14:05:09");
    expect(formatDate("2026-03-04T23:59:59Z", true)).toBe("2026-03-04");
    expect(formatDateTime("not a date")).toBe("not a date");
    const now = Date.parse("2026-03-04T12:00:00Z");
    expect(formatRelative("2026-03-04T11:59:50Z", now)).toBe("just now");
    expect(formatRelative("2026-03-04T11:55:00Z", now)).toBe("5 min ago");
    expect(formatRelative("2026-03-04T09:00:00Z", now)).toBe("3 h ago");
    expect(formatRelative("2026-03-03T12:00:00Z", now)).toBe("1 day ago");
    expect(formatRelative("2026-03-01T12:00:00Z", now)).toBe("3 days ago");
    expect(formatRelative("2026-03-04T12:04:00Z", now)).toBe("in 4 min");
  });

  it("cells", () => {
    expect(formatCell(null)).toBe("null");
    expect(formatCell(undefined)).toBe("null");
    expect(formatCell(1234.5)).toBe("1,234.5");
    expect(formatCell(true)).toBe("true");
    expect(formatCell(10n)).toBe("10");
    expect(formatCell("text")).toBe("text");
    expect(formatCell({ a: [1, 2] })).toBe('{"a":[1,2]}');
  });

  it("plurals", () => {
    expect(plural(1, "event")).toBe("1 event");
    expect(plural(2, "event")).toBe("2 events");
    expect(plural(1200, "query", "queries")).toBe("1,200 queries");
  });

  it("safe next paths", () => {
    expect(safeNext(null)).toBe("/");
    expect(safeNext("/sql?x=1")).toBe("/sql?x=1");
    expect(safeNext("//evil.example/x")).toBe("/");
    expect(safeNext("https://evil.example")).toBe("/");
    expect(safeNext("javascript:alert(1)")).toBe("/");
    expect(safeNext("/\\evil.example")).toBe("/");
    expect(safeNext("/login?next=/x")).toBe("/");
  });
});
