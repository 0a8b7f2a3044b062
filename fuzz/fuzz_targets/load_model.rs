//! Loading a model from a corrupted `model.onnx`: an error or a working labeler, never a panic.
//!
//! The input overwrites part of the fixture's ONNX file (or truncates it), so most inputs stay
//! close enough to the format to get deep into the parser and the optimizer. (Slow: a file that
//! still parses is optimized, some 16 ms; `load_files` covers the other two files quickly.)
#![no_main]

use cxr_labeler::{Labeler, LabelerOptions};
use libfuzzer_sys::fuzz_target;

const MODEL: &[u8] = include_bytes!("../../tests/fixtures/tiny/model.onnx");
const TOKENIZER: &[u8] = include_bytes!("../../tests/fixtures/tiny/tokenizer.json");
const CONFIG: &[u8] = include_bytes!("../../tests/fixtures/tiny/labels.json");

fuzz_target!(init: {
    // The labeler turns tract's panics on malformed graphs into errors (natively): put back the
    // default panic hook, which reports without aborting, so that only an uncaught panic counts.
    drop(std::panic::take_hook());
}, |data: &[u8]| {
    let Some(model) = cxr_labeler_fuzz::corrupt(MODEL, data) else { return };
    if let Ok(labeler) = Labeler::from_bytes(&model, TOKENIZER, CONFIG, LabelerOptions::default()) {
        // A model that loads may still fail at run time, but with an error.
        let _ = labeler.label("Stable cardiomegaly. No pleural effusion.");
    }
});
