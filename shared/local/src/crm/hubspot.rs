//! A HubSpot CRM v3 objects API stub, after HubSpot's *CRM API* object
//! endpoints and *API usage guidelines* (rate limits) pages.
//!
//! - `POST /crm/v3/objects/{objectType}` with `{"properties":{…}}`: 201 with
//!   the object `{"id","properties","createdAt","updatedAt","archived"}`.
//! - `GET /crm/v3/objects/{objectType}/{objectId}?properties=a,b`: 200 with
//!   the object; its `properties` hold the requested ones (`null` when
//!   unset) and `createdate`, `hs_lastmodifieddate`, `hs_object_id`.
//! - `PATCH /crm/v3/objects/{objectType}/{objectId}` with
//!   `{"properties":{…}}`: 200 with the object. Last write wins: HubSpot
//!   has no conditional update.
//! - Errors as `{"status":"error","message","correlationId","category"}`:
//!   400 `VALIDATION_ERROR` (an id that is not a number, a body without
//!   `properties`), 401 `INVALID_AUTHENTICATION`, 404 `OBJECT_NOT_FOUND`;
//!   429 `{"status":"error","message":"You have reached your secondly
//!   limit.","errorType":"RATE_LIMIT","correlationId","policyName":"SECONDLY",
//!   "requestId"}` with the `X-HubSpot-RateLimit-*` headers.

use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::{CrmRecords, IdStyle, Record, deref_to, json_object, names};

/// The burst window a scripted 429 reports
/// (`X-HubSpot-RateLimit-Interval-Milliseconds`).
pub const INTERVAL_MS: u64 = 10_000;

/// The stub's routes and objects. Clones share them; derefs to
/// [`CrmRecords`] (`create("deals", …)`, `writes`, `field` …).
#[derive(Clone)]
pub struct HubSpotState {
    records: CrmRecords,
}
deref_to!(HubSpotState => CrmRecords, records);

impl Default for HubSpotState {
    fn default() -> Self {
        Self::new()
    }
}

impl HubSpotState {
    /// No objects; any non-empty bearer token accepted.
    pub fn new() -> Self {
        HubSpotState {
            records: CrmRecords::new(IdStyle::Digits),
        }
    }

    /// Accepts only the tokens `check` accepts.
    #[must_use]
    pub fn with_token_check(mut self, check: super::TokenCheck) -> Self {
        self.records.set_token_check(check);
        self
    }

    /// `POST /crm/v3/objects/{objectType}`,
    /// `GET|PATCH /crm/v3/objects/{objectType}/{objectId}`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/crm/v3/objects/{object_type}", post(create))
            .route(
                "/crm/v3/objects/{object_type}/{object_id}",
                get(retrieve).patch(update),
            )
            .with_state(self.clone())
    }
}

impl crate::stub::StubState for HubSpotState {
    const NAME: &'static str = "HubSpot";

    fn router(&self) -> Router {
        HubSpotState::router(self)
    }
}

/// A running HubSpot stub (`start()`, `start_with(state)`, `base_url()`);
/// derefs to its [`HubSpotState`].
pub type HubSpotStub = crate::stub::Stub<HubSpotState>;

fn error(status: StatusCode, category: &str, message: &str) -> Response {
    let body = json!({
        "status": "error",
        "message": message,
        "correlationId": uuid::Uuid::new_v4().to_string(),
        "category": category,
    });
    (status, axum::Json(body)).into_response()
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    )
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "OBJECT_NOT_FOUND",
        "resource not found",
    )
}

fn invalid(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
}

fn scripted(status: u16) -> Response {
    match status {
        401 => unauthorized(),
        404 => not_found(),
        429 => {
            let body = json!({
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": uuid::Uuid::new_v4().to_string(),
                "policyName": "SECONDLY",
                "requestId": uuid::Uuid::new_v4().to_string(),
            });
            let mut r = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
            let h = r.headers_mut();
            h.insert("X-HubSpot-RateLimit-Daily", HeaderValue::from(500_000u32));
            h.insert(
                "X-HubSpot-RateLimit-Daily-Remaining",
                HeaderValue::from(487_200u32),
            );
            h.insert(
                "X-HubSpot-RateLimit-Interval-Milliseconds",
                HeaderValue::from(INTERVAL_MS),
            );
            h.insert("X-HubSpot-RateLimit-Max", HeaderValue::from(100u32));
            h.insert("X-HubSpot-RateLimit-Remaining", HeaderValue::from(0u32));
            r
        }
        other => error(
            StatusCode::from_u16(other).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "INTERNAL_ERROR",
            "internal error",
        ),
    }
}

fn timestamp(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The object as the API returns it; `wanted` = the requested properties
/// (empty: all).
fn object(id: &str, record: &Record, wanted: &[String]) -> Value {
    let mut properties = Map::new();
    if wanted.is_empty() {
        properties.extend(record.fields.clone());
    }
    for name in wanted {
        let v = record.fields.get(name).cloned().unwrap_or(Value::Null);
        properties.insert(name.clone(), v);
    }
    properties.insert("hs_object_id".into(), json!(id));
    properties.insert(
        "hs_lastmodifieddate".into(),
        json!(timestamp(record.modified)),
    );
    properties
        .entry("createdate")
        .or_insert(json!(timestamp(record.modified)));
    json!({
        "id": id,
        "properties": properties,
        "createdAt": timestamp(record.modified),
        "updatedAt": timestamp(record.modified),
        "archived": false,
    })
}

/// `{"properties":{…}}` → the properties.
fn properties(body: &[u8]) -> Option<Map<String, Value>> {
    match json_object(body)?.remove("properties") {
        Some(Value::Object(p)) => Some(p),
        _ => None,
    }
}

async fn create(
    State(state): State<HubSpotState>,
    Path(object_type): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.authorized(&headers) {
        return unauthorized();
    }
    let Some(props) = properties(&body) else {
        return invalid("Invalid input JSON: expected an object with \"properties\"");
    };
    let id = state.create(&object_type, Value::Object(props));
    let s = state.lock();
    match s.records.get(&id) {
        Some(r) => (StatusCode::CREATED, axum::Json(object(&id, r, &[]))).into_response(),
        None => not_found(),
    }
}

fn check_id(id: &str) -> Option<Response> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        None
    } else {
        Some(invalid(&format!("Object ID must be a number, got '{id}'")))
    }
}

async fn retrieve(
    State(state): State<HubSpotState>,
    Path((object_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if let Some(r) = check_id(&id) {
        return r;
    }
    if let Some(status) = state.scripted(&id) {
        return scripted(status);
    }
    let query: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let wanted = names(query.get("properties"));
    let answer = {
        let s = state.lock();
        match s.records.get(&id).filter(|r| r.object == object_type) {
            Some(r) => object(&id, r, &wanted),
            None => return not_found(),
        }
    };
    state.after_read(&id);
    (StatusCode::OK, axum::Json(answer)).into_response()
}

async fn update(
    State(state): State<HubSpotState>,
    Path((object_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if let Some(r) = check_id(&id) {
        return r;
    }
    if let Some(status) = state.scripted(&id) {
        return scripted(status);
    }
    let Some(props) = properties(&body) else {
        return invalid("Invalid input JSON: expected an object with \"properties\"");
    };
    let mut s = state.lock();
    let Some(r) = s.records.get_mut(&id).filter(|r| r.object == object_type) else {
        return not_found();
    };
    r.fields.extend(props);
    r.version += 1;
    r.writes += 1;
    r.modified = SystemTime::now();
    (StatusCode::OK, axum::Json(object(&id, r, &[]))).into_response()
}
