//! A BERT-family encoder with a 14 x 4 classification head, in burn. Field names mirror
//! Hugging Face's `BertModel`, so a checkpoint's `model.safetensors` loads by name
//! (all-MiniLM-L6-v2 is one).
#![allow(missing_docs)] // weight-holding fields mirror Hugging Face names; the structs say what they hold

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, softmax};
use cxr_labeler::Observation;
use serde::{Deserialize, Serialize};

use super::{Pooling, head_logits, mask_bias, pool};

/// The subset of Hugging Face's `BertConfig` (`config.json`) the model needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
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
    /// Longest sequence the position table covers.
    pub max_position_embeddings: usize,
    /// Token type vocabulary (0 for none).
    #[serde(default)]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// Dropout after embeddings and in every layer.
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities.
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}

fn default_dropout() -> f64 {
    0.1
}

/// Embeddings: word + position + token type 0, then LayerNorm.
#[derive(Module, Debug)]
pub struct BertEmbeddings<B: Backend> {
    pub word_embeddings: Embedding<B>,
    pub position_embeddings: Embedding<B>,
    pub token_type_embeddings: Option<Embedding<B>>,
    pub layer_norm: LayerNorm<B>,
    dropout: Dropout,
}

/// Multi-head self-attention projections.
#[derive(Module, Debug)]
pub struct BertSelfAttention<B: Backend> {
    pub query: Linear<B>,
    pub key: Linear<B>,
    pub value: Linear<B>,
    dropout: Dropout,
}

/// A dense layer, dropout, residual and LayerNorm.
#[derive(Module, Debug)]
pub struct DenseResidual<B: Backend> {
    pub dense: Linear<B>,
    pub layer_norm: LayerNorm<B>,
    dropout: Dropout,
}

