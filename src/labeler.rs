//! [`Labeler`]: report text -> token windows -> model -> labels.

use crate::config::{LabelConfig, LabelerOptions, OutputLayout};
use crate::error::Result;
use crate::model::Model;
use crate::postprocess::{self, Labels};
use crate::tokenize::ReportTokenizer;

/// A loaded student, ready to label reports.
///
/// Immutable once built (the model is optimized once, at construction) and `Send + Sync`: share
/// one behind an `Arc` between threads.
pub struct Labeler {
    tokenizer: ReportTokenizer,
    model: Model,
    layout: OutputLayout,
    config: LabelConfig,
    options: LabelerOptions,
}

impl Labeler {
    /// Builds a labeler from the three files of a model folder, as bytes: the ONNX model, its
    /// `tokenizer.json` and its `labels.json` contract.
    ///
    /// # Errors
    /// [`crate::Error::Config`] or [`crate::Error::UnsupportedVersion`] for a bad `labels.json`,
    /// [`crate::Error::Tokenizer`] for a bad `tokenizer.json`, [`crate::Error::ModelLoad`] for bytes
    /// that are not a runnable ONNX model, and [`crate::Error::Contract`] when the model's inputs
    /// or output differ from `labels.json`.
    pub fn from_bytes(onnx: &[u8], tokenizer_json: &[u8], labels_json: &[u8], options: LabelerOptions) -> Result<Self> {
        let config = LabelConfig::from_json(labels_json)?;
        let layout = config.output_layout()?;
        let tokenizer = ReportTokenizer::from_bytes(tokenizer_json, config.max_length)?;
        let model = Model::from_bytes(onnx, &config)?;
        Ok(Labeler { tokenizer, model, layout, config, options })
    }

