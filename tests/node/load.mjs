// Loads the npm package built in pkg/ (scripts/build-npm.sh) in Node, and the fixture model.
import { readFile } from "node:fs/promises";

import init, { Labeler } from "../../pkg/cxr_labeler.js";

export const root = new URL("../../", import.meta.url);

await init({ module_or_path: await readFile(new URL("pkg/cxr_labeler_bg.wasm", root)) });

/** The bytes of the fixture model's three files. */
export async function fixtureFiles() {
  const read = (name) => readFile(new URL(`tests/fixtures/tiny/${name}`, root));
  return { model: await read("model.onnx"), tokenizer: await read("tokenizer.json"), config: await read("labels.json") };
}

/** Parses a JSONL file of the repository. */
export async function readJsonl(path) {
  const text = await readFile(new URL(path, root), "utf8");
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
}

export { Labeler };
