//! Logits to labels: the probability of each status, the decided status, the guideline's
//! No Finding rule, and the merge of a long report's windows. The only place decisions are made.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::OutputLayout;
use crate::observation::{Observation, Status};

/// The probability of each status for one observation; they sum to 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Probabilities {
    pub positive: f32,
    pub negative: f32,
    pub uncertain: f32,
    pub not_mentioned: f32,
}

impl Probabilities {
    /// From an array in [`Status::ALL`] order.
    pub const fn from_array([positive, negative, uncertain, not_mentioned]: [f32; Status::COUNT]) -> Self {
        Probabilities { positive, negative, uncertain, not_mentioned }
    }

    /// As an array in [`Status::ALL`] order.
    pub const fn to_array(self) -> [f32; Status::COUNT] {
        [self.positive, self.negative, self.uncertain, self.not_mentioned]
    }

    /// The probability of `status`.
    pub const fn get(self, status: Status) -> f32 {
        self.to_array()[status.index()]
    }

    /// The most probable status (the earlier status in [`Status::ALL`] on a tie).
    pub fn most_probable(self) -> Status {
        let values = self.to_array();
        Status::ALL
            .into_iter()
            .reduce(|best, status| if values[status.index()] > values[best.index()] { status } else { best })
            .expect("Status::ALL is not empty")
    }
}

/// What a report says about one observation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Finding {
    /// The observation.
    pub observation: Observation,
    /// The decided status.
    pub status: Status,
    /// The model's probability of each status. The status is the most probable one except where
    /// a guideline rule overrides it (No Finding with a pathology reported: not mentioned).
    pub probabilities: Probabilities,
}

impl Finding {
    /// The CheXpert labeler's value of the status: 1.0, 0.0, -1.0, or `None` (blank).
    pub fn chexpert_value(&self) -> Option<f32> {
        self.status.chexpert_value()
    }
}

/// The labels of one report: a [`Finding`] for each of the 14 observations, in
/// [`Observation::ALL`] order.
///
/// Serialized as a JSON object keyed by observation name, in that order:
/// `{"No Finding": {"status": "positive", "value": 1.0, "probabilities": {...}}, ...}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Labels {
    findings: [Finding; Observation::COUNT],
}

impl Labels {
    /// Labels from findings in [`Observation::ALL`] order. Applies nothing: the statuses are
    /// taken as given.
    pub fn from_statuses(statuses: [(Status, Probabilities); Observation::COUNT]) -> Self {
        let mut index = 0;
        let findings = statuses.map(|(status, probabilities)| {
            let observation = Observation::ALL[index];
            index += 1;
            Finding { observation, status, probabilities }
        });
        Labels { findings }
    }

    /// Every observation not mentioned, with certainty: the labels of an empty report.
    pub fn nothing_mentioned() -> Self {
        let certain = Probabilities { not_mentioned: 1.0, ..Probabilities::default() };
        Labels::from_statuses([(Status::NotMentioned, certain); Observation::COUNT])
    }

    /// The 14 findings in [`Observation::ALL`] order.
    pub fn findings(&self) -> &[Finding; Observation::COUNT] {
        &self.findings
    }

    /// The finding for one observation.
    pub fn get(&self, observation: Observation) -> &Finding {
        &self.findings[observation.index()]
    }

    /// Decodes logits in canonical layout (`14 * 4` floats, observations in
    /// [`Observation::ALL`] order, statuses in [`Status::ALL`] order) exactly as the runtime
    /// decodes a model's output: softmax, most probable status, the No Finding rules.
    ///
    /// # Panics
    /// If `logits` does not hold `14 * 4` values.
    pub fn from_canonical_logits(logits: &[f32]) -> Self {
        decode(logits, &OutputLayout::CANONICAL)
    }

    /// Merges the labels of a report's windows, as the runtime does (see [`crate::Labeler::label_batch`]).
    ///
    /// # Panics
    /// If `windows` is empty.
    pub fn merge_windows(windows: Vec<Labels>) -> Self {
        merge(windows)
    }

    /// Whether any of the 12 pathologies is positive or uncertain.
    fn reports_pathology(&self) -> bool {
        self.findings.iter().any(|finding| finding.observation.reports_pathology(finding.status))
    }

    /// The guideline's No Finding rule: positive only when no pathology is positive or
    /// uncertain; otherwise not mentioned.
    fn apply_no_finding_rule(&mut self) {
        if self.reports_pathology() {
            let finding = &mut self.findings[Observation::NoFinding.index()];
            if finding.status == Status::Positive {
                finding.status = Status::NotMentioned;
            }
        }
    }
}

