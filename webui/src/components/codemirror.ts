// CodeMirror 6 with SQL: imported dynamically by SqlEditor so that it lands in the "codemirror"
// chunk (vite.config.ts) and only the SQL and Ask pages download it.

export { sql, PostgreSQL, StandardSQL } from "@codemirror/lang-sql";
export { EditorState, Prec } from "@codemirror/state";
export { EditorView, keymap, placeholder } from "@codemirror/view";
export { basicSetup } from "codemirror";
