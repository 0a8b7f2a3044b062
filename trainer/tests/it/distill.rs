//! Short training runs on the trainer's fixtures: the loss falls, the run folder is complete,
//! a run is never overwritten, and an interrupted run resumes.

use std::path::Path;

use burn::backend::{Autodiff, Flex};
use cxr_trainer::config::TrainConfig;
use cxr_trainer::distill::distill;

use crate::fixture;

type B = Autodiff<Flex>;

fn config(epochs: usize) -> TrainConfig {
    let text = format!(
        r#"
name = "fixture"
seed = 3
[student]
pooling = "mean"
[student.scratch]
architecture = "bert"
hidden = 32
layers = 1
heads = 2
intermediate = 64
vocab_size = 150
[data]
train = [{{ reports = "{train}" }}]
dev_reports = "{dev}"
dev_gold = "{gold}"
max_length = 64
[training]
epochs = {epochs}
batch_size = 8
learning_rate = 3e-3
warmup_fraction = 0.1
weight_decay = 0.01
max_grad_norm = 1.0
temperature = 1.0
hard_label_weight = 0.5
class_weight_power = 0.5
patience = 10
"#,
        train = fixture("train.jsonl").display(),
        dev = fixture("dev.jsonl").display(),
        gold = fixture("dev_gold.csv").display(),
    );
    toml::from_str(&text).expect("the test config parses")
}

fn metrics(run: &Path) -> Vec<serde_json::Value> {
    fs_err::read_to_string(run.join("metrics.jsonl"))
        .expect("metrics.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).expect("metrics line"))
        .collect()
}

#[test]
fn a_short_run_learns_and_writes_its_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = dir.path().join("run");
    distill::<B>(config(6), &run, false, &Default::default()).expect("trains");
    for file in
        ["config.json", "tokenizer.json", "best/model.mpk", "best/dev_predictions.jsonl", "checkpoint/state.json"]
    {
        assert!(run.join(file).exists(), "{file} is missing");
    }
    let epochs = metrics(&run);
    assert_eq!(epochs.len(), 6);
    let first = epochs[0]["train_loss"].as_f64().expect("loss");
    let last = epochs[5]["train_loss"].as_f64().expect("loss");
    assert!(last < first * 0.8, "the loss should fall: {first} -> {last}");
    let predictions = fs_err::read_to_string(run.join("best/dev_predictions.jsonl")).expect("predictions");
    assert_eq!(predictions.lines().count(), 12, "one prediction per dev report");

    let error = distill::<B>(config(6), &run, false, &Default::default()).expect_err("the run exists");
    assert!(error.to_string().contains("already holds a run"), "{error}");
    let error = distill::<B>(config(7), &run, true, &Default::default()).expect_err("another experiment");
    assert!(error.to_string().contains("differs"), "{error}");
}

#[test]
fn an_interrupted_run_resumes_at_the_next_epoch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = dir.path().join("run");
    distill::<B>(config(2), &run, false, &Default::default()).expect("trains");
    // Rewind the bookkeeping to "killed after epoch 1".
    let state_path = run.join("checkpoint/state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&state_path).expect("state")).expect("json");
    let first_line =
        fs_err::read_to_string(run.join("metrics.jsonl")).expect("metrics").lines().next().map(String::from);
    let first_line = first_line.expect("a line");
    let first_epoch: serde_json::Value = serde_json::from_str(&first_line).expect("metrics json");
    state["epochs_done"] = 1.into();
    state["best_epoch"] = 2.into();
    fs_err::write(&state_path, state.to_string()).expect("write state");
    let error = distill::<B>(config(2), &run, true, &Default::default()).expect_err("a best epoch after the last");
    assert!(error.to_string().contains("inconsistent"), "{error}");

    state["best_epoch"] = 1.into();
    state["best_macro_f1"] = first_epoch["dev_macro_f1_uncertain_as_negative"].clone();
    fs_err::write(&state_path, state.to_string()).expect("write state");
    fs_err::write(run.join("metrics.jsonl"), first_line + "\n").expect("truncate metrics");

    distill::<B>(config(2), &run, true, &Default::default()).expect("resumes");
    let epochs = metrics(&run);
    assert_eq!(epochs.iter().map(|e| e["epoch"].as_u64().expect("epoch")).collect::<Vec<_>>(), [1, 2]);
}
