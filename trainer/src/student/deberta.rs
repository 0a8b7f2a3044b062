//! DeBERTa-v2/v3 (the paper's student) in burn: disentangled attention with content-to-position
//! and position-to-content terms over log-bucketed relative positions, shared or separate
//! position projections, LayerNorm on the relative embeddings, post-LayerNorm layers, context
//! pooler and classifier. Field names mirror Hugging Face's `DebertaV2ForSequenceClassification`
//! so its `model.safetensors` loads by name.
#![allow(missing_docs)] // weight-holding fields mirror Hugging Face names; the structs say what they hold

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::{gelu, softmax};
use serde::{Deserialize, Serialize};

use super::{Pooling, head_logits, mask_bias, pool};

/// The subset of Hugging Face's `DebertaV2Config` the model needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DebertaConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Width of every layer.
    pub hidden_size: usize,
    /// Transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Absolute positions (used when `position_biased_input`) and the default relative span.
    pub max_position_embeddings: usize,
    /// Log buckets of relative positions (v3: 256); -1 for none.
    #[serde(default = "minus_one")]
    pub position_buckets: i64,
    /// Largest relative distance; below 1 means `max_position_embeddings`.
    #[serde(default = "minus_one")]
    pub max_relative_positions: i64,
    /// LayerNorm epsilon.
    #[serde(default = "default_epsilon")]
    pub layer_norm_eps: f64,
    /// `"layer_norm"` to normalise the relative embeddings (v3).
    #[serde(default)]
    pub norm_rel_ebd: String,
    /// Position projections reuse the content key/query projections (v3).
    #[serde(default)]
    pub share_att_key: bool,
    /// Which disentangled terms: `"c2p"`, `"p2c"`.
    #[serde(default)]
    pub pos_att_type: Vec<String>,
    /// Add absolute position embeddings to the input (v2: true, v3: false).
    #[serde(default = "yes")]
    pub position_biased_input: bool,
    /// Use relative attention at all.
    #[serde(default)]
    pub relative_attention: bool,
    /// Token type vocabulary (0 for none).
    #[serde(default)]
    pub type_vocab_size: usize,
    /// Dropout after embeddings and in every layer.
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities.
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
}

fn minus_one() -> i64 {
    -1
}
fn default_epsilon() -> f64 {
    1e-7
}
fn yes() -> bool {
    true
}
fn default_dropout() -> f64 {
    0.1
}

impl DebertaConfig {
    /// A DeBERTa-v3-shaped config for training from scratch.
    pub fn v3(vocab_size: usize, hidden_size: usize, layers: usize, heads: usize, intermediate_size: usize) -> Self {
        DebertaConfig {
            vocab_size,
            hidden_size,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            intermediate_size,
            max_position_embeddings: 512,
            position_buckets: 256,
            max_relative_positions: -1,
            layer_norm_eps: 1e-7,
            norm_rel_ebd: "layer_norm".to_owned(),
            share_att_key: true,
            pos_att_type: vec!["p2c".to_owned(), "c2p".to_owned()],
            position_biased_input: false,
            relative_attention: true,
            type_vocab_size: 0,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
        }
    }

    /// The largest relative distance.
    pub fn max_relative(&self) -> usize {
        if self.max_relative_positions < 1 {
            self.max_position_embeddings
        } else {
            self.max_relative_positions as usize
        }
    }

    /// Relative positions on each side (`pos_ebd_size` in Hugging Face).
    pub fn span(&self) -> usize {
        if self.position_buckets > 0 { self.position_buckets as usize } else { self.max_relative() }
    }

    fn uses(&self, term: &str) -> bool {
        self.relative_attention && self.pos_att_type.iter().any(|listed| listed == term)
    }
}

