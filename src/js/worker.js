// The module worker behind `LabelerClient`: one `Labeler`, one request at a time.
//
// Messages in: `{ id, op, args }` with `op` one of `load`, `label`, `labelBatch`, `tokenWindows`.
// Messages out: `{ id, type: "progress", progress }` while loading, then exactly one of
// `{ id, type: "result", result }` or `{ id, type: "error", error: { message, code } }`.

import { Labeler, labelerError } from "./index.js";

let labeler = null;

self.addEventListener("message", async ({ data: { id, op, args } }) => {
  try {
    self.postMessage({ id, type: "result", result: await run(id, op, args) });
  } catch (error) {
    self.postMessage({ id, type: "error", error: { message: String(error?.message ?? error), code: error?.code } });
  }
});

async function run(id, op, args) {
  switch (op) {
    case "load": {
      const [baseUrl, options] = args;
      const onProgress = (progress) => self.postMessage({ id, type: "progress", progress });
      const loaded = await Labeler.fromUrl(baseUrl, { ...options, onProgress });
      labeler?.free();
      labeler = loaded;
      return labeler.info();
    }
    case "label":
      return loadedLabeler().label(args[0]);
    case "labelBatch":
      return loadedLabeler().labelBatch(args[0]);
    case "tokenWindows":
      return loadedLabeler().tokenWindows(args[0]);
    default:
      throw labelerError("invalid-argument", `unknown request ${op}`);
  }
}

function loadedLabeler() {
  if (!labeler) throw labelerError("invalid-argument", "no model is loaded");
  return labeler;
}
