//! The local stack: `template.yaml` run in one process, no Docker, no
//! cloud account. Queues, bus, functions and an ERP stub, with the
//! functions invoked through the very same adapters they use on Lambda.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::erp::ErpState;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;
use serde_json::{Value, json};
use switchyard_idempotency::{EmbeddedStore, IdempotencyConfig, IdempotencyStore, StoreOptions};
use switchyard_publish::Publisher;
use switchyard_triggers::eventbridge::{EventBridgeAdapter, EventBridgeAdapterConfig};
use switchyard_triggers::sqs::{BackoffConfig, SqsAdapter, SqsAdapterConfig, SqsApi};
use switchyard_triggers::{Idempotency, Outcome};
use tokio::sync::watch;

use crate::audit::LocalAuditStore;
use crate::bus::{LocalBus, LocalBusPublisher, target_queue};
use crate::queue::{LocalQueues, Received};
pub use crate::sqs::{LocalSqs, local_arn, local_url};
use crate::template::{self, QueueSpec, StackSpec, TargetSpec};

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
    /// The SAM template.
    pub template: PathBuf,
    /// Where queues, dedupe records and the audit table persist.
    pub state_dir: PathBuf,
    /// HTTP port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// The ERP; `None` uses the built-in stub at `/_erp`.
    pub erp_base_url: Option<String>,
}

/// Counters of one function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FunctionStats {
    /// Invocations (an SQS batch or one event).
    pub invocations: u64,
    /// Messages handled successfully.
    pub successes: u64,
    /// Messages that must be retried.
    pub failures: u64,
    /// Messages parked with a reason.
    pub parked: u64,
    /// Duplicates acknowledged without running.
    pub duplicates: u64,
    /// Events outside the function's set, acknowledged by its policy.
    pub ignored: u64,
}

/// Shared counters.
#[derive(Debug, Default)]
pub struct Stats {
    functions: Mutex<BTreeMap<String, FunctionStats>>,
}

impl Stats {
    fn record(&self, function: &str, outcomes: &[Outcome]) {
        if let Ok(mut f) = self.functions.lock() {
            let s = f.entry(function.to_owned()).or_default();
            s.invocations += 1;
            for o in outcomes {
                match o {
                    Outcome::Handled => s.successes += 1,
                    Outcome::Duplicate => s.duplicates += 1,
                    Outcome::Ignored { .. } => s.ignored += 1,
                    Outcome::Parked { .. } => s.parked += 1,
                    Outcome::Retry { .. } | Outcome::NotStarted { .. } => s.failures += 1,
                }
            }
        }
    }

    /// Counters per function.
    pub fn functions(&self) -> BTreeMap<String, FunctionStats> {
        self.functions.lock().map(|f| f.clone()).unwrap_or_default()
    }
}

/// What the running stack shares with its HTTP routes and callers.
#[derive(Clone)]
pub struct StackHandle {
    /// The queues.
    pub queues: LocalQueues,
    /// The bus.
    pub bus: Arc<LocalBus>,
    /// Function counters.
    pub stats: Arc<Stats>,
    /// The built-in ERP stub's records.
    pub erp: ErpState,
    /// The stack's spec.
    pub spec: Arc<StackSpec>,
    /// The publisher onto the bus.
    pub publisher: Arc<dyn Publisher>,
    /// The shared idempotency store.
    pub store: Arc<dyn IdempotencyStore>,
    /// The audit table.
    pub audit: LocalAuditStore,
}

impl StackHandle {
    /// `GET /_switchyard/status` as JSON.
    pub fn status(&self) -> Value {
        let mut queues = serde_json::Map::new();
        for name in self.queues.names() {
            let depth = self.queues.depth(&name).unwrap_or_default();
            let dlq = self
                .spec
                .queues
                .get(&name)
                .and_then(|q| q.redrive.as_ref())
                .map(|(d, _)| d.clone());
            let dlq_depth = dlq.as_ref().map(|d| {
                self.queues
                    .depth(d)
                    .map(|x| x.visible + x.in_flight)
                    .unwrap_or(0)
            });
            queues.insert(
                name,
                json!({ "depth": depth.visible, "in_flight": depth.in_flight, "dlq": dlq, "dlq_depth": dlq_depth }),
            );
        }
        json!({
            "queues": queues,
            "functions": self.stats.functions(),
            "rules": self.bus.matches(),
            "erp": { "calls": self.erp.calls().len(), "accepted": self.erp.accepted().len() },
            "audit_records": self.audit.len(),
        })
    }

