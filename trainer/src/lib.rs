//! The training side of cxr-labeler: distillation of a student from a large language model's
//! labels, its export to ONNX for the runtime, and evaluation against gold labels.
//!
//! The `cxr-trainer` binary is the interface; this library holds its parts so they can be
//! tested on their own.

pub mod annotations;
pub mod config;
pub mod data;
pub mod distill;
pub mod eval;
pub mod export;
pub mod rules;
pub mod student;
pub mod teacher;
pub mod vocab;
