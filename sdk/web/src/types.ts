/** Wire types of the event contract (shared/EVENTS.md) as far as the browser SDK fills them. */

/** Properties of an event. Custom events take scalars or flat lists of them. */
export type Properties = Record<string, unknown>;

/** `device_context`: only the keys the gateway knows; it rejects any other key. */
export interface DeviceContext {
  platform: "web";
  sdk_version: string;
  os_version?: string;
  app_version?: string;
  screen_width?: number;
  screen_height?: number;
  locale?: string;
  timezone?: string;
}

/** One event as posted to `/api/v1/events/batch`. */
export interface Envelope {
  type: string;
  device_id: string;
  idempotency_key: string;
  timestamp_ms: number;
  session_id: string;
  user_id?: string;
  device_context: DeviceContext;
  properties: Properties;
}

/** What `init` takes. Only `apiKey` is required. */
export interface Options {
  /** An ingestion key of the app (`causality keys create`); it is public, like the page. */
  apiKey: string;
  /** The gateway's base URL; defaults to this page's origin. */
  host?: string;
  /** Send a page view on init and on every history-API navigation (default true). */
  autoPageviews?: boolean;
  /** Send as soon as this many events wait (default 20). */
  flushAt?: number;
  /** Otherwise send this long after the first waiting event (default 2000 ms). */
  flushIntervalMs?: number;
  /** A session ends after this long without events (default 30 minutes). */
  sessionTimeoutMs?: number;
  /** The most events kept while offline; the oldest go first (default 1000). */
  maxQueueSize?: number;
  /** Your site's release, stored as `app_version`. */
  appVersion?: string;
}
