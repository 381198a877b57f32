//! The broker's state and rules, without HTTP: entities, sequence numbers,
//! peek-lock, delivery counts, dead-lettering, duplicate detection and
//! subscription filters.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

/// A message as a sender hands it to the broker.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Incoming {
    /// The body bytes.
    pub(crate) body: Vec<u8>,
    /// `Content-Type` (single send) or `BrokerProperties.ContentType` (batch).
    pub(crate) content_type: Option<String>,
    /// `BrokerProperties.MessageId`; the broker assigns one when absent.
    pub(crate) message_id: Option<String>,
    /// `BrokerProperties.CorrelationId`.
    pub(crate) correlation_id: Option<String>,
    /// `BrokerProperties.Label`.
    pub(crate) label: Option<String>,
    /// `BrokerProperties.SessionId`.
    pub(crate) session_id: Option<String>,
    /// `BrokerProperties.To`.
    pub(crate) to: Option<String>,
    /// `BrokerProperties.ReplyTo`.
    pub(crate) reply_to: Option<String>,
    /// `BrokerProperties.TimeToLive` / `TimeToLiveTimeSpan`.
    pub(crate) time_to_live: Option<Duration>,
    /// Application (custom) properties.
    pub(crate) properties: BTreeMap<String, Value>,
}

impl Incoming {
    /// The size counted against the entity's message limit.
    pub(crate) fn size(&self) -> usize {
        self.body.len()
            + self
                .properties
                .iter()
                .map(|(k, v)| k.len() + v.to_string().len())
                .sum::<usize>()
    }
}

/// A message held by the broker, as tests inspect it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeMessage {
    /// The sequence number in its entity.
    pub sequence_number: i64,
    /// The message id.
    pub message_id: String,
    /// The body as text (lossy).
    pub body: String,
    /// The content type.
    pub content_type: Option<String>,
    /// The correlation id.
    pub correlation_id: Option<String>,
    /// The label.
    pub label: Option<String>,
    /// Application properties (dead-lettered messages also carry
    /// `DeadLetterReason` and `DeadLetterErrorDescription`).
    pub properties: BTreeMap<String, Value>,
    /// Deliveries so far.
    pub delivery_count: u32,
    /// Where it was dead-lettered from, in a dead-letter subqueue.
    pub dead_letter_source: Option<String>,
}

impl FakeMessage {
    /// A string application property.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(Value::as_str)
    }
}

/// Settings of a queue or subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiveSettings {
    /// Deliveries before the broker dead-letters a message (default 10).
    pub max_delivery_count: u32,
    /// How long a peek-lock holds (default 60 s).
    pub lock_duration: Duration,
    /// Expired messages go to the dead-letter subqueue instead of vanishing.
    pub dead_lettering_on_message_expiration: bool,
    /// Time to live of messages that set none.
    pub default_message_time_to_live: Option<Duration>,
}

impl Default for ReceiveSettings {
    fn default() -> Self {
        ReceiveSettings {
            max_delivery_count: 10,
            lock_duration: Duration::from_secs(60),
            dead_lettering_on_message_expiration: false,
            default_message_time_to_live: None,
        }
    }
}

/// A subscription rule's filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Matches everything (the `$Default` rule).
    True,
    /// Matches nothing.
    False,
    /// Every given field equal (system properties and application properties).
    Correlation(CorrelationFilter),
    /// A subset of the SQL filter grammar: `1=1`, `1=0`, `<name> = '<text>'`,
    /// `<name> = <number>`, `<name> IN ('a', 'b')`, joined by `OR`/`AND`
    /// (no parentheses; `AND` binds tighter). `sys.Label`, `sys.CorrelationId`,
    /// `sys.MessageId`, `sys.To`, `sys.ContentType` name system properties;
    /// other names (optionally `user.`) name application properties.
    Sql(String),
}

impl Filter {
    /// A correlation filter on the application property `type` — how the
    /// subscriptions of `infra/azure/main.bicep` route event types.
    pub fn type_is(event_type: &str) -> Filter {
        Filter::Correlation(CorrelationFilter {
            properties: [("type".to_owned(), serde_json::Value::from(event_type))].into(),
            ..CorrelationFilter::default()
        })
    }
}

