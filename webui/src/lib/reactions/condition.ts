/**
 * The rule builder's condition tree: the editor's model, immutable edits, conversion to and
 * from the API's JSON, and mapping an API error path ("condition.all[1].op") to a node.
 *
 * Why a separate editor model instead of editing the API JSON directly: the form needs stable
 * node ids (React keys, focus, error placement) and raw text for values while they are being
 * typed ("1." is not a number yet), and the API JSON has neither. The conversion is the one
 * place where text becomes typed JSON, so the UI can show "not a number" next to the node
 * before the server is asked.
 *
 * The emitted JSON mirrors the editor tree exactly (the root group is always emitted as a
 * group), so a server error path can be walked back through the same tree.
 */

export const OPERATORS = [
  "eq",
  "ne",
  "gt",
  "gte",
  "lt",
  "lte",
  "in",
  "not_in",
  "contains",
  "starts_with",
  "regex",
  "exists",
] as const;
export type Operator = (typeof OPERATORS)[number];

export const OPERATOR_LABELS: Record<Operator, string> = {
  eq: "equals",
  ne: "does not equal",
  gt: ">",
  gte: "≥",
  lt: "<",
  lte: "≤",
  in: "is one of",
  not_in: "is not one of",
  contains: "contains",
  starts_with: "starts with",
  regex: "matches regex",
  exists: "exists",
};

export type GroupOp = "all" | "any" | "not";
export const GROUP_LABELS: Record<GroupOp, string> = {
  all: "All of",
  any: "Any of",
  not: "Not",
};

/** How a leaf's value text is read: the API never coerces types, so the editor must not. */
export type ValueType = "string" | "number" | "boolean" | "json";
export const VALUE_TYPES: readonly ValueType[] = ["string", "number", "boolean", "json"];

/** What kind of value input an operator takes. */
export type ValueKind = "scalar" | "number" | "text" | "list" | "exists";

export function valueKind(op: Operator): ValueKind {
  switch (op) {
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return "number";
    case "starts_with":
    case "regex":
      return "text";
    case "in":
    case "not_in":
      return "list";
    case "exists":
      return "exists";
    default:
      return "scalar";
  }
}

export interface EditorLeaf {
  readonly kind: "leaf";
  readonly id: string;
  readonly field: string;
  readonly op: Operator;
  /** Used by scalar and list operators ("number"/"text" operators fix the type). */
  readonly valueType: ValueType;
  /** The value as typed; for list operators one item per line. */
  readonly text: string;
  /** For `exists`: true tests presence, false tests absence. */
  readonly exists: boolean;
}

export interface EditorGroup {
  readonly kind: "group";
  readonly id: string;
  readonly op: GroupOp;
  readonly children: readonly EditorNode[];
}

export type EditorNode = EditorLeaf | EditorGroup;

/** The API's condition JSON (loosely typed: it comes from the server or a file). */
export type ConditionJson = Record<string, unknown>;

let counter = 0;
/** A fresh node id (unique within this page load; only used as a key, never sent). */
export function newId(): string {
  counter += 1;
  return `n${counter}`;
}

export function newLeaf(partial: Partial<Omit<EditorLeaf, "kind" | "id">> = {}): EditorLeaf {
  return {
    kind: "leaf",
    id: newId(),
    field: "",
    op: "eq",
    valueType: "string",
    text: "",
    exists: true,
    ...partial,
  };
}

export function newGroup(op: GroupOp = "all", children: readonly EditorNode[] = []): EditorGroup {
  return { kind: "group", id: newId(), op, children };
}

/** The editor's root: always a group, so there is somewhere to add the first condition. */
export function emptyTree(): EditorGroup {
  return newGroup("all", []);
}

// -- immutable edits ---------------------------------------------------------------------------

/** Apply `fn` to the node with `id`; untouched branches keep their identity (cheap re-render). */
function mapNode(
  node: EditorNode,
  id: string,
  fn: (found: EditorNode) => EditorNode,
): EditorNode {
  if (node.id === id) return fn(node);
  if (node.kind === "leaf") return node;
  let changed = false;
  const children = node.children.map((child) => {
    const next = mapNode(child, id, fn);
    if (next !== child) changed = true;
    return next;
  });
  return changed ? { ...node, children } : node;
}

function asRoot(node: EditorNode): EditorGroup {
  return node.kind === "group" ? node : newGroup("all", [node]);
}

