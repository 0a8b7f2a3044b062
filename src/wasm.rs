//! The WebAssembly facade (wasm-bindgen): a JavaScript `Labeler` class over [`crate::Labeler`].
//!
//! Results cross the boundary as plain JS objects in the same JSON form the CLI writes (see
//! [`crate::Labels`]); their TypeScript types are declared below. Errors are JS `Error`s named
//! `LabelerError` with a stable `code` property ([`crate::Error::code`]).

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::{Error, LabelerOptions};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** One of the 14 CheXpert observations, in output order. */
export type Observation =
  | "No Finding" | "Enlarged Cardiomediastinum" | "Cardiomegaly" | "Lung Lesion" | "Lung Opacity"
  | "Edema" | "Consolidation" | "Pneumonia" | "Atelectasis" | "Pneumothorax" | "Pleural Effusion"
  | "Pleural Other" | "Fracture" | "Support Devices";
/** What a report says about an observation. */
export type Status = "positive" | "negative" | "uncertain" | "not_mentioned";
/** The probability of each status; they sum to 1. */
export interface Probabilities {
  positive: number;
  negative: number;
  uncertain: number;
  not_mentioned: number;
}
/** The label of one observation: status, CheXpert value (1, 0, -1, or null for blank), probabilities. */
export interface Finding {
  status: Status;
  value: 1 | 0 | -1 | null;
  probabilities: Probabilities;
}
/** The labels of one report: every observation, keyed by name, in output order. */
export type LabelResult = Record<Observation, Finding>;
/** Options of `Labeler.fromBytes`; every field is optional. */
export interface LabelerOptions {
  /** Report windows per inference call (default 4: in WebAssembly larger batches run slower per report). */
  batchSize?: number;
}
/** What the loaded model's `labels.json` says about it. */
export interface ModelInfo {
  name: string;
  description?: string;
  maxLength: number;
  formatVersion: string;
}
/** Stable identifiers of the errors the labeler throws (the `code` of a `LabelerError`). */
export type LabelerErrorCode =
  | "config-invalid" | "config-version" | "tokenizer" | "model-load" | "model-contract"
  | "inference" | "io" | "invalid-argument";
/** The errors the labeler throws: `name` is "LabelerError". */
export interface LabelerError extends Error {
  code: LabelerErrorCode;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// The options bag of `fromBytes`, typed as `LabelerOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "LabelerOptions")]
    pub type JsLabelerOptions;
}

/// Windows per inference call unless the caller says otherwise. Single-threaded WebAssembly has
/// no cores to spread a batch over, and padding to the longest window costs more than batching
/// saves: in Node, 97 ms/report at 4 against 188 at 32 (scripts/bench_node.mjs, shipped student).
const DEFAULT_BATCH_SIZE: usize = 4;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// A loaded student, labeling reports in the calling thread.
#[wasm_bindgen(js_name = Labeler)]
pub struct JsLabeler {
    inner: crate::Labeler,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsOptions {
    batch_size: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelInfo<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    max_length: usize,
    format_version: &'a str,
}

#[wasm_bindgen(js_class = Labeler)]
impl JsLabeler {
    /// Loads a model from the bytes of its three files: `model.onnx`, `tokenizer.json`,
    /// `labels.json`. Throws a `LabelerError` if any of them is invalid.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(
        model: &[u8],
        tokenizer: &[u8],
        config: &[u8],
        options: Option<JsLabelerOptions>,
    ) -> Result<JsLabeler, JsValue> {
        let options: JsOptions = match options {
            Some(options) => serde_wasm_bindgen::from_value(options.into())
                .map_err(|error| js_error("invalid-argument", &format!("invalid options: {error}")))?,
            None => JsOptions::default(),
        };
        let labeler_options =
            LabelerOptions::default().with_batch_size(options.batch_size.unwrap_or(DEFAULT_BATCH_SIZE));
        let inner = crate::Labeler::from_bytes(model, tokenizer, config, labeler_options)?;
        Ok(JsLabeler { inner })
    }

    /// Labels one report.
    #[wasm_bindgen(unchecked_return_type = "LabelResult")]
    pub fn label(&self, text: &str) -> Result<JsValue, JsValue> {
        to_js(&self.inner.label(text)?)
    }

    /// Labels several reports in batched inference calls; one result per report, in order.
    #[wasm_bindgen(js_name = labelBatch, unchecked_return_type = "LabelResult[]")]
    pub fn label_batch(&self, texts: Vec<String>) -> Result<JsValue, JsValue> {
        to_js(&self.inner.label_batch(&texts)?)
    }

    /// The token ids the model sees for `text`, one array per window (special tokens included).
    #[wasm_bindgen(js_name = tokenWindows, unchecked_return_type = "number[][]")]
    pub fn token_windows(&self, text: &str) -> Result<JsValue, JsValue> {
        to_js(&self.inner.token_windows(text)?)
    }

    /// The loaded model's name, description, maximum length and contract version.
    #[wasm_bindgen(unchecked_return_type = "ModelInfo")]
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let config = self.inner.config();
        to_js(&ModelInfo {
            name: &config.name,
            description: config.description.as_deref(),
            max_length: config.max_length,
            format_version: &config.format_version,
        })
    }
}

fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|error| js_error("invalid-argument", &format!("cannot convert the result: {error}")))
}

/// A JS `Error` named `LabelerError` with a `code` property.
fn js_error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("LabelerError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error.into()
}

impl From<Error> for JsValue {
    fn from(error: Error) -> JsValue {
        js_error(error.code(), &error.full_message())
    }
}
