// Builds dist/causality.mjs (ESM), dist/causality.js (script tag, window.causality) and
// dist/types/*.d.ts; prints the script's gzip size and fails above the 8 KB budget.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const BUDGET = 8 * 1024;
const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const version = /SDK_VERSION = "([^"]+)"/.exec(readFileSync("src/version.ts", "utf8"))?.[1];
if (version !== pkg.version) {
  console.error(`src/version.ts says ${version}, package.json ${pkg.version}`);
  process.exit(1);
}

rmSync("dist", { recursive: true, force: true });
const common = { bundle: true, minify: true, target: "es2020", legalComments: "none", logLevel: "warning" };
await build({ ...common, entryPoints: ["src/index.ts"], format: "esm", outfile: "dist/causality.mjs" });
await build({
  ...common,
  entryPoints: ["src/script.ts"],
  format: "iife",
  globalName: "causality",
  outfile: "dist/causality.js",
});
execFileSync("node_modules/.bin/tsc", ["-p", "tsconfig.build.json"], { stdio: "inherit" });

let over = false;
for (const file of ["dist/causality.js", "dist/causality.mjs"]) {
  const raw = readFileSync(file);
  const gz = gzipSync(raw, { level: 9 }).length;
  const budget = file.endsWith(".js") ? ` (budget ${BUDGET} B)` : "";
  console.log(`${file}: ${raw.length} B, ${gz} B gzip${budget}`);
  over ||= file.endsWith(".js") && gz >= BUDGET;
}
if (over) {
  console.error("dist/causality.js is over its gzip budget");
  process.exit(1);
}
