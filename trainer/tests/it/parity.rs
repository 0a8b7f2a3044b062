//! The burn students against Hugging Face `transformers`: tiny random checkpoints and the logits
//! `transformers` computed for them (tests/fixtures/make_reference_checkpoints.py) load through
//! the checkpoint loader and give the same logits in burn and, once exported, in tract.

use burn::backend::Flex;
use burn::prelude::*;
use burn::tensor::TensorData;
use cxr_labeler::{Labeler, LabelerOptions};
use cxr_trainer::export::graph::Precision;
use cxr_trainer::export::{label_config, onnx_bytes};
use cxr_trainer::student::{Pooling, load_checkpoint_weights, spec_from_checkpoint};

use crate::{fixture, tokenizer_json};

#[derive(serde::Deserialize)]
struct Expected {
    input_ids: Vec<Vec<i64>>,
    attention_mask: Vec<Vec<i64>>,
    logits: Vec<Vec<f32>>,
}

const TOLERANCE: f32 = 1e-4;

fn check(name: &str, pooling: Pooling) {
    let dir = fixture(&format!("reference/{name}"));
    let expected: Expected =
        serde_json::from_str(&fs_err::read_to_string(dir.join("expected.json")).expect("expected.json")).expect("json");
    let device = Default::default();
    let spec = spec_from_checkpoint(&dir, pooling).expect("config.json");
    let mut model = spec.init::<Flex>(&device);
    load_checkpoint_weights(&mut model, &dir).expect("the checkpoint loads");

    let (batch, sequence) = (expected.input_ids.len(), expected.input_ids[0].len());
    let ids =
        Tensor::<Flex, 2, Int>::from_data(TensorData::new(expected.input_ids.concat(), [batch, sequence]), &device);
    let mask: Vec<f32> = expected.attention_mask.concat().into_iter().map(|m| m as f32).collect();
    let mask = Tensor::<Flex, 2>::from_data(TensorData::new(mask, [batch, sequence]), &device);
    let logits: Vec<f32> = model.forward(ids, mask).into_data().to_vec().expect("f32 logits");
    let reference: Vec<f32> = expected.logits.concat();
    let difference = logits.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    eprintln!("{name}: max |burn - transformers| = {difference:e}");
    assert!(difference < TOLERANCE, "{name}: burn differs from transformers by {difference}");

    // The same checkpoint exported to ONNX and run by the runtime (tract), unpadded rows.
    let onnx = onnx_bytes(&model, &spec, sequence, Precision::Float, name);
    let config = label_config(name, sequence, "parity".to_owned());
    let labeler =
        Labeler::from_bytes(&onnx, tokenizer_json().as_bytes(), config.to_json().as_bytes(), LabelerOptions::default())
            .expect("the runtime loads the export");
    for (row, ids) in expected.input_ids.iter().enumerate() {
        let length = expected.attention_mask[row].iter().filter(|&&m| m == 1).count();
        let window: Vec<u32> = ids[..length].iter().map(|&id| id as u32).collect();
        let runtime = labeler.logits(&[&window]).expect("tract logits");
        let difference = runtime.iter().zip(&expected.logits[row]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(difference < TOLERANCE, "{name} row {row}: tract differs from transformers by {difference}");
    }
}

#[test]
fn deberta_v3_matches_transformers() {
    check("deberta-v3", Pooling::Cls);
}

#[test]
fn deberta_v2_matches_transformers() {
    check("deberta-v2", Pooling::Cls);
}

#[test]
fn bert_matches_transformers() {
    check("bert", Pooling::Mean);
}
