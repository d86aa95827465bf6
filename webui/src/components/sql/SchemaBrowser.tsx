// The schema browser beside the SQL editor: the columns of `events` with their descriptions, and
// the event types seen in the last 30 days. A click inserts the name into the query; an event
// type also offers a starter query, since "show me those events" is the usual first step.

import { useMemo, useState, type ReactNode } from "react";

import { ErrorNote } from "../ErrorNote";
import { Loading } from "../Loading";
import { formatNumber } from "../../lib/format";
import { sampleQuery, sqlIdent, sqlString, type SchemaResponse } from "../../lib/sql";

export interface SchemaBrowserProps {
  schema: SchemaResponse | undefined;
  loading: boolean;
  error: unknown;
  /** Insert text into the query at the end. */
  onInsert: (text: string) => void;
  /** Replace the query with a starter query. */
  onReplace: (sql: string) => void;
}

export function SchemaBrowser({ schema, loading, error, onInsert, onReplace }: SchemaBrowserProps): ReactNode {
  const [filter, setFilter] = useState("");
  const needle = filter.trim().toLowerCase();
  const tables = useMemo(
    () =>
      (schema?.tables ?? []).map((t) => ({
        ...t,
        columns: t.columns.filter(
          (c) => needle === "" || c.name.includes(needle) || c.description.toLowerCase().includes(needle),
        ),
      })),
    [schema, needle],
  );
  const types = useMemo(
    () =>
      (schema?.event_types ?? []).filter(
        (t) => needle === "" || t.event_type.includes(needle) || (t.event_name ?? "").toLowerCase().includes(needle),
      ),
    [schema, needle],
  );

  return (
    <section className="sql-schema" aria-labelledby="sql-schema-title">
      <h2 id="sql-schema-title" className="visually-hidden">
        Schema
      </h2>
      <label className="visually-hidden" htmlFor="sql-schema-filter">
        Filter the schema
      </label>
      <input
        id="sql-schema-filter"
        type="search"
        placeholder="Filter columns and event types"
        value={filter}
        onChange={(e) => setFilter(e.target.value)}
      />
      {loading && <Loading label="Loading the schema…" />}
      <ErrorNote error={error} title="Could not load the schema" />
      {tables.map((table) => (
        <div key={table.name} className="sql-schema-table">
          <h3>
            <button type="button" className="link-button" onClick={() => onInsert(table.name)} title={table.description}>
              {table.name}
            </button>
          </h3>
          <p className="muted small">{table.description} Click a name to insert it.</p>
          <ul className="sql-schema-list" aria-label={`Columns of ${table.name}`}>
            {table.columns.map((c) => (
              <li key={c.name}>
                <button
                  type="button"
                  className="sql-schema-item"
                  onClick={() => onInsert(sqlIdent(c.name))}
                  aria-label={`Insert column ${c.name}`}
                  title={c.description}
                >
                  <code>{c.name}</code>
                  <span className="sql-schema-type">{c.type}</span>
                </button>
                <div className="sql-schema-desc">{c.description}</div>
              </li>
            ))}
          </ul>
        </div>
      ))}
      {schema !== undefined && (
        <div className="sql-schema-types">
          <h3>Event types seen (30 days)</h3>
          {types.length === 0 ? (
            <p className="muted small">
              {needle ? "No event type matches." : "No events in the last 30 days: send some with an SDK first."}
            </p>
          ) : (
            <ul className="sql-schema-list" aria-label="Event types seen">
              {types.map((t) => {
                const label = t.event_name ? `${t.event_type}: ${t.event_name}` : t.event_type;
                return (
                  <li key={`${t.event_type}/${t.event_name ?? ""}`} className="sql-schema-type-row">
                    <button
                      type="button"
                      className="sql-schema-item"
                      onClick={() => onInsert(sqlString(t.event_name ?? t.event_type))}
                      aria-label={`Insert ${label}`}
                    >
                      <code>{label}</code>
                      <span className="sql-schema-type">{formatNumber(t.events)}</span>
                    </button>
                    <button
                      type="button"
                      className="small-button"
                      onClick={() => onReplace(sampleQuery(t))}
                      aria-label={`Query ${label} events`}
                    >
                      Query
                    </button>
                  </li>
                );
              })}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}

export default SchemaBrowser;
