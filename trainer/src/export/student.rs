//! The ONNX graphs of the students, written from their burn weights. Each graph computes
//! exactly what the burn `forward` computes (same operations, same constants) and honours the
//! runtime contract: int64 `input_ids` and `attention_mask` `[batch, sequence]` in, float32
//! `logits` `[batch, 14, 4]` out, observations and statuses in canonical order.

use burn::prelude::*;
use cxr_labeler::{Observation, Status};

use super::graph::{Attribute, GraphBuilder};
use crate::student::bert::{BertStudent, DenseResidual};
use crate::student::deberta::{DebertaStudent, DisentangledSelfAttention, relative_indices};
use crate::student::{MASK_PENALTY, Pooling, Student, own_blocks};

/// The graph's output name.
pub const OUTPUT: &str = "logits";
/// The graph's inputs, in order.
pub const INPUTS: [&str; 2] = ["input_ids", "attention_mask"];

fn values<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f32> {
    tensor.into_data().convert::<f32>().to_vec::<f32>().expect("float tensors convert to f32")
}

fn linear<B: Backend>(graph: &mut GraphBuilder, x: &str, name: &str, layer: &burn::nn::Linear<B>) -> String {
    let [input, output] = layer.weight.dims();
    let bias = layer.bias.as_ref().map(|bias| values(bias.val()));
    graph.linear(x, name, input, output, &values(layer.weight.val()), bias.as_deref())
}

fn layer_norm<B: Backend>(
    graph: &mut GraphBuilder,
    x: &str,
    name: &str,
    norm: &burn::nn::LayerNorm<B>,
    epsilon: f64,
) -> String {
    let gamma = values(norm.gamma.val());
    let beta = norm.beta.as_ref().map_or_else(|| vec![0.0; gamma.len()], |beta| values(beta.val()));
    graph.layer_norm(x, name, &gamma, &beta, epsilon)
}

fn dense_residual<B: Backend>(
    graph: &mut GraphBuilder,
    x: &str,
    residual: &str,
    name: &str,
    layer: &DenseResidual<B>,
    epsilon: f64,
) -> String {
    let dense = linear(graph, x, &format!("{name}.dense"), &layer.dense);
    let sum = graph.op("Add", &[&dense, residual], &[]);
    layer_norm(graph, &sum, &format!("{name}.layer_norm"), &layer.layer_norm, epsilon)
}

/// Values shared by every layer: the sequence length, the attention bias and the float mask.
struct Common {
    /// `[sequence]` as a 1-element int64 tensor.
    sequence: String,
    /// `[batch, 1, 1, sequence]`: 0 for tokens, -10000 for padding.
    bias: String,
    /// The same bias shaped `[batch, sequence]`.
    flat_bias: String,
    /// `[batch, sequence]` float mask.
    mask: String,
    zero: String,
}

fn common(graph: &mut GraphBuilder) -> Common {
    let sequence = graph.op("Shape", &[INPUTS[0]], &[("start", Attribute::Int(1)), ("end", Attribute::Int(2))]);
    let mask = graph.op("Cast", &[INPUTS[1]], &[("to", Attribute::Int(1))]);
    let one = graph.float("one", &[], &[1.0]);
    let penalty = graph.float("mask_penalty", &[], &[-(MASK_PENALTY as f32)]);
    let padding = graph.op("Sub", &[&one, &mask], &[]);
    let flat_bias = graph.op("Mul", &[&padding, &penalty], &[]);
    let axes = graph.int64("bias_axes", &[2], &[1, 2]);
    let bias = graph.op("Unsqueeze", &[&flat_bias, &axes], &[]);
    let zero = graph.int64("zero", &[1], &[0]);
    Common { sequence, bias, flat_bias, mask, zero }
}

/// `[batch, sequence, hidden]` -> `[batch, heads, sequence, head]` (or `[batch, heads, head,
/// sequence]` with `transposed`).
fn split_heads(graph: &mut GraphBuilder, x: &str, heads: usize, head_size: usize, transposed: bool) -> String {
    let shape = graph.int64("heads_shape", &[4], &[0, 0, heads as i64, head_size as i64]);
    let reshaped = graph.op("Reshape", &[x, &shape], &[]);
    let perm = if transposed { vec![0, 2, 3, 1] } else { vec![0, 2, 1, 3] };
    graph.op("Transpose", &[&reshaped], &[("perm", Attribute::Ints(perm))])
}

fn merge_heads(graph: &mut GraphBuilder, context: &str, hidden: usize) -> String {
    let transposed = graph.op("Transpose", &[context], &[("perm", Attribute::Ints(vec![0, 2, 1, 3]))]);
    let shape = graph.int64("hidden_shape", &[3], &[0, 0, hidden as i64]);
    graph.op("Reshape", &[&transposed, &shape], &[])
}

