//! Streaming readers for report files: CSV with a report column, and JSONL.

use std::io::{BufRead, BufReader, Read};

use serde::Deserialize;

use super::InputError;

/// One report read from an input file.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The 1-based line where the record starts in the input, counting LF line ends (records
    /// separated by a lone CR, as in old Mac files, share a line number).
    pub line: u64,
    /// The record's id, carried through to the output: the JSONL `id` field, or the CSV id
    /// column when one was named. `None` when the input has none.
    pub id: Option<serde_json::Value>,
    /// The report text (possibly empty).
    pub text: String,
    /// Bytes of input consumed up to the end of this record (for progress).
    pub end_byte: u64,
}

/// How to read an input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputFormat {
    /// A CSV file with a header row.
    Csv {
        /// The column holding report text (the CheXpert labeler reads `Reports`).
        column: String,
        /// A column to carry through as the record id.
        id_column: Option<String>,
    },
    /// One JSON object per line: `text` (or `findings` and/or `impression`), optional `id`.
    /// Lines holding only whitespace are skipped.
    Jsonl,
}

/// An iterator over the reports of an input, in input order.
///
/// Yields an error for the first malformed record and nothing after it: a caller that stops at
/// the first error never loses or reorders a record silently.
pub struct ReportReader {
    records: Box<dyn Iterator<Item = Result<Report, InputError>> + Send>,
    failed: bool,
}

impl ReportReader {
    /// Starts reading `input` in `format`. For CSV this reads the header row and finds the
    /// columns.
    ///
    /// # Errors
    /// [`InputError::MissingColumn`] if a named CSV column is absent; [`InputError::Malformed`]
    /// or [`InputError::Io`] if the header cannot be read.
    pub fn new(input: impl Read + Send + 'static, format: &InputFormat) -> Result<Self, InputError> {
        let records: Box<dyn Iterator<Item = _> + Send> = match format {
            InputFormat::Csv { column, id_column } => Box::new(CsvReports::new(input, column, id_column.as_deref())?),
            InputFormat::Jsonl => Box::new(JsonlReports { input: BufReader::new(input), line: 0, bytes: 0 }),
        };
        Ok(ReportReader { records, failed: false })
    }
}

impl Iterator for ReportReader {
    type Item = Result<Report, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.records.next();
        self.failed = matches!(next, Some(Err(_)));
        next
    }
}

struct CsvReports<R: Read> {
    reader: csv::Reader<R>,
    text_index: usize,
    id_index: Option<usize>,
    record: csv::ByteRecord,
}

impl<R: Read> CsvReports<R> {
    fn new(input: R, column: &str, id_column: Option<&str>) -> Result<Self, InputError> {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(input);
        let headers = reader.byte_headers().map_err(csv_error)?.clone();
        if headers.is_empty() {
            return Err(InputError::NoHeader { column: column.to_owned() });
        }
        let names: Vec<String> = headers.iter().map(|name| String::from_utf8_lossy(name).into_owned()).collect();
        let find = |wanted: &str| {
            names
                .iter()
                .position(|name| name == wanted)
                .ok_or_else(|| InputError::MissingColumn { column: wanted.to_owned(), available: names.clone() })
        };
        let text_index = find(column)?;
        let id_index = id_column.map(find).transpose()?;
        Ok(CsvReports { reader, text_index, id_index, record: csv::ByteRecord::new() })
    }

    fn field(&self, index: usize, line: u64) -> Result<String, InputError> {
        let bytes = self.record.get(index).unwrap_or_default();
        String::from_utf8(bytes.to_vec()).map_err(|_| InputError::InvalidUtf8 { line })
    }
}

