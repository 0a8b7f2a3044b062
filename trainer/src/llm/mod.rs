//! `cxr-trainer pseudo-label`: a large language model labels every report through an
//! OpenAI-compatible endpoint, following the guideline; answers are checked, repaired by asking
//! again with the problem shown, cached on disk, and written in input order.
//!
//! What the distillation receives: one teacher line per labeled report (the guideline's
//! format). With `--samples K > 1`, each report is answered K times at temperature 0.7 and each
//! observation's votes are weighted by the answers' confidences (an answer that leaves an
//! observation out votes "not mentioned" with weight 1): the line lists the most voted status,
//! its share as `confidence`, and the whole distribution as `probabilities`. With one sample and
//! a server that returns token log-probabilities, `probabilities` comes from the log-probabilities
//! of the status token. Reports that cannot be labeled are left out of the output and listed,
//! with the reason, in `<output>.failures.jsonl`.

pub mod cache;
pub mod client;
pub mod prompt;
pub mod validate;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::Context;
use cxr_labeler::io::{InputFormat, ReportReader};
use cxr_labeler::{Observation, Probabilities, Status};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::{Value, json};

use self::cache::{Cache, CachedAnswer};
use self::client::{CallError, Client};
use crate::teacher::{TeacherLabel, TeacherLabels, TeacherRecord};

/// A pseudo-labeling job.
pub struct Job {
    /// The reports.
    pub input: PathBuf,
    /// How to read them.
    pub format: InputFormat,
    /// The teacher file to write.
    pub output: PathBuf,
    /// Reports in flight at once.
    pub concurrency: usize,
    /// Answers per report.
    pub samples: usize,
    /// Times a report is asked again after an answer breaks the format.
    pub repairs: usize,
    /// The answer cache.
    pub cache: PathBuf,
}

/// What a run did.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Reports written to the output.
    pub labeled: usize,
    /// Of those, answered entirely from the cache.
    pub cached: usize,
    /// Reports that could not be labeled (see the failures file).
    pub failed: usize,
    /// Tokens sent and received by this run (cached answers cost nothing).
    pub prompt_tokens: u64,
    #[allow(missing_docs)]
    pub completion_tokens: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Reports per second.
    pub reports_per_second: f64,
}

enum Outcome {
    Labeled { labels: TeacherLabels, cached: bool, prompt_tokens: u64, completion_tokens: u64 },
    Failed { reason: String, prompt_tokens: u64, completion_tokens: u64 },
}

/// The failures file beside an output file.
pub fn failures_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().map(|name| name.to_os_string()).unwrap_or_default();
    name.push(".failures.jsonl");
    output.with_file_name(name)
}

/// Runs a job with `client`. The output (and failures file) are written whole at the end; a
/// killed run leaves its answers in the cache, so running it again resumes.
///
/// # Errors
/// An unreadable input, a server that refuses the requests (bad key, unknown model), or I/O.
pub fn pseudo_label(job: &Job, client: &Client, model: &str) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let reader = ReportReader::new(fs_err::File::open(&job.input)?, &job.format)?;
    let reports: Vec<(Value, String)> = reader
        .enumerate()
        .map(|(index, report)| report.map(|r| (r.id.unwrap_or_else(|| json!(index + 1)), r.text)))
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", job.input.display()))?;
    let cache = Cache::open(&job.cache)?;
    let progress = ProgressBar::new(reports.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} reports {msg} ({eta} left)").expect("the template is valid"),
    );
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<(usize, Result<Outcome, CallError>)>();
    let mut summary = Summary::default();
    let mut outcomes: Vec<Option<Outcome>> = (0..reports.len()).map(|_| None).collect();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        for _ in 0..job.concurrency.max(1) {
            let sender = sender.clone();
            let (reports, cache, next, stop) = (&reports, &cache, &next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some((_, text)) = reports.get(index) else { return };
                    let outcome = label_report(client, cache, model, text, job.samples, job.repairs);
                    if sender.send((index, outcome)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(sender);
        for (index, outcome) in receiver {
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(error) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(error).context("the server refused the requests: nothing was written");
                }
            };
            match &outcome {
                Outcome::Labeled { cached, prompt_tokens, completion_tokens, .. } => {
                    summary.labeled += 1;
                    summary.cached += usize::from(*cached);
                    summary.prompt_tokens += prompt_tokens;
                    summary.completion_tokens += completion_tokens;
                }
                Outcome::Failed { prompt_tokens, completion_tokens, .. } => {
                    summary.failed += 1;
                    summary.prompt_tokens += prompt_tokens;
                    summary.completion_tokens += completion_tokens;
                }
            }
            outcomes[index] = Some(outcome);
            progress.inc(1);
            progress.set_message(format!("({} cached, {} failed)", summary.cached, summary.failed));
        }
        Ok(())
    })?;
    progress.finish_and_clear();
    write_outputs(job, &reports, outcomes)?;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.reports_per_second = reports.len() as f64 / summary.seconds.max(1e-9);
    Ok(summary)
}

