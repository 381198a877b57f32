//! Stubs of the three CRM APIs crm-writeback writes to, each answering as
//! its vendor documents: the Dataverse Web API ([`dataverse`]), HubSpot's
//! CRM v3 objects API ([`hubspot`]) and Salesforce's REST API sObject rows
//! ([`salesforce`]).
//!
//! They share [`CrmRecords`]: the records (seeded with
//! [`CrmRecords::create`] or the vendor's create endpoint), a version per
//! record that every write and [`CrmRecords::touch`] bumps, the count of
//! successful writes per record, scripted failures and the token check.
//! Each stub's state derefs to its `CrmRecords`, and each running stub to
//! its state.

pub mod dataverse;
pub mod hubspot;
pub mod salesforce;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use axum::http::HeaderMap;
use serde_json::{Map, Value};

pub use dataverse::{DataverseState, DataverseStub};
pub use hubspot::{HubSpotState, HubSpotStub};
pub use salesforce::{SalesforceState, SalesforceStub};

/// Decides whether a bearer token is accepted (the local stack plugs the
/// OAuth stub's check in).
pub type TokenCheck = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// How a stub makes record ids.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IdStyle {
    /// A GUID (Dataverse).
    Guid,
    /// A decimal number (HubSpot).
    Digits,
    /// An 18-character Salesforce Id whose 3-character key prefix is the
    /// sObject's (`801` for `Order`, `006` for `Opportunity`, else `a00`).
    Salesforce,
}

/// One stored record.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// The entity set, object type or sObject it belongs to.
    pub object: String,
    /// Its fields (columns, properties).
    pub fields: Map<String, Value>,
    /// Bumped by every write and touch; the stubs' ETags are made of it.
    pub version: u64,
    /// Successful writes (PATCH) so far.
    pub writes: u32,
    /// Last change.
    pub modified: SystemTime,
}

#[derive(Default)]
pub(crate) struct Store {
    pub records: HashMap<String, Record>,
    /// id → (status, remaining times; u32::MAX = always)
    failures: HashMap<String, (u16, u32)>,
    /// ids whose next read is followed by another user's edit
    touch_after_read: Vec<String>,
    /// requests received
    requests: u64,
    next: u64,
}

/// The records of one CRM stub. Clones share them.
#[derive(Clone)]
pub struct CrmRecords {
    store: Arc<Mutex<Store>>,
    token_check: Option<TokenCheck>,
    ids: IdStyle,
}

