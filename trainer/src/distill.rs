//! `cxr-trainer distill`: knowledge distillation of a student from the teacher's soft labels,
//! with dev evaluation every epoch, best-model selection, early stopping, checkpoints and resume.
//!
//! A run folder holds:
//! - `config.json`: the resolved experiment (the TOML plus the student's exact shape);
//! - `tokenizer.json`: the student's tokenizer;
//! - `checkpoint/`: the last epoch's model, optimizer state and `state.json` (for `--resume`);
//! - `best/model.mpk` and `best/dev_predictions.jsonl`: the epoch with the best dev macro-F1;
//! - `metrics.jsonl`: one line per epoch (loss, dev macro-F1, time, throughput).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::AutodiffModule;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::record::{DefaultRecorder, Recorder};
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::AutodiffBackend;
use cxr_labeler::{Labels, Observation, ReportTokenizer, Status};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::annotations::{LabelSet, StatusRow};
use crate::config::{ScratchArchitecture, TrainConfig};
use crate::data::{self, Example, Target};
use crate::eval::{self, Evaluation};
use crate::student::bert::BertConfig;
use crate::student::deberta::DebertaConfig;
use crate::student::{self, Student, StudentSpec};

/// The experiment as run: the TOML plus what was derived from it. Saved as `config.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResolvedConfig {
    /// The experiment file's content.
    pub experiment: TrainConfig,
    /// The student's exact shape.
    pub student: StudentSpec,
}

/// Progress saved after every epoch, for `--resume`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct State {
    /// Epochs completed.
    epochs_done: usize,
    /// Best dev macro-F1 so far and its epoch (1-based).
    best_macro_f1: f64,
    best_epoch: usize,
}

/// One line of `metrics.jsonl`.
#[derive(Serialize)]
struct EpochMetrics {
    epoch: usize,
    train_loss: f64,
    dev_macro_f1_uncertain_as_negative: f64,
    dev_macro_f1_uncertain_as_positive: Option<f64>,
    learning_rate: f64,
    seconds: f64,
    train_tokens_per_second: f64,
}

/// The dev reports, tokenized into the runtime's windows, and their gold labels.
pub struct DevSet {
    ids: Vec<String>,
    windows: Vec<Vec<Vec<u32>>>,
    gold: LabelSet,
}

impl DevSet {
    /// Every window of every report, in report order.
    pub fn windows(&self) -> Vec<&[u32]> {
        self.windows.iter().flatten().map(Vec::as_slice).collect()
    }

    /// Decodes the logits of [`DevSet::windows`] (canonical layout, window after window) and
    /// merges each report's windows, as the runtime does.
    pub fn merge(&self, logits: &[f32]) -> Vec<Labels> {
        let mut decoded = logits.chunks_exact(Observation::COUNT * Status::COUNT).map(Labels::from_canonical_logits);
        self.windows.iter().map(|report| Labels::merge_windows(decoded.by_ref().take(report.len()).collect())).collect()
    }

    /// Scores one prediction per report against the dev gold.
    pub fn score(&self, predictions: &[Labels]) -> anyhow::Result<Evaluation> {
        let rows: BTreeMap<String, StatusRow> = self
            .ids
            .iter()
            .zip(predictions)
            .map(|(id, labels)| (id.clone(), labels.findings().map(|finding| finding.status)))
            .collect();
        eval::evaluate(&LabelSet::Statuses(rows), &self.gold)
    }

    /// Reads and tokenizes the dev reports.
    pub fn load(reports: &Path, gold: &Path, tokenizer: &ReportTokenizer) -> anyhow::Result<Self> {
        let reports = data::read_reports(reports)?;
        let mut ids = Vec::with_capacity(reports.len());
        let mut windows = Vec::with_capacity(reports.len());
        for (id, text) in reports {
            windows.push(tokenizer.windows(&text)?);
            ids.push(id);
        }
        Ok(DevSet { ids, windows, gold: LabelSet::read(gold)? })
    }
}