fn write_outputs(job: &Job, reports: &[(Value, String)], outcomes: Vec<Option<Outcome>>) -> anyhow::Result<()> {
    let directory = job.output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let output = tempfile::NamedTempFile::new_in(directory)?;
    let failures = tempfile::NamedTempFile::new_in(directory)?;
    {
        let mut output = std::io::BufWriter::new(output.as_file());
        let mut failures = std::io::BufWriter::new(failures.as_file());
        for ((id, _), outcome) in reports.iter().zip(outcomes) {
            match outcome.expect("every report has an outcome once the workers are done") {
                Outcome::Labeled { labels, .. } => {
                    serde_json::to_writer(&mut output, &TeacherRecord { id: id.clone(), labels })?;
                    output.write_all(b"\n")?;
                }
                Outcome::Failed { reason, .. } => {
                    serde_json::to_writer(&mut failures, &json!({ "id": id, "reason": reason }))?;
                    failures.write_all(b"\n")?;
                }
            }
        }
        output.flush()?;
        failures.flush()?;
    }
    output.persist(&job.output).with_context(|| format!("writing {}", job.output.display()))?;
    failures.persist(failures_path(&job.output))?;
    Ok(())
}

/// Labels one report: every sample from the cache or the server, then merged.
fn label_report(
    client: &Client,
    cache: &Cache,
    model: &str,
    text: &str,
    samples: usize,
    repairs: usize,
) -> Result<Outcome, CallError> {
    if cxr_labeler::is_blank(text) {
        return Ok(Outcome::Labeled {
            labels: TeacherLabels::default(),
            cached: true,
            prompt_tokens: 0,
            completion_tokens: 0,
        });
    }
    let mut answers = Vec::with_capacity(samples);
    let (mut prompt_tokens, mut completion_tokens, mut all_cached) = (0, 0, true);
    let temperature = if samples > 1 { 0.7 } else { 0.0 };
    for sample in 0..samples.max(1) {
        let key = Cache::key(model, prompt::PROMPT_VERSION, sample, text);
        if let Some(answer) = cache.get(&key) {
            answers.push(answer.labels);
            continue;
        }
        all_cached = false;
        match ask(client, text, temperature, repairs)? {
            (Ok(labels), tokens_in, tokens_out) => {
                prompt_tokens += tokens_in;
                completion_tokens += tokens_out;
                let answer = CachedAnswer { labels, prompt_tokens: tokens_in, completion_tokens: tokens_out };
                if let Err(error) = cache.put(&key, &answer) {
                    eprintln!("warning: cannot cache an answer: {error:#}");
                }
                answers.push(answer.labels);
            }
            (Err(reason), tokens_in, tokens_out) => {
                return Ok(Outcome::Failed {
                    reason,
                    prompt_tokens: prompt_tokens + tokens_in,
                    completion_tokens: completion_tokens + tokens_out,
                });
            }
        }
    }
    let labels = if answers.len() == 1 { answers.pop().expect("one answer") } else { merge_samples(&answers) };
    Ok(Outcome::Labeled { labels, cached: all_cached, prompt_tokens, completion_tokens })
}

