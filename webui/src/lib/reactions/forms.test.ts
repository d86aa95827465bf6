import { describe, expect, it } from "vitest";

import {
  describeTraceLeaf,
  formatHeaders,
  formatSeconds,
  formFromParams,
  listPath,
  paramsFromForm,
  paramsSummary,
  parseHeaders,
  parseJson,
  sampleEvent,
  scopeSummary,
  traceCounts,
  webhookBody,
  type WebhookForm,
} from "./forms";
import { categoryOf, typesFor, type TraceNode } from "./types";

const FORM: WebhookForm = {
  name: " on-call ",
  url: "https://hooks.example.com/c",
  auth_type: "hmac",
  auth_username: "",
  secret: "",
  removeSecret: false,
  headers: "X-Team: payments\n\n",
  enabled: true,
  max_attempts: "",
  timeout_s: "",
};

describe("list paths", () => {
  it("leaves out empty filters", () => {
    expect(listPath("/a", { limit: 50, offset: 0, status: "", app_id: null })).toBe("/a?limit=50&offset=0");
    expect(listPath("/a", { status: "dead_letter", x: undefined })).toBe("/a?status=dead_letter");
    expect(listPath("/a", {})).toBe("/a");
    expect(listPath("/a", { app_id: "a b&c" })).toBe("/a?app_id=a+b%26c");
  });
});

describe("scopes", () => {
  it("summarizes", () => {
    expect(scopeSummary({ app_id: null, event_category: null, event_type: null })).toBe("every event");
    expect(scopeSummary({ app_id: "shop", event_category: "commerce", event_type: "purchase_failed" })).toBe(
      "app shop · commerce / purchase_failed",
    );
  });

  it("knows the catalogue", () => {
    expect(categoryOf("app_crash")).toBe("system");
    expect(typesFor("screen")).toEqual(["screen_view", "screen_exit"]);
    expect(typesFor(null)).toContain("custom");
  });
});

describe("webhook bodies", () => {
  it("parses headers and refuses bad lines and duplicates", () => {
    expect(parseHeaders("X-A: 1\nX-B:two: three")).toEqual({ ok: true, headers: { "X-A": "1", "X-B": "two: three" } });
    expect(parseHeaders("nonsense")).toMatchObject({ ok: false, message: /line 1/ });
    expect(parseHeaders("X-A: 1\nx-a: 2")).toMatchObject({ ok: false, message: /twice/ });
    expect(formatHeaders({ "X-A": "1", "X-B": "2" })).toBe("X-A: 1\nX-B: 2");
  });

  it("keeps the stored secret when editing without a new one", () => {
    const result = webhookBody(FORM, true);
    expect(result).toEqual({
      ok: true,
      body: {
        name: "on-call",
        url: "https://hooks.example.com/c",
        auth_type: "hmac",
        headers: { "X-Team": "payments" },
        enabled: true,
      },
    });
  });

  it("sends a new secret, removes one, and types the limits", () => {
    expect(webhookBody({ ...FORM, secret: "k".repeat(20) }, true)).toMatchObject({
      ok: true,
      body: { auth_secret: "k".repeat(20) },
    });
    expect(webhookBody({ ...FORM, removeSecret: true }, true)).toMatchObject({ ok: true, body: { auth_secret: null } });
    expect(webhookBody({ ...FORM, max_attempts: "3", timeout_s: "2.5" }, false)).toMatchObject({
      ok: true,
      body: { max_attempts: 3, timeout_s: 2.5 },
    });
    expect(webhookBody({ ...FORM, timeout_s: "soon" }, false)).toEqual({ ok: false, field: "timeout_s", message: "must be a number" });
    expect(webhookBody({ ...FORM, headers: "bad" }, false)).toMatchObject({ ok: false, field: "headers" });
  });

  it("sends a user name only for basic auth", () => {
    const basic = webhookBody({ ...FORM, auth_type: "basic", auth_username: "bob", secret: "pw" }, false);
    expect(basic).toMatchObject({ ok: true, body: { auth_username: "bob", auth_secret: "pw" } });
    const none = webhookBody({ ...FORM, auth_type: "none", auth_username: "bob" }, false);
    expect(none.ok && "auth_username" in none.body).toBe(false);
    expect(none.ok && "auth_secret" in none.body).toBe(false);
  });
});