/// Trains the experiment in `run_dir` (created, or continued with `resume`).
pub fn distill<B: AutodiffBackend>(
    config: TrainConfig,
    run_dir: &Path,
    resume: bool,
    device: &B::Device,
) -> anyhow::Result<()> {
    let state_path = run_dir.join("checkpoint/state.json");
    let resuming = resume && state_path.exists();
    if run_dir.join("config.json").exists() && !resuming {
        bail!("{} already holds a run: pass --resume to continue it, or choose another --run-dir", run_dir.display());
    }
    fs_err::create_dir_all(run_dir.join("checkpoint"))?;
    fs_err::create_dir_all(run_dir.join("best"))?;

    let (tokenizer_json, resolved) = if resuming {
        let resolved: ResolvedConfig = serde_json::from_str(&fs_err::read_to_string(run_dir.join("config.json"))?)?;
        if resolved.experiment != config {
            bail!("the experiment differs from the one {} was started with", run_dir.display());
        }
        (fs_err::read_to_string(run_dir.join("tokenizer.json"))?, resolved)
    } else {
        let (tokenizer_json, student) = prepare_student(&config)?;
        let resolved = ResolvedConfig { experiment: config, student };
        fs_err::write(run_dir.join("tokenizer.json"), &tokenizer_json)?;
        fs_err::write(run_dir.join("config.json"), serde_json::to_string_pretty(&resolved)? + "\n")?;
        (tokenizer_json, resolved)
    };
    let experiment = &resolved.experiment;
    let training = &experiment.training;
    if experiment.data.max_length > resolved.student.max_positions() {
        bail!(
            "data.max_length {} exceeds the student's {} positions",
            experiment.data.max_length,
            resolved.student.max_positions()
        );
    }

    let tokenizer = ReportTokenizer::from_bytes(tokenizer_json.as_bytes(), experiment.data.max_length)?;
    let (examples, truncated) = data::load_examples(&experiment.data.train, &tokenizer, &experiment.data.targets)?;
    let dev = DevSet::load(&experiment.data.dev_reports, &experiment.data.dev_gold, &tokenizer)?;
    eprintln!(
        "{} training reports ({truncated} longer than {} tokens: first window kept), {} dev reports",
        examples.len(),
        experiment.data.max_length,
        dev.ids.len()
    );
    let weights = class_weights(&examples, training.class_weight_power);

    B::seed(device, experiment.seed);
    let mut model: Student<B> = resolved.student.init(device);
    if let Some(checkpoint) = &experiment.student.checkpoint {
        student::load_checkpoint_weights(&mut model, checkpoint)?;
    }
    let mut optimizer = AdamWConfig::new()
        .with_weight_decay(training.weight_decay as f32)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(training.max_grad_norm as f32)))
        .init::<B, Student<B>>();
    let recorder = DefaultRecorder::new();
    let mut state = State::default();
    if resuming {
        state = serde_json::from_str(&fs_err::read_to_string(&state_path)?)?;
        if state.best_epoch > state.epochs_done || state.epochs_done > training.epochs {
            bail!(
                "{} is inconsistent (best epoch {}, {} epochs done of {}): start the run again without --resume",
                state_path.display(),
                state.best_epoch,
                state.epochs_done,
                training.epochs
            );
        }
        model =
            model.load_file(run_dir.join("checkpoint/model"), &recorder, device).context("loading the checkpoint")?;
        let record =
            recorder.load(run_dir.join("checkpoint/optimizer"), device).context("loading the optimizer state")?;
        optimizer = optimizer.load_record(record);
        eprintln!(
            "resuming after epoch {} (best dev macro-F1 {:.4} at epoch {})",
            state.epochs_done, state.best_macro_f1, state.best_epoch
        );
    }
    eprintln!("student: {} parameters", model.num_params());

    let steps_per_epoch = examples.len().div_ceil(training.batch_size);
    let total_steps = steps_per_epoch * training.epochs;
    let warmup_steps = ((total_steps as f64) * training.warmup_fraction).ceil() as usize;
    let learning_rate = |step: usize| {
        let peak = training.learning_rate;
        if step < warmup_steps {
            peak * (step + 1) as f64 / warmup_steps as f64
        } else {
            peak * (total_steps - step) as f64 / (total_steps - warmup_steps).max(1) as f64
        }
    };
    let weights_tensor = Tensor::<B, 3>::from_data(
        TensorData::new(
            weights.iter().flatten().copied().collect::<Vec<f32>>(),
            [1, Observation::COUNT, Status::COUNT],
        ),
        device,
    );

    for epoch in state.epochs_done..training.epochs {
        if state.best_epoch > 0 && epoch - state.best_epoch >= training.patience {
            eprintln!("early stop: no better dev macro-F1 for {} epochs", training.patience);
            break;
        }
        let started = Instant::now();
        let mut rng = StdRng::seed_from_u64(experiment.seed.wrapping_add(epoch as u64));
        let batches = data::epoch_batches(&examples, training.batch_size, &mut rng);
        let progress = progress_bar(batches.len() as u64, epoch + 1, training.epochs);
        let (mut loss_sum, mut loss_samples, mut tokens) = (0.0, 0usize, 0usize);
        let mut step = epoch * steps_per_epoch;
        for (index, batch) in batches.iter().enumerate() {
            let (ids, mask, target, batch_tokens) = batch_tensors::<B>(&examples, batch, training.temperature, device);
            let logits = model.forward(ids, mask);
            let loss = distillation_loss(
                logits,
                target,
                weights_tensor.clone(),
                training.temperature,
                training.hard_label_weight,
            );
            let gradients = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(learning_rate(step), model, gradients);
            step += 1;
            tokens += batch_tokens;
            // Reading the loss synchronises the device: do it every 10 steps.
            if index % 10 == 0 || index + 1 == batches.len() {
                let value = f64::from(loss.into_scalar().elem::<f32>());
                if !value.is_finite() {
                    bail!("the loss became {value} at epoch {} step {index}: lower the learning rate", epoch + 1);
                }
                loss_sum += value;
                loss_samples += 1;
                progress.set_message(format!("loss {:.4}", loss_sum / loss_samples as f64));
                if progress.is_hidden() && index % 50 == 0 {
                    // Not a terminal (a background run writing to a log): a line now and then.
                    eprintln!(
                        "epoch {} step {}/{}: loss {:.4}, {:.1} s/step",
                        epoch + 1,
                        index + 1,
                        batches.len(),
                        loss_sum / loss_samples as f64,
                        started.elapsed().as_secs_f64() / (index + 1) as f64
                    );
                }
            }
            progress.inc(1);
        }
        progress.finish_and_clear();
        let train_seconds = started.elapsed().as_secs_f64();

        let (evaluation, predictions) = evaluate_dev(&model.valid(), &dev, device)?;
        let macro_f1 = evaluation.macro_f1();
        state.epochs_done = epoch + 1;
        let improved = macro_f1 > state.best_macro_f1 || state.best_epoch == 0;
        if improved {
            state.best_macro_f1 = macro_f1;
            state.best_epoch = epoch + 1;
            model.clone().save_file(run_dir.join("best/model"), &recorder)?;
            write_predictions(&run_dir.join("best/dev_predictions.jsonl"), &dev, &predictions)?;
        }
        model.clone().save_file(run_dir.join("checkpoint/model"), &recorder)?;
        recorder.record(optimizer.to_record(), run_dir.join("checkpoint/optimizer"))?;
        fs_err::write(&state_path, serde_json::to_string_pretty(&state)?)?;
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / loss_samples.max(1) as f64,
            dev_macro_f1_uncertain_as_negative: macro_f1,
            dev_macro_f1_uncertain_as_positive: match &evaluation {
                Evaluation::Binary { macro_f1_uncertain_as_positive, .. } => Some(*macro_f1_uncertain_as_positive),
                Evaluation::Statuses { .. } => None,
            },
            learning_rate: learning_rate(step - 1),
            seconds: started.elapsed().as_secs_f64(),
            train_tokens_per_second: tokens as f64 / train_seconds,
        };
        append_line(&run_dir.join("metrics.jsonl"), &serde_json::to_string(&metrics)?)?;
        eprintln!(
            "epoch {}/{}: loss {:.4}, dev macro-F1 {macro_f1:.4}{}, {:.0} s, {:.0} tokens/s",
            epoch + 1,
            training.epochs,
            metrics.train_loss,
            if improved { " (best)" } else { "" },
            metrics.seconds,
            metrics.train_tokens_per_second
        );
    }
    eprintln!(
        "best dev macro-F1 {:.4} at epoch {} ({})",
        state.best_macro_f1,
        state.best_epoch,
        run_dir.join("best").display()
    );
    Ok(())
}

