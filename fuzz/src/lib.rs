//! Helpers shared by the fuzz targets.

use cxr_labeler::{Labeler, LabelerOptions};

/// The test fixture's tiny model (`tests/fixtures/tiny`).
pub const MODEL: &[u8] = include_bytes!("../../tests/fixtures/tiny/model.onnx");
/// The fixture's tokenizer.
pub const TOKENIZER: &[u8] = include_bytes!("../../tests/fixtures/tiny/tokenizer.json");
/// The fixture's runtime config.
pub const CONFIG: &[u8] = include_bytes!("../../tests/fixtures/tiny/labels.json");

/// The test fixture's tiny model (`tests/fixtures/tiny`), fast enough for a million runs.
pub fn fixture_labeler(options: LabelerOptions) -> Labeler {
    Labeler::from_bytes(MODEL, TOKENIZER, CONFIG, options).expect("the fixture model loads")
}

/// `original` corrupted as `data` says: `data[0]` picks truncation (bit 7) or overwriting, and
/// appending garbage (bit 0); `data[1..3]` the offset; the rest is the bytes written. `None` when
/// `data` is too short to say.
pub fn corrupt(original: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let [mode, a, b, patch @ ..] = data else { return None };
    let mut file = original.to_vec();
    let offset = usize::from(u16::from_le_bytes([*a, *b])) * (file.len() / 65536 + 1) % file.len();
    if mode & 0x80 != 0 {
        file.truncate(offset); // a download cut short
    } else {
        let end = (offset + patch.len()).min(file.len());
        file[offset..end].copy_from_slice(&patch[..end - offset]);
        if mode & 1 == 1 {
            file.extend_from_slice(patch); // and trailing garbage
        }
    }
    Some(file)
}

/// Loads `model` corrupted by `data` (see [`corrupt`]) with the fixture's tokenizer and config:
/// an error or a working labeler, never a panic. A labeler that loads labels one report (it may
/// still fail at run time, but with an error).
pub fn load_corrupted_model(model: &[u8], data: &[u8]) {
    let Some(model) = corrupt(model, data) else { return };
    if let Ok(labeler) = Labeler::from_bytes(&model, TOKENIZER, CONFIG, LabelerOptions::default()) {
        let _ = labeler.label("Stable cardiomegaly. No pleural effusion.");
    }
}

/// Puts back the default panic hook, which reports without aborting: the labeler turns tract's
/// panics on malformed graphs into errors (natively), so only an uncaught panic must count.
/// Checks first that `model` loads uncorrupted, so the fuzzer starts from a working file.
pub fn init_model_target(model: &[u8]) {
    drop(std::panic::take_hook());
    Labeler::from_bytes(model, TOKENIZER, CONFIG, LabelerOptions::default()).expect("the seed model loads");
}
