//! A Dataverse Web API stub, after Microsoft's *Update and delete table
//! rows*, *Perform conditional operations*, *Retrieve a table row* and
//! *Service protection API limits* pages.
//!
//! - `POST /api/data/v9.2/{entityset}`: creates a row; 204 with
//!   `OData-EntityId: {base}/api/data/v9.2/{entityset}({id})`.
//! - `GET /api/data/v9.2/{entityset}({id})?$select=a,b`: 200 with
//!   `@odata.context`, `@odata.etag` (`W/"<version>"`) and the selected
//!   columns (`null` when unset).
//! - `PATCH /api/data/v9.2/{entityset}({id})`: 204. With `If-Match` (an
//!   ETag or `*`): 404 when the row does not exist, 412 when the ETag is not
//!   the row's; with `If-None-Match: *`: 412 when it exists; without either,
//!   an upsert (a missing row is created with that id).
//! - Errors in the Web API's shape `{"error":{"code":"0x…","message":"…"}}`:
//!   400 `0x80060888` for a malformed key, `0x80048d19` for a payload that
//!   is not a JSON object; 404 `0x80040217`; 412 `0x80060882`; 429
//!   `0x80072322` with `Retry-After` (seconds). A missing or refused token:
//!   401 with an empty body and a `WWW-Authenticate: Bearer` header.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

use super::{CrmRecords, IdStyle, deref_to, header, if_match, json_object, names};

/// The seconds a scripted 429 asks to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 5;

/// The stub's routes and rows. Clones share the rows; derefs to
/// [`CrmRecords`] (`create("salesorders", …)`, `writes`, `field`, `touch`,
/// `fail_times` …).
#[derive(Clone)]
pub struct DataverseState {
    records: CrmRecords,
}
deref_to!(DataverseState => CrmRecords, records);

impl Default for DataverseState {
    fn default() -> Self {
        Self::new()
    }
}

impl DataverseState {
    /// No rows; any non-empty bearer token accepted.
    pub fn new() -> Self {
        DataverseState {
            records: CrmRecords::new(IdStyle::Guid),
        }
    }

    /// Accepts only the tokens `check` accepts.
    #[must_use]
    pub fn with_token_check(mut self, check: super::TokenCheck) -> Self {
        self.records.set_token_check(check);
        self
    }

    /// `POST|GET|PATCH /api/data/{version}/{entityset}[({id})]`.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/api/data/{version}/{resource}",
                post(create).get(retrieve).patch(update),
            )
            .with_state(self.clone())
    }
}

impl crate::stub::StubState for DataverseState {
    const NAME: &'static str = "Dataverse";

    fn router(&self) -> Router {
        DataverseState::router(self)
    }
}

/// A running Dataverse stub (`start()`, `start_with(state)`, `base_url()`);
/// derefs to its [`DataverseState`].
pub type DataverseStub = crate::stub::Stub<DataverseState>;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

fn unauthorized() -> Response {
    let mut r = StatusCode::UNAUTHORIZED.into_response();
    r.headers_mut().insert(
        "WWW-Authenticate",
        HeaderValue::from_static(
            "Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize",
        ),
    );
    r
}

fn not_found(set: &str, id: &str) -> Response {
    let message = format!("Entity '{set}' With Id = {id} Does Not Exist");
    error(StatusCode::NOT_FOUND, "0x80040217", &message)
}

fn changed() -> Response {
    error(
        StatusCode::PRECONDITION_FAILED,
        "0x80060882",
        "The version of the existing record doesn't match the RowVersion property provided.",
    )
}

fn scripted(status: u16, set: &str, id: &str) -> Response {
    match status {
        401 => unauthorized(),
        404 => not_found(set, id),
        412 => changed(),
        429 => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "0x80072322",
                "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
            );
            r.headers_mut()
                .insert("Retry-After", HeaderValue::from(RETRY_AFTER_SECS));
            r
        }
        other => error(
            StatusCode::from_u16(other).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "0x80040216",
            "An unexpected error occurred.",
        ),
    }
}

