#!/usr/bin/env node
// Builds the React bundles ddbridge's own tests and sample extension serve:
//
//   tests/browser/page/src/main.jsx          -> tests/browser/page/build/{index.html,main.js}
//   docker/sample-extension/ui/src/main.jsx  -> docker/sample-extension/ui/build/{index.html,main.js}
//   bench/page/src/main.jsx                  -> bench/page/build/{index.html,main.js} (python -m bench)
//
// Each UI keeps its page shell in src/index.html (copied as is: the daemon injects the shim).
// Usage: node scripts/build-ui.mjs [test-page|sample-ui|bench-page ...]   (npm run build: all)
import { copyFile, mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const TARGETS = {
  "test-page": "tests/browser/page",
  "sample-ui": "docker/sample-extension/ui",
  "bench-page": "bench/page",
};

/**
 * Bundles one UI folder's src/main.jsx into build/main.js and copies src/index.html next to it.
 * @param {string} name
 * @param {string} folder relative to the repository root
 */
async function build(name, folder) {
  const started = performance.now();
  const src = path.join(ROOT, folder, "src");
  const out = path.join(ROOT, folder, "build");
  await mkdir(out, { recursive: true });
  const result = await esbuild.build({
    entryPoints: [path.join(src, "main.jsx")],
    outfile: path.join(out, "main.js"),
    absWorkingDir: ROOT,
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    minify: true,
    sourcemap: false,
    jsx: "automatic",
    // An imported .svg (the sample's metadata.json icon) is inlined as a data: URL.
    loader: { ".js": "jsx", ".jsx": "jsx", ".svg": "dataurl" },
    define: { "process.env.NODE_ENV": '"production"' },
    legalComments: "none",
    logLevel: "warning",
    metafile: true,
  });
  await copyFile(path.join(src, "index.html"), path.join(out, "index.html"));
  const bytes = (await stat(path.join(out, "main.js"))).size;
  const inputs = Object.keys(result.metafile.inputs).length;
  const ms = Math.round(performance.now() - started);
  const where = path.relative(ROOT, out);
  console.log(`built ${name}: ${where}/index.html + main.js (${(bytes / 1024).toFixed(0)} KiB, ${inputs} modules, ${ms} ms)`);
}

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in TARGETS)) {
    console.error(`build-ui: unknown target ${JSON.stringify(name)}; choose from ${Object.keys(TARGETS).join(", ")}`);
    process.exit(2);
  }
}
const names = wanted.length > 0 ? wanted : Object.keys(TARGETS);
try {
  await Promise.all(names.map((name) => build(name, TARGETS[name])));
} catch (error) {
  // esbuild has printed the located errors already (logLevel warning).
  console.error(`build-ui: build failed: ${error.message.split("\n")[0]}`);
  process.exit(1);
}
