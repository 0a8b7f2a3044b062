//! Checks a teacher answer against the guideline's format before anything is written: known
//! observation names, valid statuses, confidences in [0.5, 1], evidence that is a verbatim quote
//! of at most 15 words, and no positive No Finding beside a reported pathology (nor a negative
//! or uncertain one). The error message is what the model is shown when it is asked again.

use std::collections::BTreeMap;

use cxr_labeler::{Observation, Status};
use serde::Deserialize;

use crate::teacher::{TeacherLabel, TeacherLabels};

#[derive(Deserialize)]
struct Answer {
    labels: BTreeMap<String, RawLabel>,
}

#[derive(Deserialize)]
struct RawLabel {
    status: String,
    confidence: f64,
    evidence: String,
}

/// Removes a Markdown code fence around the JSON, which models add when not constrained.
fn unfence(content: &str) -> &str {
    let trimmed = content.trim();
    let Some(inner) = trimmed.strip_prefix("```") else { return trimmed };
    let inner = inner.strip_prefix("json").unwrap_or(inner);
    inner.strip_suffix("```").unwrap_or(inner).trim()
}

/// Parses and checks the model's answer for `report`.
///
/// # Errors
/// A message naming every problem found, addressed to the model.
pub fn validate(content: &str, report: &str) -> Result<TeacherLabels, String> {
    let answer: Answer = serde_json::from_str(unfence(content))
        .map_err(|error| format!("the answer is not the JSON object asked for ({error})"))?;
    let mut problems = Vec::new();
    let mut labels = Vec::new();
    for (name, raw) in answer.labels {
        let Ok(observation) = name.parse::<Observation>() else {
            problems.push(format!("{name:?} is not one of the 14 observation names"));
            continue;
        };
        let status = match raw.status.parse::<Status>() {
            Ok(Status::NotMentioned) | Err(_) => {
                problems.push(format!("{name}: status {:?} must be positive, negative or uncertain", raw.status));
                continue;
            }
            Ok(status) => status,
        };
        if !(0.5..=1.0).contains(&raw.confidence) {
            problems.push(format!("{name}: confidence {} is not between 0.5 and 1.0", raw.confidence));
        }
        let evidence = raw.evidence.trim();
        if evidence.is_empty() || !report.contains(evidence) {
            problems.push(format!("{name}: evidence {:?} is not a verbatim quote of the report", raw.evidence));
        } else if evidence.split_whitespace().count() > 15 {
            problems.push(format!("{name}: evidence has more than 15 words"));
        }
        if observation == Observation::NoFinding && status != Status::Positive {
            problems.push("No Finding is only ever positive (or left out)".to_owned());
        }
        labels.push((
            observation,
            TeacherLabel {
                status,
                confidence: raw.confidence as f32,
                evidence: evidence.to_owned(),
                probabilities: None,
            },
        ));
    }
    let mut labels = TeacherLabels(labels);
    if labels.reports_pathology()
        && labels.0.iter().any(|(o, l)| *o == Observation::NoFinding && l.status == Status::Positive)
    {
        problems.push("No Finding cannot be positive when a pathology is positive or uncertain".to_owned());
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    labels.0.sort_by_key(|(observation, _)| *observation);
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "FINDINGS: Stable cardiomegaly. No pleural effusion.";

    #[test]
    fn a_valid_answer_is_kept_in_observation_order() {
        let answer = r#"{"labels": {"Pleural Effusion": {"status": "negative", "confidence": 0.95, "evidence": "No pleural effusion"},
            "Cardiomegaly": {"status": "positive", "confidence": 0.9, "evidence": "Stable cardiomegaly"}}}"#;
        let labels = validate(answer, REPORT).expect("valid");
        assert_eq!(labels.0[0].0, Observation::Cardiomegaly);
        assert_eq!(labels.0[1].1.status, Status::Negative);
        let fenced = format!("```json\n{answer}\n```");
        assert!(validate(&fenced, REPORT).is_ok(), "a code fence is tolerated");
    }

    #[test]
    fn every_guideline_violation_is_named() {
        let cases = [
            ("not json", "not the JSON object"),
            (
                r#"{"labels": {"Heart": {"status": "positive", "confidence": 0.9, "evidence": "Stable cardiomegaly"}}}"#,
                "not one of the 14",
            ),
            (
                r#"{"labels": {"Cardiomegaly": {"status": "present", "confidence": 0.9, "evidence": "Stable cardiomegaly"}}}"#,
                "must be positive, negative or uncertain",
            ),
            (
                r#"{"labels": {"Cardiomegaly": {"status": "positive", "confidence": 1.2, "evidence": "Stable cardiomegaly"}}}"#,
                "not between 0.5 and 1.0",
            ),
            (
                r#"{"labels": {"Cardiomegaly": {"status": "positive", "confidence": 0.9, "evidence": "mild cardiomegaly"}}}"#,
                "not a verbatim quote",
            ),
            (
                r#"{"labels": {"Cardiomegaly": {"status": "positive", "confidence": 0.9, "evidence": "Stable cardiomegaly"}, "No Finding": {"status": "positive", "confidence": 0.9, "evidence": "No pleural effusion"}}}"#,
                "No Finding cannot be positive",
            ),
            (
                r#"{"labels": {"No Finding": {"status": "negative", "confidence": 0.9, "evidence": "No pleural effusion"}}}"#,
                "only ever positive",
            ),
        ];
        for (answer, expected) in cases {
            let error = validate(answer, REPORT).expect_err(expected);
            assert!(error.contains(expected), "{error:?} should mention {expected:?}");
        }
    }
}
