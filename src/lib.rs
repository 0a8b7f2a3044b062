//! Label free-text chest X-ray reports with the 14 CheXpert observations.
//!
//! A small transformer student (distilled from a large language model's labels, see the
//! `trainer` crate) reads a report and gives, for each observation, the probability that the
//! report states it as positive, negative, uncertain or not mentioned. The same code runs
//! natively (the `cxr-label` CLI, this library) and in WebAssembly (the `cxr-labeler` npm
//! package).
//!
//! # Quick start
//! ```
//! use cxr_labeler::{Labeler, LabelerOptions, Observation, Status};
//!
//! # fn main() -> Result<(), cxr_labeler::Error> {
//! # let model_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny");
//! let labeler = Labeler::from_dir(model_dir, LabelerOptions::default())?;
//! let labels = labeler.label("Stable cardiomegaly. No pneumothorax.")?;
//! let cardiomegaly = labels.get(Observation::Cardiomegaly);
//! assert_eq!(cardiomegaly.status, Status::Positive);
//! assert_eq!(cardiomegaly.chexpert_value(), Some(1.0));
//! for finding in labels.findings() {
//!     println!("{}: {} ({:.2})", finding.observation, finding.status, finding.probabilities.get(finding.status));
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Model contract
//! A model folder holds `model.onnx`, `tokenizer.json` and `labels.json`; the last one states
//! the inputs, output layout and maximum length, and is validated at load (see [`LabelConfig`]).
//!
//! # Features
//! - `cli` (default): the `cxr-label` command-line tool.
//! - `io` (with `cli`): streaming CSV/JSONL readers and label writers ([`io`]).
//! - `embedded-model` (default): embeds the shipped student from `model/` ([`Labeler::embedded`]).

mod config;
mod error;
mod guard;
#[cfg(feature = "io")]
pub mod io;
mod labeler;
mod model;
mod observation;
mod postprocess;
mod tokenize;
#[cfg(target_arch = "wasm32")]
mod wasm;
pub mod window;

pub use config::{FORMAT_VERSION, FloatType, InputSpec, IntegerType, LabelConfig, LabelerOptions, OutputSpec};
pub use error::{BoxError, Error, Result};
pub use labeler::{Labeler, is_blank};
pub use observation::{Observation, Status, UnknownName};
pub use postprocess::{Finding, Labels, Probabilities};
pub use tokenize::ReportTokenizer;

/// The README's Rust examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
