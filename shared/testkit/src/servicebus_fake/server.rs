//! The REST data plane over the model: routes, request parsing, SAS checks
//! and the documented status codes and headers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value};

use super::model::{Delivered, Incoming, Part, Queue, Store, Topic, stored};
use super::sas::{Right, SasRule, Unauthorized, authorize, decode_segment};

/// The content type of a batch send.
pub(crate) const BATCH_CONTENT_TYPE: &str = "application/vnd.microsoft.servicebus.json";

/// What the broker answers a message without a content type with.
const DEFAULT_CONTENT_TYPE: &str = "application/atom+xml;type=entry;charset=utf-8";

/// Entity time-to-live default (`TimeSpan.MaxValue` in seconds).
const MAX_TTL_SECS: f64 = 922_337_203_685.477_5;

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method.
    pub method: String,
    /// The path (as sent, without query).
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// The `Authorization` scheme sent (`SharedAccessSignature`, `Bearer`),
    /// never the credential.
    pub auth_scheme: Option<String>,
}

/// Which bearer tokens the namespace accepts (Microsoft Entra ID).
#[derive(Clone)]
pub(crate) struct BearerCheck(pub(crate) Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl std::fmt::Debug for BearerCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerCheck(..)")
    }
}

/// The namespace's state.
#[derive(Debug)]
pub(crate) struct Namespace {
    pub(crate) name: String,
    pub(crate) rules: BTreeMap<String, SasRule>,
    pub(crate) queues: BTreeMap<String, Queue>,
    pub(crate) topics: BTreeMap<String, Topic>,
    pub(crate) max_message_bytes: usize,
    pub(crate) first_sequence_number: i64,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) bearer: Option<BearerCheck>,
}

pub(crate) type Shared = Arc<Mutex<Namespace>>;

pub(crate) fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Namespace> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The `<Error>` body Service Bus answers failures with.
fn error(status: StatusCode, detail: impl Into<String>) -> Response {
    let body = format!(
        "<Error><Code>{}</Code><Detail>{}</Detail></Error>",
        status.as_u16(),
        detail.into().replace('<', "&lt;")
    );
    (
        status,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

impl From<Unauthorized> for Response {
    fn from(u: Unauthorized) -> Self {
        error(StatusCode::UNAUTHORIZED, u.0)
    }
}

/// Where a receive operation points.
enum Receivable {
    Queue(String, Part),
    Subscription(String, String, Part),
}

impl Namespace {
    fn store(&mut self, r: &Receivable) -> Option<(&mut Store, Part)> {
        match r {
            Receivable::Queue(q, part) => self.queues.get_mut(q).map(|q| (&mut q.store, *part)),
            Receivable::Subscription(t, s, part) => self
                .topics
                .get_mut(t)
                .and_then(|t| t.subscriptions.get_mut(s))
                .map(|s| (&mut s.store, *part)),
        }
    }
}

fn receivable(entity: &[String]) -> Option<Receivable> {
    let dlq = |s: &str| s.eq_ignore_ascii_case("$DeadLetterQueue");
    let key = |s: &String| s.to_ascii_lowercase();
    match entity {
        [q] => Some(Receivable::Queue(key(q), Part::Active)),
        [q, d] if dlq(d) => Some(Receivable::Queue(key(q), Part::DeadLetter)),
        [t, subs, s] if subs == "subscriptions" => {
            Some(Receivable::Subscription(key(t), key(s), Part::Active))
        }
        [t, subs, s, d] if subs == "subscriptions" && dlq(d) => {
            Some(Receivable::Subscription(key(t), key(s), Part::DeadLetter))
        }
        _ => None,
    }
}

/// Every request lands here.
pub(crate) async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let auth_scheme = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_whitespace().next())
        .map(str::to_owned);
    let response = route(&shared, &method, &uri, &headers, body).await;
    lock(&shared).requests.push(RecordedRequest {
        method: method.to_string(),
        path,
        status: response.status().as_u16(),
        auth_scheme,
    });
    response
}

