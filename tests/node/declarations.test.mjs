// The generated TypeScript declarations never fall back to `any`.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";

import { root } from "./load.mjs";

for (const file of ["cxr_labeler.d.ts", "index.d.ts"]) {
  test(`${file} has no any`, async () => {
    const declarations = await readFile(new URL(`pkg/${file}`, root), "utf8");
    const code = declarations.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    const offending = code.split("\n").filter((line) => /\bany\b/.test(line));
    assert.deepEqual(offending, []);
  });
}

test("package.json exports the entry point, the core, the worker, their types and the wasm file", async () => {
  const manifest = JSON.parse(await readFile(new URL("pkg/package.json", root), "utf8"));
  assert.equal(manifest.name, "cxr-labeler");
  assert.equal(manifest.type, "module");
  assert.deepEqual(manifest.exports["."], { types: "./index.d.ts", default: "./index.js" });
  assert.deepEqual(manifest.exports["./core"], { types: "./cxr_labeler.d.ts", default: "./cxr_labeler.js" });
  assert.ok(manifest.exports["./cxr_labeler_bg.wasm"]);
  assert.ok(manifest.exports["./worker.js"]);
  for (const file of manifest.files) {
    await readFile(new URL(`pkg/${file}`, root));
  }
});