/** Change a leaf's field, operator, value type, value text or exists flag. */
export function updateLeaf(
  root: EditorGroup,
  id: string,
  patch: Partial<Omit<EditorLeaf, "kind" | "id">>,
): EditorGroup {
  return asRoot(
    mapNode(root, id, (node) => (node.kind === "leaf" ? { ...node, ...patch } : node)),
  );
}

/**
 * Change a group's operator. A `not` holds exactly one node, so turning a group of several
 * into `not` keeps them together under a new `all` (meaning "not all of these").
 */
export function setGroupOp(root: EditorGroup, id: string, op: GroupOp): EditorGroup {
  return asRoot(
    mapNode(root, id, (node) => {
      if (node.kind !== "group" || node.op === op) return node;
      if (op === "not" && node.children.length > 1) {
        return { ...node, op, children: [newGroup("all", node.children)] };
      }
      return { ...node, op };
    }),
  );
}

/** Whether a group can take another child (`not` takes one). */
export function canAddChild(group: EditorGroup): boolean {
  return group.op !== "not" || group.children.length === 0;
}

/** Append a node to a group (a full `not` is left unchanged). */
export function addChild(root: EditorGroup, groupId: string, child: EditorNode): EditorGroup {
  return asRoot(
    mapNode(root, groupId, (node) =>
      node.kind === "group" && canAddChild(node)
        ? { ...node, children: [...node.children, child] }
        : node,
    ),
  );
}

/** Remove a node (the root itself cannot be removed: it is emptied instead). */
export function removeNode(root: EditorGroup, id: string): EditorGroup {
  if (root.id === id) return { ...root, children: [] };
  const strip = (node: EditorNode): EditorNode => {
    if (node.kind === "leaf") return node;
    const kept = node.children.filter((child) => child.id !== id);
    const children = kept.map(strip);
    const same =
      kept.length === node.children.length && children.every((c, i) => c === node.children[i]);
    return same ? node : { ...node, children };
  };
  return asRoot(strip(root));
}

/** Put a node inside a new group in its place ("nest"): a leaf becomes `{any: [leaf]}`. */
export function wrapNode(root: EditorGroup, id: string, op: GroupOp = "any"): EditorGroup {
  if (root.id === id) return newGroup(op, [root]);
  return asRoot(mapNode(root, id, (node) => newGroup(op, [node])));
}

/** Find a node by id. */
export function findNode(root: EditorNode, id: string): EditorNode | undefined {
  if (root.id === id) return root;
  if (root.kind === "leaf") return undefined;
  for (const child of root.children) {
    const found = findNode(child, id);
    if (found) return found;
  }
  return undefined;
}

/** Number of nodes (the API allows 200). */
export function countNodes(node: EditorNode): number {
  return node.kind === "leaf" ? 1 : 1 + node.children.reduce((n, c) => n + countNodes(c), 0);
}

// -- editor -> API -----------------------------------------------------------------------------

export type NodePart = "node" | "field" | "op" | "value";

/** A problem with one node, found locally or reported by the API. */
export interface NodeError {
  readonly nodeId: string;
  readonly part: NodePart;
  readonly message: string;
  /** The list item (0-based) for list values, when known. */
  readonly item?: number;
}

export type Conversion =
  | { readonly ok: true; readonly condition: ConditionJson | null }
  | { readonly ok: false; readonly errors: readonly NodeError[] };

function parseScalar(text: string, type: ValueType): { value: unknown } | { error: string } {
  switch (type) {
    case "string":
      return { value: text };
    case "number": {
      const trimmed = text.trim();
      const n = Number(trimmed);
      if (trimmed === "" || !Number.isFinite(n)) return { error: `"${text}" is not a number` };
      return { value: n };
    }
    case "boolean": {
      const t = text.trim().toLowerCase();
      if (t === "true") return { value: true };
      if (t === "false") return { value: false };
      return { error: "choose true or false" };
    }
    case "json": {
      try {
        const value: unknown = JSON.parse(text);
        if (value === null || typeof value === "object") {
          return { error: "must be a string, number or boolean in JSON" };
        }
        return { value };
      } catch {
        return { error: "not valid JSON (quote strings: \"ios\")" };
      }
    }
  }
}

/** List items: one per line; blank lines are ignored. */
export function listItems(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.replace(/\r$/, ""))
    .filter((line) => line.trim() !== "");
}

