//! The envelope: CloudEvents 1.0 structured JSON plus the `correlationid`,
//! `causationid` and `dataversion` extensions — Switchyard's normalized form
//! of any event it reads ([`crate::decode`]) and the form of every event it
//! writes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::EventSet;

/// The only CloudEvents spec version Switchyard reads and writes.
pub const SPEC_VERSION: &str = "1.0";

/// The content type of `data`.
pub const DATA_CONTENT_TYPE: &str = "application/json";

/// The content type of a whole envelope in structured mode.
pub const CLOUDEVENTS_CONTENT_TYPE: &str = "application/cloudevents+json";

/// A CloudEvents 1.0 event with a typed `data`.
///
/// The schema version of `data` is explicit twice: the `dataversion`
/// extension (an integer, what decoders dispatch on) and `dataschema`
/// (`urn:switchyard:schema:<type>:v<version>`, for humans and registries).
///
/// Unknown extension attributes are ignored on read, so adding one is a
/// compatible change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// CloudEvents spec version, always `1.0`.
    pub specversion: String,
    /// Unique id of this event; the idempotency key of every consumer.
    pub id: String,
    /// Who produced the event, e.g. `switchyard/crm-webhook/dynamics/contoso`.
    pub source: String,
    /// The event type, e.g. `order.placed`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the thing happened. Always set on what Switchyard produces
    /// ([`Envelope::new`]); `None` only for an event received from another
    /// producer without `time` (optional in CloudEvents), never invented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    /// What the event is about (an order id, a customer id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The content type of `data`: `application/json` (the default when absent).
    #[serde(default = "default_data_content_type")]
    pub datacontenttype: String,
    /// The schema of `data`: `urn:switchyard:schema:<type>:v<version>`.
    pub dataschema: String,
    /// The schema version of `data` (extension attribute).
    pub dataversion: u32,
    /// The id shared by every event of one business flow (extension attribute).
    pub correlationid: String,
    /// The id of the event that caused this one, if any (extension attribute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causationid: Option<String>,
    /// W3C trace context, when the producer had one (distributed tracing extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The event payload.
    pub data: T,
}

fn default_data_content_type() -> String {
    DATA_CONTENT_TYPE.to_owned()
}

/// The `dataschema` URI of an event type and version.
pub fn schema_uri(event_type: &str, version: u32) -> String {
    format!("urn:switchyard:schema:{event_type}:v{version}")
}

impl<T: EventSet> Envelope<T> {
    /// A new event with a fresh id (UUID v7, time-ordered) that starts a new
    /// correlation (its correlation id is its own id). `data` is one event
    /// type or a member of an event set.
    pub fn new(source: impl Into<String>, data: T) -> Self {
        let id = uuid::Uuid::now_v7().to_string();
        Envelope {
            specversion: SPEC_VERSION.to_owned(),
            correlationid: id.clone(),
            id,
            source: source.into(),
            event_type: data.type_name().to_owned(),
            time: Some(Utc::now()),
            subject: data.data_subject(),
            datacontenttype: DATA_CONTENT_TYPE.to_owned(),
            dataschema: schema_uri(data.type_name(), data.data_version()),
            dataversion: data.data_version(),
            causationid: None,
            traceparent: None,
            data,
        }
    }
}

impl<T> Envelope<T> {
    /// Makes this event a consequence of `cause`: same correlation id,
    /// causation id = the cause's id, and its trace context.
    #[must_use]
    pub fn caused_by<U>(mut self, cause: &Envelope<U>) -> Self {
        self.correlationid = cause.correlationid.clone();
        self.causationid = Some(cause.id.clone());
        if self.traceparent.is_none() {
            self.traceparent = cause.traceparent.clone();
        }
        self
    }

    /// Makes this event a consequence of `cause` ([`caused_by`](Self::caused_by))
    /// with an id derived from the cause's id, this event's type and `scope`
    /// (usually the publishing function's name): a name-based UUID
    /// (RFC 9562 version 5). Every retry of handling `cause` produces the
    /// same id, so a republished event is a duplicate that consumers'
    /// idempotency absorbs, not a new event.
    #[must_use]
    pub fn derived_from<U>(self, cause: &Envelope<U>, scope: &str) -> Self {
        let name = format!(
            "urn:switchyard:derived:{scope}:{}:{}",
            self.event_type, cause.id
        );
        let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()).to_string();
        self.caused_by(cause).with_id(id)
    }

    /// Sets the correlation id (e.g. the CRM's own correlation id).
    #[must_use]
    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlationid = correlation_id.into();
        self
    }

    /// Sets the event time.
    #[must_use]
    pub fn with_time(mut self, time: DateTime<Utc>) -> Self {
        self.time = Some(time);
        self
    }

    /// Sets the id (e.g. one derived from a CRM delivery id, so retries of
    /// one delivery produce the same event id).
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Splits the attributes from the payload.
    pub fn into_parts(self) -> (Envelope<()>, T) {
        let mut data = None;
        let head = self.map(|d| data = Some(d));
        match data {
            Some(d) => (head, d),
            None => unreachable!("map always calls its closure"),
        }
    }

    /// Maps the payload, keeping every attribute.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Envelope<U> {
        Envelope {
            specversion: self.specversion,
            id: self.id,
            source: self.source,
            event_type: self.event_type,
            time: self.time,
            subject: self.subject,
            datacontenttype: self.datacontenttype,
            dataschema: self.dataschema,
            dataversion: self.dataversion,
            correlationid: self.correlationid,
            causationid: self.causationid,
            traceparent: self.traceparent,
            data: f(self.data),
        }
    }
}

impl<T: Serialize> Envelope<T> {
    /// The envelope as structured-mode CloudEvents JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}
