//! A Lambda Runtime API (version 2018-06-01) served in the test process, in
//! front of one function process the test can SIGKILL and restart — what
//! Lambda does to a crashed or timed-out execution environment.
//!
//! - `GET …/runtime/invocation/next` hands out the next [`invoke`] with
//!   `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (now +
//!   the function timeout), `Lambda-Runtime-Invoked-Function-Arn` and
//!   `Lambda-Runtime-Trace-Id`; `…/{id}/response`, `…/{id}/error` and
//!   `…/init/error` answer 202.
//! - Every process start is a new *generation*, served under its own path
//!   prefix (`AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:<port>/g<n>`): a
//!   request of a killed process is never answered, so it cannot take an
//!   invocation meant for its successor.
//! - [`kill`](FunctionProcess::kill) sends SIGKILL to the process (by its
//!   PID) and fails the invocation in flight with [`InvokeError::Crashed`];
//!   an invocation that outlives the function timeout kills and restarts
//!   the process ([`InvokeError::TimedOut`]), as does a process that exits
//!   on its own.
//!
//! [`invoke`]: FunctionProcess::invoke

use std::collections::HashMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

/// Why an invocation has no response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvokeError {
    /// The process was killed (or exited) while it ran the invocation.
    #[error("the function process died during the invocation")]
    Crashed,
    /// No answer within the function timeout; the process was restarted.
    #[error("the invocation timed out")]
    TimedOut,
    /// The function reported an error (`…/error`), with its body.
    #[error("the function reported an error: {0}")]
    Function(Value),
}

/// How the process is run.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// The executable (e.g. an unzipped `bootstrap`).
    pub binary: PathBuf,
    /// Environment besides the variables Lambda sets.
    pub env: Vec<(String, String)>,
    /// The function timeout: the deadline given with each invocation.
    pub timeout: Duration,
    /// Where the process's stdout and stderr go (appended); `None`: nowhere.
    pub log: Option<PathBuf>,
}

/// Counters of a [`FunctionProcess`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessStats {
    /// Processes started (the first one included).
    pub starts: u64,
    /// Kills by the test ([`FunctionProcess::kill`]).
    pub kills: u64,
    /// Invocations answered with a response.
    pub responses: u64,
    /// Invocations that ended in [`InvokeError::Crashed`].
    pub crashed: u64,
    /// Invocations that ended in [`InvokeError::TimedOut`].
    pub timed_out: u64,
}

type Reply = oneshot::Sender<Result<Value, InvokeError>>;

struct Pending {
    payload: Value,
    reply: Reply,
}

struct Shared {
    generation: watch::Sender<u64>,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    /// request id → (generation, reply)
    in_flight: Mutex<HashMap<String, (u64, Reply)>>,
    next_request: AtomicU64,
    timeout: Duration,
}

/// One function process behind a Runtime API served by the test.
pub struct FunctionProcess {
    config: FunctionConfig,
    shared: Arc<Shared>,
    submit: mpsc::UnboundedSender<Pending>,
    addr: SocketAddr,
    child: Mutex<Option<Child>>,
    stats: Mutex<ProcessStats>,
    server: tokio::task::JoinHandle<()>,
}

