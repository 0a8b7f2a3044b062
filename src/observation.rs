//! The label space: the 14 CheXpert observations and the 4 statuses a report can give each.
//!
//! This module is the one place in the project that spells the observation names. The model's
//! `labels.json` repeats them (in the model's own output order) and the loader checks it against
//! this list; the trainer and the CLI take names, order and CheXpert values from here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One of the 14 CheXpert observations, in the CheXpert labeler's column order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[allow(missing_docs)] // the variants are the observations' names
pub enum Observation {
    #[serde(rename = "No Finding")]
    NoFinding,
    #[serde(rename = "Enlarged Cardiomediastinum")]
    EnlargedCardiomediastinum,
    #[serde(rename = "Cardiomegaly")]
    Cardiomegaly,
    #[serde(rename = "Lung Lesion")]
    LungLesion,
    #[serde(rename = "Lung Opacity")]
    LungOpacity,
    #[serde(rename = "Edema")]
    Edema,
    #[serde(rename = "Consolidation")]
    Consolidation,
    #[serde(rename = "Pneumonia")]
    Pneumonia,
    #[serde(rename = "Atelectasis")]
    Atelectasis,
    #[serde(rename = "Pneumothorax")]
    Pneumothorax,
    #[serde(rename = "Pleural Effusion")]
    PleuralEffusion,
    #[serde(rename = "Pleural Other")]
    PleuralOther,
    #[serde(rename = "Fracture")]
    Fracture,
    #[serde(rename = "Support Devices")]
    SupportDevices,
}

impl Observation {
    /// Number of observations.
    pub const COUNT: usize = 14;

    /// All observations in output order (the CheXpert labeler's column order).
    pub const ALL: [Observation; Observation::COUNT] = [
        Observation::NoFinding,
        Observation::EnlargedCardiomediastinum,
        Observation::Cardiomegaly,
        Observation::LungLesion,
        Observation::LungOpacity,
        Observation::Edema,
        Observation::Consolidation,
        Observation::Pneumonia,
        Observation::Atelectasis,
        Observation::Pneumothorax,
        Observation::PleuralEffusion,
        Observation::PleuralOther,
        Observation::Fracture,
        Observation::SupportDevices,
    ];

    /// The observation's name as written in CheXpert CSV headers and in `labels.json`.
    pub const fn name(self) -> &'static str {
        match self {
            Observation::NoFinding => "No Finding",
            Observation::EnlargedCardiomediastinum => "Enlarged Cardiomediastinum",
            Observation::Cardiomegaly => "Cardiomegaly",
            Observation::LungLesion => "Lung Lesion",
            Observation::LungOpacity => "Lung Opacity",
            Observation::Edema => "Edema",
            Observation::Consolidation => "Consolidation",
            Observation::Pneumonia => "Pneumonia",
            Observation::Atelectasis => "Atelectasis",
            Observation::Pneumothorax => "Pneumothorax",
            Observation::PleuralEffusion => "Pleural Effusion",
            Observation::PleuralOther => "Pleural Other",
            Observation::Fracture => "Fracture",
            Observation::SupportDevices => "Support Devices",
        }
    }

    /// Position in [`Observation::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Whether this observation is one of the 12 pathologies whose positive or uncertain status
    /// rules out No Finding (every observation except No Finding and Support Devices).
    pub const fn is_pathology(self) -> bool {
        !matches!(self, Observation::NoFinding | Observation::SupportDevices)
    }

    /// Whether this observation with `status` reports a pathology (a pathology, positive or
    /// uncertain): the guideline's condition for No Finding not to be positive.
    pub const fn reports_pathology(self, status: Status) -> bool {
        self.is_pathology() && matches!(status, Status::Positive | Status::Uncertain)
    }
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Observation {
    type Err = UnknownName;

    /// Parses an exact observation name ("Pleural Effusion").
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Observation::ALL
            .into_iter()
            .find(|observation| observation.name() == name)
            .ok_or_else(|| UnknownName(name.to_owned()))
    }
}