/// `salesorders(00000000-…)` → (`salesorders`, the id); `None` when the
/// key is not a GUID.
fn parse_key(resource: &str) -> Option<(&str, &str)> {
    let (set, rest) = resource.split_once('(')?;
    let id = rest.strip_suffix(')')?;
    (switchyard_crm_writeback::dataverse::is_guid(id) && !set.is_empty()).then_some((set, id))
}

fn bad_key() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "0x80060888",
        "Bad Request - Error in query syntax.",
    )
}

fn entity_id(headers: &HeaderMap, version: &str, set: &str, id: &str) -> String {
    let host = header(headers, "host").unwrap_or("localhost");
    format!("http://{host}/api/data/{version}/{set}({id})")
}

fn no_content(entity_id: &str) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(entity_id) {
        r.headers_mut().insert("OData-EntityId", v);
    }
    r
}

async fn create(
    State(state): State<DataverseState>,
    Path((version, set)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.authorized(&headers) {
        return unauthorized();
    }
    let Some(fields) = json_object(&body) else {
        return bad_payload(&set);
    };
    let id = state.create(&set, Value::Object(fields));
    no_content(&entity_id(&headers, &version, &set, &id))
}

fn bad_payload(set: &str) -> Response {
    let message = format!("Error identified in Payload provided by the user for Entity :'{set}'");
    error(StatusCode::BAD_REQUEST, "0x80048d19", &message)
}

async fn retrieve(
    State(state): State<DataverseState>,
    Path((version, resource)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if !state.authorized(&headers) {
        return unauthorized();
    }
    let Some((set, id)) = parse_key(&resource) else {
        return bad_key();
    };
    if let Some(status) = state.scripted(id) {
        return scripted(status, set, id);
    }
    let query: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let select = names(query.get("$select"));
    let answer = {
        let s = state.lock();
        let Some(row) = s.records.get(id).filter(|r| r.object == set) else {
            return not_found(set, id);
        };
        let host = header(&headers, "host").unwrap_or("localhost");
        let mut out = Map::new();
        out.insert(
            "@odata.context".into(),
            json!(format!(
                "http://{host}/api/data/{version}/$metadata#{set}({})/$entity",
                select.join(",")
            )),
        );
        out.insert(
            "@odata.etag".into(),
            json!(format!("W/\"{}\"", row.version)),
        );
        if select.is_empty() {
            out.extend(row.fields.clone());
        }
        for name in &select {
            let value = row.fields.get(name).cloned().unwrap_or(Value::Null);
            out.insert(name.clone(), value);
        }
        Value::Object(out)
    };
    state.after_read(id);
    (StatusCode::OK, axum::Json(answer)).into_response()
}

async fn update(
    State(state): State<DataverseState>,
    Path((version, resource)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.authorized(&headers) {
        return unauthorized();
    }
    let Some((set, id)) = parse_key(&resource) else {
        return bad_key();
    };
    if let Some(status) = state.scripted(id) {
        return scripted(status, set, id);
    }
    let Some(fields) = json_object(&body) else {
        return bad_payload(set);
    };
    let mut s = state.lock();
    let existing = s.records.get_mut(id).filter(|r| r.object == set);
    match (existing, header(&headers, "if-match")) {
        (None, Some(_)) => return not_found(set, id),
        (Some(row), Some(wanted)) if !if_match(wanted, &format!("W/\"{}\"", row.version)) => {
            return changed();
        }
        (Some(_), _) if header(&headers, "if-none-match").is_some_and(|v| v.trim() == "*") => {
            return changed();
        }
        (Some(row), _) => {
            row.fields.extend(fields);
            row.version += 1;
            row.writes += 1;
            row.modified = std::time::SystemTime::now();
        }
        (None, None) => {
            // upsert: the row is created with the id in the URL
            s.next += 1;
            let version = 1000 + s.next;
            s.records.insert(
                id.to_owned(),
                super::Record {
                    object: set.to_owned(),
                    fields,
                    version,
                    writes: 1,
                    modified: std::time::SystemTime::now(),
                },
            );
        }
    }
    no_content(&entity_id(&headers, &version, set, id))
}
