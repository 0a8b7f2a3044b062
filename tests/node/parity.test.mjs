// The wasm package in Node gives what the native library gives: the golden files in
// tests/golden/{tiny,model} were written by the native build (tests/integration/golden.rs), for
// the fixture model and for the shipped student in model/.
import assert from "node:assert/strict";
import { test } from "node:test";

import { assertSameLabels } from "./assert.mjs";
import { Labeler, fixtureFiles, modelFiles, readJsonl } from "./load.mjs";

const files = await fixtureFiles();
const reports = await readJsonl("tests/fixtures/reports.jsonl");
const MODELS = [
  { name: "fixture", folder: "tests/fixtures/tiny", golden: "tests/golden/tiny" },
  { name: "shipped student", folder: "model", golden: "tests/golden/model" },
];

for (const { name, folder, golden } of MODELS) {
  const model = await modelFiles(folder);
  const goldenLabels = await readJsonl(`${golden}/expected.jsonl`);
  const goldenTokens = await readJsonl(`${golden}/tokens.jsonl`);

  test(`${name}: token windows equal the native ones exactly`, () => {
    const labeler = Labeler.fromBytes(model.model, model.tokenizer, model.config);
    try {
      assert.equal(goldenTokens.length, reports.length);
      for (const [index, report] of reports.entries()) {
        assert.equal(goldenTokens[index].id, report.id);
        assert.deepEqual(labeler.tokenWindows(report.text), goldenTokens[index].windows, report.id);
      }
    } finally {
      labeler.free();
    }
  });

  test(`${name}: labelBatch and label give the native statuses and probabilities`, () => {
    const labeler = Labeler.fromBytes(model.model, model.tokenizer, model.config, { batchSize: 4 });
    try {
      const batch = labeler.labelBatch(reports.map((report) => report.text));
      assert.equal(batch.length, reports.length);
      for (const [index, report] of reports.entries()) {
        assert.equal(goldenLabels[index].id, report.id);
        assertSameLabels(batch[index], goldenLabels[index].labels, report.id);
        assertSameLabels(labeler.label(report.text), goldenLabels[index].labels, `${report.id} (label)`);
      }
      assert.deepEqual(labeler.labelBatch([]), []);
    } finally {
      labeler.free();
    }
  });
}

test("info describes the loaded model", () => {
  const labeler = Labeler.fromBytes(files.model, files.tokenizer, files.config);
  assert.deepEqual(labeler.info(), {
    name: "tiny-fixture",
    description: "Test fixture: a keyword model inside a random one-layer encoder. Not a labeler.",
    maxLength: 64,
    formatVersion: "1.0",
  });
  labeler.free();
});

function assertLabelerError(run, code, pattern) {
  assert.throws(run, (error) => {
    assert.ok(error instanceof Error, "a JS Error");
    assert.equal(error.name, "LabelerError");
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

test("bad inputs throw LabelerErrors with stable codes", () => {
  const { model, tokenizer, config } = files;
  assertLabelerError(() => Labeler.fromBytes(model.subarray(0, 1000), tokenizer, config), "model-load", /model could not be loaded/);
  assertLabelerError(() => Labeler.fromBytes(model, new TextEncoder().encode("{}"), config), "tokenizer", /tokenizer failed/);
  assertLabelerError(() => Labeler.fromBytes(model, tokenizer, new Uint8Array()), "config-invalid", /label config is invalid/);
  const future = JSON.stringify({ ...JSON.parse(new TextDecoder().decode(config)), format_version: "2.0" });
  assertLabelerError(() => Labeler.fromBytes(model, tokenizer, new TextEncoder().encode(future)), "config-version", /2\.0/);
  assertLabelerError(() => Labeler.fromBytes(model, tokenizer, config, { batchSize: "8" }), "invalid-argument", /invalid options/);
});
