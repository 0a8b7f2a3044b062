//! `cxr-trainer`: the training side of cxr-labeler — distillation of a student from the
//! teacher's labels, and evaluation of label files against gold labels.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use cxr_labeler::io::InputFormat;
use cxr_trainer::annotations::LabelSet;
use cxr_trainer::{config, distill, env, eval, export, llm, rules};

/// Train and evaluate cxr-labeler students.
#[derive(Parser)]
#[command(name = "cxr-trainer", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Distil a student from the teacher's soft labels (see trainer/configs/).
    Distill(DistillArgs),
    /// Export a run's best student to a model folder (model.onnx, tokenizer.json, labels.json),
    /// checking it against the trainer on the dev reports.
    Export(ExportArgs),
    /// Label reports with a large language model through an OpenAI-compatible endpoint (the
    /// teacher). The API key is read from OPENAI_API_KEY only.
    PseudoLabel(PseudoLabelArgs),
    /// Label reports with the rule-based baseline, in the teacher format of the guideline.
    Rules(RulesArgs),
    /// Score predicted labels against gold labels (per-observation P/R/F1 and macro-F1).
    Eval(EvalArgs),
}

#[derive(clap::Args)]
struct DistillArgs {
    /// The experiment (TOML).
    #[arg(long)]
    config: PathBuf,
    /// The run folder. Default: `runs/<name>`.
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// Continue the run in the run folder from its last completed epoch.
    #[arg(long)]
    resume: bool,
    /// Where to train.
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    device: Device,
}

#[derive(Clone, Copy, ValueEnum)]
enum Device {
    /// burn's `flex` CPU backend.
    Cpu,
    /// An NVIDIA GPU through burn's CUDA backend (build with `--features cuda`).
    Cuda,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// The run folder (`runs/<name>`).
    run: PathBuf,
    /// The model folder to write.
    #[arg(short, long)]
    output: PathBuf,
    /// Ship float32 weights instead of int8.
    #[arg(long)]
    float: bool,
}

#[derive(clap::Args)]
struct PseudoLabelArgs {
    /// Reports: CSV with a report column, or JSONL (`text`, or `findings`/`impression`; `id`).
    input: PathBuf,
    /// The teacher file to write (JSONL); failures go to `<output>.failures.jsonl`.
    #[arg(short, long)]
    output: PathBuf,
    /// The endpoint, up to `/v1` (default: $OPENAI_BASE_URL).
    #[arg(long)]
    base_url: Option<String>,
    /// The model name the server serves.
    #[arg(long)]
    model: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    concurrency: u16,
    /// Answers per report (> 1: soft labels from the votes, at temperature 0.7).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=32))]
    samples: u16,
    /// Request rate limit across all threads.
    #[arg(long)]
    max_requests_per_minute: Option<u32>,
    /// Answer cache folder (default: $CXR_CACHE_DIR, else .cxr-cache).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Seconds before a request is abandoned and retried.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
    /// Retries of a failed request (429, 5xx, timeouts, broken connections).
    #[arg(long, default_value_t = 6)]
    max_retries: u32,
    /// Times a report is asked again after an answer breaks the format.
    #[arg(long, default_value_t = 2)]
    repairs: u16,
    /// Ask for token log-probabilities (soft labels from the status token when returned).
    #[arg(long)]
    logprobs: bool,
    /// CSV column holding the report text.
    #[arg(long, default_value = "Reports")]
    column: String,
    /// CSV column holding the report id (default: the row number).
    #[arg(long)]
    id_column: Option<String>,
}

#[derive(clap::Args)]
struct RulesArgs {
    /// Reports: CSV with a report column, or JSONL (`text`, or `findings`/`impression`; `id`).
    input: PathBuf,
    /// The teacher-format JSONL to write.
    #[arg(short, long)]
    output: PathBuf,
    /// CSV column holding the report text.
    #[arg(long, default_value = "Reports")]
    column: String,
    /// CSV column holding the report id (default: the row number).
    #[arg(long)]
    id_column: Option<String>,
}

#[derive(clap::Args)]
struct EvalArgs {
    /// Predictions: four-status JSONL (`cxr-label` output, teacher format, rule labels).
    predictions: PathBuf,
    /// Gold labels: binary CSV (`id` + 14 observations as 0/1) or four-status JSONL.
    gold: PathBuf,
    /// Also report per-observation agreement and Cohen's kappa with this four-status file
    /// (for example the teacher's labels).
    #[arg(long)]
    agreement: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    format: ReportFormat,
    /// Write the report here instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Markdown,
    Json,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Distill(args) => distill(args),
        Command::Export(args) => export(&args),
        Command::PseudoLabel(args) => pseudo_label(&args),
        Command::Rules(args) => label_with_rules(&args),
        Command::Eval(args) => evaluate(&args),
    }
}

