import { describe, expect, it } from "vitest";

import { SseParser } from "./sse";

function parseChunks(chunks: (string | Uint8Array)[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  const parser = new SseParser((event, data) => out.push([event, data]));
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return out;
}

const STREAM =
  ": hello\n" +
  'event: step\ndata: {"type":"sql","text":"SELECT ü → 1"}\n\n' +
  "event: note\r\ndata: line one\r\ndata: line two\r\n\r\n" +
  "data: plain\rid: 7\r\r" +
  'event: done\ndata: {"ok":true}\n\n';

const EXPECTED: [string, unknown][] = [
  ["step", { type: "sql", text: "SELECT ü → 1" }],
  ["note", "line one\nline two"],
  ["message", "plain"],
  ["done", { ok: true }],
];

describe("SseParser", () => {
  it("parses a whole stream", () => {
    expect(parseChunks([STREAM])).toEqual(EXPECTED);
  });

  it("gives the same events however the bytes are split", () => {
    const bytes = new TextEncoder().encode(STREAM);
    // every single split point, including inside multi-byte characters and between \r and \n
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(parseChunks([bytes.slice(0, cut), bytes.slice(cut)])).toEqual(EXPECTED);
    }
    // and one byte at a time
    expect(parseChunks(Array.from(bytes, (b) => new Uint8Array([b])))).toEqual(EXPECTED);
  });

  it("gives the same events for random three-way splits", () => {
    const bytes = new TextEncoder().encode(STREAM.repeat(3));
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 200; i++) {
      const a = 1 + rand(bytes.length - 2);
      const b = a + 1 + rand(bytes.length - a - 1);
      expect(parseChunks([bytes.slice(0, a), bytes.slice(a, b), bytes.slice(b)])).toEqual([
        ...EXPECTED,
        ...EXPECTED,
        ...EXPECTED,
      ]);
    }
  });

  it("does not dispatch an event whose blank line never came", () => {
    expect(parseChunks(['event: a\ndata: {"x":1}\n\nevent: b\ndata: 2'])).toEqual([["a", { x: 1 }]]);
  });

  it("ignores comments, unknown fields and events without data", () => {
    expect(parseChunks([": ping\n\nretry: 100\nfoo: bar\n\nevent: empty\n\ndata\n\n"])).toEqual([["message", ""]]);
  });

  it("keeps the last event id", () => {
    const parser = new SseParser(() => undefined);
    parser.push("id: 41\ndata: x\n\nid: 42\ndata: y\n\n");
    expect(parser.lastEventId).toBe("42");
  });
});
