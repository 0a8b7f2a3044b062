//! Integration tests, one binary: the library API against the fixture model, golden files, the
//! `cxr-label` CLI, hostile input, privacy, and inputs the fuzzers found.
#![allow(missing_docs)]

mod api;
mod cli;
mod fuzz_regressions;
mod golden;
mod hostile;
mod privacy;

use std::path::{Path, PathBuf};

/// The tiny fixture model (see `tests/fixtures/make_tiny_model.py`).
pub fn fixture_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny")
}

/// A fixture report: `id` and `text`.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct FixtureReport {
    pub id: String,
    pub text: String,
}

/// The reports of `tests/fixtures/reports.jsonl` (written by the project).
pub fn fixture_reports() -> Vec<FixtureReport> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports.jsonl");
    std::fs::read_to_string(path)
        .expect("fixture reports are readable")
        .lines()
        .map(|line| serde_json::from_str(line).expect("fixture reports are valid JSONL"))
        .collect()
}

pub fn labeler() -> cxr_labeler::Labeler {
    cxr_labeler::Labeler::from_dir(fixture_model(), cxr_labeler::LabelerOptions::default())
        .expect("the fixture model loads")
}
