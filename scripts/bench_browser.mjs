#!/usr/bin/env node
// Our package against onnxruntime-web in the same headless Chromium, on the same ONNX file and
// the same token ids: time from navigation to the first label (cold: a fresh browser profile;
// cached: the next visit), and median ms per report of `label` and of `labelBatch`.
//
//     scripts/build-web.sh                 # release build of the package and the page
//     node scripts/bench_browser.mjs [--reports ../shared/data/iu/dev.jsonl] [--limit 100]
//                                    [--batch-size 32] [--starts 3]
//
// Both run single-threaded in the page's thread. Only reports that fit one window are used (the
// onnxruntime side does not split reports). Ours includes tokenizing and decoding each report;
// onnxruntime-web gets token ids ready-made and stops at the logits. In `labelBatch` both run the
// reports sorted by length in batches of 4 (the package's default batch size).

import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { chromium } from "playwright-core";

import { Labeler, init } from "../pkg/index.js";
import { launchChromium } from "../tests/browser/chromium.mjs";
import { readReports } from "./reports.mjs";
import { serve } from "./serve.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const { values } = parseArgs({
  options: {
    reports: { type: "string", default: join(root, "../shared/data/iu/dev.jsonl") },
    limit: { type: "string", default: "100" },
    "batch-size": { type: "string", default: "32" },
    starts: { type: "string", default: "3" },
  },
});
const batchSize = Number(values["batch-size"]);
const dist = join(root, "www/dist");

// The reports and our tokenizer's ids for them (one window each).
await init(await readFile(join(dist, "pkg/cxr_labeler_bg.wasm")));
const model = (name) => readFile(join(dist, "model", name));
const labeler = await Labeler.fromBytes(await model("model.onnx"), await model("tokenizer.json"), await model("labels.json"));
const reports = [];
const tokens = [];
for (const report of await readReports(values.reports)) {
  if (reports.length >= Number(values.limit)) break;
  const windows = labeler.tokenWindows(report);
  if (report.trim() && windows.length === 1) {
    reports.push(report);
    tokens.push(windows[0]);
  }
}
labeler.free();

// The site: the built page, the benchmark pages, and onnxruntime-web's files.
const site = await mkdtemp(join(tmpdir(), "cxr-bench-"));
for (const entry of await readdir(dist)) await symlink(join(dist, entry), join(site, entry));
await mkdir(join(site, "bench"));
for (const file of ["ours.html", "ours.js", "ort.html", "ort.js"]) {
  await symlink(join(root, "scripts/bench_browser", file), join(site, "bench", file));
}
await writeFile(join(site, "bench/reports.json"), JSON.stringify(reports));
await writeFile(join(site, "bench/tokens.json"), JSON.stringify(tokens));
await symlink(join(root, "node_modules/onnxruntime-web/dist"), join(site, "ort"));
// Cacheable responses, so that onnxruntime-web's second visit can use the HTTP cache.
const server = await serve(site, { port: 0, cacheControl: "max-age=3600" });
const origin = `http://127.0.0.1:${server.address().port}`;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const browser = await launchChromium(chromium);
const browserVersion = browser.version();
const results = {};
for (const side of ["ours", "ort"]) {
  const cold = [];
  const cached = [];
  let timings;
  for (let start = 0; start < Number(values.starts); start++) {
    const context = await browser.newContext(); // a fresh profile: empty HTTP cache and Cache API
    const page = await context.newPage();
    page.on("pageerror", (error) => console.error(`[${side}] ${error.message}`));
    for (const times of [cold, cached]) {
      await page.goto(`${origin}/bench/${side}.html`);
      await page.waitForFunction(() => globalThis.firstLabelMs !== undefined, null, { timeout: 300_000 });
      times.push(await page.evaluate(() => globalThis.firstLabelMs));
    }
    if (start === 0) timings = await page.evaluate((size) => globalThis.runBench(size), batchSize);
    await context.close();
  }
  results[side] = {
    cold: median(cold),
    cached: median(cached),
    label: median(timings.single),
    batch: median(timings.batched),
  };
}
await browser.close();
server.closeAllConnections();
server.close();

const version = JSON.parse(await readFile(join(root, "node_modules/onnxruntime-web/package.json"), "utf8")).version;
console.log(`${reports.length} reports (one window each), batch ${batchSize}, ${values.starts} starts per side, Chromium ${browserVersion}`);
console.log(`| measure | cxr-labeler (tract, wasm) | onnxruntime-web ${version} | ours / ort |`);
console.log("|---|---|---|---|");
const rows = [
  ["navigation to first label, cold (ms)", "cold"],
  ["navigation to first label, cached (ms)", "cached"],
  ["label, median ms/report", "label"],
  [`labelBatch (${batchSize}), median ms/report`, "batch"],
];
for (const [name, key] of rows) {
  const ours = results.ours[key];
  const ort = results.ort[key];
  console.log(`| ${name} | ${ours.toFixed(1)} | ${ort.toFixed(1)} | ${(ours / ort).toFixed(2)} |`);
}
