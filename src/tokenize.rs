//! Report text to model windows: token ids that fit the model's `max_length`, special tokens
//! included. Wraps `tokenizers` (the same engine natively and in WebAssembly).

use tokenizers::Tokenizer;

use crate::error::{BoxError, Error, Result};
use crate::window::{self, TokenPlace};

/// A tokenizer bound to a model's context length: what the runtime feeds the model, and what
/// the trainer trains it on, so the two cannot drift apart.
pub struct ReportTokenizer {
    tokenizer: Tokenizer,
    /// Special tokens the tokenizer puts before and after a single sequence (`[CLS]`, `[SEP]`).
    prefix: Vec<u32>,
    suffix: Vec<u32>,
    /// Room for text tokens in one window: `max_length` minus the special tokens.
    budget: usize,
    /// The padding id the file declares, or 0.
    pad_id: u32,
}

impl ReportTokenizer {
    /// Loads a `tokenizer.json` and prepares windows of at most `max_length` tokens.
    ///
    /// The file's own truncation and padding settings are ignored: the runtime splits long
    /// reports itself and pads batches itself.
    ///
    /// # Errors
    /// [`Error::Tokenizer`] for an invalid file; [`Error::Config`] when `max_length` leaves no
    /// room for text after the special tokens.
    pub fn from_bytes(json: &[u8], max_length: usize) -> Result<Self> {
        let loading = |source: BoxError| Error::Tokenizer { context: "loading tokenizer.json", source };
        // `tokenizers` panics, instead of failing, on some malformed files (found by
        // fuzz/load_files): invalid JSON in the `decoder` field when it reads the bytes itself,
        // a template naming a special token it does not define. So the JSON is parsed here and
        // checked first (a panic cannot be caught in WebAssembly), and any other panic is caught
        // natively.
        let value: serde_json::Value = serde_json::from_slice(json).map_err(|error| loading(error.into()))?;
        check_templates(&value["post_processor"]).map_err(|reason| loading(reason.into()))?;
        crate::guard::catch_panic(
            || {
                let tokenizer = serde_json::from_value(value).map_err(|error| loading(error.into()))?;
                Self::prepare(tokenizer, max_length)
            },
            |message| loading(format!("the tokenizer panicked: {message}").into()),
        )
    }

    /// Turns off the file's truncation and padding and finds the special tokens around a text.
    fn prepare(mut tokenizer: Tokenizer, max_length: usize) -> Result<Self> {
        let pad_id = tokenizer.get_padding().map_or(0, |padding| padding.pad_id);
        tokenizer
            .with_truncation(None)
            .map_err(|source| Error::Tokenizer { context: "disabling truncation", source })?;
        tokenizer.with_padding(None);
        let probe = tokenizer
            .encode("x", true)
            .map_err(|source| Error::Tokenizer { context: "encoding a probe text", source })?;
        let mask = probe.get_special_tokens_mask();
        let leading = mask.iter().take_while(|&&special| special == 1).count();
        let trailing = mask[leading..].iter().rev().take_while(|&&special| special == 1).count();
        let ids = probe.get_ids();
        let prefix = ids[..leading].to_vec();
        let suffix = ids[ids.len() - trailing..].to_vec();
        let budget = max_length.checked_sub(prefix.len() + suffix.len()).filter(|&room| room > 0).ok_or_else(|| {
            Error::config(format!(
                "max_length {max_length} leaves no room for text after {} special tokens",
                prefix.len() + suffix.len()
            ))
        })?;
        Ok(ReportTokenizer { tokenizer, prefix, suffix, budget, pad_id })
    }

    /// Token ids of `text`, split into windows that each fit the model (special tokens added to
    /// each). A report that fits is one window; a longer one is split at sentence boundaries (see
    /// [`crate::window::pack`]). Every text token lands in exactly one window. An empty text gives
    /// one window holding only the special tokens.
    ///
    /// # Errors
    /// [`Error::Tokenizer`] if the tokenizer fails on the text.
    pub fn windows(&self, text: &str) -> Result<Vec<Vec<u32>>> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|source| Error::Tokenizer { context: "encoding a report", source })?;
        let ids = encoding.get_ids();
        if ids.len() <= self.budget {
            return Ok(vec![self.wrap(ids)]);
        }
        let places: Vec<TokenPlace> = encoding
            .get_offsets()
            .iter()
            .zip(encoding.get_word_ids())
            .map(|(&(start, _), &word)| TokenPlace { start, word })
            .collect();
        let ranges = window::pack(&places, &window::sentence_spans(text), self.budget);
        Ok(ranges.into_iter().map(|range| self.wrap(&ids[range])).collect())
    }

    fn wrap(&self, ids: &[u32]) -> Vec<u32> {
        let mut window = Vec::with_capacity(self.prefix.len() + ids.len() + self.suffix.len());
        window.extend_from_slice(&self.prefix);
        window.extend_from_slice(ids);
        window.extend_from_slice(&self.suffix);
        window
    }

    /// The id to pad batches with: the one `tokenizer.json` declares, or 0. Padded positions are
    /// masked out, so the value only has to be a valid index.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }
}

/// Checks that every `TemplateProcessing` post-processor (also inside a `Sequence`) defines the
/// special tokens its templates use; `tokenizers` indexes them without checking.
fn check_templates(processor: &serde_json::Value) -> std::result::Result<(), String> {
    match processor["type"].as_str() {
        Some("TemplateProcessing") => {
            for template in ["single", "pair"] {
                let pieces = processor[template].as_array().map(Vec::as_slice).unwrap_or_default();
                for id in pieces.iter().filter_map(|piece| piece["SpecialToken"]["id"].as_str()) {
                    if processor["special_tokens"].get(id).is_none() {
                        return Err(format!(
                            "the post_processor's {template} template uses {id:?}, which it does not define"
                        ));
                    }
                }
            }
            Ok(())
        }
        Some("Sequence") => processor["processors"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .try_for_each(check_templates),
        _ => Ok(()),
    }
}
