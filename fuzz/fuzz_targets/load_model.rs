//! Loading a model from corrupted files: an error or a working labeler, never a panic.
//!
//! The input picks one of the fixture's three files and overwrites part of it (or truncates it),
//! so most inputs stay close enough to the real format to get deep into the parsers.
#![no_main]

use cxr_labeler::{Labeler, LabelerOptions};
use libfuzzer_sys::fuzz_target;

const FILES: [&[u8]; 3] = [
    include_bytes!("../../tests/fixtures/tiny/model.onnx"),
    include_bytes!("../../tests/fixtures/tiny/tokenizer.json"),
    include_bytes!("../../tests/fixtures/tiny/labels.json"),
];

fuzz_target!(|data: &[u8]| {
    let [selector, a, b, c, patch @ ..] = data else { return };
    let which = usize::from(selector % 3);
    let mut files = FILES.map(<[u8]>::to_vec);
    let file = &mut files[which];
    let offset = usize::from(u16::from_le_bytes([*a, *b])) * (file.len() / 65536 + 1) % file.len();
    if selector & 0x80 != 0 {
        file.truncate(offset); // a download cut short
    } else {
        let end = (offset + patch.len()).min(file.len());
        file[offset..end].copy_from_slice(&patch[..end - offset]);
        if c & 1 == 1 {
            file.extend_from_slice(patch); // and trailing garbage
        }
    }
    if let Ok(labeler) = Labeler::from_bytes(&files[0], &files[1], &files[2], LabelerOptions::default()) {
        // A model that loads may still fail at run time, but with an error.
        let _ = labeler.label("Stable cardiomegaly. No pleural effusion.");
    }
});