impl<R: Read> Iterator for CsvReports<R> {
    type Item = Result<Report, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Err(error) => Some(Err(csv_error(error))),
            Ok(true) => {
                let line = self.record.position().map_or(0, csv::Position::line);
                let report = self.field(self.text_index, line).and_then(|text| {
                    let id = self.id_index.map(|index| self.field(index, line)).transpose()?;
                    Ok(Report {
                        line,
                        id: id.map(serde_json::Value::String),
                        text,
                        end_byte: self.reader.position().byte(),
                    })
                });
                Some(report)
            }
        }
    }
}

fn csv_error(error: csv::Error) -> InputError {
    let line = error.position().map_or(0, csv::Position::line);
    match error.into_kind() {
        csv::ErrorKind::Io(error) => InputError::Io(error),
        csv::ErrorKind::Utf8 { .. } => InputError::InvalidUtf8 { line },
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            InputError::Malformed { line, reason: format!("{len} fields where the header has {expected_len}") }
        }
        other => InputError::Malformed { line, reason: format!("{other:?}") },
    }
}

struct JsonlReports<R: Read> {
    input: BufReader<R>,
    line: u64,
    bytes: u64,
}

/// The fields of a JSONL record the reader uses; others are ignored.
#[derive(Deserialize)]
struct JsonlRecord {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "present")]
    text: Option<Option<String>>,
    #[serde(default)]
    findings: Option<String>,
    #[serde(default)]
    impression: Option<String>,
}

/// Distinguishes `"text": null` (an empty report) from a missing `text` field.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

impl JsonlRecord {
    /// The report text: `text`, or else the sections as the teacher saw them
    /// (`FINDINGS: ...` newline `IMPRESSION: ...`, for the sections present).
    fn into_report(self, line: u64, end_byte: u64) -> Result<Report, InputError> {
        let text = match (self.text, self.findings, self.impression) {
            (Some(text), _, _) => text.unwrap_or_default(),
            (None, None, None) => {
                return Err(InputError::Malformed {
                    line,
                    reason: "no \"text\" field (nor \"findings\" or \"impression\")".to_owned(),
                });
            }
            (None, findings, impression) => [("FINDINGS: ", findings), ("IMPRESSION: ", impression)]
                .into_iter()
                .filter_map(|(heading, section)| {
                    section.filter(|s| !s.trim().is_empty()).map(|s| format!("{heading}{s}"))
                })
                .collect::<Vec<_>>()
                .join("\n"),
        };
        Ok(Report { line, id: self.id, text, end_byte })
    }
}