/// `[batch, sequence, hidden]` -> `[batch, groups, hidden]`, as `student::pool`.
fn pool<B: Backend>(
    graph: &mut GraphBuilder,
    x: &str,
    common: &Common,
    pooling: Pooling,
    queries: Option<Tensor<B, 2>>,
) -> String {
    match pooling {
        Pooling::Cls => {
            let first = graph.int64("cls_index", &[1], &[0]);
            graph.op("Gather", &[x, &first], &[("axis", Attribute::Int(1))])
        }
        Pooling::Mean => {
            let axis = graph.int64("mask_axis", &[1], &[2]);
            let mask = graph.op("Unsqueeze", &[&common.mask, &axis], &[]);
            let masked = graph.op("Mul", &[x, &mask], &[]);
            let sequence_axis = graph.int64("sequence_axis", &[1], &[1]);
            let keep = [("keepdims", Attribute::Int(1))];
            let sum = graph.op("ReduceSum", &[&masked, &sequence_axis], &keep);
            let count = graph.op("ReduceSum", &[&mask, &sequence_axis], &keep);
            graph.op("Div", &[&sum, &count], &[])
        }
        Pooling::LabelAttention => {
            let queries = queries.expect("label attention needs its queries");
            let [labels, hidden] = queries.dims();
            let queries = graph.float("label_queries", &[labels, hidden], &values(queries));
            let tokens = graph.op("Transpose", &[x], &[("perm", Attribute::Ints(vec![0, 2, 1]))]);
            let scores = graph.op("MatMul", &[&queries, &tokens], &[]);
            let axis = graph.int64("label_bias_axis", &[1], &[1]);
            let bias = graph.op("Unsqueeze", &[&common.flat_bias, &axis], &[]);
            let scores = graph.op("Add", &[&scores, &bias], &[]);
            let weights = graph.op("Softmax", &[&scores], &[("axis", Attribute::Int(-1))]);
            graph.op("MatMul", &[&weights, x], &[])
        }
    }
}

/// Head outputs `[batch, groups, 56]` -> [`OUTPUT`] `[batch, 14, 4]`, as `student::head_logits`.
fn head(graph: &mut GraphBuilder, pooled: &str, classifier: &burn::nn::Linear<impl Backend>, per_observation: bool) {
    let flat = linear(graph, pooled, "classifier", classifier);
    let (observations, statuses) = (Observation::COUNT, Status::COUNT);
    if !per_observation {
        let shape = graph.int64("logits_shape", &[3], &[-1, observations as i64, statuses as i64]);
        graph.op_named("Reshape", &[&flat, &shape], &[], OUTPUT);
        return;
    }
    let shape = graph.int64("blocks_shape", &[4], &[-1, observations as i64, observations as i64, statuses as i64]);
    let blocks = graph.op("Reshape", &[&flat, &shape], &[]);
    let own = graph.float("own_block_mask", &[observations, observations, 1], &own_blocks());
    let kept = graph.op("Mul", &[&blocks, &own], &[]);
    let axis = graph.int64("block_axis", &[1], &[2]);
    graph.op_named("ReduceSum", &[&kept, &axis], &[("keepdims", Attribute::Int(0))], OUTPUT);
}

/// Word embeddings plus, when the model has them, absolute positions and token type 0.
fn embed<B: Backend>(
    graph: &mut GraphBuilder,
    common: &Common,
    words: &burn::nn::Embedding<B>,
    positions: Option<&burn::nn::Embedding<B>>,
    token_types: Option<&burn::nn::Embedding<B>>,
) -> String {
    let [vocabulary, hidden] = words.weight.dims();
    let table = graph.weight("embeddings.word", vocabulary, hidden, &values(words.weight.val()), 0);
    let mut x = graph.op("Gather", &[&table, INPUTS[0]], &[]);
    if let Some(positions) = positions {
        let [rows, _] = positions.weight.dims();
        let table = graph.weight("embeddings.position", rows, hidden, &values(positions.weight.val()), 0);
        let used = graph.op("Slice", &[&table, &common.zero, &common.sequence, &common.zero], &[]);
        x = graph.op("Add", &[&x, &used], &[]);
    }
    if let Some(token_types) = token_types {
        let first = values(token_types.weight.val().slice(0..1));
        let row = graph.float("embeddings.token_type_0", &[hidden], &first);
        x = graph.op("Add", &[&x, &row], &[]);
    }
    x
}

