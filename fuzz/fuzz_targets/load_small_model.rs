//! Loading a model from a corrupted `model.onnx`, fast: `load_model` on the smallest model that
//! honours the fixture's contract (`fuzz/seeds/small_model.onnx`, written by
//! `fuzz/make_small_model.py`: nine nodes, 1.3 KB, mostly graph structure).
#![no_main]

use libfuzzer_sys::fuzz_target;

const SMALL_MODEL: &[u8] = include_bytes!("../seeds/small_model.onnx");

fuzz_target!(init: cxr_labeler_fuzz::init_model_target(SMALL_MODEL), |data: &[u8]| {
    cxr_labeler_fuzz::load_corrupted_model(SMALL_MODEL, data);
});