/// Hugging Face's `make_log_bucket_position` for one relative distance, in float32 like torch.
pub fn log_bucket(relative: i64, bucket_size: i64, max_position: i64) -> i64 {
    let middle = bucket_size / 2;
    let absolute = if relative < middle && relative > -middle { middle - 1 } else { relative.abs() };
    if absolute <= middle {
        return relative;
    }
    let log_position = ((absolute as f32 / middle as f32).ln() / ((max_position - 1) as f32 / middle as f32).ln()
        * (middle - 1) as f32)
        .ceil()
        + middle as f32;
    (log_position as i64) * relative.signum()
}

/// Gather indices of the content-to-position and position-to-content terms for a sequence
/// length: `[sequence, sequence]`, row-major, each in `0..2 * span`.
pub fn relative_indices(config: &DebertaConfig, sequence: usize) -> (Vec<i64>, Vec<i64>) {
    let span = config.span() as i64;
    let mut content_to_position = Vec::with_capacity(sequence * sequence);
    let mut position_to_content = Vec::with_capacity(sequence * sequence);
    for query in 0..sequence as i64 {
        for key in 0..sequence as i64 {
            let mut relative = query - key;
            if config.position_buckets > 0 {
                relative = log_bucket(relative, config.position_buckets, config.max_relative() as i64);
            }
            content_to_position.push((relative + span).clamp(0, 2 * span - 1));
            position_to_content.push((-relative + span).clamp(0, 2 * span - 1));
        }
    }
    (content_to_position, position_to_content)
}

#[derive(Module, Debug)]
pub struct DisentangledSelfAttention<B: Backend> {
    pub query_proj: Linear<B>,
    pub key_proj: Linear<B>,
    pub value_proj: Linear<B>,
    pub pos_key_proj: Option<Linear<B>>,
    pub pos_query_proj: Option<Linear<B>>,
    dropout: Dropout,
}

#[derive(Module, Debug)]
pub struct DebertaAttention<B: Backend> {
    pub self_attn: DisentangledSelfAttention<B>,
    pub output: super::bert::DenseResidual<B>,
}

#[derive(Module, Debug)]
pub struct DebertaIntermediate<B: Backend> {
    pub dense: Linear<B>,
}

#[derive(Module, Debug)]
pub struct DebertaLayer<B: Backend> {
    pub attention: DebertaAttention<B>,
    pub intermediate: DebertaIntermediate<B>,
    pub output: super::bert::DenseResidual<B>,
}

#[derive(Module, Debug)]
pub struct DebertaEmbeddings<B: Backend> {
    pub word_embeddings: Embedding<B>,
    pub position_embeddings: Option<Embedding<B>>,
    pub token_type_embeddings: Option<Embedding<B>>,
    pub layer_norm: LayerNorm<B>,
    dropout: Dropout,
}

#[derive(Module, Debug)]
pub struct DebertaEncoder<B: Backend> {
    pub layer: Vec<DebertaLayer<B>>,
    pub rel_embeddings: Option<Embedding<B>>,
    pub layer_norm: Option<LayerNorm<B>>,
}

#[derive(Module, Debug)]
pub struct DebertaModel<B: Backend> {
    pub embeddings: DebertaEmbeddings<B>,
    pub encoder: DebertaEncoder<B>,
}

#[derive(Module, Debug)]
pub struct ContextPooler<B: Backend> {
    pub dense: Linear<B>,
}

/// A DeBERTa encoder, Hugging Face's context pooler (CLS, dense, GELU) and a linear head
/// giving logits of shape `[batch, 14, 4]`.
#[derive(Module, Debug)]
pub struct DebertaStudent<B: Backend> {
    pub deberta: DebertaModel<B>,
    pub pooler: ContextPooler<B>,
    pub classifier: Linear<B>,
    dropout: Dropout,
    #[module(skip)]
    config: DebertaConfig,
}