impl<R: Read> Iterator for JsonlReports<R> {
    type Item = Result<Report, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            let read = match self.input.read_until(b'\n', &mut buffer) {
                Ok(0) => return None,
                Ok(read) => read,
                Err(error) => return Some(Err(InputError::Io(error))),
            };
            self.line += 1;
            self.bytes += read as u64;
            let line = self.line;
            let Ok(text) = std::str::from_utf8(&buffer) else {
                return Some(Err(InputError::InvalidUtf8 { line }));
            };
            let text = text.trim_start_matches('\u{feff}');
            if text.trim().is_empty() {
                continue;
            }
            let record = serde_json::from_str::<JsonlRecord>(text)
                .map_err(|error| InputError::Malformed { line, reason: error.to_string() });
            return Some(record.and_then(|record| record.into_report(line, self.bytes)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &'static [u8], format: &InputFormat) -> Vec<Result<Report, InputError>> {
        match ReportReader::new(input, format) {
            Ok(reader) => reader.collect(),
            Err(error) => vec![Err(error)],
        }
    }

    fn csv(column: &str) -> InputFormat {
        InputFormat::Csv { column: column.to_owned(), id_column: None }
    }

    #[test]
    fn csv_reads_the_report_column_with_quotes_and_newlines() {
        let input = b"Study,Reports\n1,No effusion.\n2,\"Line one.\nLine \"\"two\"\".\"\n3,\n";
        let reports: Vec<Report> = read(input, &csv("Reports")).into_iter().map(|r| r.expect("valid")).collect();
        let texts: Vec<&str> = reports.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["No effusion.", "Line one.\nLine \"two\".", ""]);
        assert_eq!(reports.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3, 5]);
        assert_eq!(reports.last().map(|r| r.end_byte), Some(input.len() as u64));
        assert!(reports.iter().all(|r| r.id.is_none()));
    }

    #[test]
    fn csv_carries_an_id_column_and_strips_a_bom() {
        let input = "\u{feff}id,Reports\r\nA-1,Cardiomegaly.\r\n".as_bytes().to_vec().leak();
        let reports = read(input, &InputFormat::Csv { column: "Reports".into(), id_column: Some("id".into()) });
        let report = reports[0].as_ref().expect("valid");
        assert_eq!(report.id, Some(serde_json::json!("A-1")));
        assert_eq!(report.text, "Cardiomegaly.");
    }

    #[test]
    fn csv_errors_name_the_problem_and_the_line() {
        let empty = read(b"", &csv("Reports"));
        assert!(matches!(&empty[0], Err(InputError::NoHeader { column }) if column == "Reports"));

        let missing = read(b"Report\nx\n", &csv("Reports"));
        assert!(
            matches!(&missing[0], Err(InputError::MissingColumn { column, available }) if column == "Reports" && available == &["Report"])
        );

        let short = read(b"a,Reports\n1,ok\n2\n3,never read\n", &csv("Reports"));
        assert_eq!(short.len(), 2, "reading stops at the first error");
        assert!(matches!(&short[1], Err(InputError::Malformed { line: 3, .. })), "{short:?}");

        let utf8 = read(b"Reports\nfine\nbad \xff byte\n", &csv("Reports"));
        assert!(matches!(&utf8[1], Err(InputError::InvalidUtf8 { line: 3 })), "{utf8:?}");
    }

    #[test]
    fn jsonl_reads_text_or_sections_and_carries_ids() {
        let input = b"{\"id\": \"a\", \"text\": \"No effusion.\"}\n\n\
            {\"id\": 7, \"findings\": \"Clear lungs.\", \"impression\": \"Normal.\"}\r\n\
            {\"impression\": \"Cardiomegaly.\", \"findings\": \"  \"}\n\
            {\"text\": null, \"extra\": 1}";
        let reports: Vec<Report> = read(input, &InputFormat::Jsonl).into_iter().map(|r| r.expect("valid")).collect();
        assert_eq!(reports.len(), 4);
        assert_eq!(reports[0].id, Some(serde_json::json!("a")));
        assert_eq!(reports[1].id, Some(serde_json::json!(7)));
        assert_eq!(reports[1].text, "FINDINGS: Clear lungs.\nIMPRESSION: Normal.");
        assert_eq!(reports[1].line, 3);
        assert_eq!(reports[2].text, "IMPRESSION: Cardiomegaly.");
        assert_eq!(reports[3].text, "");
        assert_eq!(reports[3].end_byte, input.len() as u64);
    }

    #[test]
    fn jsonl_errors_name_the_line() {
        let broken =
            read(b"{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n{\"text\": \"never\"}\n", &InputFormat::Jsonl);
        assert_eq!(broken.len(), 2);
        assert!(matches!(&broken[1], Err(InputError::Malformed { line: 2, .. })), "{broken:?}");

        let no_text = read(b"{\"id\": 1}\n", &InputFormat::Jsonl);
        assert!(matches!(&no_text[0], Err(InputError::Malformed { line: 1, reason }) if reason.contains("text")));

        let wrong_type = read(b"{\"text\": 12}\n", &InputFormat::Jsonl);
        assert!(matches!(&wrong_type[0], Err(InputError::Malformed { line: 1, .. })));

        let utf8 = read(b"{\"text\": \"ok\"}\n{\"text\": \"\xc3\x28\"}\n", &InputFormat::Jsonl);
        assert!(matches!(&utf8[1], Err(InputError::InvalidUtf8 { line: 2 })));
    }
}
