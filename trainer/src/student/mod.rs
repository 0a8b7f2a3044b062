//! Student models: transformer encoders with a head giving `[batch, 14, 4]` logits, built
//! from scratch or loaded from a Hugging Face checkpoint folder.

pub mod bert;
pub mod deberta;

use std::path::Path;

use anyhow::{Context, bail};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use cxr_labeler::{Observation, Status};
use serde::{Deserialize, Serialize};

use self::bert::{BertConfig, BertStudent};
use self::deberta::{DebertaConfig, DebertaStudent};

/// Width of the head: one logit per observation and status.
pub const OUTPUTS: usize = Observation::COUNT * Status::COUNT;

/// How the encoder's token vectors become one vector for the head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The first token (`[CLS]`).
    #[default]
    Cls,
    /// The mean over the non-padding tokens (what sentence-transformers checkpoints learned).
    Mean,
}

/// The architecture and size of a student: everything needed to rebuild it before loading
/// weights. Written into every run's resolved config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "architecture", rename_all = "snake_case")]
pub enum StudentSpec {
    /// BERT family (BERT, MiniLM).
    Bert {
        /// The encoder's shape.
        config: BertConfig,
        /// Pooling for the head.
        pooling: Pooling,
    },
    /// DeBERTa-v2/v3 (disentangled attention with relative positions).
    Deberta {
        /// The encoder's shape.
        config: DebertaConfig,
    },
}

impl StudentSpec {
    /// The vocabulary size the embeddings expect.
    pub fn vocab_size(&self) -> usize {
        match self {
            StudentSpec::Bert { config, .. } => config.vocab_size,
            StudentSpec::Deberta { config } => config.vocab_size,
        }
    }

    /// The longest sequence the model can take.
    pub fn max_positions(&self) -> usize {
        match self {
            StudentSpec::Bert { config, .. } => config.max_position_embeddings,
            StudentSpec::Deberta { config } => config.max_position_embeddings,
        }
    }

    /// A fresh, randomly initialised student of this shape.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Student<B> {
        match self {
            StudentSpec::Bert { config, pooling } => Student::Bert(BertStudent::new(config, *pooling, device)),
            StudentSpec::Deberta { config } => Student::Deberta(DebertaStudent::new(config, device)),
        }
    }
}

/// A student of any architecture.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one per run; boxing would break burn's Module derive
pub enum Student<B: Backend> {
    /// BERT family.
    Bert(BertStudent<B>),
    /// DeBERTa-v2/v3.
    Deberta(DebertaStudent<B>),
}

impl<B: Backend> Student<B> {
    /// `ids` `[batch, sequence]`, `mask` `[batch, sequence]` (1 for tokens, 0 for padding) ->
    /// logits `[batch, 14, 4]` in canonical order.
    pub fn forward(&self, ids: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 3> {
        match self {
            Student::Bert(model) => model.forward(ids, mask),
            Student::Deberta(model) => model.forward(ids, mask),
        }
    }
}

/// Reads a Hugging Face checkpoint folder's `config.json` as a student spec: `model_type`
/// `bert` (MiniLM included) or `deberta-v2`.
pub fn spec_from_checkpoint(dir: &Path, pooling: Pooling) -> anyhow::Result<StudentSpec> {
    let path = dir.join("config.json");
    let text = fs_err::read_to_string(&path)?;
    let json: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let parse_error = || format!("reading {} as a model config", path.display());
    match json["model_type"].as_str() {
        Some("bert") => {
            Ok(StudentSpec::Bert { config: serde_json::from_value(json).with_context(parse_error)?, pooling })
        }
        Some("deberta-v2") => {
            Ok(StudentSpec::Deberta { config: serde_json::from_value(json).with_context(parse_error)? })
        }
        other => bail!("{}: model_type {other:?} is not supported (bert, deberta-v2)", path.display()),
    }
}

/// Loads the encoder weights of a Hugging Face checkpoint (`model.safetensors`) into `student`.
/// The head stays as initialised; any encoder tensor the file lacks, or any shape mismatch, is
/// an error.
pub fn load_checkpoint_weights<B: Backend>(student: &mut Student<B>, dir: &Path) -> anyhow::Result<()> {
    let path = dir.join("model.safetensors");
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let (prefix, model_key) = match student {
        Student::Bert(_) => ("bert", r"^(embeddings|encoder)\."),
        Student::Deberta(_) => ("deberta", r"^(embeddings|encoder)\."),
    };
    let mut store = SafetensorsStore::from_file(&path)
        .with_from_adapter(PyTorchToBurnAdapter)
        .with_key_remapping(r"\.LayerNorm\.", ".layer_norm.")
        .with_key_remapping(r"\.attention\.self\.", ".attention.self_attn.")
        .with_key_remapping(format!(r"^{prefix}\."), "")
        .with_key_remapping(model_key, format!("{prefix}.$1."))
        .skip_enum_variants(true)
        .allow_partial(true);
    let result = student
        .load_from(&mut store)
        .map_err(|error| anyhow::anyhow!("{error:?}"))
        .with_context(|| format!("loading {}", path.display()))?;
    let missing: Vec<&str> = result
        .missing
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| !name.split('.').any(|part| part == "classifier" || part == "pooler"))
        .collect();
    if !missing.is_empty() || !result.errors.is_empty() {
        bail!(
            "{} does not fit the student: {} tensors missing (first: {:?}), errors {:?}",
            path.display(),
            missing.len(),
            &missing[..missing.len().min(5)],
            result.errors
        );
    }
    if result.applied.is_empty() {
        bail!("{}: no tensor matched the student", path.display());
    }
    eprintln!("loaded {} tensors from {}", result.applied.len(), path.display());
    Ok(())
}

/// Additive attention bias from a padding mask: 0 for tokens, -10000 for padding, shaped
/// `[batch, 1, 1, sequence]` to broadcast over heads and queries.
pub fn mask_bias<B: Backend>(mask: Tensor<B, 2>) -> Tensor<B, 4> {
    let [batch, sequence] = mask.dims();
    (mask - 1.0).mul_scalar(MASK_PENALTY).reshape([batch, 1, 1, sequence])
}

/// The attention penalty of a padding position (the ONNX export uses the same constant).
pub const MASK_PENALTY: f64 = 10_000.0;

/// Pools `[batch, sequence, hidden]` into `[batch, hidden]`.
pub fn pool<B: Backend>(x: Tensor<B, 3>, mask: Tensor<B, 2>, pooling: Pooling) -> Tensor<B, 2> {
    let [batch, sequence, hidden] = x.dims();
    match pooling {
        Pooling::Cls => x.slice([0..batch, 0..1]).reshape([batch, hidden]),
        Pooling::Mean => {
            let mask = mask.reshape([batch, sequence, 1]);
            let sum = (x * mask.clone()).sum_dim(1).reshape([batch, hidden]);
            sum / mask.sum_dim(1).reshape([batch, 1])
        }
    }
}

/// Reshapes head outputs `[batch, 56]` into `[batch, 14, 4]`.
pub fn head_logits<B: Backend>(flat: Tensor<B, 2>) -> Tensor<B, 3> {
    let [batch, _] = flat.dims();
    flat.reshape([batch, Observation::COUNT, Status::COUNT])
}
