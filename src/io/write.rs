//! Writers for labeled reports: the CheXpert labeler's CSV layout, and JSONL.

use std::io::Write;

use serde::Serialize;

use super::Report;
use crate::observation::Observation;
use crate::postprocess::Labels;

/// The output layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// The CheXpert labeler's CSV: `Reports`, then the 14 observations, each cell `1.0`, `0.0`,
    /// `-1.0` or empty.
    Csv,
    /// One object per line: `{"id": ..., "labels": {"<Observation>": {"status", "value",
    /// "probabilities"}}}` with all 14 observations in order; `id` is null when the input had none.
    Jsonl,
}

/// Writes labeled reports in one [`OutputFormat`], one record per report, in the order given.
pub struct LabelWriter<W: Write> {
    inner: Inner<W>,
}

enum Inner<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Jsonl(W),
}

#[derive(Serialize)]
struct JsonlRecord<'a> {
    id: &'a Option<serde_json::Value>,
    labels: &'a Labels,
}

impl<W: Write> LabelWriter<W> {
    /// Starts the output (the CSV header row is written at once).
    ///
    /// # Errors
    /// The I/O error of writing the header.
    pub fn new(output: W, format: OutputFormat) -> std::io::Result<Self> {
        let inner = match format {
            OutputFormat::Csv => {
                let mut writer = csv::Writer::from_writer(output);
                let header = std::iter::once("Reports").chain(Observation::ALL.iter().map(|o| o.name()));
                writer.write_record(header).map_err(std::io::Error::from)?;
                Inner::Csv(Box::new(writer))
            }
            OutputFormat::Jsonl => Inner::Jsonl(output),
        };
        Ok(LabelWriter { inner })
    }

    /// Writes one labeled report.
    ///
    /// # Errors
    /// The I/O error of writing.
    pub fn write(&mut self, report: &Report, labels: &Labels) -> std::io::Result<()> {
        match &mut self.inner {
            Inner::Csv(writer) => {
                let values = labels.findings().map(|finding| match finding.chexpert_value() {
                    Some(value) => format!("{value:.1}"),
                    None => String::new(),
                });
                let row = std::iter::once(report.text.as_str()).chain(values.iter().map(String::as_str));
                writer.write_record(row).map_err(std::io::Error::from)
            }
            Inner::Jsonl(writer) => {
                serde_json::to_writer(&mut *writer, &JsonlRecord { id: &report.id, labels })?;
                writer.write_all(b"\n")
            }
        }
    }

    /// Flushes and returns the underlying writer.
    ///
    /// # Errors
    /// The I/O error of flushing.
    pub fn finish(self) -> std::io::Result<W> {
        match self.inner {
            Inner::Csv(writer) => writer.into_inner().map_err(|error| error.into_error()),
            Inner::Jsonl(mut writer) => {
                writer.flush()?;
                Ok(writer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::Status;
    use crate::postprocess::Probabilities;

    fn labels() -> Labels {
        let certain = |status: Status| {
            let mut probabilities = [0.0; 4];
            probabilities[status.index()] = 1.0;
            (status, Probabilities::from_array(probabilities))
        };
        let mut statuses = [certain(Status::NotMentioned); Observation::COUNT];
        statuses[Observation::Cardiomegaly.index()] = certain(Status::Positive);
        statuses[Observation::Edema.index()] = certain(Status::Negative);
        statuses[Observation::Pneumonia.index()] = certain(Status::Uncertain);
        Labels::from_statuses(statuses)
    }

    fn report(text: &str, id: Option<serde_json::Value>) -> Report {
        Report { line: 1, id, text: text.to_owned(), end_byte: 0 }
    }

    #[test]
    fn csv_has_the_chexpert_layout() {
        let mut writer = LabelWriter::new(Vec::new(), OutputFormat::Csv).expect("header");
        writer.write(&report("Cardiomegaly, \"mild\".\nNo edema.", None), &labels()).expect("row");
        let text = String::from_utf8(writer.finish().expect("flush")).expect("utf-8");
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                "Reports,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Lesion,Lung Opacity,Edema,\
                 Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,Support Devices"
            )
        );
        assert_eq!(
            text.lines().skip(1).collect::<Vec<_>>(),
            ["\"Cardiomegaly, \"\"mild\"\".", "No edema.\",,,1.0,,,0.0,,-1.0,,,,,,"]
        );
    }

    #[test]
    fn jsonl_carries_the_id_and_all_observations() {
        let mut writer = LabelWriter::new(Vec::new(), OutputFormat::Jsonl).expect("start");
        writer.write(&report("x", Some(serde_json::json!("r-1"))), &labels()).expect("row");
        writer.write(&report("y", None), &labels()).expect("row");
        let text = String::from_utf8(writer.finish().expect("flush")).expect("utf-8");
        let records: Vec<serde_json::Value> =
            text.lines().map(|line| serde_json::from_str(line).expect("json")).collect();
        assert_eq!(records[0]["id"], "r-1");
        assert!(records[1]["id"].is_null());
        assert_eq!(records[0]["labels"].as_object().map(|labels| labels.len()), Some(14));
        assert_eq!(records[0]["labels"]["Pneumonia"]["status"], "uncertain");
        assert_eq!(records[0]["labels"]["Pneumonia"]["probabilities"]["uncertain"], 1.0);
        let back: Labels = serde_json::from_value(records[0]["labels"].clone()).expect("labels round-trip");
        assert_eq!(back, labels());
    }
}
