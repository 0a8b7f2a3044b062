//! `cxr-label`: label chest X-ray reports from the command line (CSV or JSONL in, CheXpert CSV or
//! JSONL out).

mod pipeline;

use std::ffi::OsStr;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use cxr_labeler::io::{InputFormat, LabelWriter, OutputFormat, ReportReader};
use cxr_labeler::{Labeler, LabelerOptions};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Label free-text chest X-ray reports with the 14 CheXpert observations.
///
/// Runs a small transformer student on this machine: no report leaves it.
#[derive(Parser)]
#[command(name = "cxr-label", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Label every report of a CSV or JSONL file, keeping input order.
    Label(LabelArgs),
}

#[derive(clap::Args)]
struct LabelArgs {
    /// Input file: CSV with a report column, or JSONL with `text` (or `findings`/`impression`)
    /// and an optional `id`; `-` reads JSONL from stdin.
    input: PathBuf,
    /// Output file; standard output when omitted. Written to a temporary file and moved into
    /// place only when every report is labeled.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output layout: the CheXpert labeler's CSV, or JSONL with per-status probabilities.
    /// Default: from the output file's extension, else the input's format.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Input format. Default: from the input file's extension (`-` is JSONL).
    #[arg(long, value_enum)]
    input_format: Option<Format>,
    /// CSV column holding the report text.
    #[arg(long, default_value = "Reports")]
    column: String,
    /// CSV column to carry through as the record id (JSONL output).
    #[arg(long)]
    id_column: Option<String>,
    /// Model folder (`model.onnx`, `tokenizer.json`, `labels.json`). Default: the model embedded
    /// in this build.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Report windows per inference call.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    batch_size: u16,
    /// Worker threads. Default: the number of CPUs.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Print nothing on stderr but errors.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Jsonl,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Label(args) => label(args),
    }
}

fn label(args: LabelArgs) -> anyhow::Result<ExitCode> {
    let input_format = match (args.input_format, extension_format(&args.input)) {
        (Some(format), _) | (None, Some(format)) => format,
        (None, None) if args.input == Path::new("-") => Format::Jsonl,
        (None, None) => bail!(
            "cannot tell the format of {} from its extension: pass --input-format csv or jsonl",
            args.input.display()
        ),
    };
    let output_format =
        args.format.or_else(|| args.output.as_deref().and_then(extension_format)).unwrap_or(input_format);

    let options = LabelerOptions::default().with_batch_size(usize::from(args.batch_size));
    let labeler = Arc::new(load_model(args.model.as_deref(), options)?);

    let (input, input_size): (Box<dyn std::io::Read + Send>, Option<u64>) = if args.input == Path::new("-") {
        (Box::new(std::io::stdin()), None)
    } else {
        let file = std::fs::File::open(&args.input).with_context(|| format!("cannot open {}", args.input.display()))?;
        let size = file.metadata().ok().map(|metadata| metadata.len());
        (Box::new(file), size)
    };
    let format = match input_format {
        Format::Csv => InputFormat::Csv { column: args.column.clone(), id_column: args.id_column.clone() },
        Format::Jsonl => InputFormat::Jsonl,
    };
    let reader = ReportReader::new(input, &format).with_context(|| format!("reading {}", args.input.display()))?;
    let output_format = match output_format {
        Format::Csv => OutputFormat::Csv,
        Format::Jsonl => OutputFormat::Jsonl,
    };
    let threads =
        args.threads.map(usize::from).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let progress = progress_bar(input_size, args.quiet);
    let started = Instant::now();
    let settings = pipeline::Settings { threads, job_size: usize::from(args.batch_size) * 4 };

    let run = |output: Box<dyn Write>| -> anyhow::Result<pipeline::Summary> {
        let mut writer = LabelWriter::new(std::io::BufWriter::new(output), output_format)?;
        let summary = pipeline::run(reader, &labeler, &mut writer, settings, &progress)
            .with_context(|| format!("labeling {}", args.input.display()))?;
        writer.finish()?.flush()?;
        Ok(summary)
    };
    let summary = match &args.output {
        None => run(Box::new(std::io::stdout().lock()))?,
        // A device or pipe (`/dev/null`, a FIFO) is written in place: it cannot be replaced.
        Some(path) if path.exists() && !path.is_file() => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            run(Box::new(file))?
        }
        // A file is written whole or not at all: to a temporary file, renamed when done.
        Some(path) => {
            let directory = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let temporary = temporary_file_builder()
                .tempfile_in(directory)
                .with_context(|| format!("cannot create a temporary file in {}", directory.display()))?;
            let summary = run(Box::new(temporary.reopen()?))
                .with_context(|| format!("nothing was written to {}", path.display()))?;
            temporary.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
            summary
        }
    };
    progress.finish_and_clear();
    if !args.quiet {
        let seconds = started.elapsed().as_secs_f64();
        let mut stderr = std::io::stderr().lock();
        writeln!(
            stderr,
            "labeled {} reports ({} empty) in {seconds:.1} s, {:.1} reports/s, model {}",
            summary.reports,
            summary.empty,
            summary.reports as f64 / seconds.max(1e-9),
            labeler.config().name
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Temporary files get the permissions a newly created file would get (0666 less the umask),
/// not tempfile's private 0600, since they become the output.
fn temporary_file_builder() -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder
}

fn extension_format(path: &Path) -> Option<Format> {
    match path.extension().and_then(OsStr::to_str).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => Some(Format::Csv),
        Some("jsonl" | "ndjson") => Some(Format::Jsonl),
        _ => None,
    }
}

fn load_model(dir: Option<&Path>, options: LabelerOptions) -> anyhow::Result<Labeler> {
    match dir {
        Some(dir) => {
            Labeler::from_dir(dir, options).with_context(|| format!("cannot load the model in {}", dir.display()))
        }
        None => embedded_model(options),
    }
}

#[cfg(feature = "embedded-model")]
fn embedded_model(options: LabelerOptions) -> anyhow::Result<Labeler> {
    Labeler::embedded(options).context("cannot load the embedded model")
}

#[cfg(not(feature = "embedded-model"))]
fn embedded_model(_: LabelerOptions) -> anyhow::Result<Labeler> {
    bail!("this build embeds no model (feature `embedded-model` is off): pass --model DIR")
}

/// A progress bar on stderr, drawn only when stderr is a terminal: bytes when the input size is
/// known, a report count otherwise.
fn progress_bar(input_size: Option<u64>, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match input_size {
        Some(size) => ProgressBar::new(size).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta} left)")
                .expect("the template is valid"),
        ),
        None => ProgressBar::new_spinner()
            .with_style(ProgressStyle::with_template("{spinner} {msg}").expect("the template is valid")),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar
}
