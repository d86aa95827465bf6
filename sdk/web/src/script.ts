/** The script-tag build: `window.causality`, started from the tag's data attributes:
 * `<script async src="https://gw/sdk/causality.js" data-api-key="ck_…"></script>`
 * (`data-host` defaults to where the script came from; also `data-auto-pageviews="false"`,
 * `data-flush-interval` in ms, `data-app-version`). */
import { init } from "./index";
import type { Options } from "./types";

export * from "./index";

const tag = document.currentScript as HTMLScriptElement | null;
const data = tag?.dataset;
if (tag && data?.apiKey) {
  const options: Options = {
    apiKey: data.apiKey,
    host: data.host ?? new URL(tag.src, location.href).origin,
    autoPageviews: data.autoPageviews !== "false",
  };
  if (data.flushInterval) options.flushIntervalMs = Number(data.flushInterval);
  if (data.appVersion) options.appVersion = data.appVersion;
  init(options);
}
