//! Helpers shared by the fuzz targets.

use cxr_labeler::{Labeler, LabelerOptions};

/// The test fixture's tiny model (`tests/fixtures/tiny`), fast enough for a million runs.
pub fn fixture_labeler(options: LabelerOptions) -> Labeler {
    Labeler::from_bytes(
        include_bytes!("../../tests/fixtures/tiny/model.onnx"),
        include_bytes!("../../tests/fixtures/tiny/tokenizer.json"),
        include_bytes!("../../tests/fixtures/tiny/labels.json"),
        options,
    )
    .expect("the fixture model loads")
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
