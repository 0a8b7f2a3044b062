//! `cxr-trainer rules`: a rule-based labeler following the guideline — mention phrases per
//! observation, negation and uncertainty cues with clause scopes (NegEx-style), the
//! guideline's precedence (positive > uncertain > negative) and its No Finding rule. It is the
//! baseline row of every comparison, and a teacher for users without a language model.

use cxr_labeler::{Observation, Status};

use crate::teacher::{TeacherLabel, TeacherLabels};

/// A lowercase word of a sentence and its byte span in the report.
#[derive(Clone, Debug)]
struct Word {
    text: String,
    start: usize,
    end: usize,
}

/// Splits `text[range]` into lowercase words (letters, digits, `'`, `-`); `/` becomes the word
/// "or" (the guideline reads "X/Y" as alternatives) and `;` `:` become clause breaks.
fn words(text: &str, offset: usize) -> Vec<Word> {
    let mut words = Vec::new();
    let mut current: Option<usize> = None;
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    for (index, &(position, character)) in bytes.iter().enumerate() {
        let in_word = character.is_alphanumeric() || ((character == '-' || character == '\'') && current.is_some());
        match (in_word, current) {
            (true, None) => current = Some(position),
            (false, Some(start)) => {
                words.push(Word {
                    text: text[start..position].to_lowercase(),
                    start: offset + start,
                    end: offset + position,
                });
                current = None;
            }
            _ => {}
        }
        if !in_word && matches!(character, '/' | ';' | ':' | '?') {
            let token = match character {
                '/' => "or",
                '?' => "?",
                _ => ";",
            };
            let end = bytes.get(index + 1).map_or(text.len(), |&(next, _)| next);
            words.push(Word { text: token.to_owned(), start: offset + position, end: offset + end });
        }
    }
    if let Some(start) = current {
        words.push(Word { text: text[start..].to_lowercase(), start: offset + start, end: offset + text.len() });
    }
    words
}

/// Phrases, as word sequences, that mention each observation.
fn mentions(observation: Observation) -> &'static [&'static str] {
    use Observation::*;
    match observation {
        NoFinding => &[],
        EnlargedCardiomediastinum => &[
            "widened mediastinum",
            "mediastinal widening",
            "widening of the mediastinum",
            "enlarged mediastinum",
            "mediastinum is widened",
            "mediastinum is enlarged",
            "mediastinal mass",
            "mediastinal adenopathy",
            "mediastinal lymphadenopathy",
            "paratracheal adenopathy",
            "mediastinal contour",
            "mediastinal contours",
            "cardiomediastinal silhouette",
            "cardiomediastinal contour",
            "cardiomediastinal contours",
            "mediastinum",
            "mediastinal silhouette",
        ],
        Cardiomegaly => &[
            "cardiomegaly",
            "heart size",
            "cardiac size",
            "size of the heart",
            "heart",
            "cardiac silhouette",
            "cardiac enlargement",
            "cardiac shadow",
            "cardiomediastinal silhouette",
            "cardiac contour",
            "cardiac contours",
            "cardiac silhouettes",
            "cardiopulmonary silhouette",
        ],
        LungLesion => &[
            "nodule",
            "nodules",
            "mass",
            "masses",
            "lesion",
            "lesions",
            "tumor",
            "tumors",
            "neoplasm",
            "carcinoma",
            "cancer",
            "cavitary",
            "cavity",
            "cavitation",
            "nodular opacity",
            "nodular density",
            "metastasis",
            "metastases",
            "metastatic",
        ],
        LungOpacity => &[
            "opacity",
            "opacities",
            "opacification",
            "opacified",
            "infiltrate",
            "infiltrates",
            "airspace disease",
            "air space disease",
            "airspace",
            "air space",
            "density",
            "densities",
            "haziness",
            "hazy",
            "ground-glass",
            "ground glass",
            "interstitial markings",
            "interstitial marking",
            "interstitial prominence",
            "interstitial pattern",
            "interstitial opacities",
            "reticular",
            "reticulonodular",
            "scarring",
            "scar",
            "fibrosis",
            "fibrotic",
            "fibronodular",
            "peribronchial thickening",
            "peribronchial cuffing",
            "interstitial lung disease",
            "interstitial disease",
        ],
        Edema => &[
            "edema",
            "congestion",
            "vascular congestion",
            "vascular prominence",
            "prominent pulmonary vasculature",
            "pulmonary vascular prominence",
            "cephalization",
            "chf",
            "congestive heart failure",
            "fluid overload",
            "heart failure",
        ],
        Consolidation => &["consolidation", "consolidations", "consolidative", "consolidated"],
        Pneumonia => {
            &["pneumonia", "pneumonias", "infection", "infectious", "bronchopneumonia", "tuberculosis", "pneumonitis"]
        }
        Atelectasis => &["atelectasis", "atelectatic", "collapse", "collapsed"],
        Pneumothorax => &["pneumothorax", "pneumothoraces", "hydropneumothorax"],
        PleuralEffusion => {
            &["pleural effusion", "pleural effusions", "effusion", "effusions", "pleural fluid", "hydropneumothorax"]
        }
        PleuralOther => &[
            "pleural thickening",
            "pleural scarring",
            "pleural scar",
            "pleural plaque",
            "pleural plaques",
            "pleural calcification",
            "pleural calcifications",
            "fibrothorax",
            "apical cap",
            "apical caps",
            "pleural-parenchymal scarring",
            "pleuroparenchymal scarring",
            "apical pleural thickening",
        ],
        Fracture => &["fracture", "fractures", "fractured", "compression deformity", "compression deformities"],
        SupportDevices => &[
            "catheter",
            "catheters",
            "central line",
            "central venous line",
            "picc",
            "port",
            "port-a-cath",
            "portacath",
            "tube",
            "tubes",
            "et tube",
            "ng tube",
            "pacemaker",
            "pacer",
            "defibrillator",
            "aicd",
            "icd",
            "leads",
            "lead",
            "stent",
            "stents",
            "prosthetic valve",
            "valve replacement",
            "hardware",
            "plate",
            "screws",
            "screw",
            "rod",
            "rods",
            "arthroplasty",
            "drain",
            "drains",
            "loop recorder",
            "ivc filter",
            "stimulator",
            "line",
            "lines",
            "wires",
            "tip",
            "xxxx-a-xxxx",
            "generator",
            "electrode",
            "electrodes",
            "pacing",
        ],
    }
}