/// Decodes one window's logits (`14 * 4` floats in the model's layout) into labels.
///
/// Each observation's logits go through a softmax; the most probable status wins. No Finding can
/// only be positive or not mentioned, so its negative and uncertain probabilities count as not
/// mentioned; then the No Finding rule applies.
pub(crate) fn decode(logits: &[f32], layout: &OutputLayout) -> Labels {
    assert_eq!(logits.len(), Observation::COUNT * Status::COUNT, "one window has 14 x 4 logits");
    let mut labels = Labels::from_statuses(Observation::ALL.map(|observation| {
        let row = layout.observation_axis[observation.index()] * Status::COUNT;
        let mut probabilities = softmax(layout.status_axis.map(|column| logits[row + column]));
        if observation == Observation::NoFinding {
            probabilities.not_mentioned += probabilities.negative + probabilities.uncertain;
            probabilities.negative = 0.0;
            probabilities.uncertain = 0.0;
        }
        (probabilities.most_probable(), probabilities)
    }));
    labels.apply_no_finding_rule();
    labels
}

/// Merges the labels of a report's windows into the report's labels.
///
/// Per observation the status with the highest precedence wins (positive > uncertain > negative >
/// not mentioned), with the probabilities of the window that gave it (the most confident one on a
/// tie). No Finding then stays positive only if no window reports a pathology.
///
/// # Panics
/// If `windows` is empty (every report has at least one window).
pub(crate) fn merge(windows: Vec<Labels>) -> Labels {
    let mut windows = windows.into_iter();
    let mut merged = windows.next().expect("a report has at least one window");
    for labels in windows {
        for (kept, candidate) in merged.findings.iter_mut().zip(labels.findings) {
            let rank = |finding: &Finding| (finding.status.precedence(), finding.probabilities.get(finding.status));
            if rank(&candidate) > rank(kept) {
                *kept = candidate;
            }
        }
    }
    merged.apply_no_finding_rule();
    merged
}

fn softmax(logits: [f32; Status::COUNT]) -> Probabilities {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exponentials = logits.map(|logit| (logit - max).exp());
    let sum: f32 = exponentials.iter().sum();
    Probabilities::from_array(exponentials.map(|value| value / sum))
}

/// The JSON form of one finding (the observation is the key of the enclosing object).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindingRecord {
    status: Status,
    value: Option<f32>,
    probabilities: Probabilities,
}