/// The tokenizer (as JSON) and the student's shape for an experiment: from the checkpoint
/// folder, or fresh (training a vocabulary on the training reports when none is given).
fn prepare_student(config: &TrainConfig) -> anyhow::Result<(String, StudentSpec)> {
    if let Some(checkpoint) = &config.student.checkpoint {
        let tokenizer = fs_err::read_to_string(checkpoint.join("tokenizer.json"))?;
        return Ok((tokenizer, student::spec_from_checkpoint(checkpoint, config.student.pooling)?));
    }
    let scratch = config.student.scratch.as_ref().context("student: neither checkpoint nor scratch")?;
    let tokenizer = match &scratch.tokenizer {
        Some(path) => fs_err::read_to_string(path)?,
        None => {
            let mut texts = Vec::new();
            for source in &config.data.train {
                for file in data::source_files(&source.reports)? {
                    texts.extend(data::read_reports(&file)?.into_iter().map(|(_, text)| text));
                }
            }
            eprintln!("training a {}-token WordPiece vocabulary on {} reports", scratch.vocab_size, texts.len());
            crate::vocab::train_wordpiece(&texts, scratch.vocab_size)?
        }
    };
    let vocab_size =
        tokenizers::Tokenizer::from_bytes(tokenizer.as_bytes()).map_err(anyhow::Error::msg)?.get_vocab_size(true);
    let spec = match scratch.architecture {
        ScratchArchitecture::Bert => StudentSpec::Bert {
            config: BertConfig {
                vocab_size,
                hidden_size: scratch.hidden,
                num_hidden_layers: scratch.layers,
                num_attention_heads: scratch.heads,
                intermediate_size: scratch.intermediate,
                max_position_embeddings: config.data.max_length,
                type_vocab_size: 0,
                layer_norm_eps: 1e-12,
                hidden_dropout_prob: scratch.dropout,
                attention_probs_dropout_prob: scratch.dropout,
            },
            pooling: config.student.pooling,
        },
        ScratchArchitecture::Deberta => StudentSpec::Deberta {
            config: DebertaConfig {
                hidden_dropout_prob: scratch.dropout,
                attention_probs_dropout_prob: scratch.dropout,
                ..DebertaConfig::v3(vocab_size, scratch.hidden, scratch.layers, scratch.heads, scratch.intermediate)
            },
        },
    };
    Ok((tokenizer, spec))
}

