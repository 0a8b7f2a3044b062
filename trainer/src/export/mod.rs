//! `cxr-trainer export`: a run's best student as a model folder the runtime loads
//! (`model.onnx`, `tokenizer.json`, `labels.json`), with parity checks against the trainer.
//!
//! Checks, all on the run's dev reports and all through the runtime (`cxr_labeler::Labeler`,
//! tract): the float32 graph's logits match the trainer's within [`FLOAT_TOLERANCE`]; the int8
//! graph gives the float graph's status on at least [`MIN_STATUS_AGREEMENT`] of the
//! (report, observation) pairs and a dev macro-F1 within [`MAX_MACRO_F1_DROP`]. A failed check
//! is an error and nothing is written.

pub mod graph;
pub mod student;

use std::path::Path;

use anyhow::{Context, bail};
use burn::prelude::*;
use burn::record::DefaultRecorder;
use cxr_labeler::{LabelConfig, Labeler, LabelerOptions, Labels, Observation, Status};
use prost::Message;
use serde::Serialize;

use self::graph::{GraphBuilder, Precision};
use crate::distill::{DevSet, ResolvedConfig, window_logits};
use crate::student::{Student, StudentSpec};

/// Largest |logit difference| allowed between the float32 export and the trainer.
pub const FLOAT_TOLERANCE: f32 = 1e-4;
/// Smallest share of (report, observation) statuses the int8 export must share with float32.
pub const MIN_STATUS_AGREEMENT: f64 = 0.995;
/// Largest dev macro-F1 the int8 export may lose against float32.
pub const MAX_MACRO_F1_DROP: f64 = 0.005;

/// What an export measured; written as `export.json` in the run folder.
#[derive(Debug, Serialize)]
pub struct ExportReport {
    /// Student parameters.
    pub parameters: usize,
    /// Size of the float32 and int8 ONNX files, bytes.
    pub float_bytes: usize,
    #[allow(missing_docs)]
    pub int8_bytes: usize,
    /// Largest |logit difference| between the float32 export (tract) and the trainer (burn).
    pub float_max_abs_logit_difference: f32,
    /// Share of (report, observation) pairs where int8 and float32 give the same status.
    pub int8_status_agreement: f64,
    /// Dev macro-F1 of the trainer's model, the float32 export and the int8 export.
    pub trainer_dev_macro_f1: f64,
    #[allow(missing_docs)]
    pub float_dev_macro_f1: f64,
    #[allow(missing_docs)]
    pub int8_dev_macro_f1: f64,
    /// Which file was written as `model.onnx`.
    pub shipped: &'static str,
}

/// A student's ONNX bytes at `precision`.
pub fn onnx_bytes<B: Backend>(
    model: &Student<B>,
    spec: &StudentSpec,
    max_length: usize,
    precision: Precision,
    name: &str,
) -> Vec<u8> {
    let mut graph = GraphBuilder::new(precision);
    let epsilon = match spec {
        StudentSpec::Bert { config, .. } => config.layer_norm_eps,
        StudentSpec::Deberta { config } => config.layer_norm_eps,
    };
    student::write_graph(&mut graph, model, epsilon, max_length);
    let description =
        format!("cxr-labeler student {name}: 14 CheXpert observations x 4 statuses; contract in labels.json");
    graph
        .finish(&student::INPUTS, student::OUTPUT, &[None, Some(Observation::COUNT), Some(Status::COUNT)], &description)
        .encode_to_vec()
}

/// The runtime contract of an exported student.
pub fn label_config(name: &str, max_length: usize, description: String) -> LabelConfig {
    let mut config = LabelConfig::new(name, max_length);
    config.description = Some(description);
    config
}

