//! In-process SQS queues with SQS's delivery semantics — visibility
//! timeout, receive counts, redrive to a DLQ after `maxReceiveCount`
//! receives — persisted in an embedded redb file, so a restart keeps every
//! message that was not deleted (in-flight ones reappear when their
//! visibility timeout ends, as in SQS).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::template::QueueSpec;

const MESSAGES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("queue_messages");
const SEQUENCES: TableDefinition<&str, u64> = TableDefinition::new("queue_sequences");

/// A queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// No such queue in the template.
    #[error("no queue named {0} in the template")]
    UnknownQueue(String),
    /// A receipt handle that no longer matches a message.
    #[error("receipt handle {0} is not valid (the message was deleted or received again)")]
    StaleReceipt(String),
    /// The state file failed.
    #[error("queue state: {0}")]
    Storage(String),
}

fn storage(e: impl std::fmt::Display) -> QueueError {
    QueueError::Storage(e.to_string())
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Message id.
    pub id: String,
    /// Body.
    pub body: String,
    /// String message attributes.
    pub attributes: BTreeMap<String, String>,
    /// Times received.
    pub receive_count: u32,
    /// Invisible until this time (ms since the epoch).
    pub visible_at_ms: u64,
    /// When it was sent (ms since the epoch).
    pub sent_at_ms: u64,
}

/// A received message and its receipt handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The message.
    pub message: StoredMessage,
    /// Hands the message back: `<queue>/<seq>/<receive count>`.
    pub receipt_handle: String,
}

/// Depth of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Depth {
    /// Messages that can be received now.
    pub visible: usize,
    /// Messages received and not yet deleted or visible again.
    pub in_flight: usize,
}

