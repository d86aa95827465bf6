// The Rules tab: a paged list (highest priority first), and for editors "Create rule", edit,
// test, enable/disable and delete. Viewers see the list and each rule's condition read-only.

import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";

import { api } from "../../api/client";
import { useSession } from "../../api/session";
import { EmptyState } from "../EmptyState";
import { ErrorNote } from "../ErrorNote";
import { Loading } from "../Loading";
import { Pager } from "../Pager";
import { fromApi } from "../../lib/reactions/condition";
import { ADMIN, listPath, scopeSummary } from "../../lib/reactions/forms";
import type { Page, Rule } from "../../lib/reactions/types";
import { ConditionEditor } from "./ConditionEditor";
import { RuleForm } from "./RuleForm";
import { RuleTest } from "./RuleTest";
import { RX, StatusBadge, useWebhookOptions } from "./shared";

const LIMIT = 20;

type Mode = { kind: "list" } | { kind: "edit"; rule: Rule | null } | { kind: "test"; rule: Rule };

function ConditionPreview({ rule }: { rule: Rule }): ReactNode {
  let tree;
  try {
    tree = fromApi(rule.condition);
  } catch {
    return <pre className="rx-json">{JSON.stringify(rule.condition, null, 2)}</pre>;
  }
  return <ConditionEditor value={tree} onChange={() => undefined} errors={[]} readOnly />;
}

export function RulesTab(): ReactNode {
  const { can } = useSession();
  const editor = can("editor");
  const client = useQueryClient();
  const [offset, setOffset] = useState(0);
  const [mode, setMode] = useState<Mode>({ kind: "list" });
  const [open, setOpen] = useState<string | null>(null);
  const { hooks } = useWebhookOptions();

  const rules = useQuery({
    queryKey: [RX, "rules", offset],
    queryFn: ({ signal }) => api<Page<Rule>>(listPath(`${ADMIN}/rules`, { limit: LIMIT, offset }), { signal }),
    placeholderData: keepPreviousData,
  });

  const toggle = useMutation({
    mutationFn: (rule: Rule) =>
      api<Rule>(`${ADMIN}/rules/${rule.id}`, { method: "PATCH", body: { enabled: !rule.enabled } }),
    onSuccess: () => client.invalidateQueries({ queryKey: [RX] }),
  });
  const remove = useMutation({
    mutationFn: (rule: Rule) => api<void>(`${ADMIN}/rules/${rule.id}`, { method: "DELETE" }),
    onSuccess: () => client.invalidateQueries({ queryKey: [RX] }),
  });

  if (mode.kind === "edit") {
    return (
      <RuleForm
        rule={mode.rule}
        onDone={(saved) => setMode(saved ? { kind: "test", rule: saved } : { kind: "list" })}
      />
    );
  }

  const hookName = (id: string): string => hooks.find((h) => h.id === id)?.name ?? id.slice(0, 8);
  const page = rules.data;

  return (
    <div className="rx-tab">
      <div className="rx-toolbar">
        <p className="rx-muted">Rules fire once for every event in their scope that satisfies their condition.</p>
        {editor && (
          <button type="button" className="primary" onClick={() => setMode({ kind: "edit", rule: null })}>
            Create rule
          </button>
        )}
      </div>
      {mode.kind === "test" && <RuleTest key={mode.rule.id} rule={mode.rule} onClose={() => setMode({ kind: "list" })} />}
      <ErrorNote error={rules.error} title="Could not load the rules" />
      <ErrorNote error={toggle.error} title="Could not change the rule" />
      <ErrorNote error={remove.error} title="Could not delete the rule" />
      {rules.isPending && <Loading />}
      {page && page.total === 0 && (
        <EmptyState title="No rules yet">
          {editor ? (
            <>
              <p>A rule watches incoming events and alerts you (webhook, NATS) when one matches.</p>
              <button type="button" className="primary" onClick={() => setMode({ kind: "edit", rule: null })}>
                Create your first rule
              </button>
            </>
          ) : (
            <p>An editor can create rules here; you will see them and their alerts once they exist.</p>
          )}
        </EmptyState>
      )}
      {page && page.items.length > 0 && (
        <div className="table-wrap">
          <table className="list rx-table">
            <caption className="visually-hidden">Rules</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Scope</th>
                <th scope="col">Priority</th>
                <th scope="col">Status</th>
                <th scope="col">Delivers to</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((rule) => (
                <RuleRow
                  key={rule.id}
                  rule={rule}
                  editor={editor}
                  open={open === rule.id}
                  onOpen={() => setOpen(open === rule.id ? null : rule.id)}
                  hooks={rule.webhook_ids.map(hookName)}
                  onEdit={() => setMode({ kind: "edit", rule })}
                  onTest={() => setMode({ kind: "test", rule })}
                  onToggle={() => toggle.mutate(rule)}
                  onDelete={() => {
                    if (window.confirm(`Delete the rule "${rule.name}"? Its alerts stay in the history.`)) {
                      remove.mutate(rule);
                    }
                  }}
                  busy={toggle.isPending || remove.isPending}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && <Pager total={page.total} limit={LIMIT} offset={offset} onChange={setOffset} label="Rules pages" />}
    </div>
  );
}

function RuleRow(props: {
  rule: Rule;
  editor: boolean;
  open: boolean;
  hooks: string[];
  busy: boolean;
  onOpen: () => void;
  onEdit: () => void;
  onTest: () => void;
  onToggle: () => void;
  onDelete: () => void;
}): ReactNode {
  const { rule, editor, open, hooks, busy } = props;
  const delivery = [...hooks, ...(rule.publish_alert ? ["NATS"] : [])];
  return (
    <>
      <tr>
        <th scope="row">
          <button type="button" className="link" aria-expanded={open} onClick={props.onOpen}>
            {rule.name}
          </button>
          {rule.description && <div className="rx-muted">{rule.description}</div>}
        </th>
        <td>{scopeSummary(rule)}</td>
        <td>{rule.priority}</td>
        <td>
          <StatusBadge on={rule.enabled} />
        </td>
        <td>{delivery.length ? delivery.join(", ") : <span className="rx-muted">alert history only</span>}</td>
        <td className="rx-row-actions">
          {editor && (
            <>
              <button type="button" onClick={props.onTest} aria-label={`Test ${rule.name}`}>
                Test
              </button>
              <button type="button" onClick={props.onEdit} aria-label={`Edit ${rule.name}`}>
                Edit
              </button>
              <button type="button" onClick={props.onToggle} disabled={busy} aria-label={`${rule.enabled ? "Disable" : "Enable"} ${rule.name}`}>
                {rule.enabled ? "Disable" : "Enable"}
              </button>
              <button type="button" onClick={props.onDelete} disabled={busy} aria-label={`Delete ${rule.name}`}>
                Delete
              </button>
            </>
          )}
        </td>
      </tr>
      {open && (
        <tr className="rx-detail-row">
          <td colSpan={6}>
            {rule.condition === null ? (
              <p>No condition: every event in the scope matches.</p>
            ) : (
              <ConditionPreview rule={rule} />
            )}
          </td>
        </tr>
      )}
    </>
  );
}

export default RulesTab;