/// A correlation filter: every set field must equal the message's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorrelationFilter {
    /// `CorrelationId`.
    pub correlation_id: Option<String>,
    /// `MessageId`.
    pub message_id: Option<String>,
    /// `Label`.
    pub label: Option<String>,
    /// `To`.
    pub to: Option<String>,
    /// `ReplyTo`.
    pub reply_to: Option<String>,
    /// `SessionId`.
    pub session_id: Option<String>,
    /// `ContentType`.
    pub content_type: Option<String>,
    /// Application properties.
    pub properties: BTreeMap<String, Value>,
}

/// An SQL filter outside the supported subset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported SQL filter {expression:?}: {reason}")]
pub struct UnsupportedFilter {
    /// The expression.
    pub expression: String,
    /// What is not supported.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    Const(bool),
    Equals(String, Value),
    In(String, Vec<Value>),
}

fn parse_sql(expression: &str) -> Result<Vec<Vec<Condition>>, UnsupportedFilter> {
    let unsupported = |reason: &str| UnsupportedFilter {
        expression: expression.to_owned(),
        reason: reason.to_owned(),
    };
    let mut any = Vec::new();
    for disjunct in split_keyword(expression, "OR") {
        let mut all = Vec::new();
        for term in split_keyword(&disjunct, "AND") {
            let term = term.trim();
            let compact: String = term.chars().filter(|c| !c.is_whitespace()).collect();
            if compact == "1=1" {
                all.push(Condition::Const(true));
            } else if compact == "1=0" {
                all.push(Condition::Const(false));
            } else if let Some((name, list)) = split_in(term) {
                let values = list
                    .split(',')
                    .map(|v| literal(v.trim()).ok_or_else(|| unsupported("IN list literal")))
                    .collect::<Result<Vec<_>, _>>()?;
                all.push(Condition::In(name, values));
            } else if let Some((name, value)) = term.split_once('=') {
                let value = literal(value.trim()).ok_or_else(|| unsupported("literal"))?;
                all.push(Condition::Equals(name.trim().to_owned(), value));
            } else {
                return Err(unsupported(
                    "only =, IN, AND, OR, 1=1 and 1=0 are supported",
                ));
            }
        }
        any.push(all);
    }
    Ok(any)
}

fn split_keyword(s: &str, keyword: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = Vec::new();
    let mut in_quote = false;
    for word in s.split(' ') {
        if word.matches('\'').count() % 2 == 1 {
            in_quote = !in_quote;
        }
        if !in_quote && word.eq_ignore_ascii_case(keyword) {
            parts.push(current.join(" "));
            current.clear();
        } else {
            current.push(word);
        }
    }
    parts.push(current.join(" "));
    parts
}

fn split_in(term: &str) -> Option<(String, String)> {
    let upper = term.to_ascii_uppercase();
    let at = upper.find(" IN ")?;
    let list = term[at + 4..].trim();
    let list = list.strip_prefix('(')?.strip_suffix(')')?;
    Some((term[..at].trim().to_owned(), list.to_owned()))
}

fn literal(v: &str) -> Option<Value> {
    if let Some(text) = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return Some(Value::from(text.replace("''", "'")));
    }
    serde_json::from_str::<serde_json::Number>(v)
        .ok()
        .map(Value::Number)
}

/// A filter ready to evaluate.
#[derive(Debug, Clone)]
pub(crate) enum Compiled {
    Correlation(CorrelationFilter),
    Sql(Vec<Vec<Condition>>),
}

impl Filter {
    pub(crate) fn compile(&self) -> Result<Compiled, UnsupportedFilter> {
        Ok(match self {
            Filter::True => Compiled::Sql(vec![vec![Condition::Const(true)]]),
            Filter::False => Compiled::Sql(vec![vec![Condition::Const(false)]]),
            Filter::Correlation(c) => Compiled::Correlation(c.clone()),
            Filter::Sql(expression) => Compiled::Sql(parse_sql(expression)?),
        })
    }
}

