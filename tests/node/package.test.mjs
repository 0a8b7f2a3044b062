// The package entry point (pkg/index.js) in Node: fromBytes, fromUrl against a local server
// (progress, HTTP errors, corrupt files), and free(). Node has no Cache API: fromUrl works
// without one. The worker client and the cache are tested in Chromium (tests/browser/).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { Labeler, init, MODEL_FILES } from "../../pkg/index.js";
import { serve } from "../../scripts/serve.mjs";
import { assertSameLabels } from "./assert.mjs";
import { fixtureFiles, readJsonl, root } from "./load.mjs";

const fixture = fileURLToPath(new URL("tests/fixtures/tiny/", root));
const reports = await readJsonl("tests/fixtures/reports.jsonl");
const golden = await readJsonl("tests/golden/tiny/expected.jsonl");
let server;
let base;

before(async () => {
  // Served: good/ (the fixture model), corrupt/ (a broken tokenizer.json), empty/ (nothing).
  const site = await mkdtemp(join(tmpdir(), "cxr-pkg-"));
  await symlink(fixture, join(site, "good"));
  await mkdir(join(site, "empty"));
  const corrupt = join(site, "corrupt");
  await mkdir(corrupt);
  await symlink(join(fixture, "model.onnx"), join(corrupt, "model.onnx"));
  await symlink(join(fixture, "labels.json"), join(corrupt, "labels.json"));
  await writeFile(join(corrupt, "tokenizer.json"), '{"version": "1.0", "model": ');
  server = await serve(site, { port: 0 });
  base = `http://127.0.0.1:${server.address().port}`;
  // Node cannot fetch the wasm from a file URL: hand init the bytes (what the README says).
  await init(await readFile(new URL("pkg/cxr_labeler_bg.wasm", root)));
});

after(() => {
  server?.closeAllConnections();
  server?.close();
});

test("fromUrl downloads the three files with progress and labels like the native build", async () => {
  const events = [];
  const labeler = await Labeler.fromUrl(`${base}/good`, { onProgress: (event) => events.push(event) });
  try {
    const files = new Set(events.filter((event) => event.stage === "download").map((event) => event.file));
    assert.deepEqual([...files].sort(), [...MODEL_FILES].sort(), "no wasm download once init ran");
    for (const file of MODEL_FILES) {
      const last = events.filter((event) => event.file === file).at(-1);
      assert.equal(last.loaded, last.total, file);
      assert.equal(last.fromCache, false);
    }
    assert.deepEqual(events.slice(-2), [{ stage: "compile" }, { stage: "ready" }]);
    const batch = labeler.labelBatch(reports.map((report) => report.text));
    reports.forEach((report, index) => assertSameLabels(batch[index], golden[index].labels, report.id));
    assert.equal(labeler.info().name, "tiny-fixture");
  } finally {
    labeler.free();
  }
});

test("fromUrl names the missing file and the HTTP status", async () => {
  await assert.rejects(Labeler.fromUrl(`${base}/empty/`), (error) => {
    assert.equal(error.name, "LabelerError");
    assert.equal(error.code, "fetch");
    assert.match(error.message, /empty\/(model\.onnx|tokenizer\.json|labels\.json): HTTP 404/);
    return true;
  });
});

test("fromUrl names the corrupt file", async () => {
  await assert.rejects(Labeler.fromUrl(`${base}/corrupt/`), (error) => {
    assert.equal(error.code, "tokenizer");
    assert.match(error.message, /corrupt\/tokenizer\.json: /);
    return true;
  });
});

test("fromUrl stops when its signal aborts", async () => {
  const controller = new AbortController();
  controller.abort(new Error("changed my mind"));
  await assert.rejects(Labeler.fromUrl(`${base}/good/`, { signal: controller.signal }), /changed my mind/);
});

test("fromBytes loads, and a freed labeler says so", async () => {
  const files = await fixtureFiles();
  const labeler = await Labeler.fromBytes(files.model, files.tokenizer, files.config, { batchSize: 2 });
  assertSameLabels(labeler.label(reports[1].text), golden[1].labels, reports[1].id);
  labeler.free();
  labeler.free(); // twice is harmless
  assert.throws(() => labeler.label("x"), (error) => error.code === "freed");
  await assert.rejects(Labeler.fromBytes(files.model, new Uint8Array([1, 2]), files.config), { code: "tokenizer" });
});

test("a model that makes the runtime abort is a model-load error, and the module keeps working", async () => {
  const files = await fixtureFiles();
  // fuzz/load_model: this byte makes tract index out of bounds (a panic: a trap in WebAssembly).
  const model = Uint8Array.from(files.model);
  model[750] = 0x2e;
  await assert.rejects(Labeler.fromBytes(model, files.tokenizer, files.config), (error) => {
    assert.equal(error.name, "LabelerError");
    assert.equal(error.code, "model-load");
    assert.match(error.message, /runtime aborted .*model\.onnx is malformed/);
    return true;
  });
  const labeler = await Labeler.fromBytes(files.model, files.tokenizer, files.config);
  assertSameLabels(labeler.label(reports[0].text), golden[0].labels, reports[0].id);
  labeler.free();
});

test("privacy: fromUrl fetches the three model URLs and nothing else; labeling fetches nothing", async () => {
  const fetched = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (url, options) => {
    fetched.push(String(url));
    return realFetch(url, options);
  };
  try {
    const labeler = await Labeler.fromUrl(`${base}/good/`);
    assert.deepEqual(fetched.sort(), MODEL_FILES.map((file) => `${base}/good/${file}`).sort());
    fetched.length = 0;
    labeler.label("Stable cardiomegaly.");
    labeler.labelBatch(["Edema.", "No effusion."]);
    labeler.free();
    const files = await fixtureFiles();
    (await Labeler.fromBytes(files.model, files.tokenizer, files.config)).free();
    assert.deepEqual(fetched, []);
  } finally {
    globalThis.fetch = realFetch;
  }
});
