// Benchmark page for our package (scripts/bench_browser.mjs serves it): loads the model in the
// page's thread, labels the first report, then waits for `runBench`.
import { Labeler } from "/pkg/index.js";

const reports = await (await fetch("/bench/reports.json")).json();
const labeler = await Labeler.fromUrl("/model/");
labeler.label(reports[0]);
globalThis.firstLabelMs = performance.now(); // since navigation start

/** Median ms per report of `label` over every report, and of `labelBatch` in batches of `batchSize`. */
globalThis.runBench = (batchSize) => {
  const single = reports.map((text) => {
    const start = performance.now();
    labeler.label(text);
    return performance.now() - start;
  });
  const batched = [];
  for (let start = 0; start + batchSize <= reports.length; start += batchSize) {
    const begin = performance.now();
    labeler.labelBatch(reports.slice(start, start + batchSize));
    batched.push((performance.now() - begin) / batchSize);
  }
  return { single, batched };
};
