//! `switchyard`: the Switchyard command line.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchyard_contracts::{compat, schema};

/// Switchyard: serverless messaging adapters, run and checked locally.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Event contracts: export JSON Schemas, check compatibility.
    #[command(subcommand)]
    Contracts(ContractsCommand),
}

#[derive(Debug, Subcommand)]
enum ContractsCommand {
    /// Write the JSON Schema of every event version into a directory.
    Export {
        /// Target directory.
        #[arg(long, default_value = schema::SCHEMA_DIR)]
        out: PathBuf,
    },
    /// Reject breaking changes against a baseline schema directory.
    Check {
        /// The schemas consumers rely on (e.g. those committed on main).
        #[arg(long)]
        baseline: PathBuf,
        /// The schemas to check; defaults to the ones generated from this build.
        #[arg(long)]
        current: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("switchyard: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Contracts(ContractsCommand::Export { out }) => {
            let written = schema::export(&out)
                .map_err(|e| anyhow::anyhow!("cannot write schemas to {}: {e}", out.display()))?;
            for path in written {
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Contracts(ContractsCommand::Check { baseline, current }) => {
            let base = compat::load_dir(&baseline)?;
            let (cur, label) = match &current {
                Some(dir) => (compat::load_dir(dir)?, dir.display().to_string()),
                None => (schema::all_schemas(), "this build".to_owned()),
            };
            let report = compat::check_sets(&base, &cur);
            for addition in &report.additions {
                println!("compatible: {addition}");
            }
            if report.is_compatible() {
                println!(
                    "ok: {label} is compatible with {} ({} schemas)",
                    baseline.display(),
                    base.len()
                );
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "{} breaking change(s) in {label} against {}:",
                    report.violations.len(),
                    baseline.display()
                );
                for v in &report.violations {
                    eprintln!("  {v}");
                }
                Ok(ExitCode::from(1))
            }
        }
    }
}
