//! The library's error type.

/// A boxed error from a dependency (tokenizers and tract both report errors this way).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while loading a model or labeling a report.
///
/// Each variant has a stable machine-readable [`Error::code`] (the `code` property of the
/// JavaScript `Error` in the npm package); messages are for people and may change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `labels.json` is not valid JSON or breaks the runtime contract.
    #[error("label config is invalid: {reason}")]
    Config {
        /// What is wrong, naming the offending field.
        reason: String,
    },
    /// `labels.json` declares a `format_version` this runtime cannot read.
    #[error("label config format version {found} is not supported (this runtime reads {supported})")]
    UnsupportedVersion {
        /// The version found in the file.
        found: String,
        /// The major version this runtime reads.
        supported: &'static str,
    },
    /// The tokenizer file could not be loaded, or failed on an input.
    #[error("tokenizer failed: {context}")]
    Tokenizer {
        /// What the tokenizer was doing.
        context: &'static str,
        /// The tokenizer's own error.
        #[source]
        source: BoxError,
    },
    /// The ONNX file could not be read or prepared for inference.
    #[error("model could not be loaded")]
    ModelLoad(#[source] BoxError),
    /// The ONNX model does not have the inputs or output its `labels.json` promises.
    #[error("model does not match its label config: {reason}")]
    Contract {
        /// Which input or output differs, and how.
        reason: String,
    },
    /// Inference failed on a prepared model.
    #[error("model inference failed")]
    Inference(#[source] BoxError),
    /// A model file could not be read from disk.
    #[error("cannot read {path}")]
    Io {
        /// The file that failed.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A stable, kebab-case identifier of the error kind, for programs to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config { .. } => "config-invalid",
            Error::UnsupportedVersion { .. } => "config-version",
            Error::Tokenizer { .. } => "tokenizer",
            Error::ModelLoad(_) => "model-load",
            Error::Contract { .. } => "model-contract",
            Error::Inference(_) => "inference",
            Error::Io { .. } => "io",
        }
    }

    /// The message followed by every source in the chain, joined with ": ".
    pub fn full_message(&self) -> String {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        message
    }

    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Error::Config { reason: reason.into() }
    }

    pub(crate) fn contract(reason: impl Into<String>) -> Self {
        Error::Contract { reason: reason.into() }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_message_joins_the_source_chain() {
        let error =
            Error::Tokenizer { context: "loading tokenizer.json", source: "expected value at line 1 column 1".into() };
        assert_eq!(error.code(), "tokenizer");
        assert_eq!(error.full_message(), "tokenizer failed: loading tokenizer.json: expected value at line 1 column 1");
    }
}
