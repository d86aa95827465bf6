// Drives the built web SDK in Debian's headless Chromium (playwright-core) against a real
// gateway, and prints one JSON report on stdout for the pytest that started that gateway
// (tests/integration/test_web_sdk_browser.py), which checks it and the stream's contents.
//
//   node tests/browser.mjs <scenario> <gateway-url> <api-key>
//
// Test pages come from a static server started here on another port, so every call to the
// gateway is cross-origin and its CORS headers are exercised as on a real site. Scenarios:
// script-tag, spa, offline-reload, rate-limited, beacon. CHROMIUM_PATH overrides /usr/bin/chromium.
import { readFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const [scenario, gateway, apiKey] = process.argv.slice(2);
if (!scenario || !gateway || !apiKey) {
  console.error("usage: node tests/browser.mjs <scenario> <gateway-url> <api-key>");
  process.exit(2);
}
const DIST = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const BATCH_PATH = "/api/v1/events/batch";

// -- pages ---------------------------------------------------------------------------------

const html = (title, head, body = "") =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${head}</head>` +
  `<body>${body}</body></html>`;

/** The script-tag build from the gateway, configured by data attributes only; `host` sends
 * the events elsewhere than where the script came from. */
const scriptTagPage = (flushMs, host) =>
  html(
    "Script tag",
    `<script async src="${gateway}/sdk/causality.js" data-api-key="${apiKey}"` +
      ` data-flush-interval="${flushMs}" data-app-version="9.9.9"` +
      `${host ? ` data-host="${host}"` : ""}></script>`,
  );

/** A single-page app on the ESM build: routes change by history.pushState only. */
const spaPage = () =>
  html(
    "Home",
    `<script type="module">
      import * as causality from "/dist/causality.mjs";
      window.causality = causality;
      causality.init({ apiKey: ${JSON.stringify(apiKey)}, host: ${JSON.stringify(gateway)},
                       flushIntervalMs: 100 });
    </script>`,
    `<button id="to-a" onclick="go('/spa/a')">A</button>
     <button id="to-b" onclick="go('/spa/b')">B</button>
     <a id="anchor" href="#section">in-page anchor</a><h2 id="section">Section</h2>
     <script>
       // a router's part: the title follows the route, on navigation and on back/forward
       const titles = { "/spa.html": "Home", "/spa/a": "A", "/spa/b": "B" };
       const render = () => (document.title = titles[location.pathname]);
       const go = (path) => { history.pushState({}, "", path); render(); };
       addEventListener("popstate", render);
     </script>`,
  );

function startStaticServer() {
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const send = (type, body) => {
      // cacheable, so that a page can be loaded again while offline
      res.writeHead(200, { "Content-Type": type, "Cache-Control": "max-age=600" });
      res.end(body);
    };
    if (url.pathname === "/script.html") {
      return send("text/html", scriptTagPage(url.searchParams.get("flush") ?? "100", url.searchParams.get("host")));
    }
    if (url.pathname === "/spa.html" || url.pathname.startsWith("/spa/")) return send("text/html", spaPage());
    if (url.pathname === "/leave.html") return send("text/html", html("Elsewhere", ""));
    if (url.pathname === "/dist/causality.mjs") return send("text/javascript", readFileSync(join(DIST, "causality.mjs")));
    res.writeHead(url.pathname === "/favicon.ico" ? 204 : 404).end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** A pass-through to the gateway that can be cut: while down, every connection is reset, as
 * when the network between browser and gateway fails (navigator.onLine stays true). */
async function startSwitchableProxy() {
  const target = new URL(gateway);
  const sockets = new Set();
  let down = false;
  let refused = 0;
  const server = createServer((req, res) => {
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  server.on("connection", (socket) => {
    if (down) {
      refused += 1;
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    refused: () => refused,
    setDown(value) {
      down = value;
      if (down) for (const socket of sockets) socket.destroy();
    },
    close: () => server.close(),
  };
}

// -- the browser and what it sends ---------------------------------------------------------

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Every request to the batch endpoint of a context, with its events and its outcome. */
function recordBatches(context, log) {
  const entries = new WeakMap();
  context.on("request", (request) => {
    if (new URL(request.url()).pathname !== BATCH_PATH) return;
    let events = [];
    try {
      events = JSON.parse(request.postData() ?? "{}").events ?? [];
    } catch {
      // a body Playwright cannot show (kept as no events)
    }
    const entry = {
      at: Date.now(),
      method: request.method(),
      resource_type: request.resourceType(),
      key_in_query: new URL(request.url()).searchParams.has("api_key"),
      content_type: request.headers()["content-type"] ?? null,
      events,
      status: null,
      answered_at: null,
      retry_after: null,
      response: null,
      failure: null,
    };
    log.push(entry);
    entries.set(request, entry);
    request.response().then(
      async (response) => {
        if (!response) return;
        const answeredAt = Date.now();
        // the body first: a status is what the scenarios wait for
        entry.response = await response.json().catch(() => null);
        entry.answered_at = answeredAt;
        entry.retry_after = response.headers()["retry-after"] ?? null;
        entry.status = response.status();
      },
      () => {},
    );
  });
  context.on("requestfailed", (request) => {
    const entry = entries.get(request);
    if (entry) entry.failure = request.failure()?.errorText ?? "failed";
  });
  return log;
}

const delivered = (log) => log.filter((e) => e.status === 202).flatMap((e) => e.events);
const names = (events) => events.map((e) => e.properties.event_name ?? e.type);

async function waitUntil(what, check, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The events the SDK holds in IndexedDB (every queue database of the origin). */
const storedInIndexedDB = (page) =>
  page.evaluate(async () => {
    const out = [];
    for (const { name } of await indexedDB.databases()) {
      if (!name?.startsWith("causality-")) continue;
      const db = await new Promise((res, rej) => {
        const r = indexedDB.open(name);
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const all = await new Promise((res, rej) => {
        const r = db.transaction("events").objectStore("events").getAll();
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      db.close();
      out.push(...all.map((row) => row.e));
    }
    return out;
  });

// -- scenarios -----------------------------------------------------------------------------

const scenarios = {
  /** A plain page with the script tag sends its page view (UTM tags and referrer included). */
  async "script-tag"({ context, site, log }) {
    const page = await context.newPage();
    const script = page.waitForResponse(`${gateway}/sdk/causality.js`);
    const query = "utm_source=news&utm_medium=email&utm_campaign=spring&utm_term=shoes&utm_content=hero";
    await page.goto(`${site}/script.html?${query}`, { referer: "https://referrer.example/article" });
    const response = await script;
    await waitUntil("the page view", () => delivered(log).length >= 1);
    return {
      script: { status: response.status(), headers: await response.allHeaders() },
      global_api: await page.evaluate(() => Object.keys(window.causality ?? {}).sort()),
      device_id: await page.evaluate(() => localStorage.getItem("causality.device_id")),
    };
  },

  /** history.pushState and back() are page views; an in-page anchor is not. */
  async spa({ context, site, log }) {
    const page = await context.newPage();
    await page.goto(`${site}/spa.html`);
    await waitUntil("the first page view", () => delivered(log).length >= 1);
    await page.click("#to-a");
    await page.click("#to-b");
    await page.goBack(); // popstate back to /spa/a
    await waitUntil("/spa/a again", () => page.evaluate(() => location.pathname === "/spa/a"));
    await page.click("#anchor"); // hash change within /spa/a: no page view
    await page.evaluate(() => {
      window.causality.identify("user-42");
      window.causality.track("signup_clicked", { plan: "pro", seats: 3 });
    });
    await waitUntil("four page views and the custom event", () => delivered(log).length >= 5);
    await sleep(500); // nothing more may follow (the anchor)
    return { delivered: names(delivered(log)) };
  },

  /** Offline, nothing is sent. Then the browser is back online but the gateway unreachable:
   * attempts fail and back off, nothing goes by beacon, and the queue outlives a reload.
   * Once the gateway is reachable again, the next retry delivers it all, once. The page
   * sends through a proxy this scenario cuts, so nothing can arrive before it is restored. */
  async "offline-reload"({ context, site, log }) {
    const proxy = await startSwitchableProxy();
    try {
      const page = await context.newPage();
      const url = `${site}/script.html?host=${encodeURIComponent(proxy.url)}`;
      await page.goto(url);
      await waitUntil("the online page view", () => delivered(log).length >= 1);
      const deviceId = await page.evaluate(() => localStorage.getItem("causality.device_id"));

      await context.setOffline(true);
      await waitUntil("navigator.onLine false", () => page.evaluate(() => !navigator.onLine));
      const offlineFrom = log.length;
      await page.evaluate(() => {
        for (const n of [1, 2, 3]) window.causality.track("offline_event", { n });
      });
      await sleep(1500); // 15 flush intervals
      const sentWhileOffline = log.length - offlineFrom;
      const storedWhileOffline = names(await storedInIndexedDB(page));

      proxy.setDown(true);
      await context.setOffline(false); // `online`: the SDK tries at once, and fails
      await waitUntil("a failed attempt", () => proxy.refused() >= 1);
      await page.reload(); // pagehide while failing: no beacon
      await waitUntil("the SDK", () => page.evaluate(() => typeof window.causality?.track === "function"));
      await waitUntil("a failed attempt of the reloaded page", () => proxy.refused() >= 2);
      await sleep(1000);
      const storedAfterReload = names(await storedInIndexedDB(page));

      const reconnectedAt = Date.now();
      proxy.setDown(false);
      await waitUntil(
        "the offline events",
        () => names(delivered(log)).filter((n) => n === "offline_event").length >= 3,
        30_000,
      );
      return {
        device_id_before: deviceId,
        device_id_after: await page.evaluate(() => localStorage.getItem("causality.device_id")),
        requests_while_offline: sentWhileOffline,
        stored_while_offline: storedWhileOffline,
        refused_attempts: proxy.refused(),
        stored_after_reload: storedAfterReload,
        reconnected_at_ms: reconnectedAt,
        stored_after_delivery: names(
          await waitUntil("an empty store", async () => ((await storedInIndexedDB(page)).length === 0 ? [] : null)),
        ),
      };
    } finally {
      proxy.close();
    }
  },

  /** A gateway allowing 5 events/s, bursts of 10: the second chunk of 9 events is refused
   * with 429 and Retry-After, and the SDK sends it again no earlier than that. */
  async "rate-limited"({ context, site, log }) {
    const page = await context.newPage();
    await page.goto(`${site}/script.html`);
    await waitUntil("the page view", () => delivered(log).length >= 1);
    for (const chunk of ["first", "second"]) {
      await page.evaluate((chunk) => {
        for (let n = 1; n <= 9; n++) window.causality.track(`${chunk}_chunk`, { n });
        return window.causality.flush();
      }, chunk);
    }
    await waitUntil("the second chunk", () => names(delivered(log)).filter((n) => n === "second_chunk").length >= 9);
    return {};
  },

  /** With a long flush interval nothing is sent until the page goes away; pagehide then
   * hands the queue to sendBeacon. The pytest checks what reached the gateway, and how. */
  async beacon({ context, site, log }) {
    const page = await context.newPage();
    await page.goto(`${site}/script.html?flush=600000`);
    await waitUntil("the SDK", () => page.evaluate(() => typeof window.causality?.track === "function"));
    await page.evaluate(() => window.causality.track("beacon_event", { n: 1 }));
    await sleep(500);
    const sentBeforeLeaving = log.length;
    await page.goto(`${site}/leave.html`);
    // Chromium hands beacons of a leaving page to its network process, out of Playwright's
    // (and CDP's) sight; the gateway records them (the pytest) and they take milliseconds
    await sleep(1000);
    return { sent_before_leaving: sentBeforeLeaving };
  },
};

// -- main ----------------------------------------------------------------------------------

const run = scenarios[scenario];
if (!run) {
  console.error(`unknown scenario ${scenario}; one of ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
const server = await startStaticServer();
const site = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  args: FLAGS,
});
let code = 0;
const log = [];
try {
  const context = await browser.newContext(); // a fresh profile: empty storage and cache
  recordBatches(context, log);
  const consoleErrors = [];
  context.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  const result = await run({ context, site, log });
  await context.close();
  console.log(JSON.stringify({ scenario, site, result, batches: log, console_errors: consoleErrors }));
} catch (error) {
  console.error(error?.stack ?? String(error));
  console.error(`batch requests so far: ${JSON.stringify(log.map(({ events, ...rest }) => ({ ...rest, events: names(events) })))}`);
  code = 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(code);