impl Serialize for Labels {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Observation::COUNT))?;
        for finding in &self.findings {
            let record = FindingRecord {
                status: finding.status,
                value: finding.chexpert_value(),
                probabilities: finding.probabilities,
            };
            map.serialize_entry(finding.observation.name(), &record)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Labels {
    /// Reads the serialized form back; all 14 observations must be present, and each `value`
    /// must agree with its status.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut records = BTreeMap::<Observation, FindingRecord>::deserialize(deserializer)?;
        let mut statuses = [(Status::NotMentioned, Probabilities::default()); Observation::COUNT];
        for (slot, observation) in statuses.iter_mut().zip(Observation::ALL) {
            let record = records
                .remove(&observation)
                .ok_or_else(|| D::Error::custom(format!("labels lack {:?}", observation.name())))?;
            if record.value != record.status.chexpert_value() {
                return Err(D::Error::custom(format!(
                    "{}: value {:?} does not match status {}",
                    observation, record.value, record.status
                )));
            }
            *slot = (record.status, record.probabilities);
        }
        Ok(Labels::from_statuses(statuses))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logits in canonical layout where each observation strongly prefers the given status.
    fn logits_for(statuses: &[(Observation, Status)]) -> Vec<f32> {
        let mut logits = vec![0.0; Observation::COUNT * Status::COUNT];
        for observation in Observation::ALL {
            let status = statuses
                .iter()
                .find(|(listed, _)| *listed == observation)
                .map_or(Status::NotMentioned, |&(_, status)| status);
            logits[observation.index() * Status::COUNT + status.index()] = 5.0;
        }
        logits
    }

    #[test]
    fn softmax_is_a_distribution_and_stable_for_large_logits() {
        let probabilities = softmax([1000.0, 999.0, -1000.0, 0.0]).to_array();
        assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(probabilities.iter().all(|p| p.is_finite()));
        assert!(probabilities[0] > probabilities[1]);
    }

    #[test]
    fn decode_picks_the_most_probable_status_per_observation() {
        let labels = decode(
            &logits_for(&[(Observation::Cardiomegaly, Status::Positive), (Observation::Edema, Status::Negative)]),
            &OutputLayout::CANONICAL,
        );
        assert_eq!(labels.get(Observation::Cardiomegaly).status, Status::Positive);
        assert_eq!(labels.get(Observation::Edema).status, Status::Negative);
        assert_eq!(labels.get(Observation::Fracture).status, Status::NotMentioned);
        assert_eq!(labels.get(Observation::Cardiomegaly).chexpert_value(), Some(1.0));
    }

    #[test]
    fn decode_reads_a_permuted_layout() {
        // The model's axes: observations reversed, statuses as [not_mentioned, positive, negative, uncertain].
        let layout =
            OutputLayout { observation_axis: std::array::from_fn(|index| 13 - index), status_axis: [1, 2, 3, 0] };
        let mut logits = vec![0.0; 56];
        for row in 0..14 {
            logits[row * 4] = 5.0; // not mentioned everywhere...
        }
        let edema_row = 13 - Observation::Edema.index();
        logits[edema_row * 4] = 0.0;
        logits[edema_row * 4 + 3] = 5.0; // ...except Edema: uncertain
        let labels = decode(&logits, &layout);
        assert_eq!(labels.get(Observation::Edema).status, Status::Uncertain);
        assert!(labels.get(Observation::Edema).probabilities.uncertain > 0.9);
        assert_eq!(labels.get(Observation::Cardiomegaly).status, Status::NotMentioned);
    }

    #[test]
    fn no_finding_is_never_negative_or_uncertain() {
        let labels = decode(&logits_for(&[(Observation::NoFinding, Status::Negative)]), &OutputLayout::CANONICAL);
        let finding = labels.get(Observation::NoFinding);
        assert_eq!(finding.status, Status::NotMentioned);
        assert_eq!(finding.probabilities.negative, 0.0);
        assert_eq!(finding.probabilities.uncertain, 0.0);
        assert!((finding.probabilities.to_array().iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_reported_pathology_rules_out_no_finding_but_support_devices_do_not() {
        let labels = decode(
            &logits_for(&[(Observation::NoFinding, Status::Positive), (Observation::SupportDevices, Status::Positive)]),
            &OutputLayout::CANONICAL,
        );
        assert_eq!(labels.get(Observation::NoFinding).status, Status::Positive);
        for pathology_status in [Status::Positive, Status::Uncertain] {
            let labels = decode(
                &logits_for(&[
                    (Observation::NoFinding, Status::Positive),
                    (Observation::Atelectasis, pathology_status),
                ]),
                &OutputLayout::CANONICAL,
            );
            assert_eq!(labels.get(Observation::NoFinding).status, Status::NotMentioned);
        }
        let labels = decode(
            &logits_for(&[(Observation::NoFinding, Status::Positive), (Observation::Pneumothorax, Status::Negative)]),
            &OutputLayout::CANONICAL,
        );
        assert_eq!(labels.get(Observation::NoFinding).status, Status::Positive);
    }

    #[test]
    fn merge_follows_precedence_and_keeps_no_finding_only_without_pathology() {
        let window = |statuses: &[(Observation, Status)]| decode(&logits_for(statuses), &OutputLayout::CANONICAL);
        let merged = merge(vec![
            window(&[(Observation::Cardiomegaly, Status::Negative), (Observation::NoFinding, Status::Positive)]),
            window(&[(Observation::Cardiomegaly, Status::Positive), (Observation::Edema, Status::Uncertain)]),
            window(&[(Observation::Edema, Status::Negative), (Observation::Fracture, Status::Negative)]),
        ]);
        assert_eq!(merged.get(Observation::Cardiomegaly).status, Status::Positive);
        assert_eq!(merged.get(Observation::Edema).status, Status::Uncertain);
        assert_eq!(merged.get(Observation::Fracture).status, Status::Negative);
        assert_eq!(merged.get(Observation::Pneumonia).status, Status::NotMentioned);
        assert_eq!(merged.get(Observation::NoFinding).status, Status::NotMentioned);

        let merged = merge(vec![
            window(&[(Observation::NoFinding, Status::Positive)]),
            window(&[(Observation::Pneumothorax, Status::Negative), (Observation::SupportDevices, Status::Positive)]),
        ]);
        assert_eq!(merged.get(Observation::NoFinding).status, Status::Positive);
        assert_eq!(merged.get(Observation::SupportDevices).status, Status::Positive);
    }

    #[test]
    fn serialized_labels_are_keyed_by_name_in_order_and_round_trip() {
        let labels =
            decode(&logits_for(&[(Observation::PleuralEffusion, Status::Uncertain)]), &OutputLayout::CANONICAL);
        let json = serde_json::to_value(&labels).expect("serializes");
        let keys: Vec<&str> = json.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 14);
        assert_eq!(json["Pleural Effusion"]["status"], "uncertain");
        assert_eq!(json["Pleural Effusion"]["value"], -1.0);
        assert!(json["Fracture"]["value"].is_null());
        let text = serde_json::to_string(&labels).expect("serializes");
        assert!(text.find("No Finding") < text.find("Support Devices"), "observation order is kept");
        let back: Labels = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(back, labels);
    }

    #[test]
    fn deserializing_rejects_missing_observations_and_inconsistent_values() {
        let mut json = serde_json::to_value(Labels::nothing_mentioned()).expect("serializes");
        json["Edema"]["value"] = 1.0.into();
        assert!(serde_json::from_value::<Labels>(json.clone()).is_err());
        json.as_object_mut().expect("object").remove("Edema");
        let error = serde_json::from_value::<Labels>(json).expect_err("Edema missing");
        assert!(error.to_string().contains("Edema"));
    }
}