impl<B: Backend> DenseResidual<B> {
    /// A `input -> output` dense layer with LayerNorm `epsilon` and `dropout`.
    pub fn new(input: usize, output: usize, epsilon: f64, dropout: f64, device: &B::Device) -> Self {
        DenseResidual {
            dense: LinearConfig::new(input, output).init(device),
            layer_norm: LayerNormConfig::new(output).with_epsilon(epsilon).init(device),
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    pub fn forward(&self, x: Tensor<B, 3>, residual: Tensor<B, 3>) -> Tensor<B, 3> {
        self.layer_norm.forward(self.dropout.forward(self.dense.forward(x)) + residual)
    }
}

#[derive(Module, Debug)]
pub struct BertAttention<B: Backend> {
    pub self_attn: BertSelfAttention<B>,
    pub output: DenseResidual<B>,
}

#[derive(Module, Debug)]
pub struct BertIntermediate<B: Backend> {
    pub dense: Linear<B>,
}

/// One post-LayerNorm transformer layer.
#[derive(Module, Debug)]
pub struct BertLayer<B: Backend> {
    pub attention: BertAttention<B>,
    pub intermediate: BertIntermediate<B>,
    pub output: DenseResidual<B>,
}

#[derive(Module, Debug)]
pub struct BertEncoder<B: Backend> {
    pub layer: Vec<BertLayer<B>>,
}

/// The encoder without a head (Hugging Face's `BertModel`, minus its unused pooler).
#[derive(Module, Debug)]
pub struct BertModel<B: Backend> {
    pub embeddings: BertEmbeddings<B>,
    pub encoder: BertEncoder<B>,
}

/// A BERT encoder and a linear head giving logits of shape `[batch, 14, 4]`.
#[derive(Module, Debug)]
pub struct BertStudent<B: Backend> {
    pub bert: BertModel<B>,
    pub classifier: Linear<B>,
    /// `[14, hidden]`: the observations' attention queries (only with label attention).
    pub label_queries: Option<Param<Tensor<B, 2>>>,
    dropout: Dropout,
    #[module(skip)]
    heads: usize,
    #[module(skip)]
    pooling: Pooling,
}

impl<B: Backend> BertStudent<B> {
    /// A randomly initialised student (Hugging Face's initialisation is not reproduced; burn's
    /// defaults train well from scratch).
    pub fn new(config: &BertConfig, pooling: Pooling, device: &B::Device) -> Self {
        let hidden = config.hidden_size;
        let layer_norm = || LayerNormConfig::new(hidden).with_epsilon(config.layer_norm_eps).init(device);
        let dropout = || DropoutConfig::new(config.hidden_dropout_prob).init();
        let embeddings = BertEmbeddings {
            word_embeddings: EmbeddingConfig::new(config.vocab_size, hidden).init(device),
            position_embeddings: EmbeddingConfig::new(config.max_position_embeddings, hidden).init(device),
            token_type_embeddings: (config.type_vocab_size > 0)
                .then(|| EmbeddingConfig::new(config.type_vocab_size, hidden).init(device)),
            layer_norm: layer_norm(),
            dropout: dropout(),
        };
        let layer = (0..config.num_hidden_layers)
            .map(|_| BertLayer {
                attention: BertAttention {
                    self_attn: BertSelfAttention {
                        query: LinearConfig::new(hidden, hidden).init(device),
                        key: LinearConfig::new(hidden, hidden).init(device),
                        value: LinearConfig::new(hidden, hidden).init(device),
                        dropout: DropoutConfig::new(config.attention_probs_dropout_prob).init(),
                    },
                    output: DenseResidual::new(
                        hidden,
                        hidden,
                        config.layer_norm_eps,
                        config.hidden_dropout_prob,
                        device,
                    ),
                },
                intermediate: BertIntermediate {
                    dense: LinearConfig::new(hidden, config.intermediate_size).init(device),
                },
                output: DenseResidual::new(
                    config.intermediate_size,
                    hidden,
                    config.layer_norm_eps,
                    config.hidden_dropout_prob,
                    device,
                ),
            })
            .collect();
        BertStudent {
            bert: BertModel { embeddings, encoder: BertEncoder { layer } },
            classifier: LinearConfig::new(hidden, super::OUTPUTS).init(device),
            label_queries: (pooling == Pooling::LabelAttention)
                .then(|| Param::from_tensor(Tensor::zeros([Observation::COUNT, hidden], device))),
            dropout: dropout(),
            heads: config.num_attention_heads,
            pooling,
        }
    }

    /// `ids` `[batch, sequence]`, `mask` `[batch, sequence]` (1 for tokens, 0 for padding) ->
    /// logits `[batch, 14, 4]`.
    pub fn forward(&self, ids: Tensor<B, 2, Int>, mask: Tensor<B, 2>) -> Tensor<B, 3> {
        let [batch, sequence] = ids.dims();
        let device = ids.device();
        let embeddings = &self.bert.embeddings;
        let positions = Tensor::<B, 1, Int>::arange(0..sequence as i64, &device).reshape([1, sequence]);
        let mut x = embeddings.word_embeddings.forward(ids)
            + embeddings.position_embeddings.forward(positions).expand([batch as i64, -1, -1]);
        if let Some(token_types) = &embeddings.token_type_embeddings {
            let hidden = x.dims()[2];
            x = x + token_types.weight.val().slice(0..1).reshape([1, 1, hidden]);
        }
        let mut x = embeddings.dropout.forward(embeddings.layer_norm.forward(x));
        let bias = mask_bias(mask.clone());
        for layer in &self.bert.encoder.layer {
            x = self.layer_forward(layer, x, bias.clone());
        }
        let queries = self.label_queries.as_ref().map(Param::val);
        let pooled = pool(x, mask, self.pooling, queries);
        head_logits(self.classifier.forward(self.dropout.forward(pooled)))
    }

    fn layer_forward(&self, layer: &BertLayer<B>, x: Tensor<B, 3>, bias: Tensor<B, 4>) -> Tensor<B, 3> {
        let [batch, sequence, hidden] = x.dims();
        let head_size = hidden / self.heads;
        let attention = &layer.attention.self_attn;
        let split = |t: Tensor<B, 3>| t.reshape([batch, sequence, self.heads, head_size]).swap_dims(1, 2);
        let query = split(attention.query.forward(x.clone()));
        let key = split(attention.key.forward(x.clone()));
        let value = split(attention.value.forward(x.clone()));
        let scores = query.matmul(key.swap_dims(2, 3)).div_scalar((head_size as f64).sqrt()) + bias;
        let probabilities = attention.dropout.forward(softmax(scores, 3));
        let context = probabilities.matmul(value).swap_dims(1, 2).reshape([batch, sequence, hidden]);
        let attended = layer.attention.output.forward(context, x);
        let intermediate = gelu(layer.intermediate.dense.forward(attended.clone()));
        layer.output.forward(intermediate, attended)
    }

    /// How the encoder's tokens are pooled into one vector.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// Attention heads per layer.
    pub fn heads(&self) -> usize {
        self.heads
    }
}
