//! Redis backend (ElastiCache, Azure Cache for Redis, a local redis-server).
//!
//! Each record is one string at `<namespace><key>`:
//! `<status>|<expiration s>|<in-progress expiry ms>|<validation>|<data>`
//! (status `I` or `C`; `data` last, so it may hold any text).
//!
//! A batch's claims are one pipeline of `SET NX PX`, one per key (each
//! atomic on its own): a first delivery costs that one round trip. Only the
//! keys that already had a record go on to one Lua script call (`EVALSHA`,
//! falling back to `EVAL` on `NOSCRIPT`) that reads each record and takes
//! it over atomically when it is claimable. A batch's completions are one
//! pipeline of `SET PX` when the caller passes the claim's payload hash
//! ([`Completion::with_claimed_hash`]), otherwise one script call that
//! keeps the stored hash. Releases are one script call. The key's TTL (`PX`) is a cleanup hint only:
//! claimability is decided from the record's own fields and the store's
//! clock. Records written as hashes by earlier versions (`status`,
//! `expiration`, `in_progress_expiry`, `validation`, `data`) are still read,
//! and replaced by a string when written. The keys of one batch must live
//! on one node (standalone or primary/replica Redis, not Redis Cluster).
//! The ordering guard's positions are strings too
//! (`<position>|<expiration s>|<event id>`), a batch's admissions one script
//! call.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script, Value};

use crate::error::StoreError;
use crate::position::{PositionClaim, PositionOutcome};
use crate::record::{
    Now, claimable_from, completed_expiration, epoch_ms, from_epoch_ms, in_progress_expiration,
};
use crate::store::{
    ClaimDetail, ClaimOutcome, ClaimRequest, Completion, Deduped, IdempotencyStore, StoreOptions,
    outcomes,
};

mod position;
mod scripts;

use scripts::{ADMIT_LUA, CLAIM_LUA, COMPLETE_LUA, RELEASE_LUA};

const BACKEND: &str = "redis";

/// Connection settings of a [`RedisStore`].
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Prefix of every Redis key. Default `switchyard:idempotency:`.
    pub namespace: String,
    /// Time allowed to connect. Default 2 s.
    pub connection_timeout: Duration,
    /// Time allowed for a response. Default 2 s.
    pub response_timeout: Duration,
    /// Reconnection attempts before a call fails. Default 1.
    pub reconnect_retries: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            namespace: "switchyard:idempotency:".to_owned(),
            connection_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(2),
            reconnect_retries: 1,
        }
    }
}

/// An idempotency store in Redis. Cheap to clone; clones share one
/// auto-reconnecting multiplexed connection.
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    /// Made on first use, inside the runtime (the manager spawns a task).
    connection: Arc<tokio::sync::OnceCell<ConnectionManager>>,
    options: StoreOptions,
    redis: RedisOptions,
    claim: Script,
    complete: Script,
    release: Script,
    admit: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("options", &self.options)
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

fn classify(operation: &'static str, error: RedisError) -> StoreError {
    if error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_timeout()
        || error.is_unrecoverable_error()
    {
        StoreError::Unavailable {
            backend: BACKEND,
            source: Box::new(error),
        }
    } else {
        StoreError::Backend {
            backend: BACKEND,
            operation,
            source: Box::new(error),
        }
    }
}

fn ttl_ms(expiration_s: i64, now: Now) -> i64 {
    // One extra second so the hint never removes a record the clock still sees as live.
    ((expiration_s + 1) * 1000 - now.ms).max(1)
}