/// Phrases that contain a mention word but do not mention the observation.
fn exclusions(observation: Observation) -> &'static [&'static str] {
    use Observation::*;
    match observation {
        LungLesion => &[
            "calcified nodule",
            "calcified nodules",
            "calcified granuloma",
            "calcified granulomas",
            "mediastinal mass",
            "soft tissue mass",
            "breast mass",
            "granulomatous",
            "calcified lymph",
        ],
        LungOpacity => &[
            "pleural scar",
            "pleural scarring",
            "pleural-parenchymal scarring",
            "breast density",
            "soft tissue density",
            "nodular opacity",
        ],
        PleuralEffusion => &["pericardial effusion", "pericardial effusions"],
        Edema => &["soft tissue edema"],
        Atelectasis => &[],
        Pneumonia => &["old granulomatous", "healed granulomatous", "prior infection", "previous infection"],
        SupportDevices => &[
            "sternotomy wires",
            "sternotomy wire",
            "sternal wires",
            "midline",
            "line of",
            "lines of",
            "skin fold",
            "ekg leads",
            "ecg leads",
            "monitoring leads",
            "external leads",
            "telemetry leads",
            "tubes removed",
            "linear",
            "pleural line",
            "azygoesophageal line",
            "paraspinal line",
            "lines and tubes removed",
        ],
        Cardiomegaly => &["heart failure", "congestive heart failure"],
        EnlargedCardiomediastinum => &[],
        _ => &[],
    }
}

/// Mentions that only name a structure ("heart size", "mediastinum"): they count only with a
/// qualifier (enlarged: positive; normal: negative; borderline: uncertain).
fn is_topic(observation: Observation, phrase: &str) -> bool {
    match observation {
        Observation::Cardiomegaly => phrase != "cardiomegaly" && phrase != "cardiac enlargement",
        Observation::EnlargedCardiomediastinum => {
            matches!(
                phrase,
                "mediastinal contour"
                    | "mediastinal contours"
                    | "cardiomediastinal silhouette"
                    | "cardiomediastinal contour"
                    | "cardiomediastinal contours"
                    | "mediastinum"
                    | "mediastinal silhouette"
            )
        }
        _ => false,
    }
}