/// Asks for one answer, showing the model its mistakes up to `repairs` times. Returns the
/// labels or the last problem, and the tokens spent.
fn ask(
    client: &Client,
    text: &str,
    temperature: f64,
    repairs: usize,
) -> Result<(Result<TeacherLabels, String>, u64, u64), CallError> {
    let mut messages = vec![
        json!({"role": "system", "content": prompt::system_message()}),
        json!({"role": "user", "content": prompt::user_message(text)}),
    ];
    let (mut tokens_in, mut tokens_out) = (0, 0);
    let mut problem = String::new();
    for _ in 0..=repairs {
        let completion = match client.complete(&messages, temperature) {
            Ok(completion) => completion,
            Err(refused @ CallError::Refused { .. }) => return Err(refused),
            Err(exhausted) => return Ok((Err(exhausted.to_string()), tokens_in, tokens_out)),
        };
        tokens_in += completion.prompt_tokens;
        tokens_out += completion.completion_tokens;
        match validate::validate(&completion.content, text) {
            Ok(mut labels) => {
                if let Some(logprobs) = &completion.logprobs {
                    apply_logprobs(&mut labels, &completion.content, logprobs);
                }
                return Ok((Ok(labels), tokens_in, tokens_out));
            }
            Err(reason) => {
                problem = format!("invalid answer: {reason}");
                messages.push(json!({"role": "assistant", "content": completion.content}));
                messages.push(json!({"role": "user", "content": format!(
                    "Your answer does not follow the required format: {reason}. Answer again with the corrected JSON object only."
                )}));
            }
        }
    }
    Ok((Err(problem), tokens_in, tokens_out))
}

/// Merges several answers into one line with a status distribution per observation.
pub fn merge_samples(answers: &[TeacherLabels]) -> TeacherLabels {
    let mut merged = Vec::new();
    for observation in Observation::ALL {
        let mut votes = [0.0f64; Status::COUNT];
        for answer in answers {
            match answer.0.iter().find(|(o, _)| *o == observation) {
                Some((_, label)) => votes[label.status.index()] += f64::from(label.confidence),
                None => votes[Status::NotMentioned.index()] += 1.0,
            }
        }
        let total: f64 = votes.iter().sum();
        let distribution = votes.map(|vote| (vote / total) as f32);
        let probabilities = Probabilities::from_array(distribution);
        let status = probabilities.most_probable();
        if status == Status::NotMentioned {
            continue;
        }
        // The winning status got votes, so some answer gives it: quote the surest one.
        let quote = answers
            .iter()
            .filter_map(|answer| answer.0.iter().find(|(o, l)| *o == observation && l.status == status))
            .max_by(|a, b| a.1.confidence.total_cmp(&b.1.confidence))
            .map(|(_, label)| label.evidence.clone())
            .unwrap_or_default();
        merged.push((
            observation,
            TeacherLabel {
                status,
                confidence: probabilities.get(status).max(0.5),
                evidence: quote,
                probabilities: Some(probabilities),
            },
        ));
    }
    let mut merged = TeacherLabels(merged);
    if merged.reports_pathology() {
        merged.0.retain(|(o, _)| *o != Observation::NoFinding);
    }
    merged
}

/// Replaces each listed observation's distribution with the one the status token's
/// log-probabilities give (positive / negative / uncertain alternatives, renormalised), when
/// the token can be found.
fn apply_logprobs(labels: &mut TeacherLabels, content: &str, logprobs: &Value) {
    let Some(tokens) = logprobs.as_array() else { return };
    // Byte offset where each token starts in the content.
    let mut starts = Vec::with_capacity(tokens.len());
    let mut offset = 0;
    for token in tokens {
        starts.push(offset);
        offset += token.get("token").and_then(Value::as_str).map_or(0, str::len);
    }
    if offset != content.len() {
        return; // the tokens do not spell the content: nothing reliable to read
    }
    for (observation, label) in &mut labels.0 {
        let Some(key) = content.find(&format!("\"{}\"", observation.name())) else { continue };
        let Some(status_at) = content[key..].find(label.status.name()).map(|at| key + at) else { continue };
        let Some(index) = starts.iter().rposition(|&start| start <= status_at) else { continue };
        let mut mass = [0.0f64; Status::COUNT];
        for alternative in tokens[index].get("top_logprobs").and_then(Value::as_array).into_iter().flatten() {
            let (Some(token), Some(logprob)) =
                (alternative.get("token").and_then(Value::as_str), alternative.get("logprob").and_then(Value::as_f64))
            else {
                continue;
            };
            let token = token.trim_start_matches('"').trim();
            if token.is_empty() {
                continue;
            }
            for status in [Status::Positive, Status::Negative, Status::Uncertain] {
                if status.name().starts_with(token) {
                    mass[status.index()] += logprob.exp();
                }
            }
        }
        let total: f64 = mass.iter().sum();
        if total > 0.0 {
            label.probabilities = Some(Probabilities::from_array(mass.map(|m| (m / total) as f32)));
        }
    }
}

