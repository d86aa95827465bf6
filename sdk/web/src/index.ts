/** Causality's browser SDK. `init` once, then `track`, `page`, `identify`, `reset`, `flush`.
 * Calls made before `init` are kept and replayed by it. */
import { Client } from "./client";
import type { Options, Properties } from "./types";

export { Client } from "./client";
export type { DeviceContext, Envelope, Options, Properties } from "./types";
export { SDK_VERSION } from "./version";

let client: Client | undefined;
const early: Array<(c: Client) => void> = [];

function call(fn: (c: Client) => void): void {
  if (client) fn(client);
  else if (early.length < 100) early.push(fn);
}

/** Start tracking; a second call returns the first client unchanged. */
export function init(options: Options): Client {
  if (!client) {
    client = new Client(options);
    early.splice(0).forEach((fn) => fn(client as Client));
  }
  return client;
}

/** Record an event: a catalogued type is sent typed, any other name as a custom event. */
export function track(event: string, properties?: Properties): void {
  call((c) => c.track(event, properties));
}

/** Record a page view of the current URL (automatic unless `autoPageviews: false`). */
export function page(properties?: Properties): void {
  call((c) => c.page(properties));
}

/** Attach a user id to this device's later events. */
export function identify(userId: string): void {
  call((c) => c.identify(userId));
}

/** Forget the user and start a new device id and session (on log-out). */
export function reset(): void {
  call((c) => c.reset());
}

/** Send what is queued now; settles when the attempt is over. */
export function flush(): Promise<void> {
  return client ? client.flush() : Promise.resolve();
}