const ENLARGED: &[&str] = &[
    "enlarged",
    "enlargement",
    "widened",
    "widening",
    "prominent",
    "prominence",
    "increased",
    "large",
    "cardiomegaly",
];
const NORMAL: &[&str] = &[
    "normal",
    "unremarkable",
    "stable",
    "within normal limits",
    "not enlarged",
    "not widened",
    "upper limits of normal",
    "top normal",
    "top-normal",
    "upper normal",
    "borderline",
    "negative",
    "midline",
];
const BORDERLINE: &[&str] = &[
    "borderline",
    "upper limits of normal",
    "top normal",
    "top-normal",
    "upper normal",
    "mildly prominent",
    "at the upper limits",
];

const NEGATION_BEFORE: &[&str] = &[
    "no",
    "not",
    "without",
    "negative for",
    "free of",
    "absence of",
    "absent",
    "resolution of",
    "resolved",
    "clear of",
    "ruled out",
    "removal of",
    "removed",
    "interval removal",
    "never",
    "nor",
];
const NEGATION_AFTER: &[&str] = &[
    "has resolved",
    "have resolved",
    "resolved",
    "is not seen",
    "are not seen",
    "not seen",
    "not identified",
    "not present",
    "not visualized",
    "is absent",
    "are absent",
    "removed",
    "has been removed",
    "have been removed",
    "no longer",
    "has cleared",
    "have cleared",
    "cleared",
];
const UNCERTAIN_BEFORE: &[&str] = &[
    "possible",
    "possibly",
    "probable",
    "probably",
    "likely",
    "may",
    "might",
    "could",
    "suggest",
    "suggests",
    "suggesting",
    "suggestive",
    "suspicious",
    "suspected",
    "suspect",
    "concerning",
    "concern",
    "questionable",
    "question",
    "versus",
    "vs",
    "borderline",
    "differential",
    "consider",
    "considered",
    "equivocal",
    "indeterminate",
    "presumed",
    "presumably",
    "potential",
    "cannot exclude",
    "can not exclude",
    "to exclude",
    "rule out",
    "or",
    "?",
];
const UNCERTAIN_AFTER: &[&str] = &[
    "or",
    "versus",
    "vs",
    "is not excluded",
    "not excluded",
    "cannot be excluded",
    "can not be excluded",
    "not be excluded",
    "could be",
    "may be",
    "is possible",
    "is suspected",
    "is questioned",
    "?",
    "is likely",
    "are likely",
    "would be",
];
/// Words that end a cue's scope.
const SCOPE_BREAKS: &[&str] =
    &[";", "but", "however", "although", "though", "except", "which", "whereas", "while", "there", "with"];
/// "no new X", "no increase in X": an old X may remain (uncertain).
const NOT_NEW: &[&str] = &[
    "no new",
    "no increase",
    "no increased",
    "no increasing",
    "no worsening",
    "no significant change",
    "no change",
    "not changed",
    "unchanged",
    "no interval change",
];

/// Abnormalities outside the 14 that block No Finding when stated as present.
const OTHER_ABNORMALITIES: &[&str] = &[
    "emphysema",
    "emphysematous",
    "hyperinflation",
    "hyperinflated",
    "hyperexpansion",
    "hyperexpanded",
    "low lung volumes",
    "granuloma",
    "granulomas",
    "granulomatous",
    "calcified node",
    "calcified nodes",
    "calcified lymph",
    "calcified nodule",
    "calcified nodules",
    "scoliosis",
    "degenerative",
    "spondylosis",
    "osteophytes",
    "osteophyte",
    "hernia",
    "tortuous",
    "tortuosity",
    "ectatic",
    "ectasia",
    "aneurysm",
    "aortic calcification",
    "calcified aorta",
    "calcification of the aorta",
    "atherosclerotic",
    "atherosclerosis",
    "elevated hemidiaphragm",
    "elevation of the",
    "blunting",
    "blunted",
    "hilar fullness",
    "hilar adenopathy",
    "adenopathy",
    "lymphadenopathy",
    "pericardial effusion",
    "copd",
    "chronic obstructive",
    "kyphosis",
    "osteopenia",
    "deformity",
    "sternotomy",
    "surgical clips",
    "clips",
    "postsurgical",
    "post-surgical",
    "postoperative",
    "post-operative",
    "cholecystectomy",
    "bronchiectasis",
    "bullae",
    "bulla",
    "calcified",
    "eventration",
    "thickening",
    "low volumes",
    "decreased lung volumes",
    "lung volumes are decreased",
    "volumes are low",
    "crowding",
    "fusion",
    "prosthesis",
    "prostheses",
    "calcification",
    "calcifications",
    "aberrant",
    "injury",
    "healed",
    "remote",
    "status post",
    "hypoinflation",
    "interstitial lung disease",
];