/// Loss weights per (observation, status): `frequency ^ -power`, scaled so that the expected
/// weight under the training targets is 1 for every observation. `power` 0 gives all ones.
fn class_weights(examples: &[Example], power: f64) -> Target {
    let mut frequency = [[0.0f64; Status::COUNT]; Observation::COUNT];
    for example in examples {
        for (row, target) in frequency.iter_mut().zip(&example.target) {
            for (cell, probability) in row.iter_mut().zip(target) {
                *cell += f64::from(*probability) / examples.len() as f64;
            }
        }
    }
    frequency.map(|row| {
        let raw = row.map(|f| (f + 1e-4).powf(-power));
        let expected: f64 = row.iter().zip(&raw).map(|(f, w)| f * w).sum();
        raw.map(|w| (w / expected) as f32)
    })
}

/// Token ids `[batch, sequence]` (padded with 0), mask `[batch, sequence]`, teacher targets
/// `[batch, 14, 4]` softened by `temperature`, and the count of real tokens.
fn batch_tensors<B: Backend>(
    examples: &[Example],
    batch: &[usize],
    temperature: f64,
    device: &B::Device,
) -> (Tensor<B, 2, Int>, Tensor<B, 2>, Tensor<B, 3>, usize) {
    let sequence = batch.iter().map(|&index| examples[index].ids.len()).max().unwrap_or(1);
    let mut ids = Vec::with_capacity(batch.len() * sequence);
    let mut mask = Vec::with_capacity(batch.len() * sequence);
    let mut targets = Vec::with_capacity(batch.len() * Observation::COUNT * Status::COUNT);
    let mut tokens = 0;
    for &index in batch {
        let example = &examples[index];
        tokens += example.ids.len();
        ids.extend(example.ids.iter().map(|&id| i64::from(id)));
        ids.extend(std::iter::repeat_n(0, sequence - example.ids.len()));
        mask.extend(std::iter::repeat_n(1.0f32, example.ids.len()));
        mask.extend(std::iter::repeat_n(0.0f32, sequence - example.ids.len()));
        for row in &example.target {
            targets.extend(soften(row, temperature));
        }
    }
    let count = batch.len();
    (
        Tensor::from_data(TensorData::new(ids, [count, sequence]), device),
        Tensor::from_data(TensorData::new(mask, [count, sequence]), device),
        Tensor::from_data(TensorData::new(targets, [count, Observation::COUNT, Status::COUNT]), device),
        tokens,
    )
}

