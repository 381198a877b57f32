//! A Salesforce REST API stub of sObject rows, after Salesforce's *REST API
//! Developer Guide* (sObject Basic Information, sObject Rows, Conditional
//! Request Headers, Status Codes and Error Responses).
//!
//! - `POST /services/data/{version}/sobjects/{sObject}/`: 201
//!   `{"id","success":true,"errors":[]}`.
//! - `GET /services/data/{version}/sobjects/{sObject}/{id}?fields=a,b`: 200
//!   with `attributes`, `Id` and the fields (`null` when unset;
//!   `LastModifiedDate` as `2026-01-15T10:30:00.000+0000`), and an `ETag`
//!   header. (Salesforce documents the ETag for Account rows only; the stub
//!   sends one for every row, or none: [`SalesforceState::without_etags`].)
//! - `PATCH …/{id}`: 204. `If-Match` (ETags or `*`) not matching, or an
//!   `If-Unmodified-Since` older than the row's last change: 412; an
//!   unreadable value of either: 400.
//! - Errors as `[{"message","errorCode"}]`: 400 `MALFORMED_ID` (not 15 or 18
//!   letters and digits), `JSON_PARSER_ERROR`; 401 `INVALID_SESSION_ID`; 403
//!   `REQUEST_LIMIT_EXCEEDED`; 404 `NOT_FOUND`; 412 `PRECONDITION_FAILED` (the
//!   guide documents only the status); 503 `SERVER_UNAVAILABLE`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::{CrmRecords, IdStyle, Record, deref_to, header, if_match, json_object, names};

/// The stub's routes and rows. Clones share them; derefs to
/// [`CrmRecords`] (`create("Order", …)`, `writes`, `field` …).
#[derive(Clone)]
pub struct SalesforceState {
    records: CrmRecords,
    etags: bool,
}
deref_to!(SalesforceState => CrmRecords, records);

impl Default for SalesforceState {
    fn default() -> Self {
        Self::new()
    }
}

impl SalesforceState {
    /// No rows; any non-empty bearer token accepted.
    pub fn new() -> Self {
        SalesforceState {
            records: CrmRecords::new(IdStyle::Salesforce),
            etags: true,
        }
    }

    /// Answers reads without an `ETag`, as Salesforce does for rows other
    /// than Account's (clients then condition on `If-Unmodified-Since`).
    #[must_use]
    pub fn without_etags(mut self) -> Self {
        self.etags = false;
        self
    }

    /// Accepts only the tokens `check` accepts.
    #[must_use]
    pub fn with_token_check(mut self, check: super::TokenCheck) -> Self {
        self.records.set_token_check(check);
        self
    }

    /// `POST /services/data/{version}/sobjects/{sObject}[/]`,
    /// `GET|PATCH /services/data/{version}/sobjects/{sObject}/{id}`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/services/data/{version}/sobjects/{sobject}", post(create))
            .route("/services/data/{version}/sobjects/{sobject}/", post(create))
            .route(
                "/services/data/{version}/sobjects/{sobject}/{id}",
                get(retrieve).patch(update),
            )
            .with_state(self.clone())
    }
}

impl crate::stub::StubState for SalesforceState {
    const NAME: &'static str = "Salesforce";

    fn router(&self) -> Router {
        SalesforceState::router(self)
    }
}

/// A running Salesforce stub (`start()`, `start_with(state)`, `base_url()`);
/// derefs to its [`SalesforceState`].
pub type SalesforceStub = crate::stub::Stub<SalesforceState>;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!([{ "message": message, "errorCode": code }]);
    (status, axum::Json(body)).into_response()
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "INVALID_SESSION_ID",
        "Session expired or invalid",
    )
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

fn scripted(status: u16) -> Response {
    match status {
        401 => unauthorized(),
        403 => error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ),
        404 => not_found(),
        412 => changed(),
        503 => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVER_UNAVAILABLE",
            "Server is unavailable, try again later.",
        ),
        other => error(
            StatusCode::from_u16(other).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred.",
        ),
    }
}

fn changed() -> Response {
    error(
        StatusCode::PRECONDITION_FAILED,
        "PRECONDITION_FAILED",
        "The record was modified since the precondition in the request was set.",
    )
}