impl<B: Backend> DebertaStudent<B> {
    /// A randomly initialised student.
    pub fn new(config: &DebertaConfig, device: &B::Device) -> Self {
        let hidden = config.hidden_size;
        let layer_norm = || LayerNormConfig::new(hidden).with_epsilon(config.layer_norm_eps).init(device);
        let linear = |input: usize, output: usize| LinearConfig::new(input, output).init(device);
        let dense_residual = |input: usize| {
            super::bert::DenseResidual::new(input, hidden, config.layer_norm_eps, config.hidden_dropout_prob, device)
        };
        let separate_positions = config.relative_attention && !config.share_att_key;
        let embeddings = DebertaEmbeddings {
            word_embeddings: EmbeddingConfig::new(config.vocab_size, hidden).init(device),
            position_embeddings: config
                .position_biased_input
                .then(|| EmbeddingConfig::new(config.max_position_embeddings, hidden).init(device)),
            token_type_embeddings: (config.type_vocab_size > 0)
                .then(|| EmbeddingConfig::new(config.type_vocab_size, hidden).init(device)),
            layer_norm: layer_norm(),
            dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
        };
        let layer = (0..config.num_hidden_layers)
            .map(|_| DebertaLayer {
                attention: DebertaAttention {
                    self_attn: DisentangledSelfAttention {
                        query_proj: linear(hidden, hidden),
                        key_proj: linear(hidden, hidden),
                        value_proj: linear(hidden, hidden),
                        pos_key_proj: (separate_positions && config.uses("c2p")).then(|| linear(hidden, hidden)),
                        pos_query_proj: (separate_positions && config.uses("p2c")).then(|| linear(hidden, hidden)),
                        dropout: DropoutConfig::new(config.attention_probs_dropout_prob).init(),
                    },
                    output: dense_residual(hidden),
                },
                intermediate: DebertaIntermediate { dense: linear(hidden, config.intermediate_size) },
                output: dense_residual(config.intermediate_size),
            })
            .collect();
        let encoder = DebertaEncoder {
            layer,
            rel_embeddings: config
                .relative_attention
                .then(|| EmbeddingConfig::new(2 * config.span(), hidden).init(device)),
            layer_norm: (config.relative_attention && config.norm_rel_ebd.contains("layer_norm")).then(layer_norm),
        };
        DebertaStudent {
            deberta: DebertaModel { embeddings, encoder },
            pooler: ContextPooler { dense: linear(hidden, hidden) },
            classifier: linear(hidden, super::OUTPUTS),
            dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
            config: config.clone(),
        }
    }

    /// The shape this student was built with.
    pub fn config(&self) -> &DebertaConfig {
        &self.config
    }