/// Exports the best model of `run_dir` into `output_dir` after the parity checks.
pub fn export(run_dir: &Path, output_dir: &Path, precision: Precision) -> anyhow::Result<ExportReport> {
    type B = burn::backend::Flex;
    let device = Default::default();
    let resolved: ResolvedConfig = serde_json::from_str(&fs_err::read_to_string(run_dir.join("config.json"))?)
        .with_context(|| format!("reading {}/config.json", run_dir.display()))?;
    let experiment = &resolved.experiment;
    let max_length = experiment.data.max_length;
    let tokenizer = fs_err::read_to_string(run_dir.join("tokenizer.json"))?;
    let model: Student<B> = resolved
        .student
        .init(&device)
        .load_file(run_dir.join("best/model"), &DefaultRecorder::new(), &device)
        .with_context(|| format!("loading {}/best/model.mpk", run_dir.display()))?;

    let description = format!(
        "Student `{}` distilled by cxr-trainer from a large language model's labels; see the model card (README.md).",
        experiment.name
    );
    let config = label_config(&experiment.name, max_length, description);
    let float = onnx_bytes(&model, &resolved.student, max_length, Precision::Float, &experiment.name);
    let int8 = onnx_bytes(&model, &resolved.student, max_length, Precision::Int8, &experiment.name);
    let runtime = |onnx: &[u8]| {
        Labeler::from_bytes(onnx, tokenizer.as_bytes(), config.to_json().as_bytes(), LabelerOptions::default())
            .context("the runtime cannot load the export")
    };
    let float_labeler = runtime(&float)?;
    let int8_labeler = runtime(&int8)?;

    let dev = DevSet::load(
        &experiment.data.dev_reports,
        &experiment.data.dev_gold,
        &cxr_labeler::ReportTokenizer::from_bytes(tokenizer.as_bytes(), max_length)?,
    )?;
    let windows = dev.windows();
    let mut max_difference = 0.0f32;
    let (mut trainer_logits, mut float_logits, mut int8_logits) = (Vec::new(), Vec::new(), Vec::new());
    for chunk in windows.chunks(32) {
        let trainer = window_logits(&model, chunk, &device)?;
        let exported = float_labeler.logits(chunk)?;
        max_difference = trainer.iter().zip(&exported).map(|(a, b)| (a - b).abs()).fold(max_difference, f32::max);
        int8_logits.extend(int8_labeler.logits(chunk)?);
        trainer_logits.extend(trainer);
        float_logits.extend(exported);
    }
    let score = |logits: &[f32]| -> anyhow::Result<(f64, Vec<Labels>)> {
        let labels = dev.merge(logits);
        Ok((dev.score(&labels)?.macro_f1(), labels))
    };
    let (trainer_f1, _) = score(&trainer_logits)?;
    let (float_f1, float_labels) = score(&float_logits)?;
    let (int8_f1, int8_labels) = score(&int8_logits)?;
    let pairs = float_labels.len() * Observation::COUNT;
    let same = float_labels
        .iter()
        .zip(&int8_labels)
        .map(|(a, b)| a.findings().iter().zip(b.findings()).filter(|(x, y)| x.status == y.status).count())
        .sum::<usize>();
    let report = ExportReport {
        parameters: model.num_params(),
        float_bytes: float.len(),
        int8_bytes: int8.len(),
        float_max_abs_logit_difference: max_difference,
        int8_status_agreement: same as f64 / pairs as f64,
        trainer_dev_macro_f1: trainer_f1,
        float_dev_macro_f1: float_f1,
        int8_dev_macro_f1: int8_f1,
        shipped: match precision {
            Precision::Float => "float32",
            Precision::Int8 => "int8",
        },
    };
    fs_err::write(run_dir.join("export.json"), serde_json::to_string_pretty(&report)? + "\n")?;
    if max_difference > FLOAT_TOLERANCE {
        bail!("float32 export differs from the trainer by {max_difference} (> {FLOAT_TOLERANCE})");
    }
    if precision == Precision::Int8 {
        if report.int8_status_agreement < MIN_STATUS_AGREEMENT {
            bail!(
                "int8 export agrees with float32 on {:.4} of statuses (< {MIN_STATUS_AGREEMENT})",
                report.int8_status_agreement
            );
        }
        if float_f1 - int8_f1 > MAX_MACRO_F1_DROP {
            bail!("int8 export loses {:.4} dev macro-F1 (> {MAX_MACRO_F1_DROP})", float_f1 - int8_f1);
        }
    }
    fs_err::create_dir_all(output_dir)?;
    fs_err::write(output_dir.join("model.onnx"), if precision == Precision::Int8 { &int8 } else { &float })?;
    fs_err::write(output_dir.join("tokenizer.json"), &tokenizer)?;
    fs_err::write(output_dir.join("labels.json"), config.to_json())?;
    Ok(report)
}
