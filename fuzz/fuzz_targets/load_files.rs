//! Reading a corrupted `labels.json` or `tokenizer.json`: an error or a working config and
//! tokenizer, never a panic. (The ONNX file: `load_model`.)
#![no_main]

use cxr_labeler::{LabelConfig, ReportTokenizer};
use libfuzzer_sys::fuzz_target;

use cxr_labeler_fuzz::{CONFIG, TOKENIZER};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let (config, tokenizer) = if which % 2 == 0 {
        let Some(config) = cxr_labeler_fuzz::corrupt(CONFIG, rest) else { return };
        (config, TOKENIZER.to_vec())
    } else {
        let Some(tokenizer) = cxr_labeler_fuzz::corrupt(TOKENIZER, rest) else { return };
        (CONFIG.to_vec(), tokenizer)
    };
    let Ok(config) = LabelConfig::from_json(&config) else { return };
    let max_length = config.max_length.min(512);
    if let Ok(tokenizer) = ReportTokenizer::from_bytes(&tokenizer, max_length) {
        let _ = tokenizer.windows("Stable cardiomegaly. No pleural effusion. ".repeat(20).as_str());
    }
});
