// A Server-Sent Events parser for fetch() bodies (EventSource cannot POST, nor send
// X-CSRF-Token). It follows the WHATWG event-stream rules: lines end in \n, \r\n or \r, a blank
// line dispatches, "data:" lines join with \n, lines starting with ":" are comments. Bytes may be
// split anywhere by the network (inside a UTF-8 character, between \r and \n), so the decoder
// streams and a trailing \r waits for the next chunk before it counts as a line end.

export type SseHandler = (event: string, data: unknown) => void;

/** JSON when it parses, else the raw text (the gateway sends JSON; a proxy might not). */
function decodeData(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export class SseParser {
  private readonly decoder = new TextDecoder("utf-8");
  private buffer = "";
  private eventName = "";
  private dataLines: string[] = [];
  private hasData = false;
  /** The last "id:" seen (kept for a caller that resumes with Last-Event-ID). */
  lastEventId = "";

  constructor(private readonly onEvent: SseHandler) {}

  /** Feed bytes (or text) as they arrive. */
  push(chunk: Uint8Array | string): void {
    this.buffer += typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    this.drain(false);
  }

  /** The stream ended: a last event without its blank line is not dispatched (per the spec). */
  end(): void {
    this.buffer += this.decoder.decode();
    this.drain(true);
    this.eventName = "";
    this.dataLines = [];
    this.hasData = false;
  }

  private drain(final: boolean): void {
    let start = 0;
    const buf = this.buffer;
    for (let i = 0; i < buf.length; i++) {
      const ch = buf.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      if (ch === 13 && i === buf.length - 1 && !final) {
        // a \r at the very end: maybe the first half of \r\n; wait for more
        break;
      }
      this.line(buf.slice(start, i));
      if (ch === 13 && buf.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.buffer = buf.slice(start);
    if (final && this.buffer.length > 0) {
      this.line(this.buffer);
      this.buffer = "";
    }
  }

  private line(line: string): void {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.eventName = value;
        break;
      case "data":
        this.dataLines.push(value);
        this.hasData = true;
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      default:
        break; // "retry" and unknown fields: nothing for a fetch-based reader to do
    }
  }

  private dispatch(): void {
    if (this.hasData) {
      this.onEvent(this.eventName || "message", decodeData(this.dataLines.join("\n")));
    }
    this.eventName = "";
    this.dataLines = [];
    this.hasData = false;
  }
}
