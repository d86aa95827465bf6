// The shared components, for `import { ErrorNote, Pager } from "../components"`.
export { Chart, type ChartOption, type ChartProps } from "./Chart";
export { CopyButton } from "./CopyButton";
export { DataGrid, type DataGridColumn, type DataGridRow, type DataGridProps } from "./DataGrid";
export { EmptyState } from "./EmptyState";
export { ErrorNote } from "./ErrorNote";
export { Field } from "./Field";
export { Loading } from "./Loading";
export { PageHeader } from "./PageHeader";
export { Pager } from "./Pager";
export { SqlEditor, type SqlEditorProps } from "./SqlEditor";
export { Tabs, type TabItem } from "./Tabs";