fn system(message: &Incoming, name: &str) -> Option<Value> {
    let v = match name.to_ascii_lowercase().as_str() {
        "label" => message.label.clone(),
        "correlationid" => message.correlation_id.clone(),
        "messageid" => message.message_id.clone(),
        "to" => message.to.clone(),
        "replyto" => message.reply_to.clone(),
        "sessionid" => message.session_id.clone(),
        "contenttype" => message.content_type.clone(),
        _ => None,
    };
    v.map(Value::from)
}

fn lookup(message: &Incoming, name: &str) -> Option<Value> {
    if let Some(sys) = name.strip_prefix("sys.") {
        return system(message, sys);
    }
    let name = name.strip_prefix("user.").unwrap_or(name);
    message
        .properties
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < f64::EPSILON,
        _ => a == b,
    }
}

impl Compiled {
    fn matches(&self, m: &Incoming) -> bool {
        match self {
            Compiled::Correlation(c) => {
                let eq = |want: &Option<String>, have: &Option<String>| {
                    want.as_ref().is_none_or(|w| Some(w) == have.as_ref())
                };
                eq(&c.correlation_id, &m.correlation_id)
                    && eq(&c.message_id, &m.message_id)
                    && eq(&c.label, &m.label)
                    && eq(&c.to, &m.to)
                    && eq(&c.reply_to, &m.reply_to)
                    && eq(&c.session_id, &m.session_id)
                    && eq(&c.content_type, &m.content_type)
                    && c.properties
                        .iter()
                        .all(|(k, v)| m.properties.get(k).is_some_and(|have| same(have, v)))
            }
            Compiled::Sql(any) => any.iter().any(|all| {
                all.iter().all(|c| match c {
                    Condition::Const(b) => *b,
                    Condition::Equals(name, v) => lookup(m, name).is_some_and(|h| same(&h, v)),
                    Condition::In(name, vs) => {
                        lookup(m, name).is_some_and(|h| vs.iter().any(|v| same(&h, v)))
                    }
                })
            }),
        }
    }
}

#[derive(Debug, Clone)]
struct Lock {
    token: String,
    until: Instant,
    until_wall: SystemTime,
}

#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) sequence_number: i64,
    pub(crate) enqueued_sequence_number: i64,
    pub(crate) message_id: String,
    pub(crate) incoming: Incoming,
    pub(crate) delivery_count: u32,
    pub(crate) enqueued_at: SystemTime,
    pub(crate) expires_at: Option<Instant>,
    pub(crate) dead_letter_source: Option<String>,
    lock: Option<Lock>,
}

impl Stored {
    fn view(&self) -> FakeMessage {
        FakeMessage {
            sequence_number: self.sequence_number,
            message_id: self.message_id.clone(),
            body: String::from_utf8_lossy(&self.incoming.body).into_owned(),
            content_type: self.incoming.content_type.clone(),
            correlation_id: self.incoming.correlation_id.clone(),
            label: self.incoming.label.clone(),
            properties: self.incoming.properties.clone(),
            delivery_count: self.delivery_count,
            dead_letter_source: self.dead_letter_source.clone(),
        }
    }
}

/// A message handed to a receiver under a lock.
#[derive(Debug, Clone)]
pub(crate) struct Delivered {
    pub(crate) stored: Stored,
    pub(crate) lock_token: String,
    pub(crate) locked_until: SystemTime,
}

/// The message store of a queue or subscription, with its dead-letter subqueue.
#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) path: String,
    pub(crate) settings: ReceiveSettings,
    active: BTreeMap<i64, Stored>,
    dead: BTreeMap<i64, Stored>,
    dead_locks: HashMap<String, i64>,
}

/// Which part of a store an operation addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Active,
    DeadLetter,
}

/// Why a lock operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockError {
    /// No message holds that lock (completed, expired or never issued).
    NotFound,
}

