// The SQL editor: CodeMirror 6 with SQL highlighting and completion of the schema's tables and
// columns; Ctrl/Cmd+Enter runs. CodeMirror loads on first use (its own chunk); until then a plain
// textarea holds the text, so typing is never lost. Colours come from the app's CSS variables,
// so the editor follows the light/dark theme without being rebuilt.

import { useEffect, useId, useRef, useState, type ReactNode } from "react";

import type { EditorView as EditorViewType } from "@codemirror/view";

type CodeMirrorModule = typeof import("./codemirror");

let loading: Promise<CodeMirrorModule> | null = null;
function loadCodeMirror(): Promise<CodeMirrorModule> {
  loading ??= import("./codemirror");
  return loading;
}

export interface SqlEditorProps {
  value: string;
  onChange: (value: string) => void;
  onRun?: (value: string) => void;
  /** Table → columns, for completion. */
  schema?: Record<string, readonly string[]>;
  /** The accessible name; default "SQL query". */
  label?: string;
  /** Pixels of the editing area's minimum height; default 180. */
  minHeight?: number;
  readOnly?: boolean;
}

export function SqlEditor({
  value,
  onChange,
  onRun,
  schema,
  label = "SQL query",
  minHeight = 180,
  readOnly = false,
}: SqlEditorProps): ReactNode {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorViewType | null>(null);
  const [loaded, setLoaded] = useState(false);
  const id = useId();
  // the latest callbacks, read by the editor's listeners without rebuilding it
  const onChangeRef = useRef(onChange);
  const onRunRef = useRef(onRun);
  onChangeRef.current = onChange;
  onRunRef.current = onRun;
  const valueRef = useRef(value);
  valueRef.current = value;
  const schemaKey = JSON.stringify(schema ?? {});

  useEffect(() => {
    let destroyed = false;
    loadCodeMirror()
      .then((cm) => {
        if (destroyed || host.current === null) return;
        const run = (v: EditorViewType): boolean => {
          onRunRef.current?.(v.state.doc.toString());
          return true;
        };
        const parsedSchema = JSON.parse(schemaKey) as Record<string, string[]>;
        const editor = new cm.EditorView({
          parent: host.current,
          state: cm.EditorState.create({
            doc: valueRef.current,
            extensions: [
              cm.Prec.highest(cm.keymap.of([{ key: "Mod-Enter", run, preventDefault: true }])),
              cm.basicSetup,
              cm.sql({ dialect: cm.PostgreSQL, schema: parsedSchema, upperCaseKeywords: true }),
              cm.EditorView.lineWrapping,
              cm.EditorState.readOnly.of(readOnly),
              cm.EditorView.contentAttributes.of({ "aria-label": label, id: `${id}-cm` }),
              cm.EditorView.theme({
                "&": { minHeight: `${minHeight}px`, backgroundColor: "var(--surface)", color: "var(--text)" },
                ".cm-scroller": { fontFamily: "var(--mono)", minHeight: `${minHeight}px` },
                ".cm-content": { caretColor: "var(--text)" },
                ".cm-gutters": { backgroundColor: "var(--surface-2)", color: "var(--muted)", border: "none" },
                ".cm-activeLine": { backgroundColor: "var(--active-line)" },
                ".cm-activeLineGutter": { backgroundColor: "var(--active-line)" },
                "&.cm-focused": { outline: "2px solid var(--focus)" },
                ".cm-tooltip": { backgroundColor: "var(--surface)", color: "var(--text)", border: "1px solid var(--border)" },
              }),
              cm.EditorView.updateListener.of((update) => {
                if (update.docChanged) onChangeRef.current(update.state.doc.toString());
              }),
            ],
          }),
        });
        view.current = editor;
        setLoaded(true);
      })
      .catch(() => {
        // the textarea stays: still a working (plain) editor
      });
    return () => {
      destroyed = true;
      view.current?.destroy();
      view.current = null;
      setLoaded(false);
    };
  }, [schemaKey, label, minHeight, readOnly, id]);

  // a value set from outside (a saved query opened, history picked) replaces the text
  useEffect(() => {
    const editor = view.current;
    if (editor === null) return;
    const current = editor.state.doc.toString();
    if (current !== value) editor.dispatch({ changes: { from: 0, to: current.length, insert: value } });
  }, [value, loaded]);

  return (
    <div className="sql-editor">
      {!loaded && (
        <>
          <label htmlFor={`${id}-fallback`} className="visually-hidden">
            {label}
          </label>
          <textarea
            id={`${id}-fallback`}
            className="sql-fallback"
            value={value}
            readOnly={readOnly}
            spellCheck={false}
            style={{ minHeight }}
            onChange={(e) => onChange(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                onRun?.(e.currentTarget.value);
              }
            }}
          />
        </>
      )}
      <div ref={host} className="sql-editor-host" hidden={!loaded} />
    </div>
  );
}

export default SqlEditor;
