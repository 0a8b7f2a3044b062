//! Evaluation of predicted labels against gold labels, and agreement between two label sets.
//!
//! Binary gold (present or not, like the expert MeSH codes of `dev_gold.csv`): per observation,
//! precision, recall and F1 of "positive" against "present", once with uncertain predictions
//! counted as negative (U0, the primary number) and once as positive (U1); macro-F1 over the
//! observations that have at least one gold positive.
//!
//! Four-status gold: per observation, the F1 of each of positive, negative and uncertain (one
//! status against the rest); a macro-F1 per status over the observations where gold has it.
//!
//! Agreement: per observation, the share of reports with the same status and Cohen's kappa over
//! the four statuses.

use std::collections::BTreeMap;

use anyhow::bail;
use cxr_labeler::{Observation, Status};
use serde::Serialize;

use crate::annotations::{BinaryRow, LabelSet, StatusRow};

/// Counts and scores of one binary decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Scores {
    /// Gold-positive reports.
    pub support: usize,
    /// Predicted positive and gold positive.
    pub true_positives: usize,
    /// Predicted positive, gold not.
    pub false_positives: usize,
    /// Gold positive, predicted not.
    pub false_negatives: usize,
    /// TP / (TP + FP); 0 when nothing is predicted positive.
    pub precision: f64,
    /// TP / (TP + FN); 0 when nothing is gold positive.
    pub recall: f64,
    /// Harmonic mean of precision and recall; 0 when either is 0.
    pub f1: f64,
}

impl Scores {
    fn from_pairs(pairs: impl Iterator<Item = (bool, bool)>) -> Self {
        let mut scores = Scores::default();
        for (predicted, gold) in pairs {
            scores.support += usize::from(gold);
            scores.true_positives += usize::from(predicted && gold);
            scores.false_positives += usize::from(predicted && !gold);
            scores.false_negatives += usize::from(!predicted && gold);
        }
        let ratio = |numerator: usize, denominator: usize| {
            if denominator == 0 { 0.0 } else { numerator as f64 / denominator as f64 }
        };
        scores.precision = ratio(scores.true_positives, scores.true_positives + scores.false_positives);
        scores.recall = ratio(scores.true_positives, scores.true_positives + scores.false_negatives);
        let sum = scores.precision + scores.recall;
        scores.f1 = if sum == 0.0 { 0.0 } else { 2.0 * scores.precision * scores.recall / sum };
        scores
    }
}

/// Scores of one observation against binary gold.
#[derive(Clone, Debug, Serialize)]
pub struct BinaryObservation {
    /// The observation.
    pub observation: Observation,
    /// Uncertain predictions counted as negative.
    pub uncertain_as_negative: Scores,
    /// Uncertain predictions counted as positive.
    pub uncertain_as_positive: Scores,
}

/// Scores of one observation against four-status gold.
#[derive(Clone, Debug, Serialize)]
pub struct StatusObservation {
    /// The observation.
    pub observation: Observation,
    /// One entry per status (positive, negative, uncertain): that status against the rest.
    pub positive: Scores,
    #[allow(missing_docs)]
    pub negative: Scores,
    #[allow(missing_docs)]
    pub uncertain: Scores,
}

/// Agreement of two label sets on one observation.
#[derive(Clone, Debug, Serialize)]
pub struct AgreementObservation {
    /// The observation.
    pub observation: Observation,
    /// Share of reports with the same status.
    pub agreement: f64,
    /// Cohen's kappa over the four statuses (1 when both sets use a single identical status).
    pub kappa: f64,
}

/// A full evaluation, serializable as JSON.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "gold", rename_all = "snake_case")]
pub enum Evaluation {
    /// Against binary gold.
    Binary {
        /// Reports scored.
        reports: usize,
        /// Per observation.
        observations: Vec<BinaryObservation>,
        /// Macro-F1 (U0) over the observations with a gold positive.
        macro_f1_uncertain_as_negative: f64,
        /// Macro-F1 (U1) over the same observations.
        macro_f1_uncertain_as_positive: f64,
    },
    /// Against four-status gold.
    Statuses {
        /// Reports scored.
        reports: usize,
        /// Per observation.
        observations: Vec<StatusObservation>,
        /// Macro-F1 per status over the observations where gold has that status.
        macro_f1: BTreeMap<Status, f64>,
    },
}

