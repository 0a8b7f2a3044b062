//! Experiment configuration (`trainer/configs/*.toml`) for `cxr-trainer distill`.
//!
//! Paths are relative to the directory the command runs in (the repository root in the
//! documented commands). The resolved configuration is written beside every run as
//! `config.json`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::data::{Source, TargetConfig};
use crate::student::Pooling;

/// A distillation experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The run's name: its folder is `runs/<name>` unless `--run-dir` says otherwise.
    pub name: String,
    /// Seed of initialisation, shuffling and dropout.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The student.
    pub student: StudentConfig,
    /// The data.
    pub data: DataConfig,
    /// The optimisation.
    #[serde(default)]
    pub training: TrainingConfig,
}

fn default_seed() -> u64 {
    17
}

/// Where the student comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentConfig {
    /// A Hugging Face checkpoint folder (`config.json`, `model.safetensors`, `tokenizer.json`;
    /// BERT family or DeBERTa-v2/v3) to start from.
    #[serde(default)]
    pub checkpoint: Option<PathBuf>,
    /// A fresh model instead of a checkpoint.
    #[serde(default)]
    pub scratch: Option<ScratchConfig>,
    /// Pooling of BERT-family students (DeBERTa uses its context pooler on `[CLS]`).
    #[serde(default)]
    pub pooling: Pooling,
}

/// The shape of a student trained from scratch, and its vocabulary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScratchConfig {
    /// `bert` or `deberta`.
    pub architecture: ScratchArchitecture,
    /// Width of every layer.
    pub hidden: usize,
    /// Transformer layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Width of the feed-forward layers.
    pub intermediate: usize,
    /// A `tokenizer.json` to use; absent: train a WordPiece vocabulary on the training reports.
    #[serde(default)]
    pub tokenizer: Option<PathBuf>,
    /// Size of the trained vocabulary.
    #[serde(default = "default_vocab_size")]
    pub vocab_size: usize,
    /// Dropout in embeddings, layers and head.
    #[serde(default = "default_dropout")]
    pub dropout: f64,
}

fn default_vocab_size() -> usize {
    8000
}

fn default_dropout() -> f64 {
    0.1
}

/// Architectures a student can be trained from scratch with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScratchArchitecture {
    /// Absolute positions, standard attention.
    Bert,
    /// DeBERTa-v3: relative positions, disentangled attention.
    Deberta,
}

/// Training and selection data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Training reports and their teacher labels.
    pub train: Vec<Source>,
    /// Reports the best epoch is chosen on (JSONL with `id`).
    pub dev_reports: PathBuf,
    /// Their gold labels: binary CSV or four-status JSONL.
    pub dev_gold: PathBuf,
    /// Longest token window, special tokens included.
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    /// How teacher labels become soft targets.
    #[serde(default)]
    pub targets: TargetConfig,
}

fn default_max_length() -> usize {
    256
}

/// Optimisation and selection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Reports per step.
    pub batch_size: usize,
    /// Peak learning rate of AdamW.
    pub learning_rate: f64,
    /// Share of steps with a linear warm-up; the rest decays linearly to 0.
    pub warmup_fraction: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Gradients are clipped to this global norm.
    pub max_grad_norm: f64,
    /// Distillation temperature: the student's logits and the teacher's distribution are both
    /// softened by it; the loss is scaled by its square.
    pub temperature: f64,
    /// Weight of a cross-entropy term on the teacher's most probable status (0: soft only).
    pub hard_label_weight: f64,
    /// Per (observation, status) loss weights proportional to `frequency ^ -power` (0: none;
    /// 0.5: inverse square root, lifting the rare observations), normalised per observation.
    pub class_weight_power: f64,
    /// Stop after this many epochs without a better dev macro-F1.
    pub patience: usize,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            epochs: 10,
            batch_size: 32,
            learning_rate: 1e-4,
            warmup_fraction: 0.1,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            temperature: 1.0,
            hard_label_weight: 0.0,
            class_weight_power: 0.0,
            patience: 4,
        }
    }
}

impl TrainConfig {
    /// Reads and checks a TOML experiment file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = fs_err::read_to_string(path)?;
        let config: TrainConfig = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        config.check().with_context(|| format!("checking {}", path.display()))?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<()> {
        match (&self.student.checkpoint, &self.student.scratch) {
            (Some(_), Some(_)) => bail!("student: give either `checkpoint` or `scratch`, not both"),
            (None, None) => bail!("student: give a `checkpoint` folder or a `scratch` shape"),
            _ => {}
        }
        if let Some(scratch) = &self.student.scratch
            && (scratch.heads == 0 || scratch.hidden % scratch.heads != 0)
        {
            bail!("student.scratch: hidden ({}) must be a multiple of heads ({})", scratch.hidden, scratch.heads);
        }
        let training = &self.training;
        if training.epochs == 0 || training.batch_size == 0 {
            bail!("training: epochs and batch_size must be at least 1");
        }
        if training.temperature.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
            || !(0.0..1.0).contains(&training.warmup_fraction)
        {
            bail!("training: temperature must be positive and warmup_fraction in [0, 1)");
        }
        if self.data.train.is_empty() {
            bail!("data.train lists no source");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
name = "test"
[student]
checkpoint = "checkpoints/minilm"
pooling = "mean"
[data]
train = [{ reports = "a.jsonl", labels = "b.jsonl" }, { reports = "synthetic" }]
dev_reports = "dev.jsonl"
dev_gold = "dev_gold.csv"
[training]
epochs = 3
batch_size = 16
learning_rate = 1e-4
warmup_fraction = 0.1
weight_decay = 0.01
max_grad_norm = 1.0
temperature = 2.0
hard_label_weight = 0.0
class_weight_power = 0.5
patience = 2
"#;

    #[test]
    fn a_config_parses_with_defaults() {
        let config: TrainConfig = toml::from_str(EXAMPLE).expect("parses");
        config.check().expect("valid");
        assert_eq!(config.seed, 17);
        assert_eq!(config.data.max_length, 256);
        assert_eq!(config.student.pooling, Pooling::Mean);
        assert_eq!(config.data.train[1].labels, None);
    }

    #[test]
    fn the_committed_experiments_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let mut count = 0;
        for entry in fs_err::read_dir(&dir).expect("configs/") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|extension| extension == "toml") {
                TrainConfig::read(&path).unwrap_or_else(|error| panic!("{}: {error:#}", path.display()));
                count += 1;
            }
        }
        assert!(count >= 3);
    }

    #[test]
    fn contradictions_and_typos_are_rejected() {
        let both = EXAMPLE.replace(
            "pooling = \"mean\"",
            "pooling = \"mean\"\n[student.scratch]\narchitecture = \"bert\"\nhidden = 64\nlayers = 1\nheads = 4\nintermediate = 128",
        );
        let config: TrainConfig = toml::from_str(&both).expect("parses");
        assert!(config.check().is_err());
        assert!(
            toml::from_str::<TrainConfig>(&EXAMPLE.replace("epochs", "epoch")).is_err(),
            "unknown fields are errors"
        );
    }
}