impl Store {
    pub(crate) fn new(path: String, settings: ReceiveSettings) -> Self {
        Store {
            path,
            settings,
            active: BTreeMap::new(),
            dead: BTreeMap::new(),
            dead_locks: HashMap::new(),
        }
    }

    pub(crate) fn enqueue(&mut self, mut message: Stored) {
        if message.expires_at.is_none() {
            message.expires_at = self
                .settings
                .default_message_time_to_live
                .map(|ttl| Instant::now() + ttl);
        }
        self.active.insert(message.sequence_number, message);
    }

    fn dead_letter(&mut self, mut message: Stored, reason: &str, description: String) {
        message.lock = None;
        message.dead_letter_source = Some(self.path.clone());
        message
            .incoming
            .properties
            .insert("DeadLetterReason".to_owned(), Value::from(reason));
        message.incoming.properties.insert(
            "DeadLetterErrorDescription".to_owned(),
            Value::from(description),
        );
        self.dead.insert(message.sequence_number, message);
    }

    /// Releases expired locks (dead-lettering messages out of deliveries)
    /// and expires messages past their time to live.
    pub(crate) fn sweep(&mut self) {
        let now = Instant::now();
        let max = self.settings.max_delivery_count;
        let mut to_dead = Vec::new();
        for (seq, m) in &mut self.active {
            if m.lock.as_ref().is_some_and(|l| l.until <= now) {
                m.lock = None;
                if m.delivery_count >= max {
                    to_dead.push((*seq, "MaxDeliveryCountExceeded"));
                    continue;
                }
            }
            if m.lock.is_none() && m.expires_at.is_some_and(|e| e <= now) {
                to_dead.push((*seq, "TTLExpiredException"));
            }
        }
        for (seq, reason) in to_dead {
            if let Some(m) = self.active.remove(&seq) {
                if reason == "MaxDeliveryCountExceeded" {
                    let description =
                        format!("Message could not be consumed after {max} delivery attempts.");
                    self.dead_letter(m, reason, description);
                } else if self.settings.dead_lettering_on_message_expiration {
                    self.dead_letter(
                        m,
                        reason,
                        "The message expired and was dead lettered.".to_owned(),
                    );
                }
            }
        }
        for m in self.dead.values_mut() {
            if m.lock.as_ref().is_some_and(|l| l.until <= now) {
                m.lock = None;
            }
        }
        self.dead_locks
            .retain(|_, seq| self.dead.get(seq).is_some_and(|m| m.lock.is_some()));
    }

    fn part(&mut self, part: Part) -> &mut BTreeMap<i64, Stored> {
        match part {
            Part::Active => &mut self.active,
            Part::DeadLetter => &mut self.dead,
        }
    }

    /// Locks the first unlocked message, counting a delivery.
    pub(crate) fn peek_lock(&mut self, part: Part) -> Option<Delivered> {
        self.sweep();
        let duration = self.settings.lock_duration;
        let messages = self.part(part);
        let message = messages.values_mut().find(|m| m.lock.is_none())?;
        message.delivery_count += 1;
        let token = uuid::Uuid::new_v4().to_string();
        let locked_until = SystemTime::now() + duration;
        message.lock = Some(Lock {
            token: token.clone(),
            until: Instant::now() + duration,
            until_wall: locked_until,
        });
        let delivered = Delivered {
            stored: message.clone(),
            lock_token: token.clone(),
            locked_until,
        };
        if part == Part::DeadLetter {
            self.dead_locks
                .insert(token, delivered.stored.sequence_number);
        }
        Some(delivered)
    }

    /// Removes the first unlocked message (receive and delete).
    pub(crate) fn receive_and_delete(&mut self, part: Part) -> Option<Stored> {
        self.sweep();
        let messages = self.part(part);
        let seq = *messages.iter().find(|(_, m)| m.lock.is_none())?.0;
        messages.remove(&seq)
    }