/// A distribution raised to `1 / temperature` and renormalised (temperature 1: unchanged).
fn soften(row: &[f32; Status::COUNT], temperature: f64) -> [f32; Status::COUNT] {
    if temperature == 1.0 {
        return *row;
    }
    let powered = row.map(|p| f64::from(p).powf(1.0 / temperature));
    let sum: f64 = powered.iter().sum();
    powered.map(|p| (p / sum) as f32)
}

/// Soft cross-entropy of the student against the (softened) teacher at `temperature`, scaled
/// by its square, plus `hard_weight` times the cross-entropy against the teacher's most probable
/// status; both weighted per (observation, status) and averaged over reports and observations.
fn distillation_loss<B: Backend>(
    logits: Tensor<B, 3>,
    target: Tensor<B, 3>,
    weights: Tensor<B, 3>,
    temperature: f64,
    hard_weight: f64,
) -> Tensor<B, 1> {
    let [batch, observations, _] = logits.dims();
    let scale = (batch * observations) as f64;
    let soft_log = log_softmax(logits.clone().div_scalar(temperature), 2);
    let mut loss =
        (target.clone() * soft_log * weights.clone()).sum().neg().mul_scalar(temperature * temperature / scale);
    if hard_weight > 0.0 {
        let hard = target.clone().equal(target.max_dim(2)).float();
        let hard_loss = (hard * log_softmax(logits, 2) * weights).sum().neg().div_scalar(scale);
        loss = loss + hard_loss.mul_scalar(hard_weight);
    }
    loss
}

/// Runs the student on the dev windows (as the runtime does: sorted by length, batched, each
/// report's windows merged) and scores it against the dev gold.
pub fn evaluate_dev<B: Backend>(
    model: &Student<B>,
    dev: &DevSet,
    device: &B::Device,
) -> anyhow::Result<(Evaluation, Vec<Labels>)> {
    let windows = dev.windows();
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by_key(|&index| windows[index].len());
    let per_window = Observation::COUNT * Status::COUNT;
    let mut logits = vec![0.0; windows.len() * per_window];
    for chunk in order.chunks(64) {
        let batch: Vec<&[u32]> = chunk.iter().map(|&index| windows[index]).collect();
        for (&index, values) in chunk.iter().zip(window_logits(model, &batch, device)?.chunks_exact(per_window)) {
            logits[index * per_window..][..per_window].copy_from_slice(values);
        }
    }
    let predictions = dev.merge(&logits);
    Ok((dev.score(&predictions)?, predictions))
}

