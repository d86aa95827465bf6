// The SQL editor: schema browser, CodeMirror editor (Ctrl/Cmd+Enter runs), paged results in a
// virtualized grid (up to 10,000 rows a page), CSV export, the user's history and saved queries.
// Every SQL text is checked and scoped by the gateway; this page only shows what it says,
// next to the editor, in its words.

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";

import { api, downloadBlob } from "../api/client";
import { useSession } from "../api/session";
import { ErrorNote } from "../components/ErrorNote";
import { Field } from "../components/Field";
import { PageHeader } from "../components/PageHeader";
import { SqlEditor } from "../components/SqlEditor";
import { Tabs } from "../components/Tabs";
import { HISTORY_KEY, HistoryList } from "../components/sql/HistoryList";
import { ResultsPanel } from "../components/sql/ResultsPanel";
import { SAVED_KEY, SavedQueries } from "../components/sql/SavedQueries";
import { SchemaBrowser } from "../components/sql/SchemaBrowser";
import "../components/sql/sql.css";
import {
  ANALYTICS,
  PAGE_SIZES,
  completionSchema,
  exportFilename,
  insertSnippet,
  queryBody,
  runnable,
  type QueryResult,
  type SavedQuery,
  type SchemaResponse,
} from "../lib/sql";

const DRAFT_KEY = "causality.sql.draft";
const DEFAULT_SQL =
  "SELECT event_type, count(*) AS events\nFROM events\nWHERE timestamp >= now() - INTERVAL 7 DAY\nGROUP BY 1\nORDER BY 2 DESC";

function readDraft(): string {
  try {
    return window.localStorage.getItem(DRAFT_KEY) ?? DEFAULT_SQL;
  } catch {
    return DEFAULT_SQL;
  }
}

export const SCHEMA_KEY = ["analytics", "schema"] as const;