/// Every queue of the stack.
#[derive(Clone)]
pub struct LocalQueues {
    db: Arc<Database>,
    specs: Arc<BTreeMap<String, QueueSpec>>,
    changed: Arc<tokio::sync::Notify>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl LocalQueues {
    /// Opens (or creates) the queue state in `path`.
    pub fn open(path: &Path, specs: BTreeMap<String, QueueSpec>) -> Result<Self, QueueError> {
        let db = Database::create(path).map_err(storage)?;
        let tx = db.begin_write().map_err(storage)?;
        tx.open_table(MESSAGES).map_err(storage)?;
        tx.open_table(SEQUENCES).map_err(storage)?;
        tx.commit().map_err(storage)?;
        Ok(LocalQueues {
            db: Arc::new(db),
            specs: Arc::new(specs),
            changed: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// The queue names.
    pub fn names(&self) -> Vec<String> {
        self.specs.keys().cloned().collect()
    }

    /// A queue's spec.
    pub fn spec(&self, queue: &str) -> Result<&QueueSpec, QueueError> {
        self.specs
            .get(queue)
            .ok_or_else(|| QueueError::UnknownQueue(queue.to_owned()))
    }

    /// Resolves when a message was sent or made visible.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Sends a message; returns its id.
    pub fn send(
        &self,
        queue: &str,
        body: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<String, QueueError> {
        self.spec(queue)?;
        let id = uuid::Uuid::new_v4().to_string();
        let message = StoredMessage {
            id: id.clone(),
            body: body.to_owned(),
            attributes,
            receive_count: 0,
            visible_at_ms: 0,
            sent_at_ms: now_ms(),
        };
        let bytes = serde_json::to_vec(&message).map_err(storage)?;
        let tx = self.db.begin_write().map_err(storage)?;
        {
            let mut seqs = tx.open_table(SEQUENCES).map_err(storage)?;
            let seq = seqs
                .get(queue)
                .map_err(storage)?
                .map(|v| v.value())
                .unwrap_or(0)
                + 1;
            seqs.insert(queue, seq).map_err(storage)?;
            tx.open_table(MESSAGES)
                .map_err(storage)?
                .insert((queue, seq), bytes.as_slice())
                .map_err(storage)?;
        }
        tx.commit().map_err(storage)?;
        self.changed.notify_waiters();
        Ok(id)
    }

    /// Receives up to `max` visible messages, oldest first. A message that
    /// has already been received `maxReceiveCount` times is moved to the
    /// queue's DLQ instead, as SQS's redrive policy does.
    pub fn receive(&self, queue: &str, max: usize) -> Result<Vec<Received>, QueueError> {
        let spec = self.spec(queue)?.clone();
        let now = now_ms();
        let visibility = u64::try_from(spec.visibility_timeout.as_millis()).unwrap_or(u64::MAX);
        let mut out = Vec::new();
        let mut redriven = Vec::new();
        let tx = self.db.begin_write().map_err(storage)?;
        {
            let mut table = tx.open_table(MESSAGES).map_err(storage)?;
            let mut candidates = Vec::new();
            for entry in table
                .range((queue, 0)..=(queue, u64::MAX))
                .map_err(storage)?
            {
                let (key, value) = entry.map_err(storage)?;
                let message: StoredMessage =
                    serde_json::from_slice(value.value()).map_err(storage)?;
                if message.visible_at_ms <= now {
                    candidates.push((key.value().1, message));
                }
            }
            for (seq, mut message) in candidates {
                if out.len() >= max {
                    break;
                }
                if let Some((dlq, max_receives)) = &spec.redrive {
                    if message.receive_count >= *max_receives {
                        table.remove((queue, seq)).map_err(storage)?;
                        redriven.push((dlq.clone(), message));
                        continue;
                    }
                }
                message.receive_count += 1;
                message.visible_at_ms = now.saturating_add(visibility);
                table
                    .insert(
                        (queue, seq),
                        serde_json::to_vec(&message).map_err(storage)?.as_slice(),
                    )
                    .map_err(storage)?;
                out.push(Received {
                    receipt_handle: format!("{queue}/{seq}/{}", message.receive_count),
                    message,
                });
            }
        }
        tx.commit().map_err(storage)?;
        for (dlq, message) in redriven {
            tracing::warn!(queue, dlq, message_id = %message.id, receives = message.receive_count, "MessageRedriven");
            self.send(&dlq, &message.body, message.attributes)?;
        }
        Ok(out)
    }

    fn locate(&self, receipt: &str) -> Result<(String, u64, u32), QueueError> {
        let stale = || QueueError::StaleReceipt(receipt.to_owned());
        let mut parts = receipt.rsplitn(3, '/');
        let count = parts
            .next()
            .and_then(|c| c.parse().ok())
            .ok_or_else(stale)?;
        let seq = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(stale)?;
        let queue = parts.next().ok_or_else(stale)?.to_owned();
        Ok((queue, seq, count))
    }

    fn update(
        &self,
        receipt: &str,
        f: impl FnOnce(Option<StoredMessage>) -> Option<StoredMessage>,
    ) -> Result<(), QueueError> {
        let (queue, seq, count) = self.locate(receipt)?;
        let tx = self.db.begin_write().map_err(storage)?;
        {
            let mut table = tx.open_table(MESSAGES).map_err(storage)?;
            let current = match table.get((queue.as_str(), seq)).map_err(storage)? {
                Some(v) => {
                    Some(serde_json::from_slice::<StoredMessage>(v.value()).map_err(storage)?)
                }
                None => None,
            };
            let current = current.filter(|m| m.receive_count == count);
            if current.is_none() {
                return Err(QueueError::StaleReceipt(receipt.to_owned()));
            }
            match f(current) {
                Some(m) => {
                    table
                        .insert(
                            (queue.as_str(), seq),
                            serde_json::to_vec(&m).map_err(storage)?.as_slice(),
                        )
                        .map_err(storage)?;
                }
                None => {
                    table.remove((queue.as_str(), seq)).map_err(storage)?;
                }
            }
        }
        tx.commit().map_err(storage)?;
        Ok(())
    }

    /// Deletes a received message.
    pub fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.update(receipt, |_| None)
    }

    /// Changes a received message's visibility timeout (from now).
    pub fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        let at = now_ms().saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        self.update(receipt, |m| {
            m.map(|mut m| {
                m.visible_at_ms = at;
                m
            })
        })
    }

    /// Every message of a queue, oldest first (visible or not).
    pub fn messages(&self, queue: &str) -> Result<Vec<StoredMessage>, QueueError> {
        self.spec(queue)?;
        let tx = self.db.begin_read().map_err(storage)?;
        let table = tx.open_table(MESSAGES).map_err(storage)?;
        let mut out = Vec::new();
        for entry in table
            .range((queue, 0)..=(queue, u64::MAX))
            .map_err(storage)?
        {
            let (_, value) = entry.map_err(storage)?;
            out.push(serde_json::from_slice(value.value()).map_err(storage)?);
        }
        Ok(out)
    }

    /// Visible and in-flight counts.
    pub fn depth(&self, queue: &str) -> Result<Depth, QueueError> {
        let now = now_ms();
        let mut depth = Depth::default();
        for m in self.messages(queue)? {
            if m.visible_at_ms <= now {
                depth.visible += 1;
            } else {
                depth.in_flight += 1;
            }
        }
        Ok(depth)
    }

    /// When the next invisible message of `queue` becomes visible, if any.
    pub fn next_visible_in(&self, queue: &str) -> Option<Duration> {
        let now = now_ms();
        self.messages(queue)
            .ok()?
            .iter()
            .filter(|m| m.visible_at_ms > now)
            .map(|m| Duration::from_millis(m.visible_at_ms - now))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(dir: &Path, visibility: Duration) -> LocalQueues {
        let specs = BTreeMap::from([
            (
                "Work".to_owned(),
                QueueSpec {
                    name: "Work".into(),
                    visibility_timeout: visibility,
                    redrive: Some(("WorkDLQ".into(), 2)),
                    fifo: false,
                },
            ),
            (
                "WorkDLQ".to_owned(),
                QueueSpec {
                    name: "WorkDLQ".into(),
                    visibility_timeout: Duration::from_secs(30),
                    redrive: None,
                    fifo: false,
                },
            ),
        ]);
        LocalQueues::open(&dir.join("queues.redb"), specs).unwrap()
    }

    #[test]
    fn visibility_receive_count_delete() {
        let dir = tempfile::tempdir().unwrap();
        let q = queues(dir.path(), Duration::from_secs(30));
        q.send("Work", "a", BTreeMap::new()).unwrap();
        q.send("Work", "b", BTreeMap::new()).unwrap();
        let got = q.receive("Work", 10).unwrap();
        assert_eq!(
            got.iter()
                .map(|r| r.message.body.as_str())
                .collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        assert!(
            q.receive("Work", 10).unwrap().is_empty(),
            "in flight until the visibility timeout"
        );
        assert_eq!(
            q.depth("Work").unwrap(),
            Depth {
                visible: 0,
                in_flight: 2
            }
        );
        q.delete(&got[0].receipt_handle).unwrap();
        q.change_visibility(&got[1].receipt_handle, Duration::ZERO)
            .unwrap();
        let again = q.receive("Work", 10).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].message.receive_count, 2);
        assert!(
            q.delete(&got[1].receipt_handle).is_err(),
            "an old receipt is stale"
        );
    }

    #[test]
    fn redrive_after_max_receive_count() {
        let dir = tempfile::tempdir().unwrap();
        let q = queues(dir.path(), Duration::ZERO);
        q.send(
            "Work",
            "poison",
            BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        )
        .unwrap();
        assert_eq!(q.receive("Work", 1).unwrap().len(), 1);
        assert_eq!(q.receive("Work", 1).unwrap().len(), 1);
        assert!(
            q.receive("Work", 1).unwrap().is_empty(),
            "third receive redrives instead"
        );
        let dlq = q.messages("WorkDLQ").unwrap();
        assert_eq!(dlq.len(), 1);
        assert_eq!(dlq[0].body, "poison");
        assert_eq!(dlq[0].attributes["k"], "v");
        assert!(q.messages("Work").unwrap().is_empty());
    }

    #[test]
    fn messages_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let q = queues(dir.path(), Duration::from_millis(1));
            q.send("Work", "kept", BTreeMap::new()).unwrap();
            q.receive("Work", 1).unwrap(); // in flight when the process "dies"
        }
        std::thread::sleep(Duration::from_millis(5));
        let q = queues(dir.path(), Duration::from_millis(1));
        let got = q.receive("Work", 1).unwrap();
        assert_eq!(got[0].message.body, "kept");
        assert_eq!(got[0].message.receive_count, 2);
    }

    #[test]
    fn unknown_queues_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let q = queues(dir.path(), Duration::ZERO);
        assert!(
            q.send("Nope", "x", BTreeMap::new())
                .unwrap_err()
                .to_string()
                .contains("Nope")
        );
    }
}