function leafJson(leaf: EditorLeaf, errors: NodeError[]): ConditionJson {
  const out: ConditionJson = { field: leaf.field.trim(), op: leaf.op };
  if (leaf.field.trim() === "") {
    errors.push({ nodeId: leaf.id, part: "field", message: "choose a field, e.g. properties.amount" });
  }
  const kind = valueKind(leaf.op);
  const fail = (message: string, item?: number): void => {
    errors.push(
      item === undefined
        ? { nodeId: leaf.id, part: "value", message }
        : { nodeId: leaf.id, part: "value", message, item },
    );
  };
  switch (kind) {
    case "exists":
      if (!leaf.exists) out.value = false;
      break;
    case "number": {
      const parsed = parseScalar(leaf.text, "number");
      if ("error" in parsed) fail(parsed.error);
      else out.value = parsed.value;
      break;
    }
    case "text":
      out.value = leaf.text;
      break;
    case "scalar": {
      const parsed = parseScalar(leaf.text, leaf.valueType);
      if ("error" in parsed) fail(parsed.error);
      else out.value = parsed.value;
      break;
    }
    case "list": {
      const items = listItems(leaf.text);
      if (items.length === 0) fail("add at least one value (one per line)");
      const values: unknown[] = [];
      items.forEach((item, i) => {
        const parsed = parseScalar(item, leaf.valueType);
        if ("error" in parsed) fail(`line ${i + 1}: ${parsed.error}`, i);
        else values.push(parsed.value);
      });
      out.value = values;
      break;
    }
  }
  return out;
}

function nodeJson(node: EditorNode, errors: NodeError[]): ConditionJson {
  if (node.kind === "leaf") return leafJson(node, errors);
  if (node.children.length === 0) {
    errors.push({ nodeId: node.id, part: "node", message: "add a condition to this group" });
  }
  if (node.op === "not") {
    const only = node.children[0];
    return { not: only ? nodeJson(only, errors) : {} };
  }
  return { [node.op]: node.children.map((child) => nodeJson(child, errors)) };
}

/**
 * The API JSON for the tree: an empty root is `null` (every event in scope matches);
 * otherwise the root group as-is. Every local problem is returned, each on its node.
 */
export function toApi(root: EditorGroup): Conversion {
  if (root.children.length === 0) return { ok: true, condition: null };
  const errors: NodeError[] = [];
  const condition = nodeJson(root, errors);
  return errors.length ? { ok: false, errors } : { ok: true, condition };
}

// -- API -> editor -----------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isOperator(value: unknown): value is Operator {
  return typeof value === "string" && (OPERATORS as readonly string[]).includes(value);
}

function typeOf(value: unknown): ValueType {
  if (typeof value === "number") return "number";
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "string") return "string";
  return "json";
}

function textOf(value: unknown, type: ValueType): string {
  if (type === "json") return JSON.stringify(value) ?? "";
  return String(value);
}

function leafFrom(json: Record<string, unknown>): EditorLeaf {
  const field = typeof json.field === "string" ? json.field : "";
  if (!isOperator(json.op)) {
    throw new Error(`unknown operator ${JSON.stringify(json.op)}`);
  }
  const op = json.op;
  const value = json.value;
  switch (valueKind(op)) {
    case "exists":
      return newLeaf({ field, op, exists: value !== false });
    case "list": {
      const items = Array.isArray(value) ? value : [];
      const types = new Set(items.map(typeOf));
      const only = types.size === 1 ? [...types][0] : undefined;
      // A list whose items all have one type is edited as that type, one per line; mixed
      // lists (or strings with line breaks) fall back to one JSON literal per line.
      const plain =
        only !== undefined &&
        only !== "json" &&
        !items.some((v) => typeof v === "string" && (v.includes("\n") || v.trim() === ""));
      const valueType: ValueType = plain ? only : "json";
      return newLeaf({
        field,
        op,
        valueType,
        text: items.map((v) => textOf(v, valueType)).join("\n"),
      });
    }
    case "number":
      return newLeaf({ field, op, valueType: "number", text: textOf(value, "number") });
    case "text":
      return newLeaf({ field, op, valueType: "string", text: typeof value === "string" ? value : "" });
    case "scalar": {
      const valueType = typeOf(value);
      return newLeaf({ field, op, valueType, text: textOf(value, valueType) });
    }
  }
}

function nodeFrom(json: unknown): EditorNode {
  if (!isRecord(json)) throw new Error("a condition node must be an object");
  for (const op of ["all", "any"] as const) {
    if (op in json) {
      const list = json[op];
      if (!Array.isArray(list)) throw new Error(`"${op}" must be a list`);
      return newGroup(op, list.map(nodeFrom));
    }
  }
  if ("not" in json) return newGroup("not", [nodeFrom(json.not)]);
  return leafFrom(json);
}

