/**
 * Ask's logic: the steps POST /api/v1/llm/ask streams (docs/llm.md "Asking questions",
 * causality/llm/types.py) folded into one turn of the thread. The same fold replays a stored
 * conversation's `steps`, so a turn reads the same live and after a reload.
 */

/** How to draw a result (causality/llm/types.py ChartSpec): `x`/`y`/`series` name columns. */
export interface ChartSpec {
  type: "number" | "line" | "bar" | "funnel" | "table";
  x?: string | null;
  y?: string[];
  series?: string | null;
  title?: string;
}

export interface ResultTable {
  sql: string;
  columns: string[];
  types: string[];
  rows: unknown[][];
  row_count: number;
  truncated: boolean;
  elapsed_ms: number;
}

/** One model attempt: its SQL, and why it was refused or failed when it was. */
export interface Attempt {
  attempt: number;
  sql: string;
  intent: string;
  latency_ms?: number;
  rejected?: string;
  error?: string;
}

export interface Finding {
  title: string;
  sql: string;
  summary: string;
  columns: string[];
  rows: unknown[][];
}

export type TurnStatus = "streaming" | "answered" | "failed" | "interrupted" | "running";

export interface Turn {
  /** A key for React that stays put while the turn streams (the turn number is known late). */
  key: string;
  question: string;
  mode: "sql" | "agent";
  conversationId: string | null;
  turn: number | null;
  status: TurnStatus;
  context: { prompt_chars: number; examples: string[] } | null;
  attempts: Attempt[];
  plan: string[];
  findings: Finding[];
  result: ResultTable | null;
  explanation: string | null;
  chart: ChartSpec | null;
  /** The final SQL (the answer's, else the last attempt's). */
  sql: string;
  failed: { code: string; reason: string } | null;
  tokens: { prompt: number; completion: number } | null;
  elapsedMs: number | null;
}

export function newTurn(key: string, question: string, mode: "sql" | "agent" = "sql"): Turn {
  return {
    key,
    question,
    mode,
    conversationId: null,
    turn: null,
    status: "streaming",
    context: null,
    attempts: [],
    plan: [],
    findings: [],
    result: null,
    explanation: null,
    chart: null,
    sql: "",
    failed: null,
    tokens: null,
    elapsedMs: null,
  };
}

type Json = Record<string, unknown>;

function obj(data: unknown): Json {
  return typeof data === "object" && data !== null && !Array.isArray(data) ? (data as Json) : {};
}
function str(value: unknown, fallback = ""): string {
  return typeof value === "string" ? value : fallback;
}
function num(value: unknown, fallback = 0): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}
function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map((v) => (typeof v === "string" ? v : String(v))) : [];
}
function rows(value: unknown): unknown[][] {
  return Array.isArray(value) ? value.map((r) => (Array.isArray(r) ? (r as unknown[]) : [r])) : [];
}

/** A ChartSpec read defensively: the server checked it, but a stored turn may be older. */
export function readChart(value: unknown): ChartSpec | null {
  const spec = obj(value);
  const type = spec.type;
  if (type !== "number" && type !== "line" && type !== "bar" && type !== "funnel" && type !== "table") {
    return null;
  }
  return {
    type,
    x: typeof spec.x === "string" ? spec.x : null,
    y: strings(spec.y),
    series: typeof spec.series === "string" ? spec.series : null,
    title: str(spec.title),
  };
}

/** The attempt numbered `n`, updated by `change` (created when the stream skipped its `sql`). */
function withAttempt(turn: Turn, n: number, sql: string, change: Partial<Attempt>): Attempt[] {
  const found = turn.attempts.some((a) => a.attempt === n);
  const base = found ? turn.attempts : [...turn.attempts, { attempt: n, sql, intent: "" }];
  return base.map((a) => (a.attempt === n ? { ...a, ...change, sql: a.sql || sql } : a));
}

/**
 * Fold one streamed step into the turn. Unknown events are ignored (a newer server may stream
 * more kinds), and every field is read defensively: the thread must never crash on a step.
 */
