// The bundle size report `npm run build` prints: every JS chunk's raw and gzip size, and the
// first load (index.html's entry and everything it imports statically), which must stay under
// 500 KB gzip. It also fails when echarts or CodeMirror end up in the first load: they belong to
// the pages that draw charts or edit SQL, and are split off for exactly that reason.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const LIMIT_GZIP = 500 * 1000;
const HEAVY = ["echarts", "codemirror"];

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const manifestPath = join(dist, ".vite", "manifest.json");
if (!existsSync(manifestPath)) {
  console.error(`size: ${manifestPath} is missing; run vite build first`);
  process.exit(1);
}
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));

const sizes = new Map();
function size(file) {
  let s = sizes.get(file);
  if (s === undefined) {
    const bytes = readFileSync(join(dist, file));
    s = { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
    sizes.set(file, s);
  }
  return s;
}

const kb = (n) => `${(n / 1000).toFixed(1)} kB`;

// the first load: the HTML entry and its static imports, transitively (dynamic ones excluded)
const entryKey = Object.keys(manifest).find((k) => manifest[k].isEntry);
if (entryKey === undefined) {
  console.error("size: the manifest has no entry");
  process.exit(1);
}
const firstLoad = new Set();
const firstCss = new Set();
const stack = [entryKey];
while (stack.length > 0) {
  const key = stack.pop();
  const chunk = manifest[key];
  if (chunk === undefined || firstLoad.has(chunk.file)) continue;
  firstLoad.add(chunk.file);
  for (const css of chunk.css ?? []) firstCss.add(css);
  for (const imp of chunk.imports ?? []) stack.push(imp);
}

const jsFiles = readdirSync(join(dist, "assets")).filter((f) => f.endsWith(".js")).map((f) => `assets/${f}`);
jsFiles.sort((a, b) => size(b).gzip - size(a).gzip);

const width = Math.max(...jsFiles.map((f) => f.length), 10);
console.log(`\n${"JS chunk".padEnd(width)}  ${"raw".padStart(10)}  ${"gzip".padStart(10)}  first load`);
let totalRaw = 0;
let totalGzip = 0;
for (const file of jsFiles) {
  const s = size(file);
  totalRaw += s.raw;
  totalGzip += s.gzip;
  console.log(`${file.padEnd(width)}  ${kb(s.raw).padStart(10)}  ${kb(s.gzip).padStart(10)}  ${firstLoad.has(file) ? "yes" : ""}`);
}
console.log(`${"all JS".padEnd(width)}  ${kb(totalRaw).padStart(10)}  ${kb(totalGzip).padStart(10)}`);

let firstRaw = 0;
let firstGzip = 0;
for (const file of firstLoad) {
  const s = size(file);
  firstRaw += s.raw;
  firstGzip += s.gzip;
}
let cssGzip = 0;
for (const file of firstCss) cssGzip += size(file).gzip;
console.log(
  `\nfirst load: ${firstLoad.size} JS files, ${kb(firstRaw)} raw, ${kb(firstGzip)} gzip ` +
    `(limit ${kb(LIMIT_GZIP)}); CSS ${kb(cssGzip)} gzip`,
);

let failed = false;
if (firstGzip > LIMIT_GZIP) {
  console.error(`size: FAIL: the first load is ${kb(firstGzip)} gzip, over ${kb(LIMIT_GZIP)}`);
  failed = true;
}
for (const file of firstLoad) {
  const heavy = HEAVY.find((name) => file.includes(`/${name}-`));
  if (heavy !== undefined) {
    console.error(`size: FAIL: ${heavy} (${file}) is in the first load; import it lazily`);
    failed = true;
  }
}
for (const name of HEAVY) {
  if (!jsFiles.some((f) => f.includes(`/${name}-`))) {
    console.warn(`size: note: no ${name} chunk (no page uses it yet?)`);
  }
}
process.exit(failed ? 1 : 0);
