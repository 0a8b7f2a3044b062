// Type-checked (tsc --noEmit), never run: the package's .d.ts gives real types.
import init, {
  Labeler,
  type Finding,
  type LabelResult,
  type LabelerError,
  type ModelInfo,
  type Observation,
  type Status,
} from "../../pkg/cxr_labeler.js";

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