describe("detector params", () => {
  it("types each kind's parameters and leaves defaults to the server", () => {
    expect(paramsFromForm("count", { max_count: "50", window_s: "300" })).toEqual({
      ok: true,
      params: { max_count: 50, window_s: 300 },
    });
    expect(paramsFromForm("baseline", { k: "4", direction: "down", bucket_s: "" })).toEqual({
      ok: true,
      params: { k: 4, direction: "down" },
    });
    expect(paramsFromForm("threshold", { field: "properties.amount", max: "10" })).toEqual({
      ok: true,
      params: { field: "properties.amount", max: 10 },
    });
  });

  it("names missing and mistyped parameters", () => {
    expect(paramsFromForm("count", { max_count: "1.5" })).toEqual({
      ok: false,
      errors: { max_count: "must be a whole number", window_s: "is required" },
    });
    expect(paramsFromForm("rate", { max_per_minute: "lots" })).toEqual({
      ok: false,
      errors: { max_per_minute: "must be a number" },
    });
    expect(paramsFromForm("threshold", { field: "properties.amount" })).toMatchObject({
      ok: false,
      errors: { min: /minimum, a maximum/ },
    });
  });

  it("fills the form from stored params and summarizes them", () => {
    const stored = { bucket_s: 60, k: 3, alpha: 0.1, warmup_buckets: 30, min_std: 1, direction: "both" };
    expect(formFromParams("baseline", stored)).toMatchObject({ bucket_s: "60", alpha: "0.1", direction: "both" });
    expect(formFromParams("threshold", { field: "properties.x", min: null, max: 5 })).toEqual({
      field: "properties.x",
      min: "",
      max: "5",
    });
    expect(paramsSummary({ max_count: 50, window_s: 300, x: null })).toBe("max_count 50 · window_s 300");
  });
});

describe("rule tests", () => {
  it("offers a sample event for the scope", () => {
    const sample = parseJson(sampleEvent({ app_id: "shop", event_category: null, event_type: "purchase_failed" }));
    expect(sample).toMatchObject({ ok: true, value: { type: "purchase_failed", device_id: "sample-device" } });
    const custom = parseJson(sampleEvent({ app_id: null, event_category: null, event_type: null }));
    expect(custom).toMatchObject({ ok: true, value: { type: "custom", event_name: "sample" } });
    expect(parseJson("{")).toMatchObject({ ok: false, message: /not valid JSON/ });
  });

  it("describes trace leaves and counts matches", () => {
    const trace: TraceNode = {
      op: "all",
      matched: false,
      children: [
        { field: "device_context.platform", op: "eq", value: "ios", actual: "ios", matched: true },
        { op: "any", matched: false, children: [{ field: "properties.amount", op: "gte", value: 100, missing: true, matched: false }] },
        { field: "user_id", op: "exists", actual: "u1", matched: true },
      ],
    };
    expect(traceCounts(trace)).toEqual({ matched: 2, total: 3 });
    const first = "children" in trace ? trace.children[0] : undefined;
    expect(first && describeTraceLeaf(first)).toBe('device_context.platform eq "ios": actual "ios"');
    expect(describeTraceLeaf({ field: "properties.amount", op: "gte", value: 100, missing: true, matched: false })).toBe(
      "properties.amount gte 100: missing",
    );
    expect(describeTraceLeaf({ field: "user_id", op: "exists", actual: "u1", matched: true })).toBe('user_id exists: actual "u1"');
    expect(describeTraceLeaf({ op: "always", matched: true })).toMatch(/no condition/);
  });

  it("formats seconds", () => {
    expect(formatSeconds(45)).toBe("45s");
    expect(formatSeconds(300)).toBe("5m");
    expect(formatSeconds(5430)).toBe("1h 30m 30s");
  });
});