/// The summary as a table for stderr.
pub fn describe(summary: &Summary) -> String {
    let mut fields = BTreeMap::new();
    fields.insert("labeled", summary.labeled.to_string());
    fields.insert("cached", summary.cached.to_string());
    fields.insert("failed", summary.failed.to_string());
    fields.insert("tokens in", summary.prompt_tokens.to_string());
    fields.insert("tokens out", summary.completion_tokens.to_string());
    fields.insert("wall time", format!("{:.1} s", summary.seconds));
    fields.insert("reports/s", format!("{:.2}", summary.reports_per_second));
    fields.into_iter().map(|(name, value)| format!("{name}: {value}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(status: Status, confidence: f32) -> TeacherLabel {
        TeacherLabel { status, confidence, evidence: format!("{status}"), probabilities: None }
    }

    #[test]
    fn samples_vote_with_their_confidence() {
        let answers = [
            TeacherLabels(vec![
                (Observation::Edema, label(Status::Positive, 0.9)),
                (Observation::Fracture, label(Status::Negative, 0.6)),
            ]),
            TeacherLabels(vec![(Observation::Edema, label(Status::Uncertain, 0.6))]),
            TeacherLabels(vec![(Observation::Edema, label(Status::Positive, 0.8))]),
        ];
        let merged = merge_samples(&answers);
        let edema = &merged.0.iter().find(|(o, _)| *o == Observation::Edema).expect("edema").1;
        assert_eq!(edema.status, Status::Positive);
        let probabilities = edema.probabilities.expect("a distribution");
        assert!((probabilities.positive - 1.7 / 2.3).abs() < 1e-6);
        assert!((probabilities.uncertain - 0.6 / 2.3).abs() < 1e-6);
        assert!(merged.0.iter().all(|(o, _)| *o != Observation::Fracture), "one weak vote against two absences");
    }

    #[test]
    fn merged_no_finding_yields_to_a_pathology() {
        let answers = [
            TeacherLabels(vec![
                (Observation::NoFinding, label(Status::Positive, 0.9)),
                (Observation::Edema, label(Status::Uncertain, 0.9)),
            ]),
            TeacherLabels(vec![
                (Observation::NoFinding, label(Status::Positive, 0.9)),
                (Observation::Edema, label(Status::Uncertain, 0.9)),
            ]),
        ];
        let merged = merge_samples(&answers);
        assert_eq!(merged.0.len(), 1);
        assert_eq!(merged.0[0].0, Observation::Edema);
    }

    #[test]
    fn logprobs_of_the_status_token_give_the_distribution() {
        let content = r#"{"labels":{"Edema":{"status":"positive","confidence":0.9,"evidence":"x"}}}"#;
        let split = content.find("positive").expect("status");
        let tokens = json!([
            {"token": &content[..split], "logprob": 0.0, "top_logprobs": []},
            {"token": "pos", "logprob": -0.1, "top_logprobs": [
                {"token": "pos", "logprob": (0.75f64).ln()}, {"token": "unc", "logprob": (0.2f64).ln()}, {"token": "neg", "logprob": (0.05f64).ln()}
            ]},
            {"token": &content[split + 3..], "logprob": 0.0, "top_logprobs": []}
        ]);
        let mut labels = TeacherLabels(vec![(Observation::Edema, label(Status::Positive, 0.9))]);
        apply_logprobs(&mut labels, content, &tokens);
        let probabilities = labels.0[0].1.probabilities.expect("set");
        assert!((probabilities.positive - 0.75).abs() < 1e-5);
        assert!((probabilities.uncertain - 0.2).abs() < 1e-5);
        assert_eq!(probabilities.not_mentioned, 0.0);
    }
}