export default function SqlPage(): ReactNode {
  const { can } = useSession();
  const canEdit = can("editor");
  const client = useQueryClient();
  const [sql, setSql] = useState(readDraft);
  const [pageSize, setPageSize] = useState<number>(1000);
  const [result, setResult] = useState<QueryResult | null>(null);
  /** The SQL the shown result came from: paging reruns it, not the text being edited. */
  const [resultSql, setResultSql] = useState("");
  const [current, setCurrent] = useState<SavedQuery | null>(null);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [side, setSide] = useState<"schema" | "history" | "saved">("schema");
  const aborter = useRef<AbortController | null>(null);

  useEffect(() => {
    const t = window.setTimeout(() => {
      try {
        window.localStorage.setItem(DRAFT_KEY, sql);
      } catch {
        // private mode: the draft is simply not kept
      }
    }, 300);
    return () => window.clearTimeout(t);
  }, [sql]);
  useEffect(() => () => aborter.current?.abort(), []);

  const schema = useQuery({
    queryKey: SCHEMA_KEY,
    queryFn: ({ signal }) => api<SchemaResponse>(`${ANALYTICS}/schema`, { signal }),
    staleTime: 5 * 60_000,
  });

  const run = useMutation({
    mutationFn: async ({ text, page }: { text: string; page: number }) => {
      aborter.current?.abort();
      const controller = new AbortController();
      aborter.current = controller;
      const body = queryBody(text, page, pageSize);
      const answer = await api<QueryResult>(`${ANALYTICS}/query`, { method: "POST", body, signal: controller.signal });
      return { text, answer };
    },
    onSuccess: ({ text, answer }) => {
      setResult(answer);
      setResultSql(text);
    },
    onSettled: () => void client.invalidateQueries({ queryKey: HISTORY_KEY }),
  });

  const exporter = useMutation({
    mutationFn: (text: string) =>
      downloadBlob(`${ANALYTICS}/query/export`, { sql: text, format: "csv" }, exportFilename()),
    onSettled: () => void client.invalidateQueries({ queryKey: HISTORY_KEY }),
  });

  const save = useMutation({
    mutationFn: ({ asNew }: { asNew: boolean }) => {
      const body = { name: name.trim(), description: description.trim(), sql };
      return current !== null && !asNew
        ? api<SavedQuery>(`${ANALYTICS}/saved-queries/${encodeURIComponent(current.id)}`, { method: "PUT", body })
        : api<SavedQuery>(`${ANALYTICS}/saved-queries`, { method: "POST", body });
    },
    onSuccess: (saved) => {
      setCurrent(saved);
      setName(saved.name);
      setDescription(saved.description);
      void client.invalidateQueries({ queryKey: SAVED_KEY });
    },
  });

  const runText = useCallback(
    (text: string) => {
      if (runnable(text)) run.mutate({ text, page: 1 });
    },
    [run],
  );

  const load = (text: string): void => {
    setSql(text);
    run.reset();
  };

  const openSaved = (saved: SavedQuery): void => {
    load(saved.sql);
    setCurrent(saved);
    setName(saved.name);
    setDescription(saved.description);
    save.reset();
  };

  return (
    <div className="sql-page">
      <PageHeader title="SQL" description="One read-only SELECT over events, limited to your apps." />
      <div className="sql-layout">
        <aside className="sql-aside" aria-label="Schema, history and saved queries">
          <Tabs
            label="Schema, history and saved queries"
            tabs={[
              { id: "schema", label: "Schema" },
              { id: "history", label: "History" },
              { id: "saved", label: "Saved" },
            ]}
            value={side}
            onChange={setSide}
          >
            {side === "schema" && (
              <SchemaBrowser
                schema={schema.data}
                loading={schema.isPending}
                error={schema.error}
                onInsert={(text) => setSql((s) => insertSnippet(s, text).text)}
                onReplace={load}
              />
            )}
            {side === "history" && <HistoryList onLoad={load} />}
            {side === "saved" && (
              <SavedQueries
                canEdit={canEdit}
                onLoad={openSaved}
                currentId={current?.id ?? null}
                onDeleted={(id) => {
                  if (current?.id === id) setCurrent(null);
                }}
              />
            )}
          </Tabs>
        </aside>
        <div className="sql-main">
          <section aria-label="Query editor" className="sql-editor-section">
            {current !== null && (
              <p className="muted small">
                Saved query <strong>{current.name}</strong>
                <button
                  type="button"
                  className="link-button"
                  onClick={() => {
                    setCurrent(null);
                    setName("");
                    setDescription("");
                  }}
                >
                  Close
                </button>
              </p>
            )}
            <SqlEditor value={sql} onChange={setSql} onRun={runText} schema={completionSchema(schema.data)} label="SQL query" />
            <div className="sql-toolbar">
              <button
                type="button"
                className="primary"
                onClick={() => runText(sql)}
                disabled={run.isPending || !runnable(sql)}
                aria-keyshortcuts="Control+Enter Meta+Enter"
              >
                {run.isPending ? "Running…" : "Run"}
              </button>
              {run.isPending && (
                <button type="button" onClick={() => aborter.current?.abort()}>
                  Cancel
                </button>
              )}
              <label className="inline-field">
                Rows per page
                <select value={pageSize} onChange={(e) => setPageSize(Number(e.target.value))}>
                  {PAGE_SIZES.map((n) => (
                    <option key={n} value={n}>
                      {n.toLocaleString("en-US")}
                    </option>
                  ))}
                </select>
              </label>
              <button type="button" onClick={() => exporter.mutate(sql)} disabled={exporter.isPending || !runnable(sql)}>
                {exporter.isPending ? "Exporting…" : "Export CSV"}
              </button>
              <span className="muted small">Ctrl/Cmd+Enter runs</span>
            </div>
            {run.error !== null && !(run.error instanceof DOMException) && (
              <ErrorNote error={run.error} title="The query failed" />
            )}
            <ErrorNote error={exporter.error} title="The export failed" />
            {canEdit && (
              <form
                className="sql-save"
                onSubmit={(e) => {
                  e.preventDefault();
                  save.mutate({ asNew: false });
                }}
              >
                <Field label="Query name">
                  <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} required />
                </Field>
                <Field label="Query description">
                  <input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={5000} />
                </Field>
                <button type="submit" disabled={save.isPending || !runnable(sql) || name.trim() === ""}>
                  Save
                </button>
                {current !== null && (
                  <button
                    type="button"
                    disabled={save.isPending || !runnable(sql) || name.trim() === ""}
                    onClick={() => save.mutate({ asNew: true })}
                  >
                    Save as new
                  </button>
                )}
                {save.isSuccess && (
                  <span className="muted small" role="status">
                    Saved.
                  </span>
                )}
              </form>
            )}
            <ErrorNote error={save.error} title="Could not save the query" />
          </section>
          {result !== null ? (
            <ResultsPanel
              result={result}
              busy={run.isPending}
              onPage={(page) => run.mutate({ text: resultSql, page })}
            />
          ) : (
            !run.isPending && (
              <p className="muted sql-hint">
                Press Run to see the rows here. Click a column or an event type on the left to insert it.
              </p>
            )
          )}
        </div>
      </div>
    </div>
  );
}
