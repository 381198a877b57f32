//! The ERP stub of the local stack (and of tests): an HTTP API that records
//! every call; the reference integration's `erp-sync` upserts orders and customers into it.
//!
//! `PUT /orders/{id}`: 201 `{"erpOrderNumber": "ERP-000001", "outcome": "created"}`
//! the first time an `Idempotency-Key` is seen, 200 with `"unchanged"` and
//! the same number when the key repeats. `PUT /customers/{id}`: 200
//! `{"customerNumber": ...}`. Failures can be scripted per resource id, as
//! can late answers ([`ErpState::delay_times`]: the effect is recorded, the
//! answer comes after the delay) and held calls ([`ErpState::hold_next`]:
//! the call waits, before or after its effect, until the test releases it —
//! the moment to kill the caller).
//! With [`ErpState::require_tokens`], a call without an accepted bearer
//! token is answered 401 with `WWW-Authenticate: Bearer error="invalid_token"`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::{Value, json};

/// One request the stub received.
#[derive(Debug, Clone, PartialEq)]
pub struct ErpCall {
    /// `orders` or `customers`.
    pub resource: String,
    /// The id in the path.
    pub id: String,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The `X-Correlation-Id` header.
    pub correlation_id: Option<String>,
    /// The JSON body.
    pub body: Value,
    /// The status the stub answered.
    pub status: u16,
}

pub use crate::crm::TokenCheck;

#[derive(Default)]
struct StubState {
    /// When set, calls need a bearer token it accepts.
    token_check: Option<TokenCheck>,
    calls: Vec<ErpCall>,
    /// id → (status, remaining times; u32::MAX = always)
    failures: HashMap<String, (u16, u32)>,
    numbers: HashMap<String, String>,
    /// id → (delay of the answer, remaining times)
    delays: HashMap<String, (Duration, u32)>,
    /// id → the next call's hold
    holds: HashMap<String, Hold>,
}

/// Where a held call waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldPoint {
    /// Before the stub records anything: the ERP has not applied it yet.
    BeforeEffect,
    /// After the effect is recorded (an order has its number), before the
    /// answer is sent.
    AfterEffect,
}

/// One held call ([`ErpState::hold_next`]); clones share it.
#[derive(Debug, Clone)]
pub struct Hold {
    point: HoldPoint,
    arrived: Arc<tokio::sync::watch::Sender<bool>>,
    released: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Hold {
    fn new(point: HoldPoint) -> Hold {
        Hold {
            point,
            arrived: Arc::new(tokio::sync::watch::channel(false).0),
            released: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// Waits until the held call has reached its hold point.
    pub async fn arrived(&self) {
        let _ = self.arrived.subscribe().wait_for(|a| *a).await;
    }

    /// Whether the held call has reached its hold point.
    pub fn has_arrived(&self) -> bool {
        *self.arrived.borrow()
    }

    /// Lets the held call go on (its answer goes to whoever still listens).
    pub fn release(&self) {
        self.released.send_replace(true);
    }

    async fn wait_here(&self) {
        self.arrived.send_replace(true);
        let _ = self.released.subscribe().wait_for(|r| *r).await;
    }
}

/// The stub's routes and records, to mount in another server (the local
/// stack mounts them at `/_erp`). Clones share the records.
#[derive(Clone, Default)]
pub struct ErpState {
    state: Arc<Mutex<StubState>>,
}

impl ErpState {
    /// New, empty records.
    pub fn new() -> Self {
        Self::default()
    }

    /// The routes: `PUT /orders/{id}`, `PUT /customers/{id}`, and
    /// `GET /orders` listing accepted order calls.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/orders", get(list_orders))
            .route("/orders/{id}", put(upsert_order))
            .route("/customers/{id}", put(upsert_customer))
            .with_state(self.state.clone())
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<ErpCall> {
        self.state.lock().expect("stub state").calls.clone()
    }

    /// Calls that the stub accepted (2xx).
    pub fn accepted(&self) -> Vec<ErpCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.status < 300)
            .collect()
    }

    /// The ERP order number of every order accepted so far, by order id.
    pub fn order_numbers(&self) -> std::collections::BTreeMap<String, String> {
        let s = self.state.lock().expect("stub state");
        s.calls
            .iter()
            .filter(|c| c.resource == "orders" && c.status < 300)
            .filter_map(|c| {
                let key = c.idempotency_key.as_deref()?;
                Some((c.id.clone(), s.numbers.get(key)?.clone()))
            })
            .collect()
    }

    /// The next `times` calls for `id` answer `status`.
    pub fn fail_times(&self, id: &str, status: u16, times: u32) {
        self.state
            .lock()
            .expect("stub state")
            .failures
            .insert(id.to_owned(), (status, times));
    }

    /// The next `times` calls for `id` are applied at once but answered
    /// only after `delay` (beyond the client's timeout: the effect happened,
    /// the caller never heard of it).
    pub fn delay_times(&self, id: &str, delay: Duration, times: u32) {
        self.state
            .lock()
            .expect("stub state")
            .delays
            .insert(id.to_owned(), (delay, times));
    }

    /// The next call for `id` waits at `point` until the returned
    /// [`Hold`] is released.
    pub fn hold_next(&self, id: &str, point: HoldPoint) -> Hold {
        let hold = Hold::new(point);
        self.state
            .lock()
            .expect("stub state")
            .holds
            .insert(id.to_owned(), hold.clone());
        hold
    }

    /// Every call for `id` answers `status`.
    pub fn fail_always(&self, id: &str, status: u16) {
        self.fail_times(id, status, u32::MAX);
    }

    /// From now on a call needs `Authorization: Bearer <token>` with a token
    /// `check` accepts (e.g. the OAuth stub's `accepts`); others are answered
    /// 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
    pub fn require_tokens(&self, check: TokenCheck) {
        self.state.lock().expect("stub state").token_check = Some(check);
    }
}

impl crate::stub::StubState for ErpState {
    const NAME: &'static str = "ERP";

