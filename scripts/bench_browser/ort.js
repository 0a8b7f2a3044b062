// Benchmark page for onnxruntime-web (scripts/bench_browser.mjs serves it): the same ONNX file
// on the same token ids (our tokenizer's, precomputed), single-threaded WebAssembly (SIMD).
import * as ort from "/ort/ort.wasm.min.mjs";

ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = "/ort/";
const windows = await (await fetch("/bench/tokens.json")).json(); // one window per report
const session = await ort.InferenceSession.create("/model/model.onnx", { executionProviders: ["wasm"] });

/** Runs the model on a batch of token id arrays, padded to the longest. */
async function run(batch) {
  const length = Math.max(...batch.map((ids) => ids.length));
  const ids = new BigInt64Array(batch.length * length);
  const mask = new BigInt64Array(batch.length * length);
  batch.forEach((row, i) => row.forEach((id, j) => {
    ids[i * length + j] = BigInt(id);
    mask[i * length + j] = 1n;
  }));
  const dims = [batch.length, length];
  const output = await session.run({
    input_ids: new ort.Tensor("int64", ids, dims),
    attention_mask: new ort.Tensor("int64", mask, dims),
  });
  return output.logits.data;
}

await run([windows[0]]);
globalThis.firstLabelMs = performance.now(); // since navigation start

globalThis.runBench = async (batchSize) => {
  const single = [];
  for (const ids of windows) {
    const start = performance.now();
    await run([ids]);
    single.push(performance.now() - start);
  }
  // As our labelBatch does: the reports sorted by length, run in batches of 4 padded to the longest.
  const batched = [];
  for (let start = 0; start + batchSize <= windows.length; start += batchSize) {
    const group = windows.slice(start, start + batchSize).sort((a, b) => a.length - b.length);
    const begin = performance.now();
    for (let chunk = 0; chunk < group.length; chunk += 4) await run(group.slice(chunk, chunk + 4));
    batched.push((performance.now() - begin) / batchSize);
  }
  return { single, batched };
};
