//! Label files the trainer reads: four-status JSONL (the teacher format of the guideline, and
//! the JSONL `cxr-label` writes) and binary gold CSV (`id` + the 14 observations as 0/1, like
//! `dev_gold.csv`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use cxr_labeler::{Observation, Status};
use serde::Deserialize;

/// The status of each observation of one report, in [`Observation::ALL`] order.
pub type StatusRow = [Status; Observation::COUNT];

/// Whether each observation is coded present, in [`Observation::ALL`] order.
pub type BinaryRow = [bool; Observation::COUNT];

/// The labels of a set of reports, keyed by report id.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelSet {
    /// Four statuses per observation.
    Statuses(BTreeMap<String, StatusRow>),
    /// Present or not per observation (no negative or uncertain codes).
    Binary(BTreeMap<String, BinaryRow>),
}

impl LabelSet {
    /// Reads a label file: `.csv` as binary gold, anything else as four-status JSONL.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let is_csv = path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("csv"));
        let text = fs_err::read_to_string(path)?;
        let set = if is_csv { read_binary_csv(&text) } else { read_status_jsonl(&text) };
        set.with_context(|| format!("reading labels from {}", path.display()))
    }
}

/// One line of a four-status JSONL file. Observations absent from `labels` are not mentioned;
/// fields other than `status` (confidence, evidence, probabilities) are ignored here.
#[derive(Deserialize)]
struct StatusRecord {
    id: serde_json::Value,
    labels: BTreeMap<String, StatusOnly>,
}

#[derive(Deserialize)]
struct StatusOnly {
    status: Status,
}

/// The string form of a JSON id (`"iu-1"` stays `iu-1`, `7` becomes `7`).
pub fn id_string(id: &serde_json::Value) -> String {
    match id {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn read_status_jsonl(text: &str) -> anyhow::Result<LabelSet> {
    let mut rows = BTreeMap::new();
    for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        let line_number = index + 1;
        let record: StatusRecord = serde_json::from_str(line).with_context(|| format!("line {line_number}"))?;
        let mut row = [Status::NotMentioned; Observation::COUNT];
        for (name, label) in record.labels {
            let observation: Observation =
                name.parse().with_context(|| format!("line {line_number}: unknown observation"))?;
            row[observation.index()] = label.status;
        }
        let id = id_string(&record.id);
        if rows.insert(id.clone(), row).is_some() {
            bail!("line {line_number}: id {id:?} appears twice");
        }
    }
    Ok(LabelSet::Statuses(rows))
}

fn read_binary_csv(text: &str) -> anyhow::Result<LabelSet> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers()?.clone();
    let column =
        |name: &str| headers.iter().position(|header| header == name).with_context(|| format!("no column {name:?}"));
    let id_column = column("id")?;
    let columns: Vec<usize> = Observation::ALL.iter().map(|o| column(o.name())).collect::<anyhow::Result<_>>()?;
    let mut rows = BTreeMap::new();
    for record in reader.records() {
        let record = record?;
        let line = record.position().map_or(0, |position| position.line());
        let mut row = [false; Observation::COUNT];
        for (slot, &index) in row.iter_mut().zip(&columns) {
            *slot = match record[index].trim() {
                "1" | "1.0" => true,
                "0" | "0.0" => false,
                other => bail!("line {line}: {other:?} is not 0 or 1"),
            };
        }
        let id = record[id_column].to_owned();
        if rows.insert(id.clone(), row).is_some() {
            bail!("line {line}: id {id:?} appears twice");
        }
    }
    Ok(LabelSet::Binary(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teacher_jsonl_missing_observations_are_not_mentioned() {
        let text = r#"{"id": "a", "labels": {"Cardiomegaly": {"status": "positive", "confidence": 0.9, "evidence": "x"}}}
{"id": 2, "labels": {}}"#;
        let LabelSet::Statuses(rows) = read_status_jsonl(text).expect("valid") else { panic!("four-status file") };
        assert_eq!(rows["a"][Observation::Cardiomegaly.index()], Status::Positive);
        assert_eq!(rows["a"][Observation::Edema.index()], Status::NotMentioned);
        assert!(rows.contains_key("2"));
    }

    #[test]
    fn bad_jsonl_names_the_line() {
        let error = read_status_jsonl("{\"id\": 1, \"labels\": {\"Heart\": {\"status\": \"positive\"}}}")
            .expect_err("unknown observation");
        assert!(format!("{error:#}").contains("line 1: unknown observation"), "{error:#}");
        let error =
            read_status_jsonl("{\"id\": 1, \"labels\": {}}\n{\"id\": 1, \"labels\": {}}").expect_err("duplicate");
        assert!(format!("{error:#}").contains("appears twice"));
    }

    #[test]
    fn binary_csv_reads_any_column_order() {
        let header = std::iter::once("id").chain(Observation::ALL.iter().rev().map(|o| o.name())).collect::<Vec<_>>();
        let mut values = vec!["0"; 14];
        values[0] = "1"; // Support Devices (reversed order)
        let text = format!("{}\nr1,{}\n", header.join(","), values.join(","));
        let LabelSet::Binary(rows) = read_binary_csv(&text).expect("valid") else { panic!("binary file") };
        assert!(rows["r1"][Observation::SupportDevices.index()]);
        assert!(!rows["r1"][Observation::NoFinding.index()]);
        assert!(read_binary_csv("id,No Finding\nr1,1\n").is_err(), "all 14 columns are required");
    }
}
