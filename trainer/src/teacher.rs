//! The teacher output format of the labeling guideline: one JSON object per report,
//! `{"id": ..., "labels": {"<Observation>": {"status", "confidence", "evidence"}}}`, listing only
//! the observations that are mentioned. Written by `cxr-trainer rules` and read back by the
//! distillation (see `crate::data`) and by `cxr-trainer eval`.

use std::collections::BTreeMap;

use cxr_labeler::{Observation, Probabilities, Status};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One mentioned observation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeacherLabel {
    /// Positive, negative or uncertain (never not mentioned: those are left out).
    pub status: Status,
    /// The probability that the status is right, in [0.5, 1].
    pub confidence: f32,
    /// The shortest verbatim quote of the report (at most 15 words) that decides the status.
    pub evidence: String,
    /// A full distribution over the four statuses, when several sampled answers (or token
    /// log-probabilities) give one; the distillation uses it as the soft target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Probabilities>,
}

/// The labels of one report, in observation order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TeacherLabels(pub Vec<(Observation, TeacherLabel)>);

impl Serialize for TeacherLabels {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (observation, label) in &self.0 {
            map.serialize_entry(observation.name(), label)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for TeacherLabels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let labels = BTreeMap::<Observation, TeacherLabel>::deserialize(deserializer)?;
        Ok(TeacherLabels(labels.into_iter().collect()))
    }
}

impl TeacherLabels {
    /// Whether any listed pathology is positive or uncertain (then No Finding cannot be positive).
    pub fn reports_pathology(&self) -> bool {
        self.0.iter().any(|(observation, label)| observation.reports_pathology(label.status))
    }
}

/// One line of a teacher file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TeacherRecord {
    /// The report's id, as the input gave it.
    pub id: serde_json::Value,
    /// Its labels.
    pub labels: TeacherLabels,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_serialize_in_the_guideline_format() {
        let record = TeacherRecord {
            id: "iu-1".into(),
            labels: TeacherLabels(vec![(
                Observation::PleuralEffusion,
                TeacherLabel {
                    status: Status::Negative,
                    confidence: 0.9,
                    evidence: "No pleural effusion".into(),
                    probabilities: None,
                },
            )]),
        };
        assert_eq!(
            serde_json::to_string(&record).expect("serializes"),
            r#"{"id":"iu-1","labels":{"Pleural Effusion":{"status":"negative","confidence":0.9,"evidence":"No pleural effusion"}}}"#
        );
    }
}
