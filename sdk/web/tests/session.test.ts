import { describe, expect, it } from "vitest";
import { memoryKV } from "../src/kv";
import { SESSION_TIMEOUT_MS, Sessions } from "../src/session";

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

function ids() {
  let i = 0;
  return () => `s${++i}`;
}

describe("Sessions", () => {
  it("starts a session on the first event and keeps it while events keep coming", () => {
    const c = clock();
    const s = new Sessions(memoryKV(), c.now, SESSION_TIMEOUT_MS, ids());
    expect(s.touch()).toBe("s1");
    // 29 minutes apart, three times: each event extends the session
    for (let i = 0; i < 3; i++) {
      c.t += 29 * 60_000;
      expect(s.touch()).toBe("s1");
    }
  });

  it("starts a new session after 30 minutes idle", () => {
    const c = clock();
    const s = new Sessions(memoryKV(), c.now, SESSION_TIMEOUT_MS, ids());
    s.touch();
    c.t += SESSION_TIMEOUT_MS;
    expect(s.touch()).toBe("s1"); // exactly 30 minutes is still the same session
    c.t += SESSION_TIMEOUT_MS + 1;
    expect(s.touch()).toBe("s2");
  });

  it("survives a reload: a new tracker on the same storage continues the session", () => {
    const kv = memoryKV();
    const c = clock();
    expect(new Sessions(kv, c.now, SESSION_TIMEOUT_MS, ids()).touch()).toBe("s1");
    c.t += 60_000;
    expect(new Sessions(kv, c.now, SESSION_TIMEOUT_MS, () => "other").touch()).toBe("s1");
  });

  it("reset forgets the session", () => {
    const c = clock();
    const s = new Sessions(memoryKV(), c.now, SESSION_TIMEOUT_MS, ids());
    s.touch();
    s.reset();
    expect(s.touch()).toBe("s2");
  });

  it("does not let a clock set back shorten the idle time", () => {
    const c = clock();
    const s = new Sessions(memoryKV(), c.now, SESSION_TIMEOUT_MS, ids());
    s.touch();
    c.t -= 10 * 60_000;
    expect(s.touch()).toBe("s1");
    c.t += 10 * 60_000 + SESSION_TIMEOUT_MS + 1;
    expect(s.touch()).toBe("s2");
  });

  it("starts over when the stored session is unreadable", () => {
    const kv = memoryKV();
    kv.set("causality.session", "{not json");
    expect(new Sessions(kv, clock().now, SESSION_TIMEOUT_MS, ids()).touch()).toBe("s1");
    kv.set("causality.session", JSON.stringify({ id: 5 }));
    expect(new Sessions(kv, clock().now, SESSION_TIMEOUT_MS, () => "fresh").touch()).toBe("fresh");
  });

  it("honours a custom timeout", () => {
    const c = clock();
    const s = new Sessions(memoryKV(), c.now, 1000, ids());
    s.touch();
    c.t += 1001;
    expect(s.touch()).toBe("s2");
  });
});
