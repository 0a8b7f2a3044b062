//! `label` on arbitrary bytes decoded lossily (what a careless caller does with a file of unknown
//! encoding): never a panic.
#![no_main]

use cxr_labeler::{Labeler, LabelerOptions};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static LABELER: LazyLock<Labeler> = LazyLock::new(|| {
    Labeler::from_bytes(
        include_bytes!("../../tests/fixtures/tiny/model.onnx"),
        include_bytes!("../../tests/fixtures/tiny/tokenizer.json"),
        include_bytes!("../../tests/fixtures/tiny/labels.json"),
        LabelerOptions::default(),
    )
    .expect("the fixture model loads")
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    LABELER.label(&text).expect("labeling never fails on valid UTF-8");
});
