// A results grid that stays fast with 10,000+ rows: only the rows in view are in the DOM
// (@tanstack/react-virtual), the header stays put, wide results scroll sideways.
// Rows are arrays (a SQL result: value i under column i) or records (value under column key).

import { observeElementRect, useVirtualizer } from "@tanstack/react-virtual";
import { useRef, type CSSProperties, type ReactNode } from "react";

import { formatCell } from "../lib/format";

export interface DataGridColumn {
  key: string;
  label?: string;
  /** Pixels; default 160. */
  width?: number;
  align?: "left" | "right";
  /** Text for a value; default formatCell. */
  format?: (value: unknown) => string;
}

export type DataGridRow = readonly unknown[] | Readonly<Record<string, unknown>>;

export interface DataGridProps {
  columns: readonly (string | DataGridColumn)[];
  rows: readonly DataGridRow[];
  /** Pixels of the scrolling area; default 420. */
  height?: number;
  rowHeight?: number;
  ariaLabel?: string;
  /** A row was chosen (click or Enter): its index in `rows`. */
  onRowClick?: (index: number) => void;
}

const DEFAULT_WIDTH = 160;

function normalise(column: string | DataGridColumn): DataGridColumn {
  return typeof column === "string" ? { key: column } : column;
}

function cellValue(row: DataGridRow, column: DataGridColumn, index: number): unknown {
  if (Array.isArray(row)) return (row as readonly unknown[])[index];
  return (row as Readonly<Record<string, unknown>>)[column.key];
}

export function DataGrid({
  columns,
  rows,
  height = 420,
  rowHeight = 32,
  ariaLabel = "Results",
  onRowClick,
}: DataGridProps): ReactNode {
  const cols = columns.map(normalise);
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => rowHeight,
    overscan: 12,
    // jsdom (unit tests) has no layout and measures 0×0: fall back to the height asked for, so
    // the first rows render there too
    initialRect: { width: 1024, height },
    observeElementRect: (instance, cb) =>
      observeElementRect(instance, (rect) =>
        cb(rect.height === 0 ? { width: rect.width || 1024, height } : rect),
      ),
  });
  const totalWidth = cols.reduce((sum, c) => sum + (c.width ?? DEFAULT_WIDTH), 0);
  const template = cols.map((c) => `${c.width ?? DEFAULT_WIDTH}px`).join(" ");
  const rowStyle: CSSProperties = { gridTemplateColumns: template, width: totalWidth, minWidth: "100%" };

  return (
    <div
      className="data-grid"
      ref={scrollRef}
      style={{ height, overflow: "auto" }}
      role="table"
      aria-label={ariaLabel}
      aria-rowcount={rows.length + 1}
      tabIndex={0}
    >
      <div className="data-grid-head" role="rowgroup">
        <div className="data-grid-row" role="row" aria-rowindex={1} style={rowStyle}>
          {cols.map((c) => (
            <div key={c.key} role="columnheader" className={c.align === "right" ? "num" : undefined} title={c.label ?? c.key}>
              {c.label ?? c.key}
            </div>
          ))}
        </div>
      </div>
      <div role="rowgroup" style={{ height: virtualizer.getTotalSize(), width: totalWidth, minWidth: "100%", position: "relative" }}>
        {virtualizer.getVirtualItems().map((item) => {
          const row = rows[item.index];
          if (row === undefined) return null;
          return (
            <div
              key={item.key}
              role="row"
              aria-rowindex={item.index + 2}
              className={`data-grid-row${onRowClick !== undefined ? " clickable" : ""}`}
              style={{ ...rowStyle, position: "absolute", top: 0, left: 0, height: rowHeight, transform: `translateY(${item.start}px)` }}
              tabIndex={onRowClick !== undefined ? 0 : undefined}
              onClick={onRowClick !== undefined ? () => onRowClick(item.index) : undefined}
              onKeyDown={
                onRowClick !== undefined
                  ? (e) => {
                      if (e.key === "Enter" || e.key === " ") {
                        e.preventDefault();
                        onRowClick(item.index);
                      }
                    }
                  : undefined
              }
            >
              {cols.map((c, ci) => {
                const value = cellValue(row, c, ci);
                const text = (c.format ?? formatCell)(value);
                const numeric = c.align === "right" || (c.align === undefined && typeof value === "number");
                return (
                  <div
                    key={c.key}
                    role="cell"
                    className={`${numeric ? "num" : ""}${value === null || value === undefined ? " null" : ""}`}
                    title={text.length > 20 ? text : undefined}
                  >
                    {text}
                  </div>
                );
              })}
            </div>
          );
        })}
      </div>
    </div>
  );
}

export default DataGrid;