    fn router(&self) -> Router {
        ErpState::router(self)
    }
}

/// The ERP stub on its own port; derefs to its [`ErpState`].
pub type ErpStub = crate::stub::Stub<ErpState>;

type Shared = State<Arc<Mutex<StubState>>>;

fn record(
    state: &Arc<Mutex<StubState>>,
    resource: &str,
    id: String,
    headers: &HeaderMap,
    body: Value,
    ok: impl FnOnce(&mut StubState, Option<&str>) -> (StatusCode, Value),
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let key = header("idempotency-key");
    let bearer = header("authorization")
        .and_then(|v| v.strip_prefix("Bearer ").map(|t| t.trim().to_owned()));
    let mut s = state.lock().expect("stub state");
    let refused = s
        .token_check
        .as_ref()
        .is_some_and(|check| !bearer.as_deref().is_some_and(|t| check(t)));
    if refused {
        s.calls.push(ErpCall {
            resource: resource.to_owned(),
            id,
            idempotency_key: key,
            correlation_id: header("x-correlation-id"),
            body,
            status: 401,
        });
        return (
            StatusCode::UNAUTHORIZED,
            [(
                axum::http::header::WWW_AUTHENTICATE,
                r#"Bearer error="invalid_token""#,
            )],
            Json(json!({ "error": "invalid_token" })),
        )
            .into_response();
    }
    let scripted = match s.failures.get_mut(&id) {
        Some((status, times)) if *times > 0 => {
            if *times != u32::MAX {
                *times -= 1;
            }
            Some(*status)
        }
        _ => None,
    };
    let (status, reply) = match scripted {
        Some(code) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            json!({ "error": format!("scripted failure {code}") }),
        ),
        None => ok(&mut s, key.as_deref()),
    };
    s.calls.push(ErpCall {
        resource: resource.to_owned(),
        id,
        idempotency_key: key,
        correlation_id: header("x-correlation-id"),
        body,
        status: status.as_u16(),
    });
    (status, Json(reply)).into_response()
}

/// Runs `record` between the scripted hold and delay of the call for `id`.
async fn gated(
    state: &Arc<Mutex<StubState>>,
    id: &str,
    record: impl FnOnce() -> Response,
) -> Response {
    let (hold, delay) = {
        let mut s = state.lock().expect("stub state");
        let hold = s.holds.remove(id);
        let delay = match s.delays.get_mut(id) {
            Some((delay, times)) if *times > 0 => {
                *times -= 1;
                Some(*delay)
            }
            _ => None,
        };
        (hold, delay)
    };
    if let Some(h) = hold.as_ref().filter(|h| h.point == HoldPoint::BeforeEffect) {
        h.wait_here().await;
    }
    let response = record();
    if let Some(h) = hold.as_ref().filter(|h| h.point == HoldPoint::AfterEffect) {
        h.wait_here().await;
    }
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    response
}

async fn upsert_order(
    State(state): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let key = id.clone();
    gated(&state, &key, || {
        record(&state, "orders", id, &headers, body, |s, key| {
            let key = key.unwrap_or("").to_owned();
            if let Some(number) = s.numbers.get(&key) {
                return (
                    StatusCode::OK,
                    json!({ "erpOrderNumber": number, "outcome": "unchanged" }),
                );
            }
            let number = format!("ERP-{:06}", s.numbers.len() + 1);
            s.numbers.insert(key, number.clone());
            (
                StatusCode::CREATED,
                json!({ "erpOrderNumber": number, "outcome": "created" }),
            )
        })
    })
    .await
}

async fn list_orders(State(state): Shared) -> Json<Value> {
    let s = state.lock().expect("stub state");
    let orders: Vec<Value> = s
        .calls
        .iter()
        .filter(|c| c.resource == "orders" && c.status < 300)
        .map(|c| json!({ "orderId": c.id, "idempotencyKey": c.idempotency_key, "correlationId": c.correlation_id, "status": c.status, "body": c.body }))
        .collect();
    Json(json!({ "orders": orders }))
}

async fn upsert_customer(
    State(state): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let customer = id.clone();
    gated(&state, &customer.clone(), || {
        record(&state, "customers", id, &headers, body, move |_, _| {
            (
                StatusCode::OK,
                json!({ "customerNumber": format!("CUST-{customer}") }),
            )
        })
    })
    .await
}
