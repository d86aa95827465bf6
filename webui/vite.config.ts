/// <reference types="vitest/config" />
// The analyst UI's build: served by the gateway at /app/, so every asset URL is under /app/.
// echarts and CodeMirror get chunks of their own: only the pages that draw a chart or edit SQL
// load them, which keeps the first load (login, dashboards list) small.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

function manualChunks(id: string): string | undefined {
  // the components' own loaders of the two libraries go with them: one chunk each
  if (id.endsWith("/src/components/echarts.ts")) return "echarts";
  if (id.endsWith("/src/components/codemirror.ts")) return "codemirror";
  if (!id.includes("node_modules")) return undefined;
  if (id.includes("/node_modules/echarts/") || id.includes("/node_modules/zrender/")) {
    return "echarts";
  }
  if (
    id.includes("/node_modules/@codemirror/") ||
    id.includes("/node_modules/codemirror/") ||
    id.includes("/node_modules/@lezer/") ||
    id.includes("/node_modules/crelt/") ||
    id.includes("/node_modules/style-mod/") ||
    id.includes("/node_modules/w3c-keyname/") ||
    id.includes("/node_modules/@marijn/")
  ) {
    return "codemirror";
  }
  return undefined;
}

export default defineConfig({
  base: "/app/",
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    sourcemap: false,
    manifest: true,
    target: "es2022",
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      output: { manualChunks },
    },
  },
  server: {
    // `npm run dev` against a local gateway (`make up`): the API and the SSE streams pass through
    proxy: {
      "/api": { target: "http://127.0.0.1:8000", changeOrigin: false },
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    restoreMocks: true,
  },
});