async fn route(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let raw_segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let segments: Vec<String> = raw_segments.iter().map(|s| decode_segment(s)).collect();
    let Some(at) = segments.iter().position(|s| s == "messages") else {
        return error(StatusCode::BAD_REQUEST, "expected /{entity}/messages...");
    };
    if at == 0 {
        return error(StatusCode::BAD_REQUEST, "no entity in the path");
    }
    let entity = &segments[..at];
    let raw_entity = raw_segments[..at].join("/");
    let rest = &segments[at + 1..];
    let (name, rules, bearer) = {
        let ns = lock(shared);
        (ns.name.clone(), ns.rules.clone(), ns.bearer.clone())
    };
    let resource = format!("https://{name}.servicebus.windows.net{}", uri.path());
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let needed = match (method, rest) {
        (&Method::POST, []) => Right::Send,
        _ => Right::Listen,
    };
    let checked = match auth.and_then(|a| a.strip_prefix("Bearer ")) {
        Some(token) => authorize_bearer(bearer.as_ref(), token),
        None => authorize(&rules, auth, &resource, needed),
    };
    if let Err(u) = checked {
        return u.into();
    }
    match (method, rest) {
        (&Method::POST, []) => send(shared, entity, headers, body),
        (&Method::POST, [head]) if head == "head" => {
            let timeout = query_timeout(uri);
            peek_lock(shared, &name, entity, &raw_entity, timeout).await
        }
        (&Method::DELETE, [head]) if head == "head" => receive_and_delete(shared, entity),
        (m, [id, token]) => lock_operation(shared, &name, m, entity, &raw_entity, id, token),
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "unsupported operation"),
    }
}

/// A Microsoft Entra ID token: accepted when the namespace has a check and
/// the check passes it (the fake does not read the JWT; the check stands
/// for Entra ID's signature, audience and role assignment).
fn authorize_bearer(check: Option<&BearerCheck>, token: &str) -> Result<(), Unauthorized> {
    match check {
        Some(check) if (check.0)(token.trim()) => Ok(()),
        Some(_) => Err(Unauthorized(
            "InvalidToken: the bearer token is invalid, expired or lacks the role".into(),
        )),
        None => Err(Unauthorized(
            "InvalidToken: this namespace accepts no Microsoft Entra ID tokens".into(),
        )),
    }
}

fn query_timeout(uri: &Uri) -> Duration {
    let secs = uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|p| p.strip_prefix("timeout="))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(secs.min(60))
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// `d.hh:mm:ss[.fff]` or `hh:mm:ss`.
fn parse_timespan(s: &str) -> Option<Duration> {
    let (days, rest) = match s.split_once('.') {
        Some((d, rest)) if rest.contains(':') => (d.parse::<u64>().ok()?, rest),
        _ => (0, s),
    };
    let mut parts = rest.split(':');
    let h: u64 = parts.next()?.parse().ok()?;
    let m: u64 = parts.next()?.parse().ok()?;
    let sec: f64 = parts.next()?.parse().ok()?;
    Some(Duration::from_secs(days * 86_400 + h * 3600 + m * 60) + Duration::from_secs_f64(sec))
}

fn apply_broker(incoming: &mut Incoming, broker: &Map<String, Value>) -> Result<(), String> {
    incoming.message_id = text(broker.get("MessageId"));
    incoming.correlation_id = text(broker.get("CorrelationId"));
    incoming.label = text(broker.get("Label"));
    incoming.session_id = text(broker.get("SessionId"));
    incoming.to = text(broker.get("To"));
    incoming.reply_to = text(broker.get("ReplyTo"));
    if let Some(ct) = text(broker.get("ContentType")) {
        incoming.content_type = Some(ct);
    }
    if let Some(ttl) = broker.get("TimeToLive") {
        let secs = ttl
            .as_f64()
            .ok_or("TimeToLive is not a number of seconds")?;
        if secs <= 0.0 {
            return Err("TimeToLive must be positive".to_owned());
        }
        incoming.time_to_live = Some(Duration::from_secs_f64(secs.min(MAX_TTL_SECS)));
    } else if let Some(span) = broker.get("TimeToLiveTimeSpan").and_then(Value::as_str) {
        incoming.time_to_live =
            Some(parse_timespan(span).ok_or("TimeToLiveTimeSpan is not d.hh:mm:ss")?);
    }
    Ok(())
}

/// Request headers that are not custom properties.
const NOT_PROPERTIES: &[&str] = &[
    "accept",
    "accept-encoding",
    "authorization",
    "brokerproperties",
    "connection",
    "content-length",
    "content-type",
    "date",
    "expect",
    "host",
    "keep-alive",
    "te",
    "transfer-encoding",
    "user-agent",
    "x-ms-retrypolicy",
];

