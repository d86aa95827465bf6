// Alert and delivery history: paged, newest first, with the API's filters; an alert's details
// and a delivery's attempts open in place; editors can retry a dead letter.

import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";

import { api } from "../../api/client";
import { useSession } from "../../api/session";
import { EmptyState } from "../EmptyState";
import { ErrorNote } from "../ErrorNote";
import { Field } from "../Field";
import { Loading } from "../Loading";
import { Pager } from "../Pager";
import { formatDateTime, formatDuration } from "../../lib/format";
import { ADMIN, listPath } from "../../lib/reactions/forms";
import {
  DELIVERY_STATUSES,
  type Alert,
  type Delivery,
  type Detector,
  type Rule,
  type DeliveryDetail,
  type DeliveryStatus,
  type Page,
} from "../../lib/reactions/types";
import { JsonBlock, RX, useWebhookOptions } from "./shared";

const LIMIT = 25;

const STATUS_LABELS: Record<DeliveryStatus, string> = {
  pending: "Pending",
  delivered: "Delivered",
  dead_letter: "Dead letter",
};

function AlertDetail({ id }: { id: string }): ReactNode {
  const detail = useQuery({
    queryKey: [RX, "alert", id],
    queryFn: ({ signal }) => api<Alert>(`${ADMIN}/alerts/${id}`, { signal }),
  });
  if (detail.isPending) return <Loading />;
  if (detail.error) return <ErrorNote error={detail.error} title="Could not load the alert" />;
  return <JsonBlock value={detail.data.details} label="Alert details" />;
}

