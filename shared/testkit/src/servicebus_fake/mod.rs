//! A fake of the Azure Service Bus REST data plane, for tests: no
//! installable emulator exists for this machine (Microsoft's runs only in a
//! container), so this implements the documented contract on 127.0.0.1.
//!
//! Implemented, as the REST reference documents it:
//!
//! - **Send Message** (`POST /{queue|topic}/messages`): body, `BrokerProperties`
//!   header (`MessageId`, `CorrelationId`, `Label`, `SessionId`, `To`,
//!   `ReplyTo`, `TimeToLive`), custom properties as headers (`"text"` is a
//!   string, numbers and booleans are typed), `Content-Type`; 201.
//! - **Send Message Batch** (`Content-Type: application/vnd.microsoft.servicebus.json`,
//!   a JSON array of `{Body, BrokerProperties, UserProperties, IsBodyBase64}`),
//!   accepted or refused as a whole; 201.
//! - **Peek-Lock** (`POST /{path}/messages/head?timeout=<s>`, waiting up to
//!   the timeout, at most 60 s): 201 with the body, `Location` (the lock URL
//!   `https://{ns}.servicebus.windows.net/{path}/messages/{sequence}/{lockToken}`),
//!   `BrokerProperties` (`DeliveryCount`, `EnqueuedSequenceNumber`,
//!   `EnqueuedTimeUtc`, `LockToken`, `LockedUntilUtc`, `MessageId`,
//!   `SequenceNumber`, `State`, `TimeToLive`, and the sent ones) and the
//!   custom properties as headers (strings JSON-quoted); 204 when empty.
//! - **Delete Message** (`DELETE` lock URL: complete), **Unlock Message**
//!   (`PUT`: abandon), **Renew-Lock** (`POST`): 200; 404 when the lock is
//!   unknown or expired. **Receive and Delete** (`DELETE .../messages/head`).
//! - Delivery counts (one per peek-lock), lock expiry (the message is
//!   delivered again), `maxDeliveryCount` → the entity's `$DeadLetterQueue`
//!   with `DeadLetterReason` = `MaxDeliveryCountExceeded`, message TTL and
//!   `deadLetteringOnMessageExpiration`.
//! - Topics fanning out to subscriptions by rules: correlation filters and a
//!   small SQL subset (see [`Filter`]); a subscription without rules gets nothing.
//! - Duplicate detection on `MessageId` within a window (the duplicate is
//!   answered 201 and dropped, as the broker does).
//! - SAS: `Authorization: SharedAccessSignature sr=..&sig=..&se=..&skn=..` with
//!   a known rule, a valid HMAC-SHA256 signature, an unexpired `se`, a scope
//!   covering the request URI and the right (`Send`, `Listen`, `Manage`); 401 otherwise.
//! - Microsoft Entra ID: `Authorization: Bearer <token>` when the test set
//!   a check with [`ServiceBusFake::accept_bearer`] and it passes the token
//!   (the JWT itself is not read); 401 otherwise.
//! - 400 for malformed requests, 403 for messages over the size limit,
//!   410 for entities that do not exist.
//!
//! Not implemented: sessions, scheduled messages, deferral, the management
//! (ATOM) API, partitioning, transactions, AMQP, Entra roles (a token the
//! check passes may do everything), auto-forwarding, the
//! `x-ms-retrypolicy` header (ignored).

mod model;
mod sas;
mod server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use model::{CorrelationFilter, FakeMessage, Filter, ReceiveSettings, UnsupportedFilter};
pub use sas::Right;
pub use server::RecordedRequest;

use model::{Dedup, Part, Queue, Store, Subscription, Topic};
use sas::SasRule;
use server::{BearerCheck, Namespace, Shared, lock};

/// The rule every fake namespace starts with (all rights).
pub const ROOT_RULE: &str = "RootManageSharedAccessKey";

/// Options of a queue.
#[derive(Debug, Clone, Default)]
pub struct QueueOptions {
    /// Receive settings (max delivery count, lock duration, ...).
    pub receive: ReceiveSettings,
    /// Duplicate detection on `MessageId` within this window.
    pub duplicate_detection_window: Option<Duration>,
}

/// Options of a topic.
#[derive(Debug, Clone, Default)]
pub struct TopicOptions {
    /// Duplicate detection on `MessageId` within this window.
    pub duplicate_detection_window: Option<Duration>,
}

/// The fake could not do what a test asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FakeError {
    /// The topic does not exist.
    #[error("no topic {0:?}")]
    NoTopic(String),
    /// A rule's SQL filter is outside the supported subset.
    #[error(transparent)]
    Filter(#[from] UnsupportedFilter),
}

/// A running fake namespace on its own 127.0.0.1 port; stops when dropped.
pub struct ServiceBusFake {
    addr: SocketAddr,
    name: String,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl ServiceBusFake {
    /// Starts a namespace called `namespace` (its public URI is
    /// `https://{namespace}.servicebus.windows.net`, which SAS tokens must
    /// name) with the rule [`ROOT_RULE`].
    ///
    /// # Panics
    /// When no local port can be bound (the test cannot run).
    pub async fn start(namespace: &str) -> ServiceBusFake {
        let root_key = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            uuid::Uuid::new_v4().as_bytes(),
        );
        let state: Shared = Arc::new(Mutex::new(Namespace {
            name: namespace.to_ascii_lowercase(),
            rules: BTreeMap::from([(
                ROOT_RULE.to_owned(),
                SasRule {
                    key: root_key,
                    rights: vec![Right::Manage],
                },
            )]),
            queues: BTreeMap::new(),
            topics: BTreeMap::new(),
            max_message_bytes: 256 * 1024,
            first_sequence_number: 1,
            requests: Vec::new(),
            bearer: None,
        }));
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Service Bus fake");
        let addr = listener.local_addr().expect("fake address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ServiceBusFake {
            addr,
            name: namespace.to_ascii_lowercase(),
            state,
            task,
        }
    }