fn check_id(sobject: &str, id: &str) -> Option<Response> {
    if matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        None
    } else {
        let message = format!("{sobject} ID: id value of incorrect type: {id}");
        Some(error(StatusCode::BAD_REQUEST, "MALFORMED_ID", &message))
    }
}

/// The 18-character Id a 15-character one stands for (as Salesforce
/// accepts both), else `id` itself.
fn canonical(state: &SalesforceState, id: String) -> String {
    if id.len() != 15 {
        return id;
    }
    let s = state.lock();
    let found = s
        .records
        .keys()
        .find(|k| k.len() == 18 && k.starts_with(&id))
        .cloned();
    found.unwrap_or(id)
}

/// The row's ETag (opaque, changes with every write).
pub(crate) fn etag(id: &str, record: &Record) -> String {
    format!("\"{id}.{}--gzip\"", record.version)
}

fn last_modified(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

async fn create(
    State(state): State<SalesforceState>,
    Path((_version, sobject)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.authorized(&headers) {
        return unauthorized();
    }
    let Some(fields) = json_object(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "The request body is not a JSON object.",
        );
    };
    let id = state.create(&sobject, Value::Object(fields));
    let body = json!({ "id": id, "success": true, "errors": [] });
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

async fn retrieve(
    State(state): State<SalesforceState>,
    Path((version, sobject, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if let Some(r) = check_id(&sobject, &id) {
        return r;
    }
    let id = canonical(&state, id);
    if let Some(status) = state.scripted(&id) {
        return scripted(status);
    }
    let query: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let wanted = names(query.get("fields"));
    let (answer, tag) = {
        let s = state.lock();
        let Some(r) = s.records.get(&id).filter(|r| r.object == sobject) else {
            return not_found();
        };
        let mut out = Map::new();
        let url = format!("/services/data/{version}/sobjects/{sobject}/{id}");
        out.insert("attributes".into(), json!({ "type": sobject, "url": url }));
        out.insert("Id".into(), json!(id));
        let mut all = r.fields.clone();
        all.insert("LastModifiedDate".into(), json!(last_modified(r.modified)));
        if wanted.is_empty() {
            out.extend(all);
        } else {
            for name in &wanted {
                out.insert(name.clone(), all.get(name).cloned().unwrap_or(Value::Null));
            }
        }
        (Value::Object(out), etag(&id, r))
    };
    state.after_read(&id);
    let mut response = (StatusCode::OK, axum::Json(answer)).into_response();
    if let Some(v) = state
        .etags
        .then(|| HeaderValue::from_str(&tag).ok())
        .flatten()
    {
        response.headers_mut().insert("ETag", v);
    }
    response
}

/// `If-Unmodified-Since` as seconds since the epoch; `Err` when unreadable.
fn unmodified_since(headers: &HeaderMap) -> Result<Option<u64>, &'static str> {
    let Some(value) = header(headers, "if-unmodified-since") else {
        return Ok(None);
    };
    chrono::DateTime::parse_from_rfc2822(value.trim().replace("GMT", "+0000").as_str())
        .ok()
        .and_then(|d| u64::try_from(d.timestamp()).ok())
        .map(Some)
        .ok_or("The If-Unmodified-Since header value is not a valid date.")
}

async fn update(
    State(state): State<SalesforceState>,
    Path((_version, sobject, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if let Some(r) = check_id(&sobject, &id) {
        return r;
    }
    let id = canonical(&state, id);
    if let Some(status) = state.scripted(&id) {
        return scripted(status);
    }
    let since = match unmodified_since(&headers) {
        Ok(s) => s,
        Err(message) => return error(StatusCode::BAD_REQUEST, "INVALID_HEADER_TYPE", message),
    };
    let Some(fields) = json_object(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "The request body is not a JSON object.",
        );
    };
    let mut s = state.lock();
    let Some(r) = s.records.get_mut(&id).filter(|r| r.object == sobject) else {
        return not_found();
    };
    if header(&headers, "if-match").is_some_and(|wanted| !if_match(wanted, &etag(&id, r))) {
        return changed();
    }
    let modified = r
        .modified
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    if since.is_some_and(|since| modified > since) {
        return changed();
    }
    r.fields.extend(fields);
    r.version += 1;
    r.writes += 1;
    r.modified = SystemTime::now();
    StatusCode::NO_CONTENT.into_response()
}