    fn find_locked(&mut self, part: Part, id: &str, token: &str) -> Result<i64, LockError> {
        self.sweep();
        let messages = self.part(part);
        messages
            .iter()
            .find(|(seq, m)| {
                m.lock
                    .as_ref()
                    .is_some_and(|l| l.token.eq_ignore_ascii_case(token))
                    && (seq.to_string() == id || m.message_id == id)
            })
            .map(|(seq, _)| *seq)
            .ok_or(LockError::NotFound)
    }

    /// Deletes a locked message (complete).
    pub(crate) fn complete(&mut self, part: Part, id: &str, token: &str) -> Result<(), LockError> {
        let seq = self.find_locked(part, id, token)?;
        self.part(part).remove(&seq);
        Ok(())
    }

    /// Releases a lock (abandon); a message out of deliveries is dead-lettered.
    pub(crate) fn unlock(&mut self, part: Part, id: &str, token: &str) -> Result<(), LockError> {
        let seq = self.find_locked(part, id, token)?;
        let max = self.settings.max_delivery_count;
        let out_of_deliveries = {
            let messages = self.part(part);
            match messages.get_mut(&seq) {
                Some(m) => {
                    m.lock = None;
                    part == Part::Active && m.delivery_count >= max
                }
                None => false,
            }
        };
        if out_of_deliveries {
            if let Some(m) = self.active.remove(&seq) {
                let description =
                    format!("Message could not be consumed after {max} delivery attempts.");
                self.dead_letter(m, "MaxDeliveryCountExceeded", description);
            }
        }
        Ok(())
    }

    /// Extends a lock by the lock duration.
    pub(crate) fn renew(
        &mut self,
        part: Part,
        id: &str,
        token: &str,
    ) -> Result<Delivered, LockError> {
        let seq = self.find_locked(part, id, token)?;
        let duration = self.settings.lock_duration;
        let message = self.part(part).get_mut(&seq).ok_or(LockError::NotFound)?;
        let locked_until = SystemTime::now() + duration;
        if let Some(lock) = &mut message.lock {
            lock.until = Instant::now() + duration;
            lock.until_wall = locked_until;
        }
        Ok(Delivered {
            stored: message.clone(),
            lock_token: token.to_owned(),
            locked_until,
        })
    }

    /// Every message of a part, in sequence order.
    pub(crate) fn view(&mut self, part: Part) -> Vec<FakeMessage> {
        self.sweep();
        self.part(part).values().map(Stored::view).collect()
    }
}

/// A subscription: a store and its rules.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub(crate) store: Store,
    pub(crate) rules: Vec<(String, Compiled)>,
}

/// A topic: duplicate detection and subscriptions.
#[derive(Debug)]
pub(crate) struct Topic {
    pub(crate) dedup: Dedup,
    pub(crate) subscriptions: BTreeMap<String, Subscription>,
    pub(crate) next_sequence: i64,
}

/// A queue: duplicate detection and a store.
#[derive(Debug)]
pub(crate) struct Queue {
    pub(crate) dedup: Dedup,
    pub(crate) store: Store,
    pub(crate) next_sequence: i64,
}

/// Duplicate detection on `MessageId` within a window.
#[derive(Debug, Default)]
pub(crate) struct Dedup {
    pub(crate) window: Option<Duration>,
    seen: HashMap<String, Instant>,
    pub(crate) dropped: u64,
}

impl Dedup {
    pub(crate) fn new(window: Option<Duration>) -> Self {
        Dedup {
            window,
            seen: HashMap::new(),
            dropped: 0,
        }
    }

    /// True when the message must be dropped as a duplicate.
    pub(crate) fn is_duplicate(&mut self, message_id: &str) -> bool {
        let Some(window) = self.window else {
            return false;
        };
        let now = Instant::now();
        self.seen.retain(|_, at| now.duration_since(*at) < window);
        if self.seen.contains_key(message_id) {
            self.dropped += 1;
            return true;
        }
        self.seen.insert(message_id.to_owned(), now);
        false
    }
}

pub(crate) fn stored(incoming: Incoming, sequence_number: i64, message_id: String) -> Stored {
    let expires_at = incoming.time_to_live.map(|ttl| Instant::now() + ttl);
    Stored {
        sequence_number,
        enqueued_sequence_number: sequence_number,
        message_id,
        incoming,
        delivery_count: 0,
        enqueued_at: SystemTime::now(),
        expires_at,
        dead_letter_source: None,
        lock: None,
    }
}

