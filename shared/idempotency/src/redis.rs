//! Redis backend (ElastiCache, Azure Cache for Redis, a local redis-server).
//!
//! Each record is a hash (`status`, `expiration`, `in_progress_expiry`,
//! `validation`, `data`) at `<namespace><key>`. Every batch operation is ONE
//! Lua script call (`EVALSHA`, falling back to `EVAL` on `NOSCRIPT`), so a
//! batch costs one round trip and is atomic. The key's TTL (`PEXPIRE`) is a
//! cleanup hint only: claimability is decided from the record's own fields
//! and the store's clock. The keys of one batch must live on one node
//! (standalone or primary/replica Redis, not Redis Cluster).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script, Value};

use crate::error::StoreError;
use crate::record::{
    Now, claimable_from, completed_expiration, epoch_ms, from_epoch_ms, in_progress_expiration,
};
use crate::store::{
    ClaimDetail, ClaimOutcome, ClaimRequest, Completion, Deduped, IdempotencyStore, StoreOptions,
    outcomes,
};

const BACKEND: &str = "redis";

/// Claims every key: ARGV = now_ms, now_s, then per key: hash ("" = none),
/// in_progress_until_ms, expiration_s, ttl_ms. Returns per key {code, value}:
/// {"N",""} claimed, {"C",data,expiration_s} completed, {"I",in_progress_expiry_ms}, {"M",""} mismatch.
const CLAIM_LUA: &str = r"
local now_ms = tonumber(ARGV[1])
local now_s = tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local base = 2 + (i - 1) * 4
  local hash = ARGV[base + 1]
  local rec = redis.call('HMGET', key, 'status', 'expiration', 'in_progress_expiry', 'validation', 'data')
  local claimable = true
  if rec[1] then
    local expiration = tonumber(rec[2]) or 0
    local ipe = tonumber(rec[3]) or 0
    claimable = expiration < now_s or (rec[1] == 'INPROGRESS' and ipe < now_ms)
  end
  if claimable then
    redis.call('DEL', key)
    redis.call('HSET', key, 'status', 'INPROGRESS', 'expiration', ARGV[base + 3],
      'in_progress_expiry', ARGV[base + 2], 'validation', hash)
    redis.call('PEXPIRE', key, ARGV[base + 4])
    out[i] = {'N', ''}
  elseif rec[4] and rec[4] ~= '' and hash ~= '' and rec[4] ~= hash then
    out[i] = {'M', ''}
  elseif rec[1] == 'COMPLETED' then
    out[i] = {'C', rec[5] or '', rec[2] or '0'}
  else
    out[i] = {'I', rec[3] or '0'}
  end
end
return out
";

/// Completes every key: ARGV per key: data, expiration_s, ttl_ms.
const COMPLETE_LUA: &str = r"
for i, key in ipairs(KEYS) do
  local base = (i - 1) * 3
  redis.call('HSET', key, 'status', 'COMPLETED', 'data', ARGV[base + 1], 'expiration', ARGV[base + 2])
  redis.call('PEXPIRE', key, ARGV[base + 3])
end
return #KEYS
";

/// Releases every in-progress key.
const RELEASE_LUA: &str = r"
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'status') == 'INPROGRESS' then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
";

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

fn parse_claim(key: &str, value: &Value) -> Result<ClaimDetail, StoreError> {
    let Value::Array(pair) = value else {
        return Err(corrupt(key, format!("unexpected script reply {value:?}")));
    };
    let text = |value: Option<&Value>| -> Result<String, StoreError> {
        match value {
            Some(Value::BulkString(bytes)) => String::from_utf8(bytes.clone())
                .map_err(|_| corrupt(key, "stored value is not UTF-8")),
            Some(Value::SimpleString(text)) => Ok(text.clone()),
            other => Err(corrupt(key, format!("unexpected script reply {other:?}"))),
        }
    };
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
        let mut args = Vec::with_capacity(2 + 4 * keys.len());
        args.push(now.ms.to_string());
        args.push(now.secs.to_string());
        for request in &batch.unique {
            let until_ms = epoch_ms(request.in_progress_until);
            let expiration = in_progress_expiration(now, self.options.expiry, until_ms);
            args.push(request.payload_hash.clone().unwrap_or_default());
            args.push(until_ms.to_string());
            args.push(expiration.to_string());
            args.push(ttl_ms(expiration, now).to_string());
        }
        let reply = self
            .eval("claim", &self.claim, CLAIM_LUA, &keys, &args)
            .await?;
        let Value::Array(items) = reply else {
            return Err(corrupt(
                "<batch>",
                format!("unexpected script reply {reply:?}"),
            ));
        };
        if items.len() != batch.unique.len() {
            return Err(StoreError::ResultCount {
                backend: BACKEND,
                expected: batch.unique.len(),
                got: items.len(),
            });
        }
        let outcomes = batch
            .unique
            .iter()
            .zip(&items)
            .map(|(request, item)| parse_claim(&request.key, item))
            .collect::<Result<Vec<_>, _>>()?;
        batch.expand(BACKEND, outcomes)
    }

    async fn complete_many(&self, completions: &[Completion]) -> Result<(), StoreError> {
        if completions.is_empty() {
            return Ok(());
        }
        let now = Now::at(self.options.clock.now());
        let expiration = completed_expiration(now, self.options.expiry);
        let keys: Vec<String> = completions.iter().map(|c| self.redis_key(&c.key)).collect();
        let mut args = Vec::with_capacity(3 * keys.len());
        for completion in completions {
            args.push(completion.response.clone());
            args.push(expiration.to_string());
            args.push(ttl_ms(expiration, now).to_string());
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
}
