// "Would this rule fire, and why?": a sample event (JSON) goes to POST /rules/{id}/test and
// the answer's trace is shown as the condition tree with a verdict on every node. Nothing is
// recorded or delivered by the server.

import { useMutation } from "@tanstack/react-query";
import { useId, useState, type FormEvent, type ReactNode } from "react";

import { ApiError, api } from "../../api/client";
import { ErrorNote } from "../ErrorNote";
import { Field } from "../Field";
import { GROUP_LABELS, type GroupOp } from "../../lib/reactions/condition";
import { ADMIN, describeTraceLeaf, parseJson, sampleEvent, traceCounts } from "../../lib/reactions/forms";
import type { Rule, RuleTestResult, TraceNode } from "../../lib/reactions/types";
import { JsonBlock } from "./shared";

function Verdict({ matched }: { matched: boolean }): ReactNode {
  return (
    <span className={`rx-verdict ${matched ? "rx-on" : "rx-off"}`}>
      {matched ? "✓ matched" : "✗ no match"}
    </span>
  );
}

function TraceView({ node }: { node: TraceNode }): ReactNode {
  if ("children" in node) {
    return (
      <li className="rx-trace-group">
        <Verdict matched={node.matched} /> <strong>{GROUP_LABELS[node.op as GroupOp] ?? node.op}</strong>
        <ul>
          {node.children.map((child, i) => (
            <TraceView key={i} node={child} />
          ))}
        </ul>
      </li>
    );
  }
  return (
    <li className="rx-trace-leaf">
      <Verdict matched={node.matched} /> <code>{describeTraceLeaf(node)}</code>
    </li>
  );
}

export function RuleTest({ rule, onClose }: { rule: Rule; onClose: () => void }): ReactNode {
  const [text, setText] = useState(() => sampleEvent(rule));
  const [appId, setAppId] = useState(rule.app_id ?? "");
  const [parseError, setParseError] = useState<string | null>(null);
  const headingId = useId();

  const run = useMutation({
    mutationFn: (body: { event: unknown; app_id?: string }) =>
      api<RuleTestResult>(`${ADMIN}/rules/${rule.id}/test`, { method: "POST", body }),
  });

  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const parsed = parseJson(text);
    if (!parsed.ok) {
      setParseError(parsed.message);
      return;
    }
    setParseError(null);
    const body: { event: unknown; app_id?: string } = { event: parsed.value };
    if (appId.trim()) body.app_id = appId.trim();
    run.mutate(body);
  };

  const result = run.data;
  const apiError = run.error instanceof ApiError ? run.error : null;
  const eventError = apiError?.field?.startsWith("event") ? apiError.message : null;
  const counts = result ? traceCounts(result.condition) : null;

  return (
    <section className="rx-panel" aria-labelledby={headingId}>
      <h2 id={headingId}>Test rule {rule.name}</h2>
      <form onSubmit={submit} noValidate>
        <Field label="Sample event (JSON)" error={parseError ?? eventError} hint="the envelope a client would send">
          <textarea
            className="rx-code"
            rows={10}
            spellCheck={false}
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
        </Field>
        <Field
          label="App of the event"
          hint={rule.app_id ? `empty: the rule's app (${rule.app_id})` : "required: the rule is not limited to an app"}
          error={apiError?.field === "app_id" ? apiError.message : null}
        >
          <input value={appId} onChange={(e) => setAppId(e.target.value)} />
        </Field>
        <ErrorNote error={run.error} title="The test did not run" />
        <div className="rx-form-actions">
          <button type="submit" className="primary" disabled={run.isPending}>
            {run.isPending ? "Testing…" : "Run test"}
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
      {result && (
        <div className="rx-test-result" aria-live="polite">
          <p className="rx-test-verdict">
            <strong>{result.matched ? "The rule would fire." : "The rule would not fire."}</strong>{" "}
            Scope {result.scope_matched ? "matches" : "does not match"}
            {counts && counts.total > 0 ? `; ${counts.matched} of ${counts.total} conditions matched` : ""}
            {result.enabled ? "." : "; the rule is disabled, so it fires for nothing yet."}
          </p>
          <ul className="rx-trace" aria-label="Condition trace">
            <TraceView node={result.condition} />
          </ul>
          {result.matched && (
            <p>
              Would send: <q>{result.actions.summary}</q> to {result.actions.webhook_ids.length} webhook(s)
              {result.actions.subject ? ` and publish on ${result.actions.subject}` : ""}.
            </p>
          )}
          <details>
            <summary>The event as normalized by the gateway</summary>
            <JsonBlock value={result.event} label="Normalized event" />
          </details>
        </div>
      )}
    </section>
  );
}

export default RuleTest;