impl FunctionProcess {
    /// Serves the Runtime API on a free 127.0.0.1 port and starts the
    /// process against it.
    ///
    /// # Panics
    /// When no port can be bound or the binary cannot start.
    pub async fn start(config: FunctionConfig) -> FunctionProcess {
        let (submit, queue) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            generation: watch::channel(0).0,
            queue: tokio::sync::Mutex::new(queue),
            in_flight: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(1),
            timeout: config.timeout,
        });
        let app = Router::new()
            .route(
                "/{generation}/2018-06-01/runtime/invocation/next",
                get(next),
            )
            .route(
                "/{generation}/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route(
                "/{generation}/2018-06-01/runtime/invocation/{id}/error",
                post(error),
            )
            .route(
                "/{generation}/2018-06-01/runtime/init/error",
                post(init_error),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API");
        let addr = listener.local_addr().expect("the Runtime API address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let process = FunctionProcess {
            config,
            shared,
            submit,
            addr,
            child: Mutex::new(None),
            stats: Mutex::new(ProcessStats::default()),
            server,
        };
        process.spawn();
        process
    }

    fn spawn(&self) {
        let generation = *self.shared.generation.borrow() + 1;
        self.shared.generation.send_replace(generation);
        let mut command = Command::new(&self.config.binary);
        command
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://{}/g{generation}", self.addr),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "chaos")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("generation-{generation}"),
            )
            .stdin(Stdio::null());
        for (var, value) in &self.config.env {
            command.env(var, value);
        }
        match &self.config.log {
            Some(path) => {
                let file = File::options()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
                let err = file.try_clone().expect("clone the log file");
                command.stdout(file).stderr(err);
            }
            None => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.config.binary.display()));
        *self.child.lock().expect("child") = Some(child);
        self.stats.lock().expect("stats").starts += 1;
    }

    /// The PID of the running process.
    pub fn pid(&self) -> Option<u32> {
        self.child.lock().expect("child").as_ref().map(Child::id)
    }

    /// Counters so far.
    pub fn stats(&self) -> ProcessStats {
        *self.stats.lock().expect("stats")
    }

    /// Whether an invocation is being run by the process right now.
    pub fn busy(&self) -> bool {
        !self.shared.in_flight.lock().expect("in flight").is_empty()
    }

    /// SIGKILLs the process (its PID only), fails its invocation in flight
    /// with [`InvokeError::Crashed`] and starts a new process.
    pub fn kill(&self) {
        self.stats.lock().expect("stats").kills += 1;
        self.stop_and_restart(InvokeError::Crashed);
    }

    fn stop_and_restart(&self, why: InvokeError) {
        let old = *self.shared.generation.borrow();
        if let Some(mut child) = self.child.lock().expect("child").take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // later requests of the dead generation are never answered
        self.shared.generation.send_replace(old + 1);
        let dead: Vec<_> = {
            let mut in_flight = self.shared.in_flight.lock().expect("in flight");
            let ids: Vec<String> = in_flight
                .iter()
                .filter(|(_, (g, _))| *g <= old)
                .map(|(id, _)| id.clone())
                .collect();
            ids.into_iter()
                .filter_map(|id| in_flight.remove(&id))
                .collect()
        };
        for (_, reply) in dead {
            let _ = reply.send(Err(why.clone()));
        }
        self.spawn();
    }

    fn exited(&self) -> bool {
        self.child
            .lock()
            .expect("child")
            .as_mut()
            .is_some_and(|c| !matches!(c.try_wait(), Ok(None)))
    }

    /// Invokes the function with `payload` and waits for its answer: at
    /// most the function timeout (plus a second), after which the process
    /// is restarted, as Lambda does.
    pub async fn invoke(&self, payload: Value) -> Result<Value, InvokeError> {
        let (reply, answer) = oneshot::channel();
        self.submit
            .send(Pending { payload, reply })
            .expect("the Runtime API is running");
        let limit = tokio::time::Instant::now() + self.config.timeout + Duration::from_secs(1);
        tokio::pin!(answer);
        let result = loop {
            tokio::select! {
                got = &mut answer => break got.unwrap_or(Err(InvokeError::Crashed)),
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    if self.exited() {
                        self.stop_and_restart(InvokeError::Crashed);
                    } else if tokio::time::Instant::now() >= limit {
                        self.stop_and_restart(InvokeError::TimedOut);
                    }
                }
            }
        };
        let mut stats = self.stats.lock().expect("stats");
        match &result {
            Ok(_) => stats.responses += 1,
            Err(InvokeError::Crashed) => stats.crashed += 1,
            Err(InvokeError::TimedOut) => stats.timed_out += 1,
            Err(InvokeError::Function(_)) => {}
        }
        result
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.lock().map(|mut c| c.take()).unwrap_or(None) {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.server.abort();
    }
}

type Api = State<Arc<Shared>>;

/// Returns once `generation` is no longer the running one.
async fn superseded(current: &mut watch::Receiver<u64>, generation: u64) {
    let _ = current.wait_for(|g| *g != generation).await;
}

fn generation_of(segment: &str) -> Option<u64> {
    segment.strip_prefix('g')?.parse().ok()
}

async fn next(State(shared): Api, UrlPath(segment): UrlPath<String>) -> Response {
    let Some(generation) = generation_of(&segment) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut current = shared.generation.subscribe();
    if *current.borrow() != generation {
        return std::future::pending().await;
    }
    let pending = {
        let mut queue = tokio::select! {
            q = shared.queue.lock() => q,
            () = superseded(&mut current, generation) => return std::future::pending().await,
        };
        tokio::select! {
            p = queue.recv() => p,
            () = superseded(&mut current, generation) => return std::future::pending().await,
        }
    };
    let Some(Pending { payload, reply }) = pending else {
        return std::future::pending().await;
    };
    let id = format!(
        "req-{}",
        shared.next_request.fetch_add(1, Ordering::Relaxed)
    );
    let deadline = SystemTime::now() + shared.timeout;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    shared
        .in_flight
        .lock()
        .expect("in flight")
        .insert(id.clone(), (generation, reply));
    if *current.borrow() != generation {
        // killed meanwhile: the kill may have missed this one
        if let Some((_, reply)) = shared.in_flight.lock().expect("in flight").remove(&id) {
            let _ = reply.send(Err(InvokeError::Crashed));
        }
        return std::future::pending().await;
    }
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", id.clone());
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:chaos".to_owned(),
    );
    set(
        "lambda-runtime-trace-id",
        format!("Root=1-00000000-{:024x};Sampled=0", deadline_ms),
    );
    set("content-type", "application/json".to_owned());
    (StatusCode::OK, headers, payload.to_string()).into_response()
}

fn answer(shared: &Shared, id: &str, result: Result<Value, InvokeError>) -> StatusCode {
    match shared.in_flight.lock().expect("in flight").remove(id) {
        Some((_, reply)) => {
            let _ = reply.send(result);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

fn json_or_text(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn response(
    State(shared): Api,
    UrlPath((_, id)): UrlPath<(String, String)>,
    body: Bytes,
) -> StatusCode {
    answer(&shared, &id, Ok(json_or_text(&body)))
}

async fn error(
    State(shared): Api,
    UrlPath((_, id)): UrlPath<(String, String)>,
    body: Bytes,
) -> StatusCode {
    answer(
        &shared,
        &id,
        Err(InvokeError::Function(json_or_text(&body))),
    )
}

async fn init_error(UrlPath(segment): UrlPath<String>, body: Bytes) -> StatusCode {
    eprintln!(
        "function init error (generation {segment}): {}",
        String::from_utf8_lossy(&body)
    );
    StatusCode::ACCEPTED
}
