//! Loading a model from a corrupted `model.onnx`: an error or a working labeler, never a panic.
//!
//! The input overwrites part of the fixture's ONNX file (or truncates it), so most inputs stay
//! close enough to the format to get deep into the parser and the optimizer. (Slow: a file that
//! still parses is optimized, some 16 ms, and most bytes are weights; `load_small_model` does the
//! same to a nine-node model a million times, `load_files` covers the other two files.)
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: cxr_labeler_fuzz::init_model_target(cxr_labeler_fuzz::MODEL), |data: &[u8]| {
    cxr_labeler_fuzz::load_corrupted_model(cxr_labeler_fuzz::MODEL, data);
});
