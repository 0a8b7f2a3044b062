//! `label` and `label_batch` on arbitrary UTF-8: never a panic, always 14 well-formed findings.
#![no_main]

use cxr_labeler::{Labeler, LabelerOptions, Labels, Observation, Status};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static LABELER: LazyLock<Labeler> =
    LazyLock::new(|| cxr_labeler_fuzz::fixture_labeler(LabelerOptions::default().with_batch_size(3)));

fn check(labels: &Labels) {
    for finding in labels.findings() {
        let sum: f32 = finding.probabilities.to_array().iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "probabilities sum to {sum}");
    }
    let no_finding = labels.get(Observation::NoFinding).status;
    assert!(matches!(no_finding, Status::Positive | Status::NotMentioned));
}

fuzz_target!(|text: &str| {
    let labels = LABELER.label(text).expect("labeling never fails on valid UTF-8");
    check(&labels);
    // The same text split at line breaks, as a batch: one result per part, in order.
    let parts: Vec<&str> = text.split('\n').collect();
    let batch = LABELER.label_batch(&parts).expect("batch");
    assert_eq!(batch.len(), parts.len());
    batch.iter().for_each(check);
});
