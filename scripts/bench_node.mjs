// Milliseconds per report of the npm package (pkg/, build it with scripts/build-npm.sh) in Node:
// `label` one report at a time and `labelBatch` over all of them, after a warm-up; prints the
// median, min and max of --runs runs.
//
//   node scripts/bench_node.mjs [--model model] [--reports ../shared/data/iu/dev.jsonl] [--runs 5] [--limit 100]
//                               [--pkg pkg] [--json]
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";

import { readReports } from "./reports.mjs";

const root = new URL("../", import.meta.url);
const { values } = parseArgs({
  options: {
    model: { type: "string", default: "tests/fixtures/tiny" },
    reports: { type: "string", default: "../shared/data/iu/dev.jsonl" },
    runs: { type: "string", default: "5" },
    limit: { type: "string", default: "100" },
    "batch-size": { type: "string", default: "4" },
    pkg: { type: "string", default: "pkg" },
    json: { type: "boolean", default: false },
  },
});
const pkg = new URL(`${values.pkg.replace(/\/$/, "")}/`, root); // paths are relative to the repository
const { default: init, Labeler } = await import(new URL("cxr_labeler.js", pkg));
const resolve = (path) => new URL(path, root);
const read = (name) => readFile(resolve(`${values.model.replace(/\/$/, "")}/${name}`));

await init({ module_or_path: await readFile(new URL("cxr_labeler_bg.wasm", pkg)) });
const started = performance.now();
const labeler = Labeler.fromBytes(await read("model.onnx"), await read("tokenizer.json"), await read("labels.json"), {
  batchSize: Number(values["batch-size"]),
});
const loadMs = performance.now() - started;

const reports = (await readReports(resolve(values.reports))).slice(0, Number(values.limit));

function measure(run) {
  run(); // warm-up
  const times = [];
  for (let i = 0; i < Number(values.runs); i++) {
    const start = performance.now();
    run();
    times.push((performance.now() - start) / reports.length);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], min: times[0], max: times.at(-1) };
}

const single = measure(() => reports.forEach((report) => labeler.label(report)));
const batch = measure(() => labeler.labelBatch(reports));
const info = labeler.info();
if (values.json) {
  console.log(JSON.stringify({ label: single.median, labelBatch: batch.median, reports: reports.length }));
  process.exit(0);
}
console.log(`model ${info.name} (${values.model}), ${reports.length} reports, Node ${process.version}, load ${loadMs.toFixed(0)} ms`);
console.log("| method | median ms/report | min | max |");
console.log("|---|---|---|---|");
for (const [name, t] of [["label", single], [`labelBatch (batch ${values["batch-size"]})`, batch]]) {
  console.log(`| ${name} | ${t.median.toFixed(2)} | ${t.min.toFixed(2)} | ${t.max.toFixed(2)} |`);
}
labeler.free();
