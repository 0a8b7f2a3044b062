//! Export round trips: a random student of each architecture, written to ONNX, gives the
//! trainer's logits when the runtime (tract) runs it.

use burn::backend::Flex;
use burn::module::Param;
use burn::tensor::{Distribution, Tensor};
use cxr_labeler::{Labeler, LabelerOptions, ReportTokenizer};
use cxr_trainer::distill::window_logits;
use cxr_trainer::export::graph::Precision;
use cxr_trainer::export::{label_config, onnx_bytes};
use cxr_trainer::student::bert::BertConfig;
use cxr_trainer::student::deberta::DebertaConfig;
use cxr_trainer::student::{Pooling, Student, StudentSpec};

use crate::tokenizer_json;

const MAX_LENGTH: usize = 64;

fn windows(tokenizer: &ReportTokenizer) -> Vec<Vec<u32>> {
    [
        "Stable cardiomegaly.",
        "Small left pleural effusion with adjacent atelectasis. No pneumothorax.",
        "Possible early pneumonia in the left base. Central venous catheter tip in the superior vena cava.",
        "Normal.",
    ]
    .iter()
    .map(|text| tokenizer.windows(text).expect("tokenizes").remove(0))
    .collect()
}

/// Largest |difference| between the trainer's and the runtime's logits on padded batches.
fn max_difference(spec: &StudentSpec, precision: Precision) -> f32 {
    let device = Default::default();
    <Flex as burn::tensor::backend::Backend>::seed(&device, 5);
    let mut model = spec.init::<Flex>(&device);
    if let Student::Bert(bert) = &mut model
        && let Some(queries) = &mut bert.label_queries
    {
        // Random queries stand in for trained ones (at the zero start label attention is the mean).
        *queries = Param::from_tensor(Tensor::random(queries.dims(), Distribution::Normal(0.0, 1.0), &device));
    }
    let tokenizer = tokenizer_json();
    let onnx = onnx_bytes(&model, spec, MAX_LENGTH, precision, "test");
    let config = label_config("test", MAX_LENGTH, "round trip".to_owned());
    let labeler =
        Labeler::from_bytes(&onnx, tokenizer.as_bytes(), config.to_json().as_bytes(), LabelerOptions::default())
            .expect("the runtime loads the export");
    let windows = windows(&ReportTokenizer::from_bytes(tokenizer.as_bytes(), MAX_LENGTH).expect("tokenizer"));
    let refs: Vec<&[u32]> = windows.iter().map(Vec::as_slice).collect();
    let trainer = window_logits(&model, &refs, &device).expect("burn logits");
    let runtime = labeler.logits(&refs).expect("tract logits");
    assert_eq!(trainer.len(), runtime.len());
    assert!(trainer.iter().any(|value| value.abs() > 1e-3), "the random head gives non-trivial logits");
    trainer.iter().zip(&runtime).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
}

fn bert(pooling: Pooling) -> StudentSpec {
    StudentSpec::Bert {
        config: BertConfig {
            vocab_size: 400,
            hidden_size: 32,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 64,
            max_position_embeddings: MAX_LENGTH,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
        },
        pooling,
    }
}

fn deberta_v3() -> StudentSpec {
    StudentSpec::Deberta { config: DebertaConfig::v3(400, 32, 2, 4, 64) }
}

/// DeBERTa-v2 style: absolute positions as well, separate position projections, no buckets.
fn deberta_v2() -> StudentSpec {
    StudentSpec::Deberta {
        config: DebertaConfig {
            position_buckets: -1,
            max_relative_positions: 24,
            share_att_key: false,
            position_biased_input: true,
            norm_rel_ebd: String::new(),
            max_position_embeddings: MAX_LENGTH,
            ..DebertaConfig::v3(400, 32, 2, 4, 64)
        },
    }
}

#[test]
fn float_exports_match_the_trainer() {
    for (name, spec) in [
        ("bert cls", bert(Pooling::Cls)),
        ("bert mean", bert(Pooling::Mean)),
        ("bert label attention", bert(Pooling::LabelAttention)),
        ("deberta v3", deberta_v3()),
        ("deberta v2", deberta_v2()),
    ] {
        let difference = max_difference(&spec, Precision::Float);
        assert!(difference < 1e-4, "{name}: float export differs by {difference}");
    }
}

#[test]
fn int8_exports_stay_close() {
    for (name, spec) in [
        ("bert", bert(Pooling::Mean)),
        ("bert label attention", bert(Pooling::LabelAttention)),
        ("deberta", deberta_v3()),
    ] {
        let difference = max_difference(&spec, Precision::Int8);
        assert!(difference < 0.05, "{name}: int8 export differs by {difference}");
    }
}

#[test]
fn int8_is_smaller() {
    let device = Default::default();
    let spec = bert(Pooling::Cls);
    let model = spec.init::<Flex>(&device);
    let float = onnx_bytes(&model, &spec, MAX_LENGTH, Precision::Float, "size");
    let int8 = onnx_bytes(&model, &spec, MAX_LENGTH, Precision::Int8, "size");
    assert!(int8.len() * 2 < float.len(), "int8 {} bytes vs float {}", int8.len(), float.len());
}