/// What a report says about one observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Stated as present (CheXpert 1.0).
    Positive,
    /// Stated as absent or resolved (CheXpert 0.0).
    Negative,
    /// Hedged (CheXpert -1.0).
    Uncertain,
    /// Nothing is said about it (CheXpert blank).
    NotMentioned,
}

impl Status {
    /// Number of statuses.
    pub const COUNT: usize = 4;

    /// All statuses in canonical order (the order of [`crate::Probabilities`]).
    pub const ALL: [Status; Status::COUNT] =
        [Status::Positive, Status::Negative, Status::Uncertain, Status::NotMentioned];

    /// The status's name in JSON and in `labels.json` (`not_mentioned`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Status::Positive => "positive",
            Status::Negative => "negative",
            Status::Uncertain => "uncertain",
            Status::NotMentioned => "not_mentioned",
        }
    }

    /// Position in [`Status::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The CheXpert labeler's value: 1.0, 0.0, -1.0, or `None` (an empty cell).
    pub const fn chexpert_value(self) -> Option<f32> {
        match self {
            Status::Positive => Some(1.0),
            Status::Negative => Some(0.0),
            Status::Uncertain => Some(-1.0),
            Status::NotMentioned => None,
        }
    }

    /// Rank when several mentions of one observation disagree: positive beats uncertain, which
    /// beats negative, which beats not mentioned (the guideline's precedence).
    pub const fn precedence(self) -> u8 {
        match self {
            Status::Positive => 3,
            Status::Uncertain => 2,
            Status::Negative => 1,
            Status::NotMentioned => 0,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Status {
    type Err = UnknownName;

    /// Parses a status name as written in JSON (`positive`, `not_mentioned`, ...).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Status::ALL.into_iter().find(|status| status.name() == name).ok_or_else(|| UnknownName(name.to_owned()))
    }
}

/// A name that is not one of the observations or statuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown name {0:?}")]
pub struct UnknownName(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for observation in Observation::ALL {
            assert_eq!(observation.name().parse::<Observation>(), Ok(observation));
            let json = serde_json::to_string(&observation).expect("serializes");
            assert_eq!(json, format!("\"{}\"", observation.name()));
        }
        for status in Status::ALL {
            assert_eq!(status.name().parse::<Status>(), Ok(status));
            let json = serde_json::to_string(&status).expect("serializes");
            assert_eq!(json, format!("\"{}\"", status.name()));
        }
        assert!("pleural effusion".parse::<Observation>().is_err());
        assert!("Positive".parse::<Status>().is_err());
    }

    #[test]
    fn indices_follow_the_canonical_order() {
        for (index, observation) in Observation::ALL.into_iter().enumerate() {
            assert_eq!(observation.index(), index);
        }
        for (index, status) in Status::ALL.into_iter().enumerate() {
            assert_eq!(status.index(), index);
        }
    }

    #[test]
    fn chexpert_values_and_precedence_follow_the_guideline() {
        assert_eq!(Status::Positive.chexpert_value(), Some(1.0));
        assert_eq!(Status::Negative.chexpert_value(), Some(0.0));
        assert_eq!(Status::Uncertain.chexpert_value(), Some(-1.0));
        assert_eq!(Status::NotMentioned.chexpert_value(), None);
        let mut by_precedence = Status::ALL;
        by_precedence.sort_by_key(|status| std::cmp::Reverse(status.precedence()));
        assert_eq!(by_precedence, [Status::Positive, Status::Uncertain, Status::Negative, Status::NotMentioned]);
    }

    #[test]
    fn twelve_pathologies() {
        let pathologies: Vec<_> = Observation::ALL.into_iter().filter(|o| o.is_pathology()).collect();
        assert_eq!(pathologies.len(), 12);
        assert!(!Observation::NoFinding.is_pathology());
        assert!(!Observation::SupportDevices.is_pathology());
    }
}