impl Evaluation {
    /// The number models are selected on: U0 macro-F1 for binary gold, positive macro-F1 for
    /// four-status gold.
    pub fn macro_f1(&self) -> f64 {
        match self {
            Evaluation::Binary { macro_f1_uncertain_as_negative, .. } => *macro_f1_uncertain_as_negative,
            Evaluation::Statuses { macro_f1, .. } => macro_f1.get(&Status::Positive).copied().unwrap_or(0.0),
        }
    }
}

/// Pairs each gold row with the prediction of the same id.
///
/// # Errors
/// If a gold id has no prediction (a silently missing report would inflate or deflate scores).
fn paired<'a, G>(
    predictions: &'a BTreeMap<String, StatusRow>,
    gold: &'a BTreeMap<String, G>,
) -> anyhow::Result<Vec<(&'a StatusRow, &'a G)>> {
    let missing: Vec<&String> = gold.keys().filter(|id| !predictions.contains_key(*id)).collect();
    if !missing.is_empty() {
        bail!(
            "the predictions lack {} of the {} gold reports (first: {:?})",
            missing.len(),
            gold.len(),
            missing.iter().take(3).collect::<Vec<_>>()
        );
    }
    Ok(gold.iter().map(|(id, row)| (&predictions[id], row)).collect())
}

/// Scores `predictions` against `gold`.
///
/// # Errors
/// If `predictions` is not a four-status set, or lacks a gold report.
pub fn evaluate(predictions: &LabelSet, gold: &LabelSet) -> anyhow::Result<Evaluation> {
    let LabelSet::Statuses(predictions) = predictions else {
        bail!("predictions must have four statuses (JSONL), not binary codes");
    };
    Ok(match gold {
        LabelSet::Binary(gold) => binary(&paired(predictions, gold)?),
        LabelSet::Statuses(gold) => statuses(&paired(predictions, gold)?),
    })
}

fn binary(pairs: &[(&StatusRow, &BinaryRow)]) -> Evaluation {
    let observations: Vec<BinaryObservation> = Observation::ALL
        .into_iter()
        .map(|observation| {
            let index = observation.index();
            let score = |counts_uncertain: bool| {
                Scores::from_pairs(pairs.iter().map(|(predicted, gold)| {
                    let status = predicted[index];
                    (status == Status::Positive || (counts_uncertain && status == Status::Uncertain), gold[index])
                }))
            };
            BinaryObservation { observation, uncertain_as_negative: score(false), uncertain_as_positive: score(true) }
        })
        .collect();
    let scored: Vec<&BinaryObservation> =
        observations.iter().filter(|scores| scores.uncertain_as_negative.support > 0).collect();
    let mean = |pick: fn(&BinaryObservation) -> f64| {
        if scored.is_empty() {
            0.0
        } else {
            scored.iter().map(|scores| pick(scores)).sum::<f64>() / scored.len() as f64
        }
    };
    Evaluation::Binary {
        reports: pairs.len(),
        macro_f1_uncertain_as_negative: mean(|scores| scores.uncertain_as_negative.f1),
        macro_f1_uncertain_as_positive: mean(|scores| scores.uncertain_as_positive.f1),
        observations,
    }
}

fn statuses(pairs: &[(&StatusRow, &StatusRow)]) -> Evaluation {
    let observations: Vec<StatusObservation> = Observation::ALL
        .into_iter()
        .map(|observation| {
            let index = observation.index();
            let score = |status: Status| {
                Scores::from_pairs(
                    pairs.iter().map(|(predicted, gold)| (predicted[index] == status, gold[index] == status)),
                )
            };
            StatusObservation {
                observation,
                positive: score(Status::Positive),
                negative: score(Status::Negative),
                uncertain: score(Status::Uncertain),
            }
        })
        .collect();
    let mut macro_f1 = BTreeMap::new();
    for (status, pick) in [
        (Status::Positive, (|o: &StatusObservation| o.positive) as fn(&StatusObservation) -> Scores),
        (Status::Negative, |o| o.negative),
        (Status::Uncertain, |o| o.uncertain),
    ] {
        let scored: Vec<Scores> = observations.iter().map(pick).filter(|scores| scores.support > 0).collect();
        if !scored.is_empty() {
            macro_f1.insert(status, scored.iter().map(|scores| scores.f1).sum::<f64>() / scored.len() as f64);
        }
    }
    Evaluation::Statuses { reports: pairs.len(), observations, macro_f1 }
}

