import type {
  Finding,
  LabelerErrorCode,
  LabelResult,
  ModelInfo,
  Observation,
  Probabilities,
  Status,
} from "./cxr_labeler.js";

export type { Finding, LabelResult, ModelInfo, Observation, Probabilities, Status };

/** The codes of the core's errors, and those of loading and of the worker. */
export type ErrorCode =
  | LabelerErrorCode
  | "fetch" // a file could not be downloaded (network, HTTP status, truncated body)
  | "wasm" // the WebAssembly module could not be instantiated
  | "freed" // the Labeler was used after free()
  | "worker" // the worker could not start or crashed
  | "terminated"; // the LabelerClient was terminated

/** The errors of the package: `name` is "LabelerError". */
export interface LabelerError extends Error {
  code: ErrorCode;
}

/** What `onProgress` receives while a model loads: downloads per file, then compile, then ready. */
export type LoadProgress =
  | {
      stage: "download";
      /** `model.onnx`, `tokenizer.json`, `labels.json` or `cxr_labeler_bg.wasm`. */
      file: string;
      url: string;
      /** Bytes received so far. */
      loaded: number;
      /** The file's size when the server said it (uncompressed responses), else null. */
      total: number | null;
      /** Whether the file comes from the Cache API cache (no network). */
      fromCache: boolean;
    }
  | { stage: "compile" }
  | { stage: "ready" };

/** What `init` accepts: a URL of the .wasm file, a Response, its bytes or a compiled module. */
export type WasmSource = string | URL | Response | BufferSource | WebAssembly.Module;

/** Options of `Labeler.fromBytes`. */
export interface LabelerOptions {
  /** Report windows per inference call (default 4). */
  batchSize?: number;
  /** Where the WebAssembly module comes from (default: `cxr_labeler_bg.wasm` next to the package). */
  wasm?: WasmSource;
}

/** Options of `Labeler.fromUrl` and `LabelerClient.fromUrl`. */
export interface LoadOptions extends LabelerOptions {
  onProgress?: (progress: LoadProgress) => void;
  /** Aborts the downloads; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** The Cache API cache to keep the files in (default `DEFAULT_CACHE`); false: none. */
  cache?: string | false;
}

/** Options of `LabelerClient.fromUrl`. */
export interface ClientOptions extends LoadOptions {
  /** The worker script (default: `worker.js` next to the package). */
  workerUrl?: string | URL;
}

/** Options of one `LabelerClient` request. */
export interface RequestOptions {
  /** Cancels the request: it rejects with the signal's reason and its result is dropped. */
  signal?: AbortSignal;
}

export declare const MODEL_FILES: readonly ["model.onnx", "tokenizer.json", "labels.json"];
export declare const DEFAULT_CACHE: string;

/** Instantiates the WebAssembly module once (Node: pass the bytes of `cxr_labeler_bg.wasm`). */
export declare function init(wasm?: WasmSource): Promise<void>;

/** Deletes the Cache API cache `fromUrl` uses; resolves to whether it existed. */
export declare function clearCache(name?: string): Promise<boolean>;

/** Creates a `LabelerError`. */
export declare function labelerError(code: ErrorCode, message: string): LabelerError;

/** A model loaded in this thread; labeling blocks the thread (pages: prefer `LabelerClient`). */
export declare class Labeler {
  private constructor();
  static fromBytes(
    model: Uint8Array,
    tokenizer: Uint8Array,
    config: Uint8Array,
    options?: LabelerOptions,
  ): Promise<Labeler>;
  static fromUrl(baseUrl: string | URL, options?: LoadOptions): Promise<Labeler>;
  label(text: string): LabelResult;
  labelBatch(texts: string[]): LabelResult[];
  tokenWindows(text: string): number[][];
  info(): ModelInfo;
  /** Releases the WebAssembly memory of the model. */
  free(): void;
}

/** The labeler in a Web Worker: requests run one at a time, in order, and can be cancelled. */
export declare class LabelerClient {
  private constructor();
  static fromUrl(baseUrl: string | URL, options?: ClientOptions): Promise<LabelerClient>;
  label(text: string, options?: RequestOptions): Promise<LabelResult>;
  labelBatch(texts: string[], options?: RequestOptions): Promise<LabelResult[]>;
  tokenWindows(text: string, options?: RequestOptions): Promise<number[][]>;
  info(): ModelInfo;
  /** Stops the worker; pending requests reject with code "terminated". */
  terminate(): void;
}
