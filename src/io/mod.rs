//! Reading report files and writing labels (feature `io`): what the CLI and the trainer share.
//!
//! Readers stream (one record in memory at a time), keep input order, and stop at the first bad
//! record with an error naming its line.

mod read;
mod write;

pub use read::{InputFormat, Report, ReportReader};
pub use write::{LabelWriter, OutputFormat};

/// A problem with an input file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The CSV input is empty: not even a header row.
    #[error("the CSV is empty: no header row (expected a {column:?} column)")]
    NoHeader {
        /// The report column asked for.
        column: String,
    },
    /// The CSV header lacks a column that was asked for.
    #[error("no column {column:?} in the CSV header (columns: {})", available.join(", "))]
    MissingColumn {
        /// The column asked for.
        column: String,
        /// The header's columns.
        available: Vec<String>,
    },
    /// A record that cannot be read as a report.
    #[error("line {line}: {reason}")]
    Malformed {
        /// The 1-based line where the record starts.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record that is not valid UTF-8.
    #[error("line {line}: invalid UTF-8")]
    InvalidUtf8 {
        /// The 1-based line where the record starts.
        line: u64,
    },
    /// Reading failed.
    #[error("read failed")]
    Io(#[source] std::io::Error),
}