/// Agreement of `left` with `right` per observation, over the reports both label.
///
/// # Errors
/// If either set is binary, or they share no report.
pub fn agreement(left: &LabelSet, right: &LabelSet) -> anyhow::Result<Vec<AgreementObservation>> {
    let (LabelSet::Statuses(left), LabelSet::Statuses(right)) = (left, right) else {
        bail!("agreement needs two four-status label sets");
    };
    let pairs: Vec<(&StatusRow, &StatusRow)> =
        left.iter().filter_map(|(id, row)| right.get(id).map(|other| (row, other))).collect();
    if pairs.is_empty() {
        bail!("the two label sets share no report id");
    }
    Ok(Observation::ALL
        .into_iter()
        .map(|observation| {
            let index = observation.index();
            let mut table = [[0usize; Status::COUNT]; Status::COUNT];
            for (a, b) in &pairs {
                table[a[index].index()][b[index].index()] += 1;
            }
            let total = pairs.len() as f64;
            let observed = (0..Status::COUNT).map(|s| table[s][s]).sum::<usize>() as f64 / total;
            let expected: f64 = (0..Status::COUNT)
                .map(|s| {
                    let row: usize = table[s].iter().sum();
                    let column: usize = table.iter().map(|r| r[s]).sum();
                    (row as f64 / total) * (column as f64 / total)
                })
                .sum();
            let kappa = if (1.0 - expected).abs() < 1e-12 { 1.0 } else { (observed - expected) / (1.0 - expected) };
            AgreementObservation { observation, agreement: observed, kappa }
        })
        .collect())
}

