//! Golden files: the token windows and labels of every fixture report, for the fixture model
//! (`tests/golden/tiny`) and the shipped student (`tests/golden/model`), checked exactly (tokens,
//! statuses) and within a tolerance (probabilities). The wasm test in Node reads the same files.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test --test integration golden` and review the diff.

use std::path::{Path, PathBuf};

use cxr_labeler::Labels;
use serde::{Deserialize, Serialize};

use cxr_labeler::{Labeler, LabelerOptions};

use crate::{fixture_model, fixture_reports};

/// Probabilities may differ by this much between machines (different SIMD kernels).
const TOLERANCE: f32 = 1e-5;

#[derive(Serialize, Deserialize)]
struct TokenRecord {
    id: String,
    windows: Vec<Vec<u32>>,
}

#[derive(Serialize, Deserialize)]
struct LabelRecord {
    id: String,
    labels: Labels,
}

fn repository(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("{}: {error} (run with UPDATE_GOLDEN=1 to create it)", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).expect("golden record"))
        .collect()
}

fn write_jsonl<T: Serialize>(path: &Path, records: &[T]) {
    std::fs::create_dir_all(path.parent().expect("golden files live in a folder")).expect("create golden folder");
    let text: String = records.iter().map(|record| serde_json::to_string(record).expect("serializes") + "\n").collect();
    std::fs::write(path, text).expect("write golden file");
}

#[test]
fn fixture_model_matches_golden_files() {
    let windowed = check_golden(&fixture_model(), &repository("tests/golden/tiny"));
    assert!(windowed >= 3, "the fixture reports exercise long-report windowing ({windowed} do)");
}

#[test]
fn shipped_model_matches_golden_files() {
    check_golden(&repository("model"), &repository("tests/golden/model"));
}

/// Checks (or with `UPDATE_GOLDEN`, writes) the golden files of a model; returns how many
/// reports were split into several windows.
fn check_golden(model: &Path, golden: &Path) -> usize {
    let labeler = Labeler::from_dir(model, LabelerOptions::default()).expect("the model loads");
    let reports = fixture_reports();
    let tokens: Vec<TokenRecord> = reports
        .iter()
        .map(|report| TokenRecord {
            id: report.id.clone(),
            windows: labeler.token_windows(&report.text).expect("tokenizes"),
        })
        .collect();
    let texts: Vec<&str> = reports.iter().map(|report| report.text.as_str()).collect();
    let labels: Vec<LabelRecord> = reports
        .iter()
        .zip(labeler.label_batch(&texts).expect("labels"))
        .map(|(report, labels)| LabelRecord { id: report.id.clone(), labels })
        .collect();

    let (tokens_path, labels_path) = (golden.join("tokens.jsonl"), golden.join("expected.jsonl"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        write_jsonl(&tokens_path, &tokens);
        write_jsonl(&labels_path, &labels);
    }
    let expected_tokens: Vec<TokenRecord> = read_jsonl(&tokens_path);
    let expected_labels: Vec<LabelRecord> = read_jsonl(&labels_path);
    assert_eq!(expected_tokens.len(), reports.len(), "one golden token record per fixture report");
    for (actual, expected) in tokens.iter().zip(&expected_tokens) {
        assert_eq!(actual.id, expected.id);
        assert_eq!(actual.windows, expected.windows, "token windows of {}", actual.id);
    }
    assert_eq!(expected_labels.len(), reports.len(), "one golden label record per fixture report");
    for (actual, expected) in labels.iter().zip(&expected_labels) {
        for (a, e) in actual.labels.findings().iter().zip(expected.labels.findings()) {
            assert_eq!(a.status, e.status, "{} {}", actual.id, a.observation);
            for (x, y) in a.probabilities.to_array().into_iter().zip(e.probabilities.to_array()) {
                assert!((x - y).abs() <= TOLERANCE, "{} {}: {x} vs golden {y}", actual.id, a.observation);
            }
        }
    }
    tokens.iter().filter(|record| record.windows.len() > 1).count()
}
