//! An HTTP proxy in front of moto that throttles one AWS JSON operation
//! (by its `X-Amz-Target`, e.g. `AWSEvents.PutEvents`): a throttled call is
//! answered `400 ThrottlingException` without reaching moto, as a bus over
//! its PutEvents quota answers; a *lost answer* reaches moto (the events are
//! put) and is then answered `500 InternalFailure`, so the caller retries
//! something that already happened. Every other request is forwarded as it
//! is. Point a function at it with `AWS_ENDPOINT_URL`.
//!
//! [`hold_next`](ThrottleProxy::hold_next) holds the next call of the
//! operation *after* moto answered it (the events are on the bus) and
//! before its answer goes back, until the test releases it: the moment to
//! kill the caller between a publish and what it does once the publish is
//! answered. [`calls`](ThrottleProxy::calls) records the request body of
//! every call of the operation that reached moto.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// What happens to the throttled operation's calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttling {
    /// Share of calls answered `ThrottlingException` (not forwarded).
    pub throttled: f64,
    /// Share of calls forwarded, then answered `InternalFailure`.
    pub lost_answers: f64,
}

/// Counters of a [`ThrottleProxy`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Calls of the operation.
    pub calls: u64,
    /// Answered `ThrottlingException`.
    pub throttled: u64,
    /// Forwarded, then answered `InternalFailure`.
    pub lost_answers: u64,
}

struct Shared {
    upstream: String,
    target: String,
    http: reqwest::Client,
    throttling: Mutex<(Throttling, fastrand::Rng)>,
    calls: AtomicU64,
    throttled: AtomicU64,
    lost: AtomicU64,
    hold: Mutex<Option<Hold>>,
    forwarded: Mutex<Vec<ForwardedCall>>,
}

/// A call of the throttled operation that reached moto.
#[derive(Debug, Clone)]
pub struct ForwardedCall {
    /// Its request body (JSON; `Null` when it was not JSON).
    pub body: serde_json::Value,
    /// Whether it was held ([`ThrottleProxy::hold_next`]).
    pub held: bool,
    /// Whether its answer was lost ([`Throttling::lost_answers`]).
    pub answer_lost: bool,
}

/// One held call ([`ThrottleProxy::hold_next`]); clones share it.
#[derive(Debug, Clone)]
pub struct Hold {
    arrived: Arc<tokio::sync::watch::Sender<bool>>,
    released: Arc<tokio::sync::watch::Sender<bool>>,
    body: Arc<Mutex<serde_json::Value>>,
}

impl Hold {
    fn new() -> Hold {
        Hold {
            arrived: Arc::new(tokio::sync::watch::channel(false).0),
            released: Arc::new(tokio::sync::watch::channel(false).0),
            body: Arc::new(Mutex::new(serde_json::Value::Null)),
        }
    }

    /// Waits until the held call reached moto and moto answered it.
    pub async fn arrived(&self) {
        let _ = self.arrived.subscribe().wait_for(|a| *a).await;
    }

    /// Whether the held call has reached moto and been answered.
    pub fn has_arrived(&self) -> bool {
        *self.arrived.borrow()
    }

    /// The held call's request body (`Null` before it arrived).
    pub fn body(&self) -> serde_json::Value {
        self.body.lock().expect("the held body").clone()
    }

    /// Lets moto's answer go back (to whoever still listens).
    pub fn release(&self) {
        self.released.send_replace(true);
    }

    async fn wait_here(&self, body: serde_json::Value) {
        *self.body.lock().expect("the held body") = body;
        self.arrived.send_replace(true);
        let _ = self.released.subscribe().wait_for(|r| *r).await;
    }
}

/// A running proxy; stopped when dropped.
pub struct ThrottleProxy {
    shared: Arc<Shared>,
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl ThrottleProxy {
    /// Proxies `upstream` (e.g. moto's URL) on a free 127.0.0.1 port,
    /// throttling the calls whose `X-Amz-Target` is `target`; starts with
    /// no throttling, draws with `seed`.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn start(upstream: &str, target: &str, seed: u64) -> ThrottleProxy {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            target: target.to_owned(),
            http: reqwest::Client::new(),
            throttling: Mutex::new((
                Throttling {
                    throttled: 0.0,
                    lost_answers: 0.0,
                },
                fastrand::Rng::with_seed(seed),
            )),
            calls: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            hold: Mutex::new(None),
            forwarded: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(forward).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ThrottleProxy { shared, addr, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, throttle as `throttling` says.
    pub fn set(&self, throttling: Throttling) {
        self.shared.throttling.lock().expect("throttling").0 = throttling;
    }

    /// Holds the next call of the operation that is forwarded: moto gets
    /// it and answers, and the answer waits until [`Hold::release`]. One
    /// hold at a time: a second `hold_next` before the first one arrived
    /// replaces it.
    pub fn hold_next(&self) -> Hold {
        let hold = Hold::new();
        *self.shared.hold.lock().expect("the hold") = Some(hold.clone());
        hold
    }

    /// Every call of the operation forwarded to moto so far, in order.
    pub fn calls(&self) -> Vec<ForwardedCall> {
        self.shared.forwarded.lock().expect("the calls").clone()
    }

    /// Counters so far.
    pub fn stats(&self) -> ProxyStats {
        ProxyStats {
            calls: self.shared.calls.load(Ordering::Relaxed),
            throttled: self.shared.throttled.load(Ordering::Relaxed),
            lost_answers: self.shared.lost.load(Ordering::Relaxed),
        }
    }
}

impl Drop for ThrottleProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Fate {
    Forward,
    Throttle,
    LoseAnswer,
}

fn aws_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "__type": code, "message": message }).to_string();
    (
        status,
        [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amzn-errortype", code),
        ],
        body,
    )
        .into_response()
}

async fn forward(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let targeted = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t == shared.target);
    let fate = if targeted {
        shared.calls.fetch_add(1, Ordering::Relaxed);
        let mut guard = shared.throttling.lock().expect("throttling");
        let (throttling, rng) = &mut *guard;
        let roll = rng.f64();
        if roll < throttling.throttled {
            Fate::Throttle
        } else if roll < throttling.throttled + throttling.lost_answers {
            Fate::LoseAnswer
        } else {
            Fate::Forward
        }
    } else {
        Fate::Forward
    };
    if matches!(fate, Fate::Throttle) {
        shared.throttled.fetch_add(1, Ordering::Relaxed);
        return aws_error(
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate exceeded",
        );
    }
    let hold = if targeted {
        let hold = if matches!(fate, Fate::Forward) {
            shared.hold.lock().expect("the hold").take()
        } else {
            None
        };
        shared
            .forwarded
            .lock()
            .expect("the calls")
            .push(ForwardedCall {
                body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
                held: hold.is_some(),
                answer_lost: matches!(fate, Fate::LoseAnswer),
            });
        hold
    } else {
        None
    };
    let held_body = hold
        .as_ref()
        .map(|_| serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null));
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = shared
        .http
        .request(method, format!("{}{path}", shared.upstream))
        .body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    if matches!(fate, Fate::LoseAnswer) {
        let _ = answer.bytes().await;
        shared.lost.fetch_add(1, Ordering::Relaxed);
        return aws_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "the answer was lost",
        );
    }
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut out = HeaderMap::new();
    for (name, value) in answer.headers() {
        if name == "content-length" || name == "transfer-encoding" || name == "connection" {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(n, v);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    if let (Some(hold), Some(body)) = (hold, held_body) {
        hold.wait_here(body).await;
    }
    (status, out, bytes).into_response()
}