    /// Builds a labeler from a model folder holding `model.onnx`, `tokenizer.json` and
    /// `labels.json` (what `cxr-trainer export` writes).
    ///
    /// # Errors
    /// [`crate::Error::Io`] naming the file that cannot be read, then as [`Labeler::from_bytes`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(dir: impl AsRef<std::path::Path>, options: LabelerOptions) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.as_ref().join(name);
            std::fs::read(&path).map_err(|source| crate::Error::Io { path, source })
        };
        Labeler::from_bytes(&read("model.onnx")?, &read("tokenizer.json")?, &read("labels.json")?, options)
    }

    /// The shipped student embedded in this build (feature `embedded-model`).
    ///
    /// # Errors
    /// As [`Labeler::from_bytes`]; the embedded files are checked by the test suite, so an error
    /// here means a broken build.
    #[cfg(feature = "embedded-model")]
    pub fn embedded(options: LabelerOptions) -> Result<Self> {
        Labeler::from_bytes(
            include_bytes!("../model/model.onnx"),
            include_bytes!("../model/tokenizer.json"),
            include_bytes!("../model/labels.json"),
            options,
        )
    }

    /// The model's contract, as read from its `labels.json`.
    pub fn config(&self) -> &LabelConfig {
        &self.config
    }

    /// The options this labeler was built with.
    pub fn options(&self) -> &LabelerOptions {
        &self.options
    }

    /// The token ids the model sees for `text`: one window per list, special tokens included,
    /// each at most `max_length` long. A text that fits is one window.
    ///
    /// # Errors
    /// [`crate::Error::Tokenizer`] if the tokenizer fails.
    pub fn token_windows(&self, text: &str) -> Result<Vec<Vec<u32>>> {
        self.tokenizer.windows(text)
    }

    /// The model's raw logits for token windows (as [`Labeler::token_windows`] returns them), run
    /// as one padded batch: `windows.len() * 14 * 4` floats, row-major
    /// `[window][observation][status]` in canonical order ([`crate::Observation::ALL`],
    /// [`crate::Status::ALL`]) whatever the model's own axis order. For parity checks of exported
    /// models; labeling goes through [`Labeler::label_batch`].
    ///
    /// # Errors
    /// [`crate::Error::Inference`] if the model fails.
    pub fn logits(&self, windows: &[&[u32]]) -> Result<Vec<f32>> {
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        let raw = self.model.logits(windows, self.tokenizer.pad_id())?;
        let per_window = crate::Observation::COUNT * crate::Status::COUNT;
        let mut canonical = Vec::with_capacity(raw.len());
        for window in raw.chunks_exact(per_window) {
            for &row in &self.layout.observation_axis {
                for &column in &self.layout.status_axis {
                    canonical.push(window[row * crate::Status::COUNT + column]);
                }
            }
        }
        Ok(canonical)
    }

    /// Labels one report. See [`Labeler::label_batch`].
    ///
    /// # Errors
    /// [`crate::Error::Tokenizer`] or [`crate::Error::Inference`] if a dependency fails.
    pub fn label(&self, text: &str) -> Result<Labels> {
        let mut labels = self.label_batch(&[text])?;
        Ok(labels.pop().expect("one report gives one result"))
    }

    /// Labels several reports, returning one [`Labels`] per report, in input order.
    ///
    /// A blank report ([`is_blank`]) is labeled without the model: every observation not
    /// mentioned. A report longer than the model's `max_length` is split at sentence
    /// boundaries into windows that fit (never truncated); the windows are labeled and merged
    /// (positive > uncertain > negative > not mentioned; No Finding stays positive only if no
    /// window reports a pathology).
    ///
    /// All windows of all reports are sorted by length and run in batches of at most
    /// [`LabelerOptions::batch_size`] windows, each padded to its longest window and run in one
    /// inference call.
    ///
    /// # Errors
    /// [`crate::Error::Tokenizer`] or [`crate::Error::Inference`] if a dependency fails; no
    /// partial result is returned.
    pub fn label_batch<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Labels>> {
        // (report index, window ids) for every window of every non-blank report.
        let mut windows: Vec<(usize, Vec<u32>)> = Vec::new();
        for (report, text) in texts.iter().enumerate() {
            let text = text.as_ref();
            if !is_blank(text) {
                windows.extend(self.tokenizer.windows(text)?.into_iter().map(|ids| (report, ids)));
            }
        }
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&index| windows[index].1.len());

        let mut per_report: Vec<Vec<Labels>> = vec![Vec::new(); texts.len()];
        let mut decoded: Vec<Option<Labels>> = vec![None; windows.len()];
        for chunk in order.chunks(self.options.batch_size) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&index| windows[index].1.as_slice()).collect();
            let logits = self.model.logits(&batch, self.tokenizer.pad_id())?;
            for (&index, window_logits) in chunk.iter().zip(logits.chunks_exact(logits.len() / chunk.len())) {
                decoded[index] = Some(postprocess::decode(window_logits, &self.layout));
            }
        }
        // Windows were created in report order, so pushing in window order keeps each report's
        // windows in text order.
        for ((report, _), labels) in windows.iter().zip(decoded) {
            per_report[*report].push(labels.expect("every window was in exactly one batch"));
        }
        Ok(per_report
            .into_iter()
            .map(|report_windows| {
                if report_windows.is_empty() { Labels::nothing_mentioned() } else { postprocess::merge(report_windows) }
            })
            .collect())
    }
}

/// Whether a report says nothing: it has no character other than whitespace and invisible format
/// characters (byte order mark U+FEFF, zero-width space U+200B, joiners U+200C and U+200D, word
/// joiner U+2060). [`Labeler::label_batch`] labels such a report without the model.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || matches!(c, '\u{feff}' | '\u{200b}'..='\u{200d}' | '\u{2060}'))
}

#[cfg(test)]
mod tests {
    use super::is_blank;

    #[test]
    fn blank_means_nothing_visible() {
        for text in ["", " \t\r\n", "\u{feff}", "\u{feff} \u{200b}\u{200d}\u{2060}\u{a0}"] {
            assert!(is_blank(text), "{text:?}");
        }
        for text in [".", "XXXX", "\u{feff}Edema", "\0"] {
            assert!(!is_blank(text), "{text:?}");
        }
    }
}