/// A custom-property header value: `"text"` is a string, a number or
/// `true`/`false` is typed, anything else is taken as text.
fn property_value(raw: &str) -> Value {
    match serde_json::from_str::<Value>(raw.trim()) {
        Ok(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => v,
        _ => Value::from(raw),
    }
}

fn parse_single(headers: &HeaderMap, body: Bytes) -> Result<Incoming, String> {
    let mut incoming = Incoming {
        body: body.to_vec(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ..Incoming::default()
    };
    if let Some(raw) = headers.get("brokerproperties") {
        let raw = raw.to_str().map_err(|_| "BrokerProperties is not text")?;
        let broker: Map<String, Value> = serde_json::from_str(raw)
            .map_err(|e| format!("BrokerProperties is not a JSON object: {e}"))?;
        apply_broker(&mut incoming, &broker)?;
    }
    for (name, value) in headers {
        if NOT_PROPERTIES.contains(&name.as_str()) {
            continue;
        }
        let value = value
            .to_str()
            .map_err(|_| format!("header {name} is not text"))?;
        incoming
            .properties
            .insert(name.as_str().to_owned(), property_value(value));
    }
    Ok(incoming)
}

fn parse_batch(body: &[u8]) -> Result<Vec<Incoming>, String> {
    let entries: Vec<Map<String, Value>> = serde_json::from_slice(body)
        .map_err(|e| format!("the batch is not a JSON array of messages: {e}"))?;
    if entries.is_empty() {
        return Err("the batch is empty".to_owned());
    }
    entries
        .into_iter()
        .map(|entry| {
            let body = entry
                .get("Body")
                .and_then(Value::as_str)
                .ok_or("a batch message has no Body string")?;
            let base64 = entry
                .get("IsBodyBase64")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let body = if base64 {
                base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .map_err(|e| format!("Body is not base64: {e}"))?
            } else {
                body.as_bytes().to_vec()
            };
            let mut incoming = Incoming {
                body,
                ..Incoming::default()
            };
            if let Some(broker) = entry.get("BrokerProperties") {
                let broker = broker
                    .as_object()
                    .ok_or("BrokerProperties is not an object")?;
                apply_broker(&mut incoming, broker)?;
            }
            if let Some(props) = entry.get("UserProperties") {
                let props = props.as_object().ok_or("UserProperties is not an object")?;
                for (k, v) in props {
                    incoming.properties.insert(k.clone(), v.clone());
                }
            }
            Ok(incoming)
        })
        .collect()
}

fn send(shared: &Shared, entity: &[String], headers: &HeaderMap, body: Bytes) -> Response {
    let [name] = entity else {
        return error(
            StatusCode::BAD_REQUEST,
            "messages can be sent to a queue or topic only",
        );
    };
    let batch = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim().eq_ignore_ascii_case(BATCH_CONTENT_TYPE));
    let parsed = if batch {
        parse_batch(&body)
    } else {
        parse_single(headers, body).map(|m| vec![m])
    };
    let messages = match parsed {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let mut ns = lock(shared);
    let limit = ns.max_message_bytes;
    let total: usize = messages.iter().map(Incoming::size).sum();
    if messages.iter().any(|m| m.size() > limit) || total > limit {
        return error(
            StatusCode::FORBIDDEN,
            format!(
                "The message (or batch) of {total} bytes is larger than the {limit}-byte limit."
            ),
        );
    }
    let key = name.to_ascii_lowercase();
    let first = ns.first_sequence_number;
    if let Some(queue) = ns.queues.get_mut(&key) {
        for mut m in messages {
            let id = m
                .message_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
            m.message_id = Some(id.clone());
            if queue.dedup.is_duplicate(&id) {
                continue;
            }
            let seq = first + queue.next_sequence;
            queue.next_sequence += 1;
            queue.store.enqueue(stored(m, seq, id));
        }
    } else if let Some(topic) = ns.topics.get_mut(&key) {
        for mut m in messages {
            let id = m
                .message_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
            m.message_id = Some(id.clone());
            if topic.dedup.is_duplicate(&id) {
                continue;
            }
            let seq = first + topic.next_sequence;
            topic.next_sequence += 1;
            topic.fan_out(&m, seq, &id);
        }
    } else {
        return error(
            StatusCode::GONE,
            format!("The messaging entity '{name}' does not exist."),
        );
    }
    StatusCode::CREATED.into_response()
}

fn rfc1123(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn broker_header(d: &Delivered) -> String {
    let m = &d.stored;
    let mut b = Map::new();
    b.insert("DeliveryCount".into(), m.delivery_count.into());
    b.insert(
        "EnqueuedSequenceNumber".into(),
        m.enqueued_sequence_number.into(),
    );
    b.insert("EnqueuedTimeUtc".into(), rfc1123(m.enqueued_at).into());
    b.insert("LockToken".into(), d.lock_token.clone().into());
    b.insert("LockedUntilUtc".into(), rfc1123(d.locked_until).into());
    b.insert("MessageId".into(), m.message_id.clone().into());
    b.insert("SequenceNumber".into(), m.sequence_number.into());
    b.insert("State".into(), "Active".into());
    let ttl = m
        .incoming
        .time_to_live
        .map_or(MAX_TTL_SECS, |t| t.as_secs_f64());
    b.insert(
        "TimeToLive".into(),
        serde_json::Number::from_f64(ttl).map_or(Value::Null, Value::Number),
    );
    for (k, v) in [
        ("CorrelationId", &m.incoming.correlation_id),
        ("Label", &m.incoming.label),
        ("SessionId", &m.incoming.session_id),
        ("To", &m.incoming.to),
        ("ReplyTo", &m.incoming.reply_to),
        ("DeadLetterSource", &m.dead_letter_source),
    ] {
        if let Some(v) = v {
            b.insert(k.into(), v.clone().into());
        }
    }
    Value::Object(b).to_string()
}

fn delivered_response(namespace: &str, raw_entity: &str, d: &Delivered) -> Response {
    let location = format!(
        "https://{namespace}.servicebus.windows.net/{raw_entity}/messages/{}/{}",
        d.stored.sequence_number, d.lock_token
    );
    let mut headers = HeaderMap::new();
    let content_type = d
        .stored
        .incoming
        .content_type
        .clone()
        .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
    for (name, value) in [
        ("location", location),
        ("brokerproperties", broker_header(d)),
        ("content-type", content_type),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    for (name, value) in &d.stored.incoming.properties {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.to_string().as_bytes()),
        ) else {
            continue;
        };
        if !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    }
    (StatusCode::CREATED, headers, d.stored.incoming.body.clone()).into_response()
}

async fn peek_lock(
    shared: &Shared,
    namespace: &str,
    entity: &[String],
    raw_entity: &str,
    timeout: Duration,
) -> Response {
    let Some(target) = receivable(entity) else {
        return error(
            StatusCode::BAD_REQUEST,
            "receive from a queue or a subscription",
        );
    };
    let started = Instant::now();
    loop {
        {
            let mut ns = lock(shared);
            let Some((store, part)) = ns.store(&target) else {
                return error(StatusCode::GONE, "The messaging entity does not exist.");
            };
            if let Some(d) = store.peek_lock(part) {
                return delivered_response(namespace, raw_entity, &d);
            }
        }
        if started.elapsed() >= timeout {
            return StatusCode::NO_CONTENT.into_response();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn receive_and_delete(shared: &Shared, entity: &[String]) -> Response {
    let Some(target) = receivable(entity) else {
        return error(
            StatusCode::BAD_REQUEST,
            "receive from a queue or a subscription",
        );
    };
    let mut ns = lock(shared);
    let Some((store, part)) = ns.store(&target) else {
        return error(StatusCode::GONE, "The messaging entity does not exist.");
    };
    match store.receive_and_delete(part) {
        Some(m) => (StatusCode::OK, m.incoming.body).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

fn lock_operation(
    shared: &Shared,
    namespace: &str,
    method: &Method,
    entity: &[String],
    raw_entity: &str,
    id: &str,
    token: &str,
) -> Response {
    let Some(target) = receivable(entity) else {
        return error(
            StatusCode::BAD_REQUEST,
            "lock operations apply to queues and subscriptions",
        );
    };
    let mut ns = lock(shared);
    let Some((store, part)) = ns.store(&target) else {
        return error(StatusCode::GONE, "The messaging entity does not exist.");
    };
    let lost = || {
        error(
            StatusCode::NOT_FOUND,
            format!(
                "No message was found with the specified MessageId or LockToken ({id}/{token})."
            ),
        )
    };
    match *method {
        Method::DELETE => match store.complete(part, id, token) {
            Ok(()) => StatusCode::OK.into_response(),
            Err(_) => lost(),
        },
        Method::PUT => match store.unlock(part, id, token) {
            Ok(()) => StatusCode::OK.into_response(),
            Err(_) => lost(),
        },
        Method::POST => match store.renew(part, id, token) {
            Ok(d) => {
                let mut response = delivered_response(namespace, raw_entity, &d);
                *response.status_mut() = StatusCode::OK;
                response
            }
            Err(_) => lost(),
        },
        _ => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "use DELETE, PUT or POST on a lock URL",
        ),
    }
}