impl RedisStore {
    /// A store for the Redis at `url` (`redis://host:port/db`). Only parses
    /// the URL: the connection is made on first use (so this needs no
    /// runtime) and re-made after a failure, so a store built during cold
    /// start never holds a dead socket.
    pub fn open(url: &str, options: StoreOptions, redis: RedisOptions) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|error| classify("open", error))?;
        Ok(Self {
            client,
            connection: Arc::new(tokio::sync::OnceCell::new()),
            options,
            redis,
            claim: Script::new(CLAIM_LUA),
            complete: Script::new(COMPLETE_LUA),
            release: Script::new(RELEASE_LUA),
            admit: Script::new(ADMIT_LUA),
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        self.connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.redis.connection_timeout))
                    .set_response_timeout(Some(self.redis.response_timeout))
                    .set_number_of_retries(self.redis.reconnect_retries)
                    .set_max_delay(Duration::from_millis(200));
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
                    .map_err(|error| classify("connect", error))
            })
            .await
            .cloned()
    }

    fn redis_key(&self, key: &str) -> String {
        format!("{}{key}", self.redis.namespace)
    }

    /// One round trip: `EVALSHA`; only if the server has never seen the
    /// script (`NOSCRIPT`), a second one with `EVAL`, which also caches it.
    async fn eval(
        &self,
        operation: &'static str,
        script: &Script,
        source: &str,
        keys: &[String],
        args: &[String],
    ) -> Result<Value, StoreError> {
        let mut connection = self.connection().await?;
        let mut evalsha = redis::cmd("EVALSHA");
        evalsha
            .arg(script.get_hash())
            .arg(keys.len())
            .arg(keys)
            .arg(args);
        match evalsha.query_async(&mut connection).await {
            Err(error)
                if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                let mut eval = redis::cmd("EVAL");
                eval.arg(source).arg(keys.len()).arg(keys).arg(args);
                eval.query_async(&mut connection)
                    .await
                    .map_err(|error| classify(operation, error))
            }
            result => result.map_err(|error| classify(operation, error)),
        }
    }
}

fn corrupt(key: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        backend: BACKEND,
        key: key.to_owned(),
        reason: reason.into(),
    }
}

/// One text element of a script reply.
fn reply_text(key: &str, value: Option<&Value>) -> Result<String, StoreError> {
    match value {
        Some(Value::BulkString(bytes)) => {
            String::from_utf8(bytes.clone()).map_err(|_| corrupt(key, "stored value is not UTF-8"))
        }
        Some(Value::SimpleString(text)) => Ok(text.clone()),
        other => Err(corrupt(key, format!("unexpected script reply {other:?}"))),
    }
}

fn parse_claim(key: &str, value: &Value) -> Result<ClaimDetail, StoreError> {
    let Value::Array(pair) = value else {
        return Err(corrupt(key, format!("unexpected script reply {value:?}")));
    };
    let text = |value: Option<&Value>| reply_text(key, value);
    let code = text(pair.first())?;
    let payload = text(pair.get(1))?;
    let integer = |name: &str, text: &str| {
        text.parse::<i64>()
            .map_err(|_| corrupt(key, format!("{name} {text:?} is not an integer")))
    };
    match code.as_str() {
        "N" => Ok(ClaimDetail::new(ClaimOutcome::Claimed)),
        "C" => Ok(ClaimDetail {
            outcome: ClaimOutcome::Completed { response: payload },
            completed_until: Some(claimable_from(integer("expiration", &text(pair.get(2))?)?)),
        }),
        "M" => Ok(ClaimDetail::new(ClaimOutcome::PayloadMismatch)),
        "I" => Ok(ClaimDetail::new(ClaimOutcome::InProgress {
            until: from_epoch_ms(integer("in_progress_expiry", &payload)?),
        })),
        other => Err(corrupt(key, format!("unknown script reply code {other:?}"))),
    }
}

#[async_trait::async_trait]
impl IdempotencyStore for RedisStore {
    async fn claim_many(&self, requests: &[ClaimRequest]) -> Result<Vec<ClaimOutcome>, StoreError> {
        self.claim_many_detailed(requests).await.map(outcomes)
    }

