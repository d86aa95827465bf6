// The rule builder: a tree of All of / Any of / Not groups holding leaves (field, operator,
// value). Every edit goes through the immutable helpers of lib/reactions/condition, so this
// component only renders and forwards; errors (local or the API's 422 path) appear on the node
// they name, next to the part at fault.

import { useId, type ReactNode } from "react";

import {
  FIELD_SUGGESTIONS,
  GROUP_LABELS,
  OPERATORS,
  OPERATOR_LABELS,
  VALUE_TYPES,
  addChild,
  canAddChild,
  errorsFor,
  newGroup,
  newLeaf,
  removeNode,
  setGroupOp,
  suggestedValueType,
  updateLeaf,
  valueKind,
  wrapNode,
  type EditorGroup,
  type EditorLeaf,
  type EditorNode,
  type GroupOp,
  type NodeError,
  type Operator,
  type ValueType,
} from "../../lib/reactions/condition";

export interface ConditionEditorProps {
  value: EditorGroup;
  onChange: (next: EditorGroup) => void;
  errors: readonly NodeError[];
  /** Read-only view (viewers). */
  readOnly?: boolean;
}

interface NodeProps {
  root: EditorGroup;
  onChange: (next: EditorGroup) => void;
  errors: readonly NodeError[];
  readOnly: boolean;
  listId: string;
  depth: number;
}

function PartError({ text, id }: { text: string | undefined; id: string }): ReactNode {
  if (!text) return null;
  return (
    <div className="cond-error" id={id} role="alert">
      {text}
    </div>
  );
}