fn find(words: &[Word], phrase: &str, from: usize, to: usize) -> Vec<usize> {
    let parts: Vec<&str> = phrase.split(' ').collect();
    if to < parts.len() || from > to {
        return Vec::new();
    }
    (from..=to - parts.len())
        .filter(|&start| parts.iter().enumerate().all(|(offset, part)| words[start + offset].text == *part))
        .collect()
}

fn contains_any(words: &[Word], phrases: &[&str], from: usize, to: usize) -> Option<usize> {
    phrases.iter().flat_map(|phrase| find(words, phrase, from, to)).min()
}

/// The clause around word `index`: from after the last scope break before it to the next one.
fn clause(words: &[Word], index: usize) -> (usize, usize) {
    let is_break = |word: &Word| SCOPE_BREAKS.contains(&word.text.as_str());
    let start = words[..index].iter().rposition(is_break).map_or(0, |position| position + 1);
    let end = words[index..].iter().position(is_break).map_or(words.len(), |position| index + position);
    (start, end)
}

/// The status of a mention spanning words `start..end`, or `None` if it does not count.
fn mention_status(words: &[Word], start: usize, end: usize, topic: bool) -> Option<(Status, usize)> {
    let (clause_start, clause_end) = clause(words, start);
    if topic {
        let qualifier_window = (clause_start, clause_end);
        if contains_any(words, BORDERLINE, qualifier_window.0, qualifier_window.1).is_some() {
            return Some((Status::Uncertain, qualifier_window.0));
        }
        let enlarged = contains_any(words, ENLARGED, qualifier_window.0, qualifier_window.1);
        let normal = contains_any(words, NORMAL, qualifier_window.0, qualifier_window.1);
        return match (enlarged, normal) {
            (Some(qualifier), None) => {
                let negator = contains_any(words, &["no", "not", "without"], clause_start, clause_end);
                if negator.is_some_and(|negator| negator < qualifier) {
                    Some((Status::Negative, clause_start))
                } else if contains_any(words, UNCERTAIN_BEFORE, clause_start, start).is_some() {
                    Some((Status::Uncertain, clause_start))
                } else {
                    Some((Status::Positive, clause_start))
                }
            }
            (_, Some(_)) => Some((Status::Negative, clause_start)),
            (None, None) => None,
        };
    }
    if contains_any(words, NOT_NEW, clause_start, start).is_some() {
        return Some((Status::Uncertain, clause_start));
    }
    if let Some(cue) = contains_any(words, NEGATION_BEFORE, clause_start, start) {
        return Some((Status::Negative, cue));
    }
    if contains_any(words, NEGATION_AFTER, end, clause_end.min(end + 6)).is_some() {
        return Some((Status::Negative, start));
    }
    if let Some(cue) = contains_any(words, UNCERTAIN_BEFORE, clause_start.max(start.saturating_sub(6)), start) {
        return Some((Status::Uncertain, cue));
    }
    if contains_any(words, UNCERTAIN_AFTER, end, clause_end.min(end + 6)).is_some() {
        return Some((Status::Uncertain, start));
    }
    Some((Status::Positive, start))
}