/// Renders an evaluation (and an optional agreement table) as Markdown.
pub fn markdown(evaluation: &Evaluation, agreement: Option<&[AgreementObservation]>) -> String {
    let mut out = String::new();
    match evaluation {
        Evaluation::Binary {
            reports,
            observations,
            macro_f1_uncertain_as_negative,
            macro_f1_uncertain_as_positive,
        } => {
            out.push_str(&format!("Binary gold, {reports} reports. Macro-F1 over observations with a gold positive: \
                 **{macro_f1_uncertain_as_negative:.3}** (uncertain as negative), {macro_f1_uncertain_as_positive:.3} (uncertain as positive).\n\n"));
            out.push_str("| observation | gold + | P (U0) | R (U0) | F1 (U0) | F1 (U1) |\n|---|---|---|---|---|---|\n");
            for o in observations {
                let u0 = o.uncertain_as_negative;
                out.push_str(&format!(
                    "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
                    o.observation, u0.support, u0.precision, u0.recall, u0.f1, o.uncertain_as_positive.f1
                ));
            }
        }
        Evaluation::Statuses { reports, observations, macro_f1 } => {
            let macros: Vec<String> = macro_f1.iter().map(|(status, f1)| format!("{status} {f1:.3}")).collect();
            out.push_str(&format!(
                "Four-status gold, {reports} reports. Macro-F1 per status: {}.\n\n",
                macros.join(", ")
            ));
            out.push_str(
                "| observation | gold + | F1 + | gold − | F1 − | gold ? | F1 ? |\n|---|---|---|---|---|---|---|\n",
            );
            for o in observations {
                out.push_str(&format!(
                    "| {} | {} | {:.3} | {} | {:.3} | {} | {:.3} |\n",
                    o.observation,
                    o.positive.support,
                    o.positive.f1,
                    o.negative.support,
                    o.negative.f1,
                    o.uncertain.support,
                    o.uncertain.f1
                ));
            }
        }
    }
    if let Some(agreement) = agreement {
        out.push_str("\n| observation | agreement | kappa |\n|---|---|---|\n");
        for a in agreement {
            out.push_str(&format!("| {} | {:.3} | {:.3} |\n", a.observation, a.agreement, a.kappa));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(statuses: &[(Observation, Status)]) -> StatusRow {
        let mut row = [Status::NotMentioned; Observation::COUNT];
        for &(observation, status) in statuses {
            row[observation.index()] = status;
        }
        row
    }

    fn binary_row(present: &[Observation]) -> BinaryRow {
        let mut row = [false; Observation::COUNT];
        for observation in present {
            row[observation.index()] = true;
        }
        row
    }

    #[test]
    fn scores_follow_the_definitions() {
        let scores =
            Scores::from_pairs([(true, true), (true, false), (false, true), (false, true), (false, false)].into_iter());
        assert_eq!(
            (scores.support, scores.true_positives, scores.false_positives, scores.false_negatives),
            (3, 1, 1, 2)
        );
        assert!((scores.precision - 0.5).abs() < 1e-12);
        assert!((scores.recall - 1.0 / 3.0).abs() < 1e-12);
        assert!((scores.f1 - 0.4).abs() < 1e-12);
        assert_eq!(Scores::from_pairs([(false, true)].into_iter()).f1, 0.0);
    }

    #[test]
    fn binary_gold_scores_u0_and_u1_and_skips_observations_without_positives() {
        use Observation::*;
        let predictions = LabelSet::Statuses(BTreeMap::from([
            ("a".to_owned(), row(&[(Cardiomegaly, Status::Positive), (Edema, Status::Uncertain)])),
            ("b".to_owned(), row(&[(Cardiomegaly, Status::Negative), (Edema, Status::Positive)])),
            ("extra".to_owned(), row(&[])),
        ]));
        let gold = LabelSet::Binary(BTreeMap::from([
            ("a".to_owned(), binary_row(&[Cardiomegaly, Edema])),
            ("b".to_owned(), binary_row(&[])),
        ]));
        let evaluation = evaluate(&predictions, &gold).expect("evaluates");
        let Evaluation::Binary {
            reports,
            observations,
            macro_f1_uncertain_as_negative,
            macro_f1_uncertain_as_positive,
        } = &evaluation
        else {
            panic!("binary evaluation")
        };
        assert_eq!(*reports, 2, "only gold ids are scored");
        assert_eq!(observations[Cardiomegaly.index()].uncertain_as_negative.f1, 1.0);
        assert_eq!(observations[Edema.index()].uncertain_as_negative.f1, 0.0);
        assert!((observations[Edema.index()].uncertain_as_positive.f1 - 2.0 / 3.0).abs() < 1e-12);
        // Two observations have gold positives: (1 + 0) / 2 and (1 + 2/3) / 2.
        assert!((macro_f1_uncertain_as_negative - 0.5).abs() < 1e-12);
        assert!((macro_f1_uncertain_as_positive - 5.0 / 6.0).abs() < 1e-12);
        assert!(markdown(&evaluation, None).contains("| Cardiomegaly | 1 | 1.000 | 1.000 | 1.000 | 1.000 |"));
    }

    #[test]
    fn a_missing_prediction_is_an_error() {
        let predictions = LabelSet::Statuses(BTreeMap::from([("a".to_owned(), row(&[]))]));
        let gold =
            LabelSet::Binary(BTreeMap::from([("a".to_owned(), binary_row(&[])), ("b".to_owned(), binary_row(&[]))]));
        let error = evaluate(&predictions, &gold).expect_err("b is missing");
        assert!(error.to_string().contains("lack 1 of the 2 gold reports"), "{error}");
        assert!(evaluate(&gold, &gold).is_err(), "binary predictions are refused");
    }

    #[test]
    fn four_status_gold_scores_each_status() {
        use Observation::*;
        let gold = LabelSet::Statuses(BTreeMap::from([
            ("a".to_owned(), row(&[(Edema, Status::Negative), (Pneumonia, Status::Uncertain)])),
            ("b".to_owned(), row(&[(Edema, Status::Positive)])),
        ]));
        let predictions = LabelSet::Statuses(BTreeMap::from([
            ("a".to_owned(), row(&[(Edema, Status::Negative), (Pneumonia, Status::Positive)])),
            ("b".to_owned(), row(&[(Edema, Status::Positive)])),
        ]));
        let Evaluation::Statuses { observations, macro_f1, .. } = evaluate(&predictions, &gold).expect("evaluates")
        else {
            panic!("four-status evaluation")
        };
        assert_eq!(observations[Edema.index()].negative.f1, 1.0);
        assert_eq!(observations[Pneumonia.index()].uncertain.f1, 0.0);
        assert_eq!(macro_f1[&Status::Positive], 1.0, "only Edema has a gold positive");
        assert_eq!(macro_f1[&Status::Uncertain], 0.0);
    }

    #[test]
    fn agreement_and_kappa() {
        use Observation::*;
        let left = LabelSet::Statuses(BTreeMap::from([
            ("a".to_owned(), row(&[(Edema, Status::Positive)])),
            ("b".to_owned(), row(&[(Edema, Status::Negative)])),
        ]));
        let right = LabelSet::Statuses(BTreeMap::from([
            ("a".to_owned(), row(&[(Edema, Status::Positive)])),
            ("b".to_owned(), row(&[(Edema, Status::Positive)])),
            ("c".to_owned(), row(&[])),
        ]));
        let table = agreement(&left, &right).expect("agreement");
        assert_eq!(table[Edema.index()].agreement, 0.5);
        assert_eq!(table[Edema.index()].kappa, 0.0, "agreement at chance level");
        assert_eq!(table[Fracture.index()].kappa, 1.0, "both always not mentioned");
    }
}