    /// The namespace name.
    pub fn namespace(&self) -> &str {
        &self.name
    }

    /// `http://127.0.0.1:<port>`: where clients send what they address to
    /// `https://{namespace}.servicebus.windows.net`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds (or replaces) a SAS rule.
    pub fn add_rule(&self, name: &str, key: &str, rights: &[Right]) {
        lock(&self.state).rules.insert(
            name.to_owned(),
            SasRule {
                key: key.to_owned(),
                rights: rights.to_vec(),
            },
        );
    }

    /// Accepts `Authorization: Bearer <token>` for every token `check`
    /// passes (standing for a Microsoft Entra ID token with the right role);
    /// other bearer tokens are answered 401, as Service Bus does.
    pub fn accept_bearer(&self, check: Arc<dyn Fn(&str) -> bool + Send + Sync>) {
        lock(&self.state).bearer = Some(BearerCheck(check));
    }

    /// The connection string of rule `name`, as the portal shows it.
    pub fn connection_string(&self, name: &str) -> Option<String> {
        let ns = lock(&self.state);
        ns.rules.get(name).map(|rule| {
            format!(
                "Endpoint=sb://{}.servicebus.windows.net/;SharedAccessKeyName={name};SharedAccessKey={}",
                ns.name, rule.key
            )
        })
    }

    /// Sequence numbers of entities created from now on start here (e.g.
    /// past `i32::MAX`, to exercise clients).
    pub fn set_first_sequence_number(&self, first: i64) {
        lock(&self.state).first_sequence_number = first;
    }

    /// The largest message (and batch) accepted, in bytes (default 256 KiB).
    pub fn set_max_message_bytes(&self, bytes: usize) {
        lock(&self.state).max_message_bytes = bytes;
    }

    /// Creates a queue.
    pub fn create_queue(&self, name: &str, options: QueueOptions) {
        let key = name.to_ascii_lowercase();
        lock(&self.state).queues.insert(
            key,
            Queue {
                dedup: Dedup::new(options.duplicate_detection_window),
                store: Store::new(name.to_owned(), options.receive),
                next_sequence: 0,
            },
        );
    }

    /// Creates a topic (without subscriptions).
    pub fn create_topic(&self, name: &str, options: TopicOptions) {
        lock(&self.state).topics.insert(
            name.to_ascii_lowercase(),
            Topic {
                dedup: Dedup::new(options.duplicate_detection_window),
                subscriptions: BTreeMap::new(),
                next_sequence: 0,
            },
        );
    }

    /// Creates a subscription with these named rules (replacing `$Default`;
    /// pass `[("$Default", Filter::True)]` for the broker's default).
    ///
    /// # Errors
    /// [`FakeError`] for an unknown topic or an unsupported SQL filter.
    pub fn create_subscription(
        &self,
        topic: &str,
        name: &str,
        settings: ReceiveSettings,
        rules: &[(&str, Filter)],
    ) -> Result<(), FakeError> {
        let compiled = rules
            .iter()
            .map(|(n, f)| f.compile().map(|c| ((*n).to_owned(), c)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ns = lock(&self.state);
        let t = ns
            .topics
            .get_mut(&topic.to_ascii_lowercase())
            .ok_or_else(|| FakeError::NoTopic(topic.to_owned()))?;
        t.subscriptions.insert(
            name.to_ascii_lowercase(),
            Subscription {
                store: Store::new(format!("{topic}/subscriptions/{name}"), settings),
                rules: compiled,
            },
        );
        Ok(())
    }

    fn view(&self, path: &str, part: Part) -> Vec<FakeMessage> {
        let mut ns = lock(&self.state);
        let segments: Vec<String> = path
            .trim_matches('/')
            .split('/')
            .map(str::to_ascii_lowercase)
            .collect();
        let store = match segments.as_slice() {
            [q] => ns.queues.get_mut(q).map(|q| &mut q.store),
            [t, s, sub] if s == "subscriptions" => ns
                .topics
                .get_mut(t)
                .and_then(|t| t.subscriptions.get_mut(sub))
                .map(|s| &mut s.store),
            _ => None,
        };
        store.map(|s| s.view(part)).unwrap_or_default()
    }

    /// The messages of a queue (`park`) or subscription
    /// (`integration/subscriptions/erp-sync`), locked ones included.
    pub fn messages(&self, path: &str) -> Vec<FakeMessage> {
        self.view(path, Part::Active)
    }

    /// The dead-letter subqueue of a queue or subscription.
    pub fn dead_letters(&self, path: &str) -> Vec<FakeMessage> {
        self.view(path, Part::DeadLetter)
    }

    /// How many sends a queue or topic dropped as duplicates.
    pub fn duplicates_dropped(&self, entity: &str) -> u64 {
        let ns = lock(&self.state);
        let key = entity.to_ascii_lowercase();
        ns.queues
            .get(&key)
            .map(|q| q.dedup.dropped)
            .or_else(|| ns.topics.get(&key).map(|t| t.dedup.dropped))
            .unwrap_or(0)
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }
}

impl Drop for ServiceBusFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}
