//! Student models: transformer encoders with a head giving `[batch, 14, 4]` logits, built
//! from scratch or loaded from a Hugging Face checkpoint folder.

pub mod bert;
pub mod deberta;

use std::path::Path;

use anyhow::{Context, bail};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::activation::softmax;
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
    /// Label-wise attention: one learned query per observation attends over the non-padding
    /// tokens, and each observation's four logits come from its own vector, so a hedge or a
    /// negation about one finding does not blur the others. The queries start at zero, where
    /// every observation's vector is the mean.
    LabelAttention,
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
        .filter(|name| !name.split('.').any(|part| matches!(part, "classifier" | "pooler" | "label_queries")))
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

/// Pools `[batch, sequence, hidden]` into `[batch, groups, hidden]`: one group (the first
/// token, or the masked mean) for `Cls` and `Mean`; one group per observation for
/// `LabelAttention`, which needs `queries` `[14, hidden]` (the others ignore them).
///
/// # Panics
/// For `LabelAttention` without `queries` (students that use it always own them).
pub fn pool<B: Backend>(
    x: Tensor<B, 3>,
    mask: Tensor<B, 2>,
    pooling: Pooling,
    queries: Option<Tensor<B, 2>>,
) -> Tensor<B, 3> {
    let [batch, sequence, hidden] = x.dims();
    match pooling {
        Pooling::Cls => x.slice([0..batch, 0..1]),
        Pooling::Mean => {
            let mask = mask.reshape([batch, sequence, 1]);
            let sum = (x * mask.clone()).sum_dim(1);
            sum / mask.sum_dim(1)
        }
        Pooling::LabelAttention => {
            let queries = queries.expect("label attention needs its queries");
            let [labels, _] = queries.dims();
            let scores = queries.reshape([1, labels, hidden]).matmul(x.clone().swap_dims(1, 2));
            let bias = (mask - 1.0).mul_scalar(MASK_PENALTY).reshape([batch, 1, sequence]);
            softmax(scores + bias, 2).matmul(x)
        }
    }
}

/// Turns head outputs `[batch, groups, 56]` into logits `[batch, 14, 4]`: one group is
/// reshaped; with one group per observation, observation `o` keeps its own four outputs from
/// group `o` (a per-observation head sharing one weight matrix).
pub fn head_logits<B: Backend>(flat: Tensor<B, 3>) -> Tensor<B, 3> {
    let [batch, groups, _] = flat.dims();
    let (observations, statuses) = (Observation::COUNT, Status::COUNT);
    if groups == 1 {
        return flat.reshape([batch, observations, statuses]);
    }
    let blocks = flat.reshape([batch, observations, observations, statuses]);
    let own = Tensor::from_data(TensorData::new(own_blocks(), [1, observations, observations, 1]), &blocks.device());
    (blocks * own).sum_dim(2).reshape([batch, observations, statuses])
}

/// The 14 x 14 identity, row-major: 1 where a group and an output block are the same
/// observation (the ONNX export uses the same mask).
pub fn own_blocks() -> Vec<f32> {
    let count = Observation::COUNT;
    (0..count * count).map(|i| if i / count == i % count { 1.0 } else { 0.0 }).collect()
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;

    use super::*;

    fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> Tensor<Flex, D> {
        Tensor::from_data(TensorData::new(values, shape), &Default::default())
    }

    fn close(a: Tensor<Flex, 3>, b: Tensor<Flex, 3>) -> bool {
        let values = |t: Tensor<Flex, 3>| t.into_data().to_vec::<f32>().expect("f32 tensor");
        let (a, b) = (values(a), values(b));
        a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    #[test]
    fn label_attention_starts_as_the_mean_and_ignores_padding() {
        // One report of three tokens, the last one padding.
        let x = tensor((0..6).map(|v| v as f32).collect(), [1, 3, 2]);
        let mask = tensor(vec![1.0, 1.0, 0.0], [1, 3]);
        let zero = Tensor::zeros([Observation::COUNT, 2], &Default::default());
        let attended = pool(x.clone(), mask.clone(), Pooling::LabelAttention, Some(zero));
        let mean = pool(x.clone(), mask.clone(), Pooling::Mean, None);
        assert_eq!(attended.dims(), [1, Observation::COUNT, 2]);
        assert!(close(attended, mean.expand([1, Observation::COUNT as i64, 2])));
        // A query that prefers the second coordinate looks at the second token, never the pad.
        let mut queries = vec![0.0; Observation::COUNT * 2];
        queries[1] = 100.0;
        let attended = pool(x, mask, Pooling::LabelAttention, Some(tensor(queries, [Observation::COUNT, 2])));
        let first = attended.slice([0..1, 0..1]);
        assert!(close(first, tensor(vec![2.0, 3.0], [1, 1, 2])));
    }

    #[test]
    fn per_observation_groups_keep_their_own_block() {
        // Group g's output block b holds 100 * g + b: observation o must get 101 * o.
        let (count, statuses) = (Observation::COUNT, Status::COUNT);
        let values = (0..count * count * statuses)
            .map(|i| (100 * (i / (count * statuses)) + i % (count * statuses) / statuses) as f32);
        let logits = head_logits(tensor(values.collect(), [1, count, count * statuses]));
        let expected = (0..count * statuses).map(|i| (101 * (i / statuses)) as f32).collect();
        assert!(close(logits, tensor(expected, [1, count, statuses])));
    }
}
