//! The ordering guard on Redis: one script call for the whole batch
//! ([`ADMIT_LUA`]), each key read, compared and advanced atomically.

use redis::Value;

use super::scripts::ADMIT_LUA;
use super::{BACKEND, RedisStore, corrupt, reply_text as text, ttl_ms};
use crate::error::StoreError;
use crate::position::{PositionClaim, PositionOutcome, StoredPosition, position_text};
use crate::record::Now;

fn parse(key: &str, reply: &Value) -> Result<PositionOutcome, StoreError> {
    let Value::Array(parts) = reply else {
        return Err(corrupt(key, format!("unexpected script reply {reply:?}")));
    };
    match text(key, parts.first())?.as_str() {
        "A" => Ok(PositionOutcome::Admitted),
        "S" => {
            let newest = text(key, parts.get(1))?;
            Ok(PositionOutcome::Stale {
                newest: newest
                    .parse()
                    .map_err(|_| corrupt(key, format!("position {newest:?} is not a number")))?,
                newest_event: text(key, parts.get(2))?,
            })
        }
        _ => Err(corrupt(key, "not a position record")),
    }
}

impl RedisStore {
    pub(super) async fn admit(
        &self,
        claims: &[PositionClaim],
    ) -> Result<Vec<PositionOutcome>, StoreError> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let now = Now::at(self.options.clock.now());
        let keys: Vec<String> = claims.iter().map(|c| self.redis_key(&c.key)).collect();
        let mut args = Vec::with_capacity(1 + 4 * claims.len());
        args.push(now.secs.to_string());
        for claim in claims {
            let record = StoredPosition::for_claim(claim);
            args.push(position_text(claim.position));
            args.push(record.expiration.to_string());
            args.push(record.event_id);
            args.push(ttl_ms(record.expiration, now).to_string());
        }
        let reply = self
            .eval("admit positions", &self.admit, ADMIT_LUA, &keys, &args)
            .await?;
        let Value::Array(items) = reply else {
            return Err(corrupt(
                "<batch>",
                format!("unexpected script reply {reply:?}"),
            ));
        };
        if items.len() != claims.len() {
            return Err(StoreError::ResultCount {
                backend: BACKEND,
                expected: claims.len(),
                got: items.len(),
            });
        }
        claims
            .iter()
            .zip(&items)
            .map(|(claim, item)| parse(&claim.key, item))
            .collect()
    }
}