/**
 * The editor tree for a stored condition: `null` is an empty root; a bare leaf (as the CLI
 * may store) is shown inside an "All of" root, which means the same thing.
 */
export function fromApi(condition: unknown): EditorGroup {
  if (condition === null || condition === undefined) return emptyTree();
  return asRoot(nodeFrom(condition));
}

// -- API error path -> node --------------------------------------------------------------------

/**
 * Which node (and which part of it) an API error field names, e.g. "condition.all[1].op" or
 * "condition.any[0].not.value[2]". Walks the editor tree along the same structure `toApi`
 * emitted; when the path goes further than the tree (it changed since), the deepest node
 * reached is named. Returns null for fields outside the condition.
 */
export function errorTarget(
  root: EditorGroup,
  fieldPath: string | undefined | null,
  prefix = "condition",
): NodeError | null {
  if (!fieldPath || (fieldPath !== prefix && !fieldPath.startsWith(`${prefix}.`))) return null;
  const rest = fieldPath.slice(prefix.length);
  const tokens = rest.match(/\.[^.[]+|\[\d+\]/g) ?? [];
  let node: EditorNode = root;
  let part: NodePart = "node";
  let item: number | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? "";
    const name = token.startsWith(".") ? token.slice(1) : undefined;
    if (name === "all" || name === "any") {
      const next = tokens[i + 1];
      const index = next?.startsWith("[") ? Number(next.slice(1, -1)) : undefined;
      if (node.kind !== "group" || index === undefined) break;
      const child: EditorNode | undefined = node.children[index];
      if (!child) break;
      node = child;
      i += 1;
      continue;
    }
    if (name === "not") {
      const child: EditorNode | undefined = node.kind === "group" ? node.children[0] : undefined;
      if (!child) break;
      node = child;
      continue;
    }
    if (name === "field" || name === "op" || name === "value") {
      part = name;
      const next = tokens[i + 1];
      if (name === "value" && next?.startsWith("[")) item = Number(next.slice(1, -1));
      break;
    }
    break; // an unknown key: the node itself is at fault
  }
  return item === undefined
    ? { nodeId: node.id, part, message: "" }
    : { nodeId: node.id, part, message: "", item };
}

/** The API error placed on its node, with the server's message. */
export function apiErrorOnNode(
  root: EditorGroup,
  fieldPath: string | undefined | null,
  message: string,
  prefix = "condition",
): NodeError | null {
  const target = errorTarget(root, fieldPath, prefix);
  return target ? { ...target, message } : null;
}

/** The errors of one node, by part. */
export function errorsFor(
  errors: readonly NodeError[],
  nodeId: string,
): Partial<Record<NodePart, string>> {
  const out: Partial<Record<NodePart, string>> = {};
  for (const e of errors) {
    if (e.nodeId !== nodeId) continue;
    out[e.part] = out[e.part] ? `${out[e.part]}; ${e.message}` : e.message;
  }
  return out;
}

// -- field suggestions -------------------------------------------------------------------------

/** Paths the condition language knows (properties.<key> is open-ended). */
export const ENVELOPE_FIELDS = [
  "id",
  "idempotency_key",
  "app_id",
  "device_id",
  "event_category",
  "event_type",
  "event_name",
  "user_id",
  "session_id",
  "correlation_id",
  "timestamp_ms",
  "received_at_ms",
] as const;

export const DEVICE_FIELDS = [
  "platform",
  "os_version",
  "app_version",
  "build_number",
  "device_model",
  "manufacturer",
  "screen_width",
  "screen_height",
  "locale",
  "timezone",
  "network_type",
  "carrier",
  "is_jailbroken",
  "is_emulator",
  "sdk_version",
] as const;

export const FIELD_SUGGESTIONS: readonly string[] = [
  ...ENVELOPE_FIELDS,
  ...DEVICE_FIELDS.map((f) => `device_context.${f}`),
  "properties.",
];

const NUMERIC = new Set(["timestamp_ms", "received_at_ms", "device_context.screen_width", "device_context.screen_height"]);
const BOOLEAN = new Set(["device_context.is_jailbroken", "device_context.is_emulator"]);

/** The value type a known field holds (properties are open: keep the current choice). */
export function suggestedValueType(field: string, current: ValueType): ValueType {
  const f = field.trim();
  if (NUMERIC.has(f)) return "number";
  if (BOOLEAN.has(f)) return "boolean";
  if ((ENVELOPE_FIELDS as readonly string[]).includes(f) || f.startsWith("device_context.")) {
    return "string";
  }
  return current;
}
