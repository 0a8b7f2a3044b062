//! Integration tests of the trainer, one binary: export round trips and short training runs.
#![allow(missing_docs)]

mod distill;
mod export;
mod llama_server;
mod parity;
mod pseudo_label;

use std::path::{Path, PathBuf};

/// A file of the trainer's test fixtures (reports and labels written for these tests).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The runtime's fixture tokenizer (a small WordPiece vocabulary, `[CLS] ... [SEP]`).
pub fn tokenizer_json() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny/tokenizer.json");
    fs_err::read_to_string(path).expect("the runtime's fixture tokenizer")
}

/// Every file below `dir`, at any depth.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs_err::read_dir(dir).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_dir() { files.extend(files_below(&path)) } else { files.push(path) }
    }
    files
}