export function AlertsTab(): ReactNode {
  const [offset, setOffset] = useState(0);
  const [source, setSource] = useState("");
  const [appId, setAppId] = useState("");
  const [owner, setOwner] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const owners = useOwners();
  const [ownerKind, ownerId] = owner.split(":");
  const alerts = useQuery({
    queryKey: [RX, "alerts", offset, source, appId, owner],
    queryFn: ({ signal }) =>
      api<Page<Alert>>(
        listPath(`${ADMIN}/alerts`, {
          limit: LIMIT,
          offset,
          source,
          app_id: appId.trim(),
          rule_id: ownerKind === "rule" ? ownerId : "",
          detector_id: ownerKind === "detector" ? ownerId : "",
        }),
        { signal },
      ),
    placeholderData: keepPreviousData,
  });
  const page = alerts.data;
  const filtered = source !== "" || appId.trim() !== "" || owner !== "";

  return (
    <div className="rx-tab">
      <div className="rx-filters" role="search" aria-label="Filter alerts">
        <Field label="Source">
          <select
            value={source}
            onChange={(e) => {
              setSource(e.target.value);
              setOffset(0);
            }}
          >
            <option value="">rules and detectors</option>
            <option value="rule">rules</option>
            <option value="anomaly">anomaly detectors</option>
          </select>
        </Field>
        <Field label="Rule or detector">
          <select
            value={owner}
            onChange={(e) => {
              setOwner(e.target.value);
              setOffset(0);
            }}
          >
            <option value="">any</option>
            {owners.rules.length > 0 && (
              <optgroup label="Rules">
                {owners.rules.map((r) => (
                  <option key={r.id} value={`rule:${r.id}`}>
                    {r.name}
                  </option>
                ))}
              </optgroup>
            )}
            {owners.detectors.length > 0 && (
              <optgroup label="Detectors">
                {owners.detectors.map((d) => (
                  <option key={d.id} value={`detector:${d.id}`}>
                    {d.name}
                  </option>
                ))}
              </optgroup>
            )}
          </select>
        </Field>
        <Field label="App">
          <input
            value={appId}
            placeholder="any app"
            onChange={(e) => {
              setAppId(e.target.value);
              setOffset(0);
            }}
          />
        </Field>
        <button type="button" onClick={() => void alerts.refetch()}>
          Refresh
        </button>
      </div>
      <ErrorNote error={alerts.error} title="Could not load the alerts" />
      {alerts.isPending && <Loading />}
      {page && page.total === 0 && (
        <EmptyState title={filtered ? "No alerts match these filters" : "No alerts yet"}>
          <p>
            {filtered
              ? "Clear the filters to see every alert."
              : "Alerts appear here when a rule matches an event or a detector fires. Test a rule in the Rules tab to see what would fire."}
          </p>
        </EmptyState>
      )}
      {page && page.items.length > 0 && (
        <div className="table-wrap">
          <table className="list rx-table">
            <caption className="visually-hidden">Alerts</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Name</th>
                <th scope="col">Source</th>
                <th scope="col">App</th>
                <th scope="col">Summary</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((a) => (
                <AlertRow key={a.id} alert={a} open={open === a.id} onOpen={() => setOpen(open === a.id ? null : a.id)} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && <Pager total={page.total} limit={LIMIT} offset={offset} onChange={setOffset} label="Alerts pages" />}
    </div>
  );
}

/** Rules and detectors by name, for the alert filter (the API's largest page of each). */
function useOwners(): { rules: readonly Rule[]; detectors: readonly Detector[] } {
  const rules = useQuery({
    queryKey: [RX, "rules", "options"],
    queryFn: ({ signal }) => api<Page<Rule>>(`${ADMIN}/rules?limit=200`, { signal }),
    staleTime: 30_000,
  });
  const detectors = useQuery({
    queryKey: [RX, "detectors", "options"],
    queryFn: ({ signal }) => api<Page<Detector>>(`${ADMIN}/anomaly-detectors?limit=200`, { signal }),
    staleTime: 30_000,
  });
  return { rules: rules.data?.items ?? [], detectors: detectors.data?.items ?? [] };
}

function AlertRow({ alert, open, onOpen }: { alert: Alert; open: boolean; onOpen: () => void }): ReactNode {
  return (
    <>
      <tr>
        <td>
          <button type="button" className="link" aria-expanded={open} onClick={onOpen}>
            {formatDateTime(alert.created_at)}
          </button>
        </td>
        <td>{alert.name}</td>
        <td>{alert.source === "rule" ? "rule" : "anomaly"}</td>
        <td>{alert.app_id ?? "—"}</td>
        <td>{alert.summary}</td>
      </tr>
      {open && (
        <tr className="rx-detail-row">
          <td colSpan={5}>
            <AlertDetail id={alert.id} />
          </td>
        </tr>
      )}
    </>
  );
}

function DeliveryAttempts({ id }: { id: string }): ReactNode {
  const detail = useQuery({
    queryKey: [RX, "delivery", id],
    queryFn: ({ signal }) => api<DeliveryDetail>(`${ADMIN}/deliveries/${id}`, { signal }),
  });
  if (detail.isPending) return <Loading />;
  if (detail.error) return <ErrorNote error={detail.error} title="Could not load the delivery" />;
  const { attempts, payload } = detail.data;
  return (
    <div className="rx-attempts">
      {attempts.length === 0 ? (
        <p>No attempts yet.</p>
      ) : (
        <table className="list rx-table rx-compact">
          <caption>Attempts</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">When</th>
              <th scope="col">HTTP status</th>
              <th scope="col">Error</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {attempts.map((a) => (
              <tr key={a.attempt}>
                <td>{a.attempt}</td>
                <td>{formatDateTime(a.attempted_at)}</td>
                <td>{a.status_code ?? "—"}</td>
                <td>{a.error ?? "—"}</td>
                <td>{formatDuration(a.duration_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <details>
        <summary>Payload</summary>
        <JsonBlock value={payload} label="Delivery payload" />
      </details>
    </div>
  );
}

export function DeliveriesTab(): ReactNode {
  const { can } = useSession();
  const editor = can("editor");
  const client = useQueryClient();
  const [offset, setOffset] = useState(0);
  const [status, setStatus] = useState("");
  const [kind, setKind] = useState("");
  const [webhookId, setWebhookId] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const { hooks } = useWebhookOptions();
  const list = useQuery({
    queryKey: [RX, "deliveries", offset, status, kind, webhookId],
    queryFn: ({ signal }) =>
      api<Page<Delivery>>(
        listPath(`${ADMIN}/deliveries`, { limit: LIMIT, offset, status, kind, webhook_id: webhookId }),
        { signal },
      ),
    placeholderData: keepPreviousData,
  });
  const retry = useMutation({
    mutationFn: (d: Delivery) => api<Delivery>(`${ADMIN}/deliveries/${d.id}/retry`, { method: "POST" }),
    onSuccess: () => client.invalidateQueries({ queryKey: [RX] }),
  });
  const page = list.data;
  const filtered = status !== "" || kind !== "" || webhookId !== "";

  return (
    <div className="rx-tab">
      <div className="rx-filters" role="search" aria-label="Filter deliveries">
        <Field label="Status">
          <select
            value={status}
            onChange={(e) => {
              setStatus(e.target.value);
              setOffset(0);
            }}
          >
            <option value="">any status</option>
            {DELIVERY_STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABELS[s]}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Kind">
          <select
            value={kind}
            onChange={(e) => {
              setKind(e.target.value);
              setOffset(0);
            }}
          >
            <option value="">alerts and tests</option>
            <option value="alert">alerts</option>
            <option value="test">tests</option>
          </select>
        </Field>
        <Field label="Webhook">
          <select
            value={webhookId}
            onChange={(e) => {
              setWebhookId(e.target.value);
              setOffset(0);
            }}
          >
            <option value="">any webhook</option>
            {hooks.map((h) => (
              <option key={h.id} value={h.id}>
                {h.name}
              </option>
            ))}
          </select>
        </Field>
        <button type="button" onClick={() => void list.refetch()}>
          Refresh
        </button>
      </div>
      <ErrorNote error={list.error} title="Could not load the deliveries" />
      <ErrorNote error={retry.error} title="Could not retry the delivery" />
      {list.isPending && <Loading />}
      {page && page.total === 0 && (
        <EmptyState title={filtered ? "No deliveries match these filters" : "No deliveries yet"}>
          <p>
            {filtered
              ? "Clear the filters to see every delivery."
              : "Each alert is delivered to its webhooks; \"Send test\" in the Webhooks tab makes one now."}
          </p>
        </EmptyState>
      )}
      {page && page.items.length > 0 && (
        <div className="table-wrap">
          <table className="list rx-table">
            <caption className="visually-hidden">Deliveries</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Webhook</th>
                <th scope="col">Kind</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last answer</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((d) => (
                <DeliveryRow
                  key={d.id}
                  delivery={d}
                  open={open === d.id}
                  onOpen={() => setOpen(open === d.id ? null : d.id)}
                  canRetry={editor && d.status === "dead_letter"}
                  retrying={retry.isPending && retry.variables?.id === d.id}
                  onRetry={() => retry.mutate(d)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {page && <Pager total={page.total} limit={LIMIT} offset={offset} onChange={setOffset} label="Deliveries pages" />}
    </div>
  );
}

function DeliveryRow(props: {
  delivery: Delivery;
  open: boolean;
  onOpen: () => void;
  canRetry: boolean;
  retrying: boolean;
  onRetry: () => void;
}): ReactNode {
  const d = props.delivery;
  const target = d.webhook_name ?? (d.subject ? `NATS ${d.subject}` : (d.webhook_id ?? "—"));
  return (
    <>
      <tr>
        <td>
          <button type="button" className="link" aria-expanded={props.open} onClick={props.onOpen}>
            {formatDateTime(d.created_at)}
          </button>
        </td>
        <td>{target}</td>
        <td>{d.kind}</td>
        <td>
          <span className={`rx-badge rx-status-${d.status}`}>{STATUS_LABELS[d.status] ?? d.status}</span>
        </td>
        <td>
          {d.attempts} / {d.max_attempts}
        </td>
        <td>
          {d.last_status !== null ? `HTTP ${d.last_status}` : ""}
          {d.last_error ? <div className="rx-muted">{d.last_error}</div> : null}
          {d.last_status === null && !d.last_error ? "—" : null}
        </td>
        <td className="rx-row-actions">
          {props.canRetry && (
            <button type="button" disabled={props.retrying} onClick={props.onRetry}>
              {props.retrying ? "Retrying…" : "Retry"}
            </button>
          )}
        </td>
      </tr>
      {props.open && (
        <tr className="rx-detail-row">
          <td colSpan={7}>
            <DeliveryAttempts id={d.id} />
          </td>
        </tr>
      )}
    </>
  );
}
