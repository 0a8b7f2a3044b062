// Type-checked (tsc --noEmit), never run: the package's .d.ts files give real types (the core and the
// package entry point).
import init, {
  Labeler,
  type Finding,
  type LabelResult,
  type LabelerError,
  type ModelInfo,
  type Observation,
  type Status,
} from "../../pkg/cxr_labeler.js";
import * as pkg from "../../pkg/index.js";

export async function example(model: Uint8Array, tokenizer: Uint8Array, config: Uint8Array): Promise<number> {
  await init();
  const labeler: Labeler = Labeler.fromBytes(model, tokenizer, config, { batchSize: 8 });
  Labeler.fromBytes(model, tokenizer, config).free();
  const result: LabelResult = labeler.label("Stable cardiomegaly.");
  const finding: Finding = result["Cardiomegaly"];
  const status: Status = finding.status;
  const value: 1 | 0 | -1 | null = finding.value;
  const probability: number = finding.probabilities.not_mentioned;
  const batch: LabelResult[] = labeler.labelBatch(["a", "b"]);
  const windows: number[][] = labeler.tokenWindows("a");
  const info: ModelInfo = labeler.info();
  const names: Observation[] = Object.keys(result) as Observation[];
  // @ts-expect-error: not one of the 14 observations
  result["Heart Failure"];
  // @ts-expect-error: options are typed
  Labeler.fromBytes(model, tokenizer, config, { batchSize: "8" });
  try {
    labeler.label("");
  } catch (error) {
    const code: LabelerError["code"] = (error as LabelerError).code;
    console.log(code);
  }
  labeler.free();
  return probability + batch.length + windows.length + info.maxLength + names.length + (value ?? 0) + status.length;
}

export async function packageExample(model: Uint8Array, tokenizer: Uint8Array, config: Uint8Array): Promise<number> {
  const seen: pkg.LoadProgress[] = [];
  const labeler: pkg.Labeler = await pkg.Labeler.fromUrl("/model/", {
    onProgress: (progress) => {
      if (progress.stage === "download") console.log(progress.file, progress.loaded, progress.total ?? "?");
      seen.push(progress);
    },
    cache: false,
    signal: new AbortController().signal,
  });
  const fromBytes = await pkg.Labeler.fromBytes(model, tokenizer, config, { batchSize: 4 });
  const result: pkg.LabelResult = fromBytes.label("Stable cardiomegaly.");
  const client: pkg.LabelerClient = await pkg.LabelerClient.fromUrl("/model/", { workerUrl: "/worker.js" });
  const batch: pkg.LabelResult[] = await client.labelBatch(["a"], { signal: new AbortController().signal });
  const info: pkg.ModelInfo = client.info();
  // @ts-expect-error: the client is asynchronous
  const wrong: pkg.LabelResult = client.label("a");
  // @ts-expect-error: the constructor is private
  new pkg.Labeler();
  try {
    labeler.label("");
  } catch (error) {
    const code: pkg.ErrorCode = (error as pkg.LabelerError).code;
    console.log(code, wrong);
  }
  client.terminate();
  labeler.free();
  fromBytes.free();
  await pkg.clearCache();
  return seen.length + result["Edema"].probabilities.positive + batch.length + info.maxLength + pkg.MODEL_FILES.length;
}