    async fn claim_many_detailed(
        &self,
        requests: &[ClaimRequest],
    ) -> Result<Vec<ClaimDetail>, StoreError> {
        let batch = Deduped::new(requests);
        if batch.unique.is_empty() {
            return batch.expand(BACKEND, Vec::new());
        }
        let now = Now::at(self.options.clock.now());
        let keys: Vec<String> = batch
            .unique
            .iter()
            .map(|r| self.redis_key(&r.key))
            .collect();
        // per key: in_progress_until_ms, expiration_s, ttl_ms
        let times: Vec<(i64, i64, i64)> = batch
            .unique
            .iter()
            .map(|request| {
                let until_ms = epoch_ms(request.in_progress_until);
                let expiration = in_progress_expiration(now, self.options.expiry, until_ms);
                (until_ms, expiration, ttl_ms(expiration, now))
            })
            .collect();
        // One pipeline of SET NX PX: every key without a record is claimed.
        let mut pipe = redis::pipe();
        for ((key, request), (until_ms, expiration, ttl)) in
            keys.iter().zip(&batch.unique).zip(&times)
        {
            let hash = request.payload_hash.as_deref().unwrap_or_default();
            pipe.cmd("SET")
                .arg(key)
                .arg(format!("I|{expiration}|{until_ms}|{hash}|"))
                .arg("NX")
                .arg("PX")
                .arg(*ttl);
        }
        let mut connection = self.connection().await?;
        let set: Vec<Value> = pipe
            .query_async(&mut connection)
            .await
            .map_err(|error| classify("claim", error))?;
        if set.len() != keys.len() {
            return Err(StoreError::ResultCount {
                backend: BACKEND,
                expected: keys.len(),
                got: set.len(),
            });
        }
        // The keys that had a record (their SET NX was refused): one script
        // reads and decides them.
        let taken: Vec<usize> = (0..keys.len())
            .filter(|i| !matches!(set[*i], Value::Okay))
            .collect();
        let mut decided = Vec::with_capacity(taken.len());
        if !taken.is_empty() {
            let script_keys: Vec<String> = taken.iter().map(|i| keys[*i].clone()).collect();
            let mut script_args = Vec::with_capacity(2 + 4 * taken.len());
            script_args.push(now.ms.to_string());
            script_args.push(now.secs.to_string());
            for i in &taken {
                let (until_ms, expiration, ttl) = times[*i];
                script_args.push(batch.unique[*i].payload_hash.clone().unwrap_or_default());
                script_args.push(until_ms.to_string());
                script_args.push(expiration.to_string());
                script_args.push(ttl.to_string());
            }
            let reply = self
                .eval("claim", &self.claim, CLAIM_LUA, &script_keys, &script_args)
                .await?;
            let Value::Array(items) = reply else {
                return Err(corrupt(
                    "<batch>",
                    format!("unexpected script reply {reply:?}"),
                ));
            };
            if items.len() != taken.len() {
                return Err(StoreError::ResultCount {
                    backend: BACKEND,
                    expected: taken.len(),
                    got: items.len(),
                });
            }
            for (i, item) in taken.iter().zip(&items) {
                decided.push(parse_claim(&batch.unique[*i].key, item)?);
            }
        }
        // In key order: claimed by the pipeline, or as the script decided.
        let mut decided = decided.into_iter();
        let mut outcomes = Vec::with_capacity(keys.len());
        for reply in &set {
            let detail = if matches!(reply, Value::Okay) {
                ClaimDetail::new(ClaimOutcome::Claimed)
            } else {
                decided.next().ok_or(StoreError::ResultCount {
                    backend: BACKEND,
                    expected: taken.len(),
                    got: outcomes.len(),
                })?
            };
            outcomes.push(detail);
        }
        batch.expand(BACKEND, outcomes)
    }

    async fn complete_many(&self, completions: &[Completion]) -> Result<(), StoreError> {
        if completions.is_empty() {
            return Ok(());
        }
        let now = Now::at(self.options.clock.now());
        let expiration = completed_expiration(now, self.options.expiry);
        let ttl = ttl_ms(expiration, now);
        // With the claim's hash the whole record is known: one pipeline of SET PX.
        let (known, unknown): (Vec<&Completion>, Vec<&Completion>) =
            completions.iter().partition(|c| c.payload_hash.is_some());
        if !known.is_empty() {
            let mut pipe = redis::pipe();
            for completion in &known {
                let hash = completion.payload_hash.as_deref().unwrap_or_default();
                pipe.cmd("SET")
                    .arg(self.redis_key(&completion.key))
                    .arg(format!("C|{expiration}|0|{hash}|{}", completion.response))
                    .arg("PX")
                    .arg(ttl)
                    .ignore();
            }
            let mut connection = self.connection().await?;
            let () = pipe
                .query_async(&mut connection)
                .await
                .map_err(|error| classify("complete", error))?;
        }
        if unknown.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = unknown.iter().map(|c| self.redis_key(&c.key)).collect();
        let mut args = Vec::with_capacity(3 * keys.len());
        for completion in unknown {
            args.push(completion.response.clone());
            args.push(expiration.to_string());
            args.push(ttl.to_string());
        }
        self.eval("complete", &self.complete, COMPLETE_LUA, &keys, &args)
            .await
            .map(drop)
    }

    async fn release_many(&self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = keys.iter().map(|key| self.redis_key(key)).collect();
        self.eval("release", &self.release, RELEASE_LUA, &keys, &[])
            .await
            .map(drop)
    }

    async fn admit_positions(
        &self,
        claims: &[PositionClaim],
    ) -> Result<Vec<PositionOutcome>, StoreError> {
        self.admit(claims).await
    }
}
