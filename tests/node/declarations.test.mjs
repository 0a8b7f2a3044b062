// The generated TypeScript declarations never fall back to `any`.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";

import { root } from "./load.mjs";

test("cxr_labeler.d.ts has no any", async () => {
  const declarations = await readFile(new URL("pkg/cxr_labeler.d.ts", root), "utf8");
  const code = declarations.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  const offending = code.split("\n").filter((line) => /\bany\b/.test(line));
  assert.deepEqual(offending, []);
});

test("package.json exports the module, its types and the wasm file", async () => {
  const manifest = JSON.parse(await readFile(new URL("pkg/package.json", root), "utf8"));
  assert.equal(manifest.name, "cxr-labeler");
  assert.equal(manifest.type, "module");
  assert.deepEqual(Object.keys(manifest.exports["."]), ["types", "default"]);
  assert.ok(manifest.exports["./cxr_labeler_bg.wasm"]);
  for (const file of manifest.files) {
    await readFile(new URL(`pkg/${file}`, root));
  }
});