impl CrmRecords {
    pub(crate) fn new(ids: IdStyle) -> Self {
        CrmRecords {
            store: Arc::default(),
            token_check: None,
            ids,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Accepts only the bearer tokens `check` accepts (without a check any
    /// non-empty bearer token is accepted).
    pub fn set_token_check(&mut self, check: TokenCheck) {
        self.token_check = Some(check);
    }

    /// Stores a new record of `object` (Dataverse: the entity set, e.g.
    /// `salesorders`; HubSpot: the object type, e.g. `deals`; Salesforce:
    /// the sObject, e.g. `Order`) with `fields` (a JSON object; anything
    /// else stores no fields) and returns its new id.
    pub fn create(&self, object: &str, fields: Value) -> String {
        let id = {
            let mut s = self.lock();
            s.next += 1;
            new_id(self.ids, object, s.next)
        };
        self.insert(object, &id, fields);
        id
    }

    /// How many requests the stub received (all routes, any answer).
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    /// Stores a record of `object` under a given `id` (replacing one with
    /// that id), e.g. the Dynamics salesorder a demo webhook names.
    pub fn insert(&self, object: &str, id: &str, fields: Value) {
        let fields = match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let mut s = self.lock();
        s.next += 1;
        let version = 1000 + s.next;
        s.records.insert(
            id.to_owned(),
            Record {
                object: object.to_owned(),
                fields,
                version,
                writes: 0,
                modified: SystemTime::now(),
            },
        );
    }

    /// How many writes to `id` succeeded.
    pub fn writes(&self, id: &str) -> u32 {
        self.lock().records.get(id).map_or(0, |r| r.writes)
    }

    /// A field of `id` (`None` when the record or the field is absent).
    pub fn field(&self, id: &str, name: &str) -> Option<Value> {
        self.lock()
            .records
            .get(id)
            .and_then(|r| r.fields.get(name).cloned())
    }

    /// Another user edits `id`: its version (and so its ETag) changes.
    pub fn touch(&self, id: &str) {
        if let Some(r) = self.lock().records.get_mut(id) {
            r.version += 1;
            r.modified = SystemTime::now();
        }
    }

    /// The next read of `id` is answered, then another user edits it (the
    /// edit lands between that read and the write that follows it).
    pub fn touch_after_read(&self, id: &str) {
        self.lock().touch_after_read.push(id.to_owned());
    }

    /// The next `times` requests for `id` are answered with `status`, in the
    /// vendor's documented shape for it.
    pub fn fail_times(&self, id: &str, status: u16, times: u32) {
        self.lock().failures.insert(id.to_owned(), (status, times));
    }

    /// Every request for `id` is answered with `status`.
    pub fn fail_always(&self, id: &str, status: u16) {
        self.fail_times(id, status, u32::MAX);
    }

    /// The status scripted for this request of `id`, if any (consumes one).
    pub(crate) fn scripted(&self, id: &str) -> Option<u16> {
        let mut s = self.lock();
        match s.failures.get_mut(id) {
            Some((status, times)) if *times > 0 => {
                if *times != u32::MAX {
                    *times -= 1;
                }
                Some(*status)
            }
            _ => None,
        }
    }

    /// Called after a successful read of `id`: applies a scripted edit.
    pub(crate) fn after_read(&self, id: &str) {
        let scripted = {
            let mut s = self.lock();
            let before = s.touch_after_read.len();
            s.touch_after_read.retain(|t| t != id);
            before != s.touch_after_read.len()
        };
        if scripted {
            self.touch(id);
        }
    }

    /// Whether the request carries an accepted `Authorization: Bearer` token.
    /// Every handler asks first, so this also counts the request.
    pub(crate) fn authorized(&self, headers: &HeaderMap) -> bool {
        self.lock().requests += 1;
        let token = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        match (token, &self.token_check) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(t), Some(check)) => check(t),
        }
    }
}

fn new_id(style: IdStyle, object: &str, n: u64) -> String {
    match style {
        IdStyle::Guid => format!(
            "{:08x}-0000-4000-8000-{n:012x}",
            n.wrapping_mul(2_654_435_761) as u32
        ),
        IdStyle::Digits => (10_000 + n).to_string(),
        IdStyle::Salesforce => {
            let prefix = match object {
                "Order" => "801",
                "Opportunity" => "006",
                "Account" => "001",
                _ => "a00",
            };
            // 3 prefix + 2 instance + 10 record = 15, then a 3-character
            // suffix as in an 18-character Id (not the real checksum).
            format!("{prefix}5e{n:010}AAA")
        }
    }
}

/// Parses a JSON object body; `None` for anything else.
pub(crate) fn json_object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// A header's text.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The fields named in a comma-separated list (`$select`, `properties`,
/// `fields`), trimmed, empty names dropped.
pub(crate) fn names(list: Option<&String>) -> Vec<String> {
    list.map(|l| {
        l.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// Whether `list` (an `If-Match` value: `*` or comma-separated ETags)
/// matches `etag`.
pub(crate) fn if_match(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == etag)
}

/// `Deref` from a stub's state to its records, and from a running stub to
/// its state.
macro_rules! deref_to {
    ($outer:ty => $inner:ty, $field:ident) => {
        impl std::ops::Deref for $outer {
            type Target = $inner;
            fn deref(&self) -> &$inner {
                &self.$field
            }
        }
    };
}
pub(crate) use deref_to;
