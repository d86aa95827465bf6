import type { Envelope } from "../src/types";

let n = 0;

/** A minimal valid envelope with a fresh key; `timestamp_ms` increases per call. */
export function envelope(overrides: Partial<Envelope> = {}): Envelope {
  n += 1;
  return {
    type: "custom",
    device_id: "dev-1",
    idempotency_key: `key-${n}`,
    timestamp_ms: 1_700_000_000_000 + n,
    session_id: "s-1",
    device_context: { platform: "web", sdk_version: "test" },
    properties: { event_name: "e", n },
    ...overrides,
  };
}

/** Lets pending store writes (promise callbacks) run. */
export const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
