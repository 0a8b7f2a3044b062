//! The streaming labeling pipeline: one reader thread, N labeling threads, the caller's thread
//! writing results in input order. At most `2 * threads` jobs are in flight, so memory stays
//! constant however large the input is.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use cxr_labeler::io::{LabelWriter, Report, ReportReader};
use cxr_labeler::{Labeler, Labels, is_blank};
use indicatif::ProgressBar;

/// How the work is split.
#[derive(Clone, Copy)]
pub struct Settings {
    /// Labeling threads.
    pub threads: usize,
    /// Reports per job (one `label_batch` call).
    pub job_size: usize,
}

/// What a run did.
pub struct Summary {
    /// Reports written.
    pub reports: u64,
    /// Of those, reports that were empty or only whitespace.
    pub empty: u64,
}

type Job = (usize, Vec<Report>);
type Done = (usize, Vec<Report>, cxr_labeler::Result<Vec<Labels>>);

/// Labels every report of `reader` and writes them to `writer` in input order.
///
/// # Errors
/// The first input error (naming its line), labeling error or write error. Reports before it
/// may have been written; none after it.
pub fn run<W: Write>(
    reader: ReportReader,
    labeler: &Arc<Labeler>,
    writer: &mut LabelWriter<W>,
    settings: Settings,
    progress: &ProgressBar,
) -> anyhow::Result<Summary> {
    let in_flight = settings.threads * 2;
    let (permit_sender, permits) = sync_channel::<()>(in_flight);
    for _ in 0..in_flight {
        permit_sender.send(()).expect("the permit channel has room for every permit");
    }
    let (job_sender, jobs) = sync_channel::<Job>(settings.threads);
    let jobs = Arc::new(Mutex::new(jobs));
    let (done_sender, done) = std::sync::mpsc::channel::<Done>();

    std::thread::scope(|scope| {
        let reading = scope.spawn(move || read_jobs(reader, settings.job_size, &permits, &job_sender));
        for _ in 0..settings.threads {
            let jobs = Arc::clone(&jobs);
            let done_sender = done_sender.clone();
            let labeler = Arc::clone(labeler);
            scope.spawn(move || label_jobs(&labeler, &jobs, &done_sender));
        }
        drop(done_sender);
        let written = write_in_order(&done, writer, &permit_sender, progress);
        // Unblock the reader if writing stopped early, then collect its verdict.
        drop(permit_sender);
        drop(done);
        let read = reading.join().expect("the reader thread does not panic");
        let summary = written?;
        read?;
        Ok(summary)
    })
}

/// Reads reports into jobs; each job waits for a permit (returned when a job is written).
fn read_jobs(
    reader: ReportReader,
    job_size: usize,
    permits: &Receiver<()>,
    jobs: &SyncSender<Job>,
) -> anyhow::Result<()> {
    let mut sequence = 0;
    let mut job = Vec::with_capacity(job_size);
    let mut send = |job: Vec<Report>| -> bool {
        let sent = permits.recv().is_ok() && jobs.send((sequence, job)).is_ok();
        sequence += 1;
        sent
    };
    for report in reader {
        job.push(report.context("reading the input")?);
        if job.len() == job_size && !send(std::mem::replace(&mut job, Vec::with_capacity(job_size))) {
            return Ok(()); // the writer stopped; it reports why
        }
    }
    if !job.is_empty() {
        send(job);
    }
    Ok(())
}

fn label_jobs(labeler: &Labeler, jobs: &Mutex<Receiver<Job>>, done: &std::sync::mpsc::Sender<Done>) {
    loop {
        let job = jobs.lock().expect("a labeling thread never panics while holding the lock").recv();
        let Ok((sequence, reports)) = job else { return };
        let texts: Vec<&str> = reports.iter().map(|report| report.text.as_str()).collect();
        let labels = labeler.label_batch(&texts);
        if done.send((sequence, reports, labels)).is_err() {
            return;
        }
    }
}

fn write_in_order<W: Write>(
    done: &Receiver<Done>,
    writer: &mut LabelWriter<W>,
    permits: &SyncSender<()>,
    progress: &ProgressBar,
) -> anyhow::Result<Summary> {
    let mut waiting: BTreeMap<usize, (Vec<Report>, Vec<Labels>)> = BTreeMap::new();
    let mut next = 0;
    let mut summary = Summary { reports: 0, empty: 0 };
    for (sequence, reports, labels) in done {
        let labels = labels.with_context(|| {
            let first = reports.first().map_or(0, |report| report.line);
            format!("labeling the reports from line {first}")
        })?;
        waiting.insert(sequence, (reports, labels));
        while let Some((reports, labels)) = waiting.remove(&next) {
            for (report, labels) in reports.iter().zip(&labels) {
                writer.write(report, labels).context("writing the output")?;
                summary.reports += 1;
                summary.empty += u64::from(is_blank(&report.text));
            }
            if let Some(last) = reports.last() {
                progress.set_position(last.end_byte);
            }
            progress.set_message(format!("{} reports", summary.reports));
            next += 1;
            // The reader may have finished and dropped its receiver: a failed send is fine.
            let _ = permits.send(());
        }
    }
    Ok(summary)
}