    /// The queues something consumes: the functions' SQS triggers and the
    /// rules' function targets. Everything else (DLQs, park queues) is a sink.
    pub fn consumed_queues(&self) -> Vec<String> {
        let mut queues: Vec<String> = self
            .spec
            .functions
            .values()
            .filter_map(|f| f.sqs.as_ref().map(|t| t.queue.clone()))
            .collect();
        for rule in &self.spec.rules {
            for t in &rule.targets {
                match t {
                    TargetSpec::Function { .. } => queues.push(target_queue(&rule.name)),
                    TargetSpec::Queue(q) => queues.push(q.clone()),
                }
            }
        }
        queues.sort();
        queues.dedup();
        queues
    }

    /// True when no consumed queue holds a visible or in-flight message.
    pub fn drained(&self) -> bool {
        self.consumed_queues().iter().all(|n| {
            self.queues
                .depth(n)
                .map(|d| d.visible + d.in_flight == 0)
                .unwrap_or(true)
        })
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
    let spec = Arc::new(template::load(&config.template)?);
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
    let audit = LocalAuditStore::open(&audit_file).map_err(|e| state_error(&audit_file, e))?;
    let idem_file = config.state_dir.join("idempotency.redb");
    let store: Arc<dyn IdempotencyStore> = Arc::new(
        EmbeddedStore::open(&idem_file, StoreOptions::default())
            .map_err(|e| state_error(&idem_file, e))?,
    );

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

    let bus = Arc::new(LocalBus::new(spec.rules.clone(), queues.clone()));
    let publisher: Arc<dyn Publisher> = Arc::new(LocalBusPublisher::new(bus.clone()));
    let sqs: Arc<dyn SqsApi> = Arc::new(LocalSqs::new(queues.clone()));
    let handle = StackHandle {
        queues: queues.clone(),
        bus,
        stats: Arc::new(Stats::default()),
        erp: ErpState::new(),
        spec: spec.clone(),
        publisher: publisher.clone(),
        store: store.clone(),
        audit: audit.clone(),
    };
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    for function in spec.functions.values() {
        match function.binary.as_str() {
            "erp-sync" => {
                let Some(trigger) = &function.sqs else {
                    tracing::warn!(function = %function.name, "erp-sync has no SQS event in the template; not run");
                    continue;
                };
                let dlq = spec
                    .queues
                    .get(&trigger.queue)
                    .and_then(|q| q.redrive.as_ref())
                    .map(|(d, _)| d.clone());
                let erp = switchyard_erp_sync::ErpClient::new(&erp_base, Duration::from_secs(5))
                    .map_err(|e| StackError::Function {
                        function: function.name.clone(),
                        reason: e.to_string(),
                    })?;
                let adapter = SqsAdapter::new(
                    switchyard_erp_sync::ErpSync::new(erp, publisher.clone()),
                    switchyard_erp_sync::FUNCTION_NAME,
                    SqsAdapterConfig {
                        park_queue_url: dlq.as_deref().map(local_url),
                        // local runs retry fast: 1 s, 2 s, 4 s ... up to 10 s
                        backoff: Some(BackoffConfig {
                            base_secs: 1,
                            factor: 2,
                            cap_secs: 10,
                        }),
                        ..SqsAdapterConfig::default()
                    },
                    Some(sqs.clone()),
                )
                .with_idempotency(Idempotency {
                    config: IdempotencyConfig::for_function(switchyard_erp_sync::FUNCTION_NAME),
                    store: store.clone(),
                });
                tasks.push(tokio::spawn(sqs_poller(
                    handle.clone(),
                    function.name.clone(),
                    trigger.queue.clone(),
                    trigger.batch_size.min(10),
                    function.timeout,
                    Arc::new(adapter),
                    shutdown_rx.clone(),
                )));
            }
            "audit-log" => {
                let park = spec
                    .queues
                    .keys()
                    .find(|q| q.starts_with("AuditLogPark") || q.starts_with("AuditPark"))
                    .cloned();
                let adapter = Arc::new(
                    EventBridgeAdapter::new(
                        switchyard_audit_log::AuditLog::new(Arc::new(audit.clone())),
                        switchyard_audit_log::FUNCTION_NAME,
                        EventBridgeAdapterConfig {
                            park_queue_url: park.as_deref().map(local_url),
                            ..EventBridgeAdapterConfig::default()
                        },
                        Some(sqs.clone()),
                    )
                    .with_idempotency(Idempotency {
                        config: IdempotencyConfig::for_function(
                            switchyard_audit_log::FUNCTION_NAME,
                        ),
                        store: store.clone(),
                    }),
                );
                for rule in &spec.rules {
                    if rule
                        .targets
                        .iter()
                        .any(|t| matches!(t, TargetSpec::Function { function: f, .. } if *f == function.name))
                    {
                        tasks.push(tokio::spawn(event_poller(
                            handle.clone(),
                            function.name.clone(),
                            target_queue(&rule.name),
                            function.timeout,
                            adapter.clone(),
                            shutdown_rx.clone(),
                        )));
                    }
                }
            }
            "crm-webhook" => {}
            other => {
                tracing::warn!(function = %function.name, binary = other, "no local runner for this function; not run")
            }
        }
    }

    let webhooks =
        crate::webhook::router(&handle, &format!("http://{addr}")).map_err(|reason| {
            StackError::Function {
                function: "crm-webhook".to_owned(),
                reason,
            }
        })?;
    let app = Router::new()
        .route("/_switchyard/status", get(status))
        .with_state(handle.clone())
        .merge(webhooks)
        .nest("/_erp", handle.erp.router());
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
    tracing::info!(%addr, template = %config.template.display(), state = %config.state_dir.display(), "StackStarted");
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

/// Waits for new messages, a visibility timeout to end, or shutdown.
/// Returns false on shutdown.
async fn idle(queues: &LocalQueues, queue: &str, shutdown: &mut watch::Receiver<bool>) -> bool {
    let wait = queues
        .next_visible_in(queue)
        .unwrap_or(Duration::from_millis(500))
        .min(Duration::from_millis(500));
    tokio::select! {
        _ = queues.changed() => true,
        _ = tokio::time::sleep(wait) => true,
        _ = shutdown.wait_for(|stop| *stop) => false,
    }
}

fn sqs_event(queue: &str, received: &[Received]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for r in received {
        let mut m = SqsMessage::default();
        m.message_id = Some(r.message.id.clone());
        m.receipt_handle = Some(r.receipt_handle.clone());
        m.body = Some(r.message.body.clone());
        m.attributes.insert(
            "ApproximateReceiveCount".to_owned(),
            r.message.receive_count.to_string(),
        );
        m.attributes
            .insert("SentTimestamp".to_owned(), r.message.sent_at_ms.to_string());
        m.event_source = Some("aws:sqs".to_owned());
        m.event_source_arn = Some(local_arn(queue));
        m.aws_region = Some("local".to_owned());
        event.records.push(m);
    }
    event
}

async fn sqs_poller<H: switchyard_triggers::Handler>(
    handle: StackHandle,
    function: String,
    queue: String,
    batch_size: usize,
    timeout: Duration,
    adapter: Arc<SqsAdapter<H>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let received = match handle.queues.receive(&queue, batch_size.max(1)) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(%queue, error = %e, "receive failed");
                Vec::new()
            }
        };
        if received.is_empty() {
            if !idle(&handle.queues, &queue, &mut shutdown).await {
                return;
            }
            continue;
        }
        let (response, report) = adapter
            .handle_with_report(sqs_event(&queue, &received), SystemTime::now() + timeout)
            .await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        for r in &received {
            if !failed.contains(&r.message.id.as_str()) {
                if let Err(e) = handle.queues.delete(&r.receipt_handle) {
                    tracing::warn!(%queue, error = %e, "delete failed");
                }
            }
        }
        let outcomes: Vec<Outcome> = report.outcomes.into_iter().map(|(_, o)| o).collect();
        handle.stats.record(&function, &outcomes);
    }
}

