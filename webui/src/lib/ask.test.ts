import { describe, expect, it } from "vitest";
import {
  attemptOutcome,
  conversationOf,
  newTurn,
  readChart,
  reduceTurn,
  type Turn,
  turnFromStored,
} from "./ask";

type Frame = [string, Record<string, unknown>];

/** The example stream of docs/llm.md, with a rejected first attempt. */
const STREAM: Frame[] = [
  ["conversation", { type: "conversation", conversation_id: "c-1", turn: 1, mode: "sql" }],
  ["context", { type: "context", at_ms: 4.1, prompt_chars: 7311, examples: ["Daily active devices"], tables: ["events"] }],
  ["sql", { type: "sql", at_ms: 500, attempt: 1, sql: "SELECT platfrm FROM events", intent: "x" }],
  ["rejected", { type: "rejected", at_ms: 510, attempt: 1, sql: "SELECT platfrm FROM events", reason: "unknown column platfrm (did you mean platform?)" }],
  ["sql", { type: "sql", at_ms: 812, attempt: 2, sql: "SELECT platform, count(*) AS purchases FROM events GROUP BY 1", intent: "purchases per platform", latency_ms: 801.5 }],
  ["result", { type: "result", at_ms: 845.2, sql: "SELECT platform, count(*) AS purchases FROM events GROUP BY 1", columns: ["platform", "purchases"], types: ["VARCHAR", "BIGINT"], rows: [["ios", 120], ["android", 80]], row_count: 2, truncated: false, elapsed_ms: 21.3 }],
  ["explanation", { type: "explanation", at_ms: 1502.7, text: "iOS had 120 purchases." }],
  ["chart", { type: "chart", at_ms: 1502.9, chart: { type: "bar", x: "platform", y: ["purchases"] } }],
  ["answer", { type: "answer", at_ms: 1503, conversation_id: "c-1", turn: 1, sql: "SELECT platform, count(*) AS purchases FROM events GROUP BY 1", intent: "purchases per platform", explanation: "iOS had 120 purchases.", chart: { type: "bar", x: "platform", y: ["purchases"] }, attempts: 2, prompt_tokens: 2620, completion_tokens: 102 }],
];

function play(frames: Frame[], start: Turn = newTurn("k", "How many purchases per platform?")): Turn {
  return frames.reduce((t, [event, data]) => reduceTurn(t, event, data), start);
}