    /// `ids` `[batch, sequence]`, `mask` `[batch, sequence]` (1 for tokens, 0 for padding) ->
    /// logits `[batch, 14, 4]`.
    pub fn forward(&self, ids: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 3> {
        let [batch, sequence] = ids.dims();
        let device = ids.device();
        let embeddings = &self.deberta.embeddings;
        let mut x = embeddings.word_embeddings.forward(ids);
        let hidden = x.dims()[2];
        if let Some(positions) = &embeddings.position_embeddings {
            let index = Tensor::<B, 1, Int>::arange(0..sequence as i64, &device).reshape([1, sequence]);
            x = x + positions.forward(index).expand([batch as i64, -1, -1]);
        }
        if let Some(token_types) = &embeddings.token_type_embeddings {
            x = x + token_types.weight.val().slice(0..1).reshape([1, 1, hidden]);
        }
        let x = embeddings.layer_norm.forward(x) * mask.clone().reshape([batch, sequence, 1]);
        let mut x = embeddings.dropout.forward(x);

        let encoder = &self.deberta.encoder;
        let relative = match (&encoder.rel_embeddings, &encoder.layer_norm) {
            (Some(table), Some(norm)) => Some(norm.forward(table.weight.val())),
            (Some(table), None) => Some(table.weight.val()),
            _ => None,
        };
        let indices = relative.as_ref().map(|_| {
            let (c2p, p2c) = relative_indices(&self.config, sequence);
            let tensor = |values: Vec<i64>| {
                Tensor::<B, 2, Int>::from_data(TensorData::new(values, [sequence, sequence]), &device)
            };
            (tensor(c2p), tensor(p2c))
        });
        let bias = mask_bias(mask.clone());
        for layer in &encoder.layer {
            let context =
                self.attention(&layer.attention.self_attn, x.clone(), bias.clone(), relative.clone(), indices.clone());
            let attended = layer.attention.output.forward(context, x);
            let intermediate = gelu(layer.intermediate.dense.forward(attended.clone()));
            x = layer.output.forward(intermediate, attended);
        }
        let cls = pool(x, mask, Pooling::Cls, None);
        let pooled = gelu(self.pooler.dense.forward(self.dropout.forward(cls)));
        head_logits(self.classifier.forward(self.dropout.forward(pooled)))
    }

    fn attention(
        &self,
        attention: &DisentangledSelfAttention<B>,
        x: Tensor<B, 3>,
        bias: Tensor<B, 4>,
        relative: Option<Tensor<B, 2>>,
        indices: Option<(Tensor<B, 2, Int>, Tensor<B, 2, Int>)>,
    ) -> Tensor<B, 3> {
        let [batch, sequence, hidden] = x.dims();
        let heads = self.config.num_attention_heads;
        let head_size = hidden / heads;
        let split = |t: Tensor<B, 3>| {
            let [b, s, _] = t.dims();
            t.reshape([b, s, heads, head_size]).swap_dims(1, 2)
        };
        let query = split(attention.query_proj.forward(x.clone()));
        let key = split(attention.key_proj.forward(x.clone()));
        let value = split(attention.value_proj.forward(x));
        let (c2p, p2c) = (self.config.uses("c2p"), self.config.uses("p2c"));
        let factor = 1 + usize::from(c2p && relative.is_some()) + usize::from(p2c && relative.is_some());
        let scale = ((head_size * factor) as f64).sqrt();
        let mut scores = query.clone().matmul(key.clone().swap_dims(2, 3)).div_scalar(scale);
        if let (Some(relative), Some((c2p_index, p2c_index))) = (relative, indices) {
            let positions = relative.dims()[0];
            let table: Tensor<B, 3> = relative.unsqueeze();
            let project =
                |linear: &Linear<B>| split(linear.forward(table.clone())).expand([batch, heads, positions, head_size]);
            let expand = |index: Tensor<B, 2, Int>| {
                index.reshape([1, 1, sequence, sequence]).expand([batch, heads, sequence, sequence])
            };
            if c2p {
                let position_key = project(attention.pos_key_proj.as_ref().unwrap_or(&attention.key_proj));
                let content_to_position = query.matmul(position_key.swap_dims(2, 3));
                scores = scores + content_to_position.gather(3, expand(c2p_index)).div_scalar(scale);
            }
            if p2c {
                let position_query = project(attention.pos_query_proj.as_ref().unwrap_or(&attention.query_proj));
                let position_to_content = key.matmul(position_query.swap_dims(2, 3));
                scores = scores + position_to_content.gather(3, expand(p2c_index)).swap_dims(2, 3).div_scalar(scale);
            }
        }
        let probabilities = attention.dropout.forward(softmax(scores + bias, 3));
        probabilities.matmul(value).swap_dims(1, 2).reshape([batch, sequence, hidden])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_buckets_match_hugging_face() {
        // Values from transformers' make_log_bucket_position(relative, 256, 512).
        assert_eq!(log_bucket(0, 256, 512), 0);
        assert_eq!(log_bucket(127, 256, 512), 127);
        assert_eq!(log_bucket(-128, 256, 512), -128);
        assert_eq!(log_bucket(129, 256, 512), 129);
        assert_eq!(log_bucket(300, 256, 512), 207);
        assert_eq!(log_bucket(-511, 256, 512), -255);
    }

    #[test]
    fn relative_indices_stay_in_the_table() {
        let config = DebertaConfig::v3(100, 8, 1, 2, 16);
        let (c2p, p2c) = relative_indices(&config, 300);
        let limit = 2 * config.span() as i64;
        assert!(c2p.iter().chain(&p2c).all(|&index| (0..limit).contains(&index)));
        assert_eq!(c2p[0], config.span() as i64, "distance 0 is the middle of the table");
    }
}
