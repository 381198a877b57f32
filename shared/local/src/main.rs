//! `switchyard`: the Switchyard command line.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use switchyard_config::Settings;
use switchyard_contracts::{compat, schema};
use switchyard_local::stack::{self, StackConfig};
use switchyard_local::{demo, invoke, package, scaffold};
use switchyard_triggers::registry::Trigger;

/// Switchyard: serverless messaging adapters, run and checked locally.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the stack described by template.yaml on this machine.
    Up {
        /// HTTP port on 127.0.0.1.
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Where queues, dedupe records and the audit table persist.
        #[arg(long, default_value = ".switchyard")]
        state: PathBuf,
        /// The SAM template (default: the reference template built into the CLI).
        #[arg(long)]
        template: Option<PathBuf>,
    },
    /// Run the reference scenario on a fresh local stack and check the results.
    Demo {
        /// The SAM template (default: the reference template built into the CLI).
        #[arg(long)]
        template: Option<PathBuf>,
        /// State directory (default: a fresh temporary one).
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Run one function once on a trigger payload and print the trigger's response.
    Invoke {
        /// A registered function (erp-sync, audit-log, crm-webhook, ...).
        function: String,
        /// The trigger payload: SQS event, EventBridge event or Function URL request (JSON).
        #[arg(long)]
        event: PathBuf,
    },
    /// Event contracts: export JSON Schemas, check compatibility.
    #[command(subcommand)]
    Contracts(ContractsCommand),
    /// Scaffold something new in this workspace.
    #[command(subcommand)]
    New(NewCommand),
    /// Build the deployable artifacts: a bootstrap zip per Lambda function
    /// and the SAM template pointing at them; the Azure Function App folder
    /// (function.json generated from the registry) and its zip.
    Package {
        /// Which cloud's artifacts.
        #[arg(long, value_enum, default_value_t = package::Target::All)]
        target: package::Target,
        /// The Lambda functions' CPU; default: this machine's, which needs
        /// no cross-compilation target (template.yaml says arm64; the
        /// packaged template says what was built). The Function App is
        /// always x86_64, as Linux Consumption runs it.
        #[arg(long, value_enum)]
        arch: Option<package::Arch>,
        /// Where the artifacts go: <out>/aws, <out>/azure.
        #[arg(long, default_value = "target/switchyard-package")]
        out: PathBuf,
        /// Where the workspace is (default: the current directory or a parent).
        #[arg(long, default_value = ".")]
        workspace: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum NewCommand {
    /// A function crate with a typed handler, its registration and a test;
    /// registers it and prints the IaC to add.
    Function {
        /// Its name, e.g. invoice-sync.
        name: String,
        /// What runs it: sqs, eventbridge, servicebus or http (repeatable).
        #[arg(long = "trigger", required = true)]
        triggers: Vec<Trigger>,
        /// The event types it consumes, e.g. order.placed.
        #[arg(long, num_args = 1..)]
        consumes: Vec<String>,
        /// Where the workspace is (default: the current directory or a parent).
        #[arg(long, default_value = ".")]
        workspace: PathBuf,
    },
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchyard: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("switchyard: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Up {
            port,
            state,
            template,
        } => {
            switchyard_telemetry::init_cli("info");
            let settings = Settings::process();
            let running = stack::start(StackConfig {
                template,
                state_dir: state,
                port,
                erp_base_url: settings.optional("ERP_BASE_URL"),
                settings,
            })
            .await?;
            println!("switchyard: local stack on {}", running.base_url());
            println!(
                "  webhooks  {}/webhooks/{{dynamics,hubspot,salesforce,standard,stripe,cloudevents}}",
                running.base_url()
            );
            println!("  status    {}/_switchyard/status", running.base_url());
            println!("  ERP stub  {}/_erp/orders", running.base_url());
            println!("Ctrl-C stops; undelivered messages are kept in the state directory.");
            tokio::signal::ctrl_c().await?;
            eprintln!("switchyard: stopping (finishing in-flight batches)...");
            running.stop().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { template, state } => {
            switchyard_telemetry::init_cli("warn");
            let temp = tempfile::tempdir()?;
            let state_dir = state.unwrap_or_else(|| temp.path().to_owned());
            let running = stack::start(StackConfig {
                template,
                ..StackConfig::new(state_dir)
            })
            .await?;
            println!("switchyard demo: local stack on {}", running.base_url());
            let report = demo::run(&running, Duration::from_secs(60)).await;
            running.stop().await;
            let report = report.map_err(anyhow::Error::msg)?;
            print!("{}", report.table());
            if report.passed() {
                println!("demo passed");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("demo FAILED: results differ from expectations");
                Ok(ExitCode::from(1))
            }
        }
        Command::Invoke { function, event } => {
            switchyard_telemetry::init_cli("warn");
            let text = std::fs::read_to_string(&event)
                .map_err(|e| anyhow::anyhow!("cannot read event file {}: {e}", event.display()))?;
            let response = invoke::invoke(&function, &text, &Settings::process())
                .await
                .map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string_pretty(&response)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::New(NewCommand::Function {
            name,
            triggers,
            consumes,
            workspace,
        }) => {
            let root = scaffold::find_workspace(&workspace)?;
            let done = scaffold::new_function(
                &root,
                &scaffold::NewFunction {
                    name,
                    triggers,
                    consumes,
                },
            )?;
            for file in &done.files {
                println!("wrote {}", file.display());
            }
            println!("\nAdd the function's IaC:\n\n{}", done.iac);
            Ok(ExitCode::SUCCESS)
        }
        Command::Package {
            target,
            arch,
            out,
            workspace,
        } => {
            let root = scaffold::find_workspace(&workspace)?;
            let out = if out.is_absolute() {
                out
            } else {
                root.join(out)
            };
            let arch = arch.unwrap_or_else(package::Arch::host);
            let artifacts = package::run(&package::PackageOptions { root, out, arch }, target)?;
            println!("{} artifacts written", artifacts.len());
            Ok(ExitCode::SUCCESS)
        }
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
