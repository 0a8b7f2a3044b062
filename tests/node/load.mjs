// Loads the npm package built in pkg/ (scripts/build-npm.sh) in Node, and the fixture model.
import { readFile } from "node:fs/promises";

import init, { Labeler } from "../../pkg/cxr_labeler.js";

export const root = new URL("../../", import.meta.url);

await init({ module_or_path: await readFile(new URL("pkg/cxr_labeler_bg.wasm", root)) });

/** The bytes of a model folder's three files (a path relative to the repository). */
export async function modelFiles(folder) {
  const read = (name) => readFile(new URL(`${folder}/${name}`, root));
  return { model: await read("model.onnx"), tokenizer: await read("tokenizer.json"), config: await read("labels.json") };
}

/** The bytes of the fixture model's three files. */
export const fixtureFiles = () => modelFiles("tests/fixtures/tiny");

/** Parses a JSONL file of the repository. */
export async function readJsonl(path) {
  const text = await readFile(new URL(path, root), "utf8");
  return text.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line));
}

export { Labeler };