export function reduceTurn(turn: Turn, event: string, data: unknown): Turn {
  const d = obj(data);
  const at = typeof d.at_ms === "number" ? d.at_ms : turn.elapsedMs;
  const next: Turn = { ...turn, elapsedMs: at };
  switch (event) {
    case "conversation":
      return {
        ...next,
        conversationId: str(d.conversation_id) || turn.conversationId,
        turn: typeof d.turn === "number" ? d.turn : turn.turn,
        mode: d.mode === "agent" ? "agent" : d.mode === "sql" ? "sql" : turn.mode,
      };
    case "context":
      return { ...next, context: { prompt_chars: num(d.prompt_chars), examples: strings(d.examples) } };
    case "sql": {
      const n = num(d.attempt, turn.attempts.length + 1);
      const attempt: Attempt = {
        attempt: n,
        sql: str(d.sql),
        intent: str(d.intent),
        ...(typeof d.latency_ms === "number" ? { latency_ms: d.latency_ms } : {}),
      };
      const others = turn.attempts.filter((a) => a.attempt !== n);
      return { ...next, attempts: [...others, attempt].sort((a, b) => a.attempt - b.attempt), sql: attempt.sql || turn.sql };
    }
    case "rejected":
      return {
        ...next,
        attempts: withAttempt(turn, num(d.attempt, turn.attempts.length || 1), str(d.sql), {
          rejected: str(d.reason, "refused"),
        }),
      };
    case "error":
      return {
        ...next,
        attempts: withAttempt(turn, num(d.attempt, turn.attempts.length || 1), str(d.sql), {
          error: str(d.error, "the query failed"),
        }),
      };
    case "result":
      return {
        ...next,
        sql: str(d.sql) || turn.sql,
        result: {
          sql: str(d.sql),
          columns: strings(d.columns),
          types: strings(d.types),
          rows: rows(d.rows),
          row_count: num(d.row_count, rows(d.rows).length),
          truncated: d.truncated === true,
          elapsed_ms: num(d.elapsed_ms),
        },
      };
    case "explanation":
      return { ...next, explanation: str(d.text) };
    case "chart":
      return { ...next, chart: readChart(d.chart) ?? turn.chart };
    case "plan":
      return { ...next, plan: strings(d.steps) };
    case "finding":
      return {
        ...next,
        findings: [
          ...turn.findings,
          {
            title: str(d.title),
            sql: str(d.sql),
            summary: str(d.summary),
            columns: strings(d.columns),
            rows: rows(d.rows),
          },
        ],
      };
    case "answer":
      return {
        ...next,
        status: "answered",
        conversationId: str(d.conversation_id) || turn.conversationId,
        turn: typeof d.turn === "number" && d.turn > 0 ? d.turn : turn.turn,
        sql: str(d.sql) || turn.sql,
        explanation: turn.explanation ?? (str(d.explanation) || null),
        chart: turn.chart ?? readChart(d.chart),
        tokens: { prompt: num(d.prompt_tokens), completion: num(d.completion_tokens) },
      };
    case "failed":
      return {
        ...next,
        status: "failed",
        conversationId: str(d.conversation_id) || turn.conversationId,
        failed: { code: str(d.code, "failed"), reason: str(d.reason, "the question could not be answered") },
      };
    default:
      return turn;
  }
}

/** A turn as GET /api/v1/llm/conversations/{id} stores it (causality/store/conversations.py). */
export interface StoredTurn {
  turn: number;
  mode: string;
  status: string;
  question: string;
  sql: string | null;
  error: string | null;
  steps: unknown[];
}

export interface ConversationSummary {
  id: string;
  title: string;
  turns: number;
  created_at: string;
  updated_at: string;
}

export interface ConversationPage {
  items: ConversationSummary[];
  total: number;
  limit: number;
  offset: number;
}

export interface ConversationDetail {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
  turns: StoredTurn[];
}

/** Rebuild a thread turn from its stored steps (each step repeats its event in `type`). */
export function turnFromStored(conversationId: string, stored: StoredTurn): Turn {
  let turn = newTurn(`${conversationId}:${stored.turn}`, stored.question, stored.mode === "agent" ? "agent" : "sql");
  turn = { ...turn, conversationId, turn: stored.turn };
  for (const step of stored.steps) turn = reduceTurn(turn, str(obj(step).type), step);
  const status = stored.status;
  if (status === "answered" || status === "failed" || status === "interrupted" || status === "running") {
    turn = { ...turn, status };
  }
  if (status === "failed" && turn.failed === null) {
    turn = { ...turn, failed: { code: "failed", reason: stored.error ?? "the question could not be answered" } };
  }
  if (!turn.sql && stored.sql) turn = { ...turn, sql: stored.sql };
  return turn;
}

/** The last turn's conversation, so a follow-up continues it. */
export function conversationOf(turns: readonly Turn[]): string | null {
  for (let i = turns.length - 1; i >= 0; i--) {
    const id = turns[i]?.conversationId;
    if (id) return id;
  }
  return null;
}

/** Words for an attempt's outcome, for the step list. */
export function attemptOutcome(a: Attempt): string {
  if (a.rejected) return `refused: ${a.rejected}`;
  if (a.error) return `failed: ${a.error}`;
  return "ran";
}

/** Error codes that mean "Ask cannot work until someone fixes the model", not "try again". */
export const MODEL_DOWN_CODES = new Set(["llm_not_configured", "llm_unavailable", "llm_timeout"]);
