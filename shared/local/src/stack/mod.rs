//! The local stack: `template.yaml` run in one process, no Docker, no
//! cloud account. Queues, bus, an ERP stub, and every registered function
//! built from the registry with the same settings code as the cloud,
//! invoked through its own triggers' adapters.

mod functions;
mod handle;
mod pollers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::Value;
use switchyard_audit_log::embedded::EmbeddedAuditStore;
use switchyard_config::Settings;
use switchyard_publish::Publisher;
use tokio::sync::watch;

pub use crate::sqs::{LocalSqs, local_arn, local_url};
pub use functions::{LOCAL_DEFAULTS, local_default, local_settings};
pub use handle::{FunctionStats, StackHandle, Stats};

use crate::bus::{LocalBus, LocalBusPublisher, target_queue};
use crate::erp::ErpState;
use crate::oauth::OAuthState;
use crate::queue::LocalQueues;
use crate::template::{self, QueueSpec, TargetSpec};

/// The stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The template is unusable.
    #[error(transparent)]
    Template(#[from] template::TemplateError),
    /// The state directory is unusable.
    #[error("state directory {path}: {reason}")]
    State {
        /// The directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// The port is taken or not allowed.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// A function could not be built.
    #[error("function {function}: {reason}")]
    Function {
        /// The function.
        function: String,
        /// Why.
        reason: String,
    },
}

/// How to run the stack.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The SAM template; `None` runs the reference template built into the CLI.
    pub template: Option<PathBuf>,
    /// Where queues, dedupe records and the audit table persist.
    pub state_dir: PathBuf,
    /// HTTP port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// The ERP; `None` uses the built-in stub at `/_erp`.
    pub erp_base_url: Option<String>,
    /// The functions' settings (the process environment for `switchyard up`);
    /// local defaults fill what they leave unset.
    pub settings: Settings,
}

impl StackConfig {
    /// A stack on the reference template with the process environment.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        StackConfig {
            template: None,
            state_dir: state_dir.into(),
            port: 0,
            erp_base_url: None,
            settings: Settings::process(),
        }
    }
}

/// A running stack.
pub struct RunningStack {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its parts.
    pub handle: StackHandle,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningStack {
    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, lets every poller finish its current
    /// batch, and returns. Messages not yet handled stay in the state
    /// directory for the next start.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn state_error(path: &std::path::Path, reason: impl std::fmt::Display) -> StackError {
    StackError::State {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Starts the stack.
pub async fn start(config: StackConfig) -> Result<RunningStack, StackError> {
    let spec = Arc::new(match &config.template {
        Some(path) => template::load(path)?,
        None => template::load_str(template::REFERENCE_TEMPLATE, "the built-in template.yaml")?,
    });
    std::fs::create_dir_all(&config.state_dir).map_err(|e| state_error(&config.state_dir, e))?;

    // queues: the template's, plus one durable queue per function target
    let mut queue_specs = spec.queues.clone();
    for rule in &spec.rules {
        for target in &rule.targets {
            if let TargetSpec::Function {
                dead_letter_queue, ..
            } = target
            {
                let name = target_queue(&rule.name);
                queue_specs.insert(
                    name.clone(),
                    QueueSpec {
                        name,
                        visibility_timeout: Duration::from_secs(30),
                        // EventBridge's retry policy, shortened for local runs: 3 attempts
                        redrive: dead_letter_queue.clone().map(|d| (d, 3)),
                        fifo: false,
                    },
                );
            }
        }
    }
    let state_file = config.state_dir.join("queues.redb");
    let queues =
        LocalQueues::open(&state_file, queue_specs).map_err(|e| state_error(&state_file, e))?;
    let audit_file = config.state_dir.join("audit.redb");
    let audit = EmbeddedAuditStore::open(&audit_file).map_err(|e| state_error(&audit_file, e))?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|source| StackError::Bind {
            port: config.port,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StackError::Bind {
        port: config.port,
        source,
    })?;
    let erp_base = config
        .erp_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}/_erp"));

    let settings =
        functions::local_settings(&config.settings, &erp_base, &format!("http://{addr}"));
    let bus = Arc::new(LocalBus::new(spec.rules.clone(), queues.clone()));
    let publisher: Arc<dyn Publisher> = Arc::new(LocalBusPublisher::new(bus.clone()));
    let handle = StackHandle {
        queues: queues.clone(),
        bus,
        stats: Arc::new(Stats::default()),
        erp: ErpState::new(),
        oauth: OAuthState::new(),
        spec: spec.clone(),
        publisher,
        audit,
        settings: settings.clone(),
    };
    let (shutdown, shutdown_rx) = watch::channel(false);
    let local = functions::LocalPlatform {
        handle: handle.clone(),
        settings,
        state_dir: config.state_dir.clone(),
    };
    let (mut tasks, http) = functions::start_all(&local, &shutdown_rx).await?;

    let mut app = Router::new()
        .route("/_switchyard/status", get(status))
        .with_state(handle.clone())
        .nest("/_erp", handle.erp.router())
        .nest("/_oauth", handle.oauth.router());
    if let Some(http) = http {
        app = app.merge(http);
    }
    let mut server_shutdown = shutdown_rx.clone();
    tasks.push(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = server_shutdown.wait_for(|stop| *stop).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    }));
    let template = config
        .template
        .as_ref()
        .map_or_else(|| "built-in".to_owned(), |p| p.display().to_string());
    tracing::info!(%addr, %template, state = %config.state_dir.display(), "StackStarted");
    Ok(RunningStack {
        addr,
        handle,
        shutdown,
        tasks,
    })
}

async fn status(State(handle): State<StackHandle>) -> axum::Json<Value> {
    axum::Json(handle.status())
}