function LeafView({ node, ...props }: NodeProps & { node: EditorLeaf }): ReactNode {
  const { root, onChange, errors, readOnly, listId } = props;
  const base = useId();
  const errs = errorsFor(errors, node.id);
  const kind = valueKind(node.op);
  const set = (patch: Partial<Omit<EditorLeaf, "kind" | "id">>): void =>
    onChange(updateLeaf(root, node.id, patch));
  const described = (part: string, has: boolean): string | undefined =>
    has ? `${base}-${part}-err` : undefined;

  return (
    <li className={`cond-leaf${errs.node || errs.field || errs.op || errs.value ? " cond-invalid" : ""}`}>
      <div className="cond-leaf-row">
        <div className="cond-cell">
          <label htmlFor={`${base}-field`}>Field</label>
          <input
            id={`${base}-field`}
            list={listId}
            value={node.field}
            placeholder="properties.amount"
            readOnly={readOnly}
            aria-invalid={errs.field ? true : undefined}
            aria-describedby={described("field", !!errs.field)}
            onChange={(e) => {
              const field = e.target.value;
              set({ field, valueType: suggestedValueType(field, node.valueType) });
            }}
          />
        </div>
        <div className="cond-cell">
          <label htmlFor={`${base}-op`}>Operator</label>
          <select
            id={`${base}-op`}
            value={node.op}
            disabled={readOnly}
            aria-invalid={errs.op ? true : undefined}
            aria-describedby={described("op", !!errs.op)}
            onChange={(e) => set({ op: e.target.value as Operator })}
          >
            {OPERATORS.map((op) => (
              <option key={op} value={op}>
                {OPERATOR_LABELS[op]} ({op})
              </option>
            ))}
          </select>
        </div>
        {(kind === "scalar" || kind === "list") && (
          <div className="cond-cell cond-type">
            <label htmlFor={`${base}-type`}>Type</label>
            <select
              id={`${base}-type`}
              value={node.valueType}
              disabled={readOnly}
              onChange={(e) => set({ valueType: e.target.value as ValueType })}
            >
              {VALUE_TYPES.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="cond-cell cond-value">
          {kind === "exists" ? (
            <>
              <label htmlFor={`${base}-exists`}>Test</label>
              <select
                id={`${base}-exists`}
                value={node.exists ? "present" : "absent"}
                disabled={readOnly}
                onChange={(e) => set({ exists: e.target.value === "present" })}
              >
                <option value="present">is present</option>
                <option value="absent">is absent</option>
              </select>
            </>
          ) : kind === "list" ? (
            <>
              <label htmlFor={`${base}-value`}>Values (one per line)</label>
              <textarea
                id={`${base}-value`}
                rows={Math.min(6, Math.max(2, node.text.split("\n").length))}
                value={node.text}
                readOnly={readOnly}
                aria-invalid={errs.value ? true : undefined}
                aria-describedby={described("value", !!errs.value)}
                onChange={(e) => set({ text: e.target.value })}
              />
            </>
          ) : kind === "scalar" && node.valueType === "boolean" ? (
            <>
              <label htmlFor={`${base}-value`}>Value</label>
              <select
                id={`${base}-value`}
                value={node.text === "false" ? "false" : node.text === "true" ? "true" : ""}
                disabled={readOnly}
                aria-invalid={errs.value ? true : undefined}
                aria-describedby={described("value", !!errs.value)}
                onChange={(e) => set({ text: e.target.value })}
              >
                <option value="">choose…</option>
                <option value="true">true</option>
                <option value="false">false</option>
              </select>
            </>
          ) : (
            <>
              <label htmlFor={`${base}-value`}>
                {kind === "number" ? "Number" : node.op === "regex" ? "Pattern" : "Value"}
              </label>
              <input
                id={`${base}-value`}
                value={node.text}
                inputMode={kind === "number" || node.valueType === "number" ? "decimal" : undefined}
                readOnly={readOnly}
                aria-invalid={errs.value ? true : undefined}
                aria-describedby={described("value", !!errs.value)}
                onChange={(e) => set({ text: e.target.value })}
              />
            </>
          )}
        </div>
        {!readOnly && (
          <div className="cond-actions">
            <button type="button" onClick={() => onChange(wrapNode(root, node.id, "any"))}>
              Nest
            </button>
            <button
              type="button"
              aria-label={node.field ? `Remove condition ${node.field}` : "Remove empty condition"}
              onClick={() => onChange(removeNode(root, node.id))}
            >
              Remove
            </button>
          </div>
        )}
      </div>
      <PartError text={errs.field} id={`${base}-field-err`} />
      <PartError text={errs.op} id={`${base}-op-err`} />
      <PartError text={errs.value} id={`${base}-value-err`} />
      <PartError text={errs.node} id={`${base}-node-err`} />
    </li>
  );
}

function GroupView({ node, ...props }: NodeProps & { node: EditorGroup }): ReactNode {
  const { root, onChange, errors, readOnly, depth } = props;
  const base = useId();
  const errs = errorsFor(errors, node.id);
  const isRoot = node.id === root.id;
  const empty = node.children.length === 0;

  return (
    <fieldset className={`cond-group depth-${Math.min(depth, 4)}${errs.node ? " cond-invalid" : ""}`}>
      <legend>
        <label htmlFor={`${base}-op`} className="visually-hidden">
          {isRoot ? "Match" : "Group"}
        </label>
        <select
          id={`${base}-op`}
          value={node.op}
          disabled={readOnly}
          onChange={(e) => onChange(setGroupOp(root, node.id, e.target.value as GroupOp))}
        >
          {(Object.keys(GROUP_LABELS) as GroupOp[]).map((op) => (
            <option key={op} value={op}>
              {GROUP_LABELS[op]}
            </option>
          ))}
        </select>{" "}
        <span className="cond-hint">
          {node.op === "all"
            ? "every condition below matches"
            : node.op === "any"
              ? "at least one condition below matches"
              : "the condition below does not match"}
        </span>
      </legend>
      {isRoot && empty && (
        <p className="cond-empty">
          No conditions: every event in the scope matches. Add a condition to narrow it down.
        </p>
      )}
      {node.children.length > 0 && (
        <ul className="cond-children">
          {node.children.map((child) => (
            <NodeView key={child.id} node={child} {...props} depth={depth + 1} />
          ))}
        </ul>
      )}
      <PartError text={errs.node} id={`${base}-err`} />
      {!readOnly && (
        <div className="cond-actions">
          {canAddChild(node) && (
            <>
              <button type="button" onClick={() => onChange(addChild(root, node.id, newLeaf()))}>
                Add condition
              </button>
              <button
                type="button"
                onClick={() => onChange(addChild(root, node.id, newGroup("any", [newLeaf()])))}
              >
                Add group
              </button>
            </>
          )}
          {!empty && (
            <button type="button" onClick={() => onChange(wrapNode(root, node.id, "not"))}>
              Negate
            </button>
          )}
          {(!isRoot || !empty) && (
            <button
              type="button"
              aria-label={isRoot ? "Clear all conditions" : "Remove group"}
              onClick={() => onChange(removeNode(root, node.id))}
            >
              {isRoot ? "Clear" : "Remove group"}
            </button>
          )}
        </div>
      )}
    </fieldset>
  );
}

function NodeView(props: NodeProps & { node: EditorNode }): ReactNode {
  const { node, ...rest } = props;
  if (node.kind === "leaf") return <LeafView node={node} {...rest} />;
  return (
    <li className="cond-group-item">
      <GroupView node={node} {...rest} />
    </li>
  );
}

export function ConditionEditor({ value, onChange, errors, readOnly = false }: ConditionEditorProps): ReactNode {
  const listId = useId();
  return (
    <div className="condition-editor">
      <datalist id={listId}>
        {FIELD_SUGGESTIONS.map((f) => (
          <option key={f} value={f} />
        ))}
      </datalist>
      <GroupView
        node={value}
        root={value}
        onChange={onChange}
        errors={errors}
        readOnly={readOnly}
        listId={listId}
        depth={0}
      />
    </div>
  );
}

export default ConditionEditor;
