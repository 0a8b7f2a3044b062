//! Training data: reports joined with the teacher's labels, turned into soft targets, and
//! batched by length.
//!
//! What the distillation stage receives from a teacher line (the guideline's format): for each
//! listed observation a `status` and its `confidence`, and optionally `probabilities` (a full
//! distribution over the four statuses, written by `pseudo-label --samples K`). The soft target
//! of an observation is `probabilities` when present; otherwise `confidence` on the status and
//! the rest spread evenly over the statuses the observation can take. An observation the line
//! does not list is not mentioned, with confidence `absent_confidence`. No Finding can only be
//! positive or not mentioned.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use cxr_labeler::io::{InputFormat, ReportReader};
use cxr_labeler::{Observation, Probabilities, ReportTokenizer, Status};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::annotations::id_string;

/// A distribution over the four statuses for each observation, in canonical order.
pub type Target = [[f32; Status::COUNT]; Observation::COUNT];

/// One training report.
#[derive(Clone, Debug)]
pub struct Example {
    /// The report id.
    pub id: String,
    /// Token ids, special tokens included, at most the model's `max_length`.
    pub ids: Vec<u32>,
    /// The soft target.
    pub target: Target,
}

/// A source of training reports and their teacher labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// A JSONL file of reports (`text`, or `findings`/`impression`; `id`), or a folder of them.
    pub reports: PathBuf,
    /// The teacher's labels for those reports (JSONL, keyed by `id`); absent when each report
    /// line carries its own `labels` (like the synthetic reports).
    #[serde(default)]
    pub labels: Option<PathBuf>,
}

/// How teacher labels become soft targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Confidence given to "not mentioned" for an observation a teacher line does not list.
    #[serde(default = "default_absent_confidence")]
    pub absent_confidence: f32,
}

impl Default for TargetConfig {
    fn default() -> Self {
        TargetConfig { absent_confidence: default_absent_confidence() }
    }
}

fn default_absent_confidence() -> f32 {
    0.98
}

/// One observation in a teacher line.
#[derive(Deserialize)]
struct TeacherLabel {
    status: Status,
    confidence: Option<f32>,
    probabilities: Option<Probabilities>,
}

#[derive(Deserialize)]
struct TeacherLine {
    id: serde_json::Value,
    labels: BTreeMap<String, TeacherLabel>,
}

/// The statuses an observation can take (No Finding: positive or not mentioned).
fn allowed(observation: Observation) -> &'static [Status] {
    if observation == Observation::NoFinding { &[Status::Positive, Status::NotMentioned] } else { &Status::ALL }
}

/// `probability` on `status`, the rest spread evenly over the other statuses `observation` can take.
fn spread(observation: Observation, status: Status, probability: f32) -> [f32; Status::COUNT] {
    let others: Vec<Status> = allowed(observation).iter().copied().filter(|s| *s != status).collect();
    let mut row = [0.0; Status::COUNT];
    row[status.index()] = probability;
    for other in &others {
        row[other.index()] = (1.0 - probability) / others.len() as f32;
    }
    row
}

fn target(labels: &BTreeMap<String, TeacherLabel>, config: &TargetConfig, line: usize) -> anyhow::Result<Target> {
    let mut target = Observation::ALL.map(|o| spread(o, Status::NotMentioned, config.absent_confidence));
    for (name, label) in labels {
        let observation: Observation = name.parse().with_context(|| format!("line {line}: unknown observation"))?;
        if !allowed(observation).contains(&label.status) {
            bail!("line {line}: {observation} cannot be {}", label.status);
        }
        target[observation.index()] = match (label.probabilities, label.confidence) {
            (Some(probabilities), _) => {
                let row = probabilities.to_array();
                let sum: f32 = row.iter().sum();
                if row.iter().any(|p| !(0.0..=1.0).contains(p)) || (sum - 1.0).abs() > 1e-3 {
                    bail!("line {line}: {observation}: probabilities must be a distribution");
                }
                row
            }
            (None, Some(confidence)) if (0.0..=1.0).contains(&confidence) => {
                spread(observation, label.status, confidence)
            }
            (None, confidence) => bail!("line {line}: {observation}: confidence {confidence:?} is not in [0, 1]"),
        };
    }
    Ok(target)
}

/// The JSONL files of a source: the file itself, or every `*.jsonl` of a folder (sorted).
pub fn source_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = fs_err::read_dir(path)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|file| file.extension().is_some_and(|extension| extension == "jsonl"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{} holds no .jsonl file", path.display());
    }
    Ok(files)
}

/// Reads the reports of a file: id and text, in file order.
pub fn read_reports(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let file = fs_err::File::open(path)?;
    ReportReader::new(file, &InputFormat::Jsonl)?
        .map(|report| {
            let report = report?;
            let id = report.id.as_ref().map(id_string).with_context(|| format!("line {}: no id", report.line))?;
            Ok((id, report.text))
        })
        .collect::<anyhow::Result<_>>()
        .with_context(|| format!("reading reports from {}", path.display()))
}

