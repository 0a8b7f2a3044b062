//! `cxr-trainer`: the training side of cxr-labeler — evaluation of label files against gold
//! labels (and, as the trainer grows, pseudo-labeling and distillation).

mod annotations;
mod eval;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::annotations::LabelSet;

/// Train and evaluate cxr-labeler students.
#[derive(Parser)]
#[command(name = "cxr-trainer", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Score predicted labels against gold labels (per-observation P/R/F1 and macro-F1).
    Eval(EvalArgs),
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
        Command::Eval(args) => evaluate(&args),
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