describe("reduceTurn", () => {
  it("starts streaming with nothing known", () => {
    const t = newTurn("k", "q");
    expect(t.status).toBe("streaming");
    expect(t.attempts).toEqual([]);
  });

  it("folds a full answer", () => {
    const t = play(STREAM);
    expect(t.status).toBe("answered");
    expect(t.conversationId).toBe("c-1");
    expect(t.turn).toBe(1);
    expect(t.context).toEqual({ prompt_chars: 7311, examples: ["Daily active devices"] });
    expect(t.attempts).toHaveLength(2);
    expect(t.attempts[0]?.rejected).toContain("unknown column platfrm");
    expect(t.attempts[1]).toMatchObject({ attempt: 2, intent: "purchases per platform", latency_ms: 801.5 });
    expect(t.result?.rows).toEqual([["ios", 120], ["android", 80]]);
    expect(t.explanation).toBe("iOS had 120 purchases.");
    expect(t.chart).toEqual({ type: "bar", x: "platform", y: ["purchases"], series: null, title: "" });
    expect(t.sql).toBe("SELECT platform, count(*) AS purchases FROM events GROUP BY 1");
    expect(t.tokens).toEqual({ prompt: 2620, completion: 102 });
    expect(t.elapsedMs).toBe(1503);
  });

  it("shows each step as it arrives", () => {
    const partial = play(STREAM.slice(0, 3));
    expect(partial.status).toBe("streaming");
    expect(partial.sql).toBe("SELECT platfrm FROM events");
    expect(partial.result).toBeNull();
  });

  it("records a failed run with the engine's message, then a failed turn", () => {
    const t = play([
      ["sql", { attempt: 1, sql: "SELECT 1/0" }],
      ["error", { attempt: 1, sql: "SELECT 1/0", error: "Division by zero" }],
      ["failed", { code: "retries_exhausted", reason: "no attempt ran" }],
    ]);
    expect(t.attempts[0]?.error).toBe("Division by zero");
    expect(attemptOutcome(t.attempts[0]!)).toBe("failed: Division by zero");
    expect(t.status).toBe("failed");
    expect(t.failed).toEqual({ code: "retries_exhausted", reason: "no attempt ran" });
  });

  it("creates the attempt when a rejection comes without its sql step", () => {
    const t = play([["rejected", { attempt: 1, sql: "", reason: "unreadable output" }]]);
    expect(t.attempts).toEqual([{ attempt: 1, sql: "", intent: "", rejected: "unreadable output" }]);
  });

  it("keeps agent plans and findings", () => {
    const t = play([
      ["plan", { steps: ["compare days", "by platform"] }],
      ["finding", { title: "compare days", sql: "SELECT 1", summary: "down 20%", columns: ["a"], rows: [[1]] }],
      ["finding", { title: "by platform", sql: "SELECT 2", summary: "android", columns: ["b"], rows: [[2]] }],
    ]);
    expect(t.plan).toEqual(["compare days", "by platform"]);
    expect(t.findings.map((f) => f.summary)).toEqual(["down 20%", "android"]);
  });

  it("ignores unknown events and odd data", () => {
    const t = newTurn("k", "q");
    expect(reduceTurn(t, "mystery", { a: 1 })).toBe(t);
    const odd = reduceTurn(t, "result", "not an object");
    expect(odd.result?.rows).toEqual([]);
    expect(reduceTurn(t, "chart", { chart: { type: "pie" } }).chart).toBeNull();
  });

  it("takes the chart from the answer when no chart step came", () => {
    const t = play([["answer", { sql: "SELECT 1", chart: { type: "number", y: ["n"] }, explanation: "one" }]]);
    expect(t.chart?.type).toBe("number");
    expect(t.explanation).toBe("one");
  });
});

describe("readChart", () => {
  it("accepts the five types only", () => {
    for (const type of ["number", "line", "bar", "funnel", "table"]) expect(readChart({ type })?.type).toBe(type);
    expect(readChart({ type: "pie" })).toBeNull();
    expect(readChart(null)).toBeNull();
  });
});

describe("turnFromStored", () => {
  it("replays stored steps like the live stream", () => {
    const steps = STREAM.slice(1).map(([, data]) => data);
    const t = turnFromStored("c-1", {
      turn: 1,
      mode: "sql",
      status: "answered",
      question: "How many purchases per platform?",
      sql: "SELECT platform, count(*) AS purchases FROM events GROUP BY 1",
      error: null,
      steps,
    });
    const live = play(STREAM);
    expect(t.key).toBe("c-1:1");
    expect(t.status).toBe("answered");
    expect(t.attempts).toEqual(live.attempts);
    expect(t.result).toEqual(live.result);
    expect(t.chart).toEqual(live.chart);
  });

  it("explains a failed or interrupted turn with no steps", () => {
    const failed = turnFromStored("c", { turn: 2, mode: "sql", status: "failed", question: "q", sql: null, error: "model down", steps: [] });
    expect(failed.failed).toEqual({ code: "failed", reason: "model down" });
    const gone = turnFromStored("c", { turn: 3, mode: "agent", status: "interrupted", question: "q", sql: "SELECT 1", error: null, steps: [] });
    expect(gone.status).toBe("interrupted");
    expect(gone.mode).toBe("agent");
    expect(gone.sql).toBe("SELECT 1");
  });
});

describe("conversationOf", () => {
  it("is the last turn's conversation", () => {
    expect(conversationOf([])).toBeNull();
    const a = { ...newTurn("a", "q"), conversationId: "c-1" };
    const b = newTurn("b", "q2");
    expect(conversationOf([a, b])).toBe("c-1");
  });
});