fn read_targets(path: &Path, config: &TargetConfig) -> anyhow::Result<BTreeMap<String, Target>> {
    let text = fs_err::read_to_string(path)?;
    let mut targets = BTreeMap::new();
    for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        let parsed: TeacherLine =
            serde_json::from_str(line).with_context(|| format!("{} line {}", path.display(), index + 1))?;
        let target = target(&parsed.labels, config, index + 1).with_context(|| path.display().to_string())?;
        targets.insert(id_string(&parsed.id), target);
    }
    Ok(targets)
}

/// Loads and tokenizes the examples of `sources`. A report longer than the tokenizer's
/// `max_length` keeps its first window (sentence-aligned); the count of such reports is returned.
///
/// # Errors
/// A report without teacher labels, or teacher labels without a report, is an error: a
/// silently dropped report would change what the student learns.
pub fn load_examples(
    sources: &[Source],
    tokenizer: &ReportTokenizer,
    config: &TargetConfig,
) -> anyhow::Result<(Vec<Example>, usize)> {
    let mut examples = Vec::new();
    let mut truncated = 0;
    for source in sources {
        for file in source_files(&source.reports)? {
            let reports = read_reports(&file)?;
            let mut targets = read_targets(source.labels.as_deref().unwrap_or(&file), config)?;
            for (id, text) in reports {
                let target = targets
                    .remove(&id)
                    .with_context(|| format!("{}: report {id:?} has no teacher label", file.display()))?;
                let mut windows = tokenizer.windows(&text)?;
                truncated += usize::from(windows.len() > 1);
                windows.truncate(1);
                let ids = windows.pop().expect("a report has at least one window");
                examples.push(Example { id, ids, target });
            }
            if source.labels.is_some() && !targets.is_empty() {
                let extra: Vec<&String> = targets.keys().take(3).collect();
                bail!(
                    "{} labels {} reports that {} lacks (first: {extra:?})",
                    source.labels.as_deref().unwrap_or(&file).display(),
                    targets.len(),
                    file.display()
                );
            }
        }
    }
    Ok((examples, truncated))
}

/// Batches of example indices for one epoch: shuffled, then grouped by length so padding stays
/// small (examples are sorted by length within pools of 50 batches), then the batches shuffled.
pub fn epoch_batches(examples: &[Example], batch_size: usize, rng: &mut impl Rng) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.shuffle(rng);
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for pool in order.chunks(batch_size * 50) {
        let mut pool = pool.to_vec();
        pool.sort_by_key(|&index| examples[index].ids.len());
        batches.extend(pool.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn labels(json: &str) -> BTreeMap<String, TeacherLabel> {
        serde_json::from_str(json).expect("labels")
    }

    #[test]
    fn confidence_goes_to_the_status_and_the_rest_is_spread() {
        let target = target(
            &labels(r#"{"Edema": {"status": "uncertain", "confidence": 0.7}, "No Finding": {"status": "positive", "confidence": 0.9}}"#),
            &TargetConfig::default(),
            1,
        )
        .expect("valid");
        let edema = target[Observation::Edema.index()];
        assert!((edema[Status::Uncertain.index()] - 0.7).abs() < 1e-6);
        assert!((edema[Status::Positive.index()] - 0.1).abs() < 1e-6);
        let no_finding = target[Observation::NoFinding.index()];
        assert_eq!(no_finding[Status::Negative.index()], 0.0, "No Finding is never negative");
        assert!((no_finding[Status::NotMentioned.index()] - 0.1).abs() < 1e-6);
        let fracture = target[Observation::Fracture.index()];
        assert!((fracture[Status::NotMentioned.index()] - 0.98).abs() < 1e-6, "absent means not mentioned");
        for row in target {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn probabilities_win_over_confidence_and_bad_labels_are_refused() {
        let target = target(
            &labels(r#"{"Edema": {"status": "positive", "confidence": 0.9, "probabilities": {"positive": 0.5, "negative": 0.25, "uncertain": 0.25, "not_mentioned": 0.0}}}"#),
            &TargetConfig::default(),
            1,
        )
        .expect("valid");
        assert_eq!(target[Observation::Edema.index()], [0.5, 0.25, 0.25, 0.0]);
        let config = TargetConfig::default();
        assert!(
            super::target(&labels(r#"{"No Finding": {"status": "negative", "confidence": 0.9}}"#), &config, 3).is_err()
        );
        assert!(super::target(&labels(r#"{"Edema": {"status": "positive", "confidence": 1.5}}"#), &config, 3).is_err());
        assert!(super::target(&labels(r#"{"Heart": {"status": "positive", "confidence": 0.9}}"#), &config, 3).is_err());
    }

    #[test]
    fn epoch_batches_cover_every_example_once() {
        let examples: Vec<Example> = (0..103)
            .map(|index| Example { id: index.to_string(), ids: vec![0; 1 + index % 17], target: [[0.25; 4]; 14] })
            .collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let batches = epoch_batches(&examples, 8, &mut rng);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..103).collect::<Vec<_>>());
        assert!(batches.iter().all(|batch| batch.len() <= 8));
    }
}
