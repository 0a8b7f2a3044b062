//! `label` on arbitrary bytes decoded lossily (what a careless caller does with a file of unknown
//! encoding): never a panic.
#![no_main]

use cxr_labeler::{Labeler, LabelerOptions};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static LABELER: LazyLock<Labeler> = LazyLock::new(|| cxr_labeler_fuzz::fixture_labeler(LabelerOptions::default()));

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    LABELER.label(&text).expect("labeling never fails on valid UTF-8");
});
