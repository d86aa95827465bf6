import type { DeviceContext } from "./types";
import { SDK_VERSION } from "./version";

const UTM = ["source", "medium", "campaign", "term", "content"] as const;

/** The OS and its version from a user agent string, for `os_version`; cheap, not exhaustive. */
export function osVersion(ua: string): string | undefined {
  const v = (re: RegExp): string | undefined => re.exec(ua)?.[1]?.replace(/_/g, ".");
  let m: string | undefined;
  if ((m = v(/Windows NT ([\d.]+)/))) return `Windows ${m}`;
  if ((m = v(/(?:iPhone|CPU) OS ([\d_]+)/))) return `iOS ${m}`;
  if ((m = v(/Mac OS X ([\d_.]+)/))) return `macOS ${m}`;
  if ((m = v(/Android ([\d.]+)/))) return `Android ${m}`;
  if (/CrOS/.test(ua)) return "ChromeOS";
  if (/Linux/.test(ua)) return "Linux";
  return undefined;
}

/** `device_context` for every event of this page; keys without a value are left out. */
export function deviceContext(appVersion?: string): DeviceContext {
  const ctx: DeviceContext = { platform: "web", sdk_version: SDK_VERSION };
  const set = <K extends keyof DeviceContext>(k: K, v: DeviceContext[K] | undefined | ""): void => {
    if (v !== undefined && v !== "") ctx[k] = v;
  };
  set("os_version", osVersion(navigator.userAgent));
  set("app_version", appVersion);
  set("locale", navigator.language);
  try {
    set("timezone", Intl.DateTimeFormat().resolvedOptions().timeZone);
  } catch {
    // no Intl time zones: leave it out
  }
  set("screen_width", screen.width);
  set("screen_height", screen.height);
  return ctx;
}

/** The path a page view is named by: the pathname, plus the hash of hash-routed apps. */
export function screenName(url: URL): string {
  return routedHash(url.hash) ? url.pathname + url.hash : url.pathname;
}

/** Hash routers use `#/route` or `#!/route`; any other hash is an in-page anchor. */
export function routedHash(hash: string): boolean {
  return hash.startsWith("#/") || hash.startsWith("#!");
}

/** `params` of a web `screen_view`: url, path, title, referrer and the UTM tags of the URL
 * (EVENTS.md); empty values are left out. */
export function pageParams(href: string, title: string, referrer: string): Record<string, string> {
  const url = new URL(href);
  const params: Record<string, string> = { url: href, path: screenName(url) };
  if (title) params.title = title;
  if (referrer) params.referrer = referrer;
  for (const k of UTM) {
    const v = url.searchParams.get(`utm_${k}`);
    if (v) params[`utm_${k}`] = v;
  }
  return params;
}