/// Writes the student's graph into `graph` (its output is [`OUTPUT`]). `epsilon` is the
/// LayerNorm epsilon of BERT-family students; `max_length` bounds the sequences the graph
/// accepts (DeBERTa's relative-position index tables are cut from `max_length`-square tables).
pub fn write_graph<B: Backend>(graph: &mut GraphBuilder, student: &Student<B>, epsilon: f64, max_length: usize) {
    match student {
        Student::Bert(model) => write_bert(graph, model, epsilon),
        Student::Deberta(model) => write_deberta(graph, model, max_length),
    }
}

fn write_bert<B: Backend>(graph: &mut GraphBuilder, model: &BertStudent<B>, epsilon: f64) {
    let common = common(graph);
    let embeddings = &model.bert.embeddings;
    let x = embed(
        graph,
        &common,
        &embeddings.word_embeddings,
        Some(&embeddings.position_embeddings),
        embeddings.token_type_embeddings.as_ref(),
    );
    let mut x = layer_norm(graph, &x, "embeddings.layer_norm", &embeddings.layer_norm, epsilon);
    let hidden = embeddings.word_embeddings.weight.dims()[1];
    let heads = model.heads();
    let head_size = hidden / heads;
    let scale = graph.float("attention_scale", &[], &[1.0 / (head_size as f32).sqrt()]);
    for (index, layer) in model.bert.encoder.layer.iter().enumerate() {
        let name = format!("layer.{index}");
        let attention = &layer.attention.self_attn;
        let query = linear(graph, &x, &format!("{name}.query"), &attention.query);
        let key = linear(graph, &x, &format!("{name}.key"), &attention.key);
        let value = linear(graph, &x, &format!("{name}.value"), &attention.value);
        let query = split_heads(graph, &query, heads, head_size, false);
        let key = split_heads(graph, &key, heads, head_size, true);
        let value = split_heads(graph, &value, heads, head_size, false);
        let scores = graph.op("MatMul", &[&query, &key], &[]);
        let scores = graph.op("Mul", &[&scores, &scale], &[]);
        let scores = graph.op("Add", &[&scores, &common.bias], &[]);
        let probabilities = graph.op("Softmax", &[&scores], &[("axis", Attribute::Int(-1))]);
        let context = graph.op("MatMul", &[&probabilities, &value], &[]);
        let context = merge_heads(graph, &context, hidden);
        let attended =
            dense_residual(graph, &context, &x, &format!("{name}.attention.output"), &layer.attention.output, epsilon);
        let intermediate = linear(graph, &attended, &format!("{name}.intermediate"), &layer.intermediate.dense);
        let intermediate = graph.gelu(&intermediate);
        x = dense_residual(graph, &intermediate, &attended, &format!("{name}.output"), &layer.output, epsilon);
    }
    let queries = model.label_queries.as_ref().map(|queries| queries.val());
    let pooled = pool(graph, &x, &common, model.pooling(), queries);
    head(graph, &pooled, &model.classifier, model.pooling() == Pooling::LabelAttention);
}

fn write_deberta<B: Backend>(graph: &mut GraphBuilder, model: &DebertaStudent<B>, max_length: usize) {
    let config = model.config().clone();
    let epsilon = config.layer_norm_eps;
    let common = common(graph);
    let embeddings = &model.deberta.embeddings;
    let x = embed(
        graph,
        &common,
        &embeddings.word_embeddings,
        embeddings.position_embeddings.as_ref(),
        embeddings.token_type_embeddings.as_ref(),
    );
    let x = layer_norm(graph, &x, "embeddings.layer_norm", &embeddings.layer_norm, epsilon);
    let axis = graph.int64("mask_axis", &[1], &[2]);
    let mask = graph.op("Unsqueeze", &[&common.mask, &axis], &[]);
    let mut x = graph.op("Mul", &[&x, &mask], &[]);

    let hidden = config.hidden_size;
    let heads = config.num_attention_heads;
    let head_size = hidden / heads;
    let encoder = &model.deberta.encoder;
    let relative = match (&encoder.rel_embeddings, &encoder.layer_norm) {
        (Some(table), Some(norm)) => Some(norm.forward(table.weight.val())),
        (Some(table), None) => Some(table.weight.val()),
        _ => None,
    };
    let uses = |term: &str| config.relative_attention && config.pos_att_type.iter().any(|t| t == term);
    let terms = usize::from(relative.is_some() && uses("c2p")) + usize::from(relative.is_some() && uses("p2c"));
    let scale = graph.float("attention_scale", &[], &[1.0 / ((head_size * (1 + terms)) as f32).sqrt()]);
    // Relative embeddings, their position index tables cut to the sequence length.
    let relative = relative.map(|table| {
        let [positions, _] = table.dims();
        let table = graph.weight("encoder.rel_embeddings", positions, hidden, &values(table), 0);
        let table = graph.op("Unsqueeze", &[&table, &common.zero], &[]);
        let length = max_length;
        let (c2p, p2c) = relative_indices(&config, length);
        let ends = graph.op("Concat", &[&common.sequence, &common.sequence], &[("axis", Attribute::Int(0))]);
        let starts = graph.int64("index_starts", &[2], &[0, 0]);
        let axes = graph.int64("index_axes", &[2], &[0, 1]);
        let mut cut = |name: &str, values: &[i64]| {
            let full = graph.int16_as_int64(name, &[length, length], values);
            graph.op("Slice", &[&full, &starts, &ends, &axes], &[])
        };
        (table, cut("c2p_index", &c2p), cut("p2c_index", &p2c))
    });
    for (index, layer) in encoder.layer.iter().enumerate() {
        let name = format!("layer.{index}");
        let attention = &layer.attention.self_attn;
        let context = deberta_attention(
            graph,
            &x,
            &name,
            attention,
            &common,
            relative.as_ref(),
            &scale,
            heads,
            head_size,
            &config.pos_att_type,
        );
        let context = merge_heads(graph, &context, hidden);
        let attended =
            dense_residual(graph, &context, &x, &format!("{name}.attention.output"), &layer.attention.output, epsilon);
        let intermediate = linear(graph, &attended, &format!("{name}.intermediate"), &layer.intermediate.dense);
        let intermediate = graph.gelu(&intermediate);
        x = dense_residual(graph, &intermediate, &attended, &format!("{name}.output"), &layer.output, epsilon);
    }
    let cls = pool::<B>(graph, &x, &common, Pooling::Cls, None);
    let pooled = linear(graph, &cls, "pooler.dense", &model.pooler.dense);
    let pooled = graph.gelu(&pooled);
    head(graph, &pooled, &model.classifier, false);
}

