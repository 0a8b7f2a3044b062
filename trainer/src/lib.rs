//! The training side of cxr-labeler: pseudo-labeling through a large language model (and a
//! rule baseline), distillation of a student from those labels, its export to ONNX for the
//! runtime, and evaluation against gold labels.
//!
//! The `cxr-trainer` binary is the interface; this library holds its parts so they can be
//! tested on their own.

pub mod annotations;
pub mod config;
pub mod data;
pub mod distill;
pub mod env;
pub mod eval;
pub mod export;
pub mod llm;
pub mod rules;
pub mod student;
pub mod teacher;
pub mod vocab;