/// The student's logits for a batch of windows (padded with 0), row-major `[window][14][4]`.
pub fn window_logits<B: Backend>(
    model: &Student<B>,
    windows: &[&[u32]],
    device: &B::Device,
) -> anyhow::Result<Vec<f32>> {
    let sequence = windows.iter().map(|window| window.len()).max().unwrap_or(1);
    let mut ids = Vec::with_capacity(windows.len() * sequence);
    let mut mask = Vec::with_capacity(windows.len() * sequence);
    for window in windows {
        ids.extend(window.iter().map(|&id| i64::from(id)));
        ids.extend(std::iter::repeat_n(0, sequence - window.len()));
        mask.extend(std::iter::repeat_n(1.0f32, window.len()));
        mask.extend(std::iter::repeat_n(0.0f32, sequence - window.len()));
    }
    let ids = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [windows.len(), sequence]), device);
    let mask = Tensor::<B, 2>::from_data(TensorData::new(mask, [windows.len(), sequence]), device);
    model.forward(ids, mask).into_data().to_vec::<f32>().map_err(|error| anyhow::anyhow!("{error:?}"))
}

fn write_predictions(path: &Path, dev: &DevSet, predictions: &[Labels]) -> anyhow::Result<()> {
    let mut text = String::new();
    for (id, labels) in dev.ids.iter().zip(predictions) {
        text.push_str(&serde_json::to_string(&serde_json::json!({ "id": id, "labels": labels }))?);
        text.push('\n');
    }
    Ok(fs_err::write(path, text)?)
}

fn append_line(path: &PathBuf, line: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = fs_err::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(file, "{line}")?;
    Ok(())
}

fn progress_bar(steps: u64, epoch: usize, epochs: usize) -> ProgressBar {
    let bar = ProgressBar::new(steps);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "epoch {epoch}/{epochs} {{bar:30}} {{pos}}/{{len}} {{msg}} ({{eta}} left)"
        ))
        .expect("the template is valid"),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softening_keeps_a_distribution() {
        let row = [0.7, 0.2, 0.1, 0.0];
        assert_eq!(soften(&row, 1.0), row);
        let soft = soften(&row, 2.0);
        assert!((soft.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(soft[0] < 0.7 && soft[1] > 0.2, "a higher temperature flattens: {soft:?}");
    }

    #[test]
    fn class_weights_average_to_one_per_observation() {
        let mut rare = [[0.0; 4]; 14];
        let mut common = [[0.0; 4]; 14];
        for row in rare.iter_mut().chain(common.iter_mut()) {
            row[Status::NotMentioned.index()] = 1.0;
        }
        rare[Observation::Edema.index()] = [1.0, 0.0, 0.0, 0.0];
        let mut examples = vec![Example { id: "rare".into(), ids: vec![], target: rare }];
        examples.extend((0..9).map(|i| Example { id: i.to_string(), ids: vec![], target: common }));
        let flat = class_weights(&examples, 0.0);
        assert!(flat.iter().flatten().all(|w| (w - 1.0).abs() < 1e-3));
        let weights = class_weights(&examples, 0.5);
        let edema = weights[Observation::Edema.index()];
        assert!(edema[Status::Positive.index()] > 2.0 * edema[Status::NotMentioned.index()], "{edema:?}");
        let expected = 0.1 * edema[Status::Positive.index()] + 0.9 * edema[Status::NotMentioned.index()];
        assert!((expected - 1.0).abs() < 1e-3);
    }
}