#[allow(clippy::too_many_arguments)]
fn deberta_attention<B: Backend>(
    graph: &mut GraphBuilder,
    x: &str,
    name: &str,
    attention: &DisentangledSelfAttention<B>,
    common: &Common,
    relative: Option<&(String, String, String)>,
    scale: &str,
    heads: usize,
    head_size: usize,
    terms: &[String],
) -> String {
    let query_flat = linear(graph, x, &format!("{name}.query_proj"), &attention.query_proj);
    let key_flat = linear(graph, x, &format!("{name}.key_proj"), &attention.key_proj);
    let value = linear(graph, x, &format!("{name}.value_proj"), &attention.value_proj);
    let query = split_heads(graph, &query_flat, heads, head_size, false);
    let key = split_heads(graph, &key_flat, heads, head_size, false);
    let key_transposed = split_heads(graph, &key_flat, heads, head_size, true);
    let value = split_heads(graph, &value, heads, head_size, false);
    let scores = graph.op("MatMul", &[&query, &key_transposed], &[]);
    let mut scores = graph.op("Mul", &[&scores, scale], &[]);
    if let Some((table, c2p_index, p2c_index)) = relative {
        let shape = graph.op("Shape", &[&scores], &[]);
        if terms.iter().any(|term| term == "c2p") {
            let projection = attention.pos_key_proj.as_ref().unwrap_or(&attention.key_proj);
            let position_key = linear(graph, table, &format!("{name}.pos_key"), projection);
            let position_key = split_heads(graph, &position_key, heads, head_size, true);
            let content_to_position = graph.op("MatMul", &[&query, &position_key], &[]);
            let index = graph.op("Expand", &[c2p_index, &shape], &[]);
            let gathered = graph.op("GatherElements", &[&content_to_position, &index], &[("axis", Attribute::Int(3))]);
            let gathered = graph.op("Mul", &[&gathered, scale], &[]);
            scores = graph.op("Add", &[&scores, &gathered], &[]);
        }
        if terms.iter().any(|term| term == "p2c") {
            let projection = attention.pos_query_proj.as_ref().unwrap_or(&attention.query_proj);
            let position_query = linear(graph, table, &format!("{name}.pos_query"), projection);
            let position_query = split_heads(graph, &position_query, heads, head_size, true);
            let position_to_content = graph.op("MatMul", &[&key, &position_query], &[]);
            let index = graph.op("Expand", &[p2c_index, &shape], &[]);
            let gathered = graph.op("GatherElements", &[&position_to_content, &index], &[("axis", Attribute::Int(3))]);
            let gathered = graph.op("Transpose", &[&gathered], &[("perm", Attribute::Ints(vec![0, 1, 3, 2]))]);
            let gathered = graph.op("Mul", &[&gathered, scale], &[]);
            scores = graph.op("Add", &[&scores, &gathered], &[]);
        }
    }
    let scores = graph.op("Add", &[&scores, &common.bias], &[]);
    let probabilities = graph.op("Softmax", &[&scores], &[("axis", Attribute::Int(-1))]);
    graph.op("MatMul", &[&probabilities, &value], &[])
}