/// CSV (by extension) with the given columns, else JSONL.
fn input_format(path: &std::path::Path, column: &str, id_column: Option<&String>) -> InputFormat {
    if path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("csv")) {
        InputFormat::Csv { column: column.to_owned(), id_column: id_column.cloned() }
    } else {
        InputFormat::Jsonl
    }
}

fn pseudo_label(args: &PseudoLabelArgs) -> anyhow::Result<()> {
    let base_url = args
        .base_url
        .clone()
        .or_else(|| std::env::var(env::OPENAI_BASE_URL).ok())
        .with_context(|| format!("give --base-url or set {}", env::OPENAI_BASE_URL))?;
    let client = llm::client::Client::new(llm::client::ClientConfig {
        base_url,
        model: args.model.clone(),
        api_key: env::api_key(),
        timeout: std::time::Duration::from_secs_f64(args.timeout),
        max_retries: args.max_retries,
        requests_per_minute: args.max_requests_per_minute,
        initial_backoff: std::time::Duration::from_millis(500),
        logprobs: args.logprobs,
    });
    let cache = args
        .cache
        .clone()
        .or_else(|| std::env::var_os(env::CXR_CACHE_DIR).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(".cxr-cache"));
    let job = llm::Job {
        input: args.input.clone(),
        format: input_format(&args.input, &args.column, args.id_column.as_ref()),
        output: args.output.clone(),
        concurrency: usize::from(args.concurrency),
        samples: usize::from(args.samples),
        repairs: usize::from(args.repairs),
        cache,
    };
    let summary = llm::pseudo_label(&job, &client, &args.model)?;
    eprintln!("{}", llm::describe(&summary));
    if summary.failed > 0 {
        eprintln!(
            "{} reports could not be labeled: see {}",
            summary.failed,
            llm::failures_path(&args.output).display()
        );
    }
    Ok(())
}

fn label_with_rules(args: &RulesArgs) -> anyhow::Result<()> {
    use cxr_labeler::io::ReportReader;
    use std::io::Write;
    let format = input_format(&args.input, &args.column, args.id_column.as_ref());
    let reader = ReportReader::new(fs_err::File::open(&args.input)?, &format)?;
    let mut output = std::io::BufWriter::new(fs_err::File::create(&args.output)?);
    let mut count = 0u64;
    for report in reader {
        let report = report.with_context(|| format!("reading {}", args.input.display()))?;
        count += 1;
        let record = cxr_trainer::teacher::TeacherRecord {
            id: report.id.unwrap_or_else(|| count.into()),
            labels: rules::label(&report.text),
        };
        serde_json::to_writer(&mut output, &record)?;
        output.write_all(b"\n")?;
    }
    output.flush()?;
    eprintln!("labeled {count} reports with the rules into {}", args.output.display());
    Ok(())
}

fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let precision = if args.float { export::graph::Precision::Float } else { export::graph::Precision::Int8 };
    let report = export::export(&args.run, &args.output, precision)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!("wrote {}", args.output.display());
    Ok(())
}

fn distill(args: DistillArgs) -> anyhow::Result<()> {
    let config = config::TrainConfig::read(&args.config)?;
    let run_dir = args.run_dir.unwrap_or_else(|| PathBuf::from("runs").join(&config.name));
    match args.device {
        Device::Cpu => distill::distill::<burn::backend::Autodiff<burn::backend::Flex>>(
            config,
            &run_dir,
            args.resume,
            &Default::default(),
        ),
        #[cfg(feature = "cuda")]
        Device::Cuda => distill::distill::<burn::backend::Autodiff<burn::backend::Cuda>>(
            config,
            &run_dir,
            args.resume,
            &burn::backend::cuda::CudaDevice::new(0),
        ),
        #[cfg(not(feature = "cuda"))]
        Device::Cuda => anyhow::bail!("this build has no CUDA backend: rebuild with `--features cuda`"),
    }
}

fn evaluate(args: &EvalArgs) -> anyhow::Result<()> {
    let predictions = LabelSet::read(&args.predictions)?;
    let gold = LabelSet::read(&args.gold)?;
    let evaluation = eval::evaluate(&predictions, &gold)
        .with_context(|| format!("scoring {} against {}", args.predictions.display(), args.gold.display()))?;
    let agreement = match &args.agreement {
        Some(path) => Some(eval::agreement(&predictions, &LabelSet::read(path)?)?),
        None => None,
    };
    let report = match args.format {
        ReportFormat::Markdown => eval::markdown(&evaluation, agreement.as_deref()),
        ReportFormat::Json => {
            let mut json = serde_json::json!({ "evaluation": evaluation });
            if let Some(agreement) = &agreement {
                json["agreement"] = serde_json::to_value(agreement)?;
            }
            serde_json::to_string_pretty(&json)? + "\n"
        }
    };
    match &args.output {
        Some(path) => fs_err::write(path, report)?,
        None => print!("{report}"),
    }
    Ok(())
}
