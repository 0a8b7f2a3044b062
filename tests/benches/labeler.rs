//! Criterion benchmarks of the labeler: one short report, one long (windowed) report, and a
//! batch of 32 reports.
//!
//! The model is `$CXR_BENCH_MODEL` if set, else `model/` when it holds a model, else the test
//! fixture (whose numbers only show the runtime's overhead). Reports are the project's fixture
//! reports. Run with `cargo bench --bench labeler`.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use cxr_labeler::{Labeler, LabelerOptions};

fn model_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(dir) = std::env::var_os("CXR_BENCH_MODEL") {
        return PathBuf::from(dir);
    }
    if root.join("model/model.onnx").exists() { root.join("model") } else { root.join("tests/fixtures/tiny") }
}

fn reports() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports.jsonl");
    std::fs::read_to_string(path)
        .expect("fixture reports")
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).expect("JSONL");
            record["text"].as_str().expect("text").to_owned()
        })
        .filter(|text| !text.trim().is_empty())
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = model_dir();
    let labeler = Labeler::from_dir(&dir, LabelerOptions::default()).expect("the benchmark model loads");
    eprintln!("model: {} ({})", labeler.config().name, dir.display());
    let reports = reports();
    let short = "Stable cardiomegaly. Small left pleural effusion with adjacent atelectasis.";
    let long = reports.iter().max_by_key(|text| text.len()).expect("reports").clone();
    eprintln!("long report: {} windows", labeler.token_windows(&long).expect("tokenizes").len());

    let mut group = c.benchmark_group("label");
    group.throughput(Throughput::Elements(1));
    group.bench_function("short", |b| b.iter(|| labeler.label(short).expect("labels")));
    group.bench_function("long", |b| b.iter(|| labeler.label(&long).expect("labels")));
    group.finish();

    let batch: Vec<&str> = reports.iter().map(String::as_str).cycle().take(32).collect();
    let mut group = c.benchmark_group("label_batch");
    group.throughput(Throughput::Elements(batch.len() as u64));
    for batch_size in [1, 8, 32] {
        let labeler =
            Labeler::from_dir(&dir, LabelerOptions::default().with_batch_size(batch_size)).expect("the model loads");
        group.bench_with_input(BenchmarkId::new("32 reports, batch size", batch_size), &batch, |b, batch| {
            b.iter(|| labeler.label_batch(batch).expect("labels"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