async fn event_poller<H: switchyard_triggers::Handler>(
    handle: StackHandle,
    function: String,
    queue: String,
    timeout: Duration,
    adapter: Arc<EventBridgeAdapter<H>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let received = handle.queues.receive(&queue, 1).unwrap_or_default();
        let Some(r) = received.into_iter().next() else {
            if !idle(&handle.queues, &queue, &mut shutdown).await {
                return;
            }
            continue;
        };
        let outcome = match serde_json::from_str::<EventBridgeEvent>(&r.message.body) {
            Ok(event) => adapter.handle(event, SystemTime::now() + timeout).await,
            Err(e) => {
                tracing::error!(%queue, error = %e, "not an EventBridge event; dropped from the target queue");
                Ok(Outcome::Parked {
                    kind: "invalid_event".to_owned(),
                })
            }
        };
        match &outcome {
            Ok(_) => {
                let _ = handle.queues.delete(&r.receipt_handle);
            }
            Err(e) => {
                // EventBridge's retry policy: back off, then the target DLQ via the queue's redrive
                tracing::warn!(%queue, reason = %e.reason, attempt = r.message.receive_count, "EventBridge target failed; retrying");
                let _ = handle.queues.change_visibility(
                    &r.receipt_handle,
                    Duration::from_secs(u64::from(r.message.receive_count)),
                );
            }
        }
        let o = match outcome {
            Ok(o) => o,
            Err(e) => Outcome::Retry { reason: e.reason },
        };
        handle.stats.record(&function, &[o]);
    }
}