/// Labels one report.
pub fn label(text: &str) -> TeacherLabels {
    let mut best: Vec<Option<TeacherLabel>> = vec![None; Observation::COUNT];
    let mut other_abnormality = false;
    for sentence in cxr_labeler::window::sentence_spans(text) {
        let words = words(&text[sentence.clone()], sentence.start);
        if words.is_empty() {
            continue;
        }
        let last = words.len();
        for observation in Observation::ALL {
            let excluded: Vec<(usize, usize)> = exclusions(observation)
                .iter()
                .flat_map(|phrase| {
                    let length = phrase.split(' ').count();
                    find(&words, phrase, 0, last).into_iter().map(move |start| (start, start + length))
                })
                .collect();
            for phrase in mentions(observation) {
                let length = phrase.split(' ').count();
                for start in find(&words, phrase, 0, last) {
                    let end = start + length;
                    if excluded.iter().any(|&(a, b)| a <= start && end <= b) {
                        continue;
                    }
                    let Some((status, evidence_start)) =
                        mention_status(&words, start, end, is_topic(observation, phrase))
                    else {
                        continue;
                    };
                    let slot = &mut best[observation.index()];
                    if slot.as_ref().is_none_or(|kept| status.precedence() > kept.status.precedence()) {
                        *slot = Some(TeacherLabel {
                            status,
                            confidence: confidence(status),
                            evidence: evidence(text, &words, evidence_start, end),
                            probabilities: None,
                        });
                    }
                }
            }
        }
        for phrase in OTHER_ABNORMALITIES {
            for start in find(&words, phrase, 0, last) {
                let end = start + phrase.split(' ').count();
                if matches!(mention_status(&words, start, end, false), Some((Status::Positive | Status::Uncertain, _)))
                {
                    other_abnormality = true;
                }
            }
        }
    }
    let pathology =
        Observation::ALL.iter().any(|o| best[o.index()].as_ref().is_some_and(|l| o.reports_pathology(l.status)));
    if !pathology && !other_abnormality && !cxr_labeler::is_blank(text) {
        let first_words: Vec<&str> = text.split_whitespace().take(8).collect();
        let quote = first_words.join(" ");
        let evidence =
            if text.contains(&quote) { quote } else { text.split_whitespace().next().unwrap_or_default().to_owned() };
        best[Observation::NoFinding.index()] =
            Some(TeacherLabel { status: Status::Positive, confidence: 0.8, evidence, probabilities: None });
    }
    TeacherLabels(Observation::ALL.into_iter().zip(best).filter_map(|(o, label)| label.map(|l| (o, l))).collect())
}

fn confidence(status: Status) -> f32 {
    match status {
        Status::Uncertain => 0.7,
        _ => 0.9,
    }
}

/// The verbatim text from word `from` to the end of word `to - 1`, at most 15 words (the last
/// 15 if longer, so the mention stays in).
fn evidence(text: &str, words: &[Word], from: usize, to: usize) -> String {
    let from = from.max(to.saturating_sub(15));
    text[words[from].start..words[to - 1].end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(text: &str) -> Vec<(Observation, Status)> {
        label(text).0.into_iter().map(|(o, l)| (o, l.status)).collect()
    }

    #[test]
    fn the_guideline_worked_examples() {
        use Observation::*;
        use Status::*;
        assert_eq!(
            statuses("Heart size normal and lungs are clear. No edema or pneumonia. No effusion."),
            [
                (NoFinding, Positive),
                (Cardiomegaly, Negative),
                (Edema, Negative),
                (Pneumonia, Negative),
                (PleuralEffusion, Negative)
            ]
        );
        assert_eq!(
            statuses(
                "Left pleural effusion with adjacent atelectasis. Right effusion is also present. Cardiomegaly without overt edema."
            ),
            [(Cardiomegaly, Positive), (Edema, Negative), (Atelectasis, Positive), (PleuralEffusion, Positive)]
        );
        assert_eq!(
            statuses("Minimal patchy airspace disease within the lingula, may reflect atelectasis or consolidation."),
            [(LungOpacity, Positive), (Consolidation, Uncertain), (Atelectasis, Uncertain)]
        );
        assert_eq!(
            statuses("The heart is normal in size. Calcified granuloma right upper lobe. No pneumothorax or effusion."),
            [(Cardiomegaly, Negative), (Pneumothorax, Negative), (PleuralEffusion, Negative)]
        );
        assert_eq!(
            statuses("Right IJ catheter tip in the SVC. No new focal consolidation."),
            [(Consolidation, Uncertain), (SupportDevices, Positive)]
        );
        assert_eq!(
            statuses("Right IJ catheter tip in the SVC. Lungs are clear. No acute disease."),
            [(NoFinding, Positive), (SupportDevices, Positive)]
        );
    }

    #[test]
    fn evidence_is_verbatim_and_short() {
        let text = "Stable mild cardiomegaly. No pleural effusion.";
        for (_, label) in label(text).0 {
            assert!(text.contains(&label.evidence), "{:?} is not a quote", label.evidence);
            assert!(label.evidence.split_whitespace().count() <= 15);
        }
    }

    #[test]
    fn empty_reports_have_no_labels() {
        assert!(label("").0.is_empty());
        assert!(label("  \n ").0.is_empty());
    }
}