impl Topic {
    /// Copies `incoming` into every subscription with a matching rule.
    pub(crate) fn fan_out(&mut self, incoming: &Incoming, sequence_number: i64, message_id: &str) {
        for sub in self.subscriptions.values_mut() {
            if sub.rules.iter().any(|(_, rule)| rule.matches(incoming)) {
                sub.store.enqueue(stored(
                    incoming.clone(),
                    sequence_number,
                    message_id.to_owned(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(props: &[(&str, Value)], label: Option<&str>) -> Incoming {
        Incoming {
            label: label.map(str::to_owned),
            properties: props
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            ..Incoming::default()
        }
    }

    #[test]
    fn sql_subset() {
        let m = message(
            &[("type", "order.placed".into()), ("version", 2.into())],
            Some("L"),
        );
        for (expr, want) in [
            ("1=1", true),
            ("1=0", false),
            ("type = 'order.placed'", true),
            ("type = 'customer.updated'", false),
            ("type IN ('customer.updated', 'order.placed')", true),
            ("version = 2", true),
            ("user.type = 'order.placed' AND version = 3", false),
            ("type = 'x' OR sys.Label = 'L'", true),
        ] {
            let compiled = Filter::Sql(expr.to_owned()).compile().unwrap();
            assert_eq!(compiled.matches(&m), want, "{expr}");
        }
        assert!(Filter::Sql("type LIKE 'order%'".into()).compile().is_err());
    }

    #[test]
    fn correlation_filter_requires_every_field() {
        let f = Filter::Correlation(CorrelationFilter {
            label: Some("L".into()),
            properties: BTreeMap::from([("type".to_owned(), Value::from("order.placed"))]),
            ..CorrelationFilter::default()
        })
        .compile()
        .unwrap();
        assert!(f.matches(&message(&[("type", "order.placed".into())], Some("L"))));
        assert!(!f.matches(&message(&[("type", "order.placed".into())], None)));
        assert!(!f.matches(&message(&[], Some("L"))));
    }

    #[test]
    fn abandon_until_max_delivery_count_dead_letters() {
        let mut store = Store::new(
            "q".into(),
            ReceiveSettings {
                max_delivery_count: 2,
                ..ReceiveSettings::default()
            },
        );
        store.enqueue(stored(Incoming::default(), 1, "m1".into()));
        for attempt in 1..=2 {
            let d = store.peek_lock(Part::Active).unwrap();
            assert_eq!(d.stored.delivery_count, attempt);
            assert!(store.peek_lock(Part::Active).is_none(), "locked");
            store.unlock(Part::Active, "1", &d.lock_token).unwrap();
        }
        assert!(store.peek_lock(Part::Active).is_none());
        let dead = store.view(Part::DeadLetter);
        assert_eq!(dead.len(), 1);
        assert_eq!(
            dead[0].property("DeadLetterReason"),
            Some("MaxDeliveryCountExceeded")
        );
        assert_eq!(dead[0].dead_letter_source.as_deref(), Some("q"));
    }

    #[test]
    fn an_expired_lock_redelivers_and_a_stale_token_is_refused() {
        let mut store = Store::new(
            "q".into(),
            ReceiveSettings {
                lock_duration: Duration::from_millis(30),
                ..ReceiveSettings::default()
            },
        );
        store.enqueue(stored(Incoming::default(), 7, "m7".into()));
        let first = store.peek_lock(Part::Active).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let second = store.peek_lock(Part::Active).unwrap();
        assert_eq!(second.stored.delivery_count, 2);
        assert_eq!(
            store.complete(Part::Active, "7", &first.lock_token),
            Err(LockError::NotFound)
        );
        assert_eq!(
            store.complete(Part::Active, "m7", &second.lock_token),
            Ok(())
        );
        assert!(store.view(Part::Active).is_empty());
    }
}
