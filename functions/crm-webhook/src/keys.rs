//! A provider's verifier settings built from a secret setting's keys: a
//! plain list, or a secret store reference whose values (current and, in a
//! Secrets Manager rotation, previous) are re-read after the TTL. The
//! verifier is rebuilt only when the values change; per request it costs a
//! lock and a pointer comparison.

use std::fmt;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use switchyard_config::ConfigError;
use switchyard_secrets::{Secret, SecretError, Values};
use switchyard_webhooks::InvalidSecret;

use crate::refusal::{Refusal, unavailable};

type Parse<A> = dyn Fn(&str) -> Result<A, InvalidSecret> + Send + Sync;

struct Inner<A> {
    secret: Secret,
    parse: Box<Parse<A>>,
    built: Mutex<Option<(Arc<Values>, Arc<A>)>>,
}

/// The keys of one provider, as the verifier `A` they build.
pub struct Keys<A> {
    inner: Arc<Inner<A>>,
}

impl<A> Clone for Keys<A> {
    fn clone(&self) -> Self {
        Keys {
            inner: self.inner.clone(),
        }
    }
}

impl<A> fmt::Debug for Keys<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keys({:?})", self.inner.secret)
    }
}

/// Why a request's keys could not be had.
#[derive(Debug)]
pub(crate) enum KeysError {
    /// The secret store: unreachable (transient), or the secret is gone.
    Secret(SecretError),
    /// The store's value does not parse as this provider's keys.
    Invalid(String, InvalidSecret),
}

impl From<KeysError> for Refusal {
    fn from(e: KeysError) -> Self {
        match e {
            KeysError::Secret(e) if e.is_transient() => unavailable(e.to_string(), 5),
            KeysError::Secret(e) => Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "secret_unavailable",
                e.to_string(),
            ),
            KeysError::Invalid(var, e) => Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "secret_invalid",
                format!("the value of {var} is not usable: {e}"),
            ),
        }
    }
}

impl<A: Send + Sync + 'static> Keys<A> {
    /// Keys of `secret`, built into the verifier by `parse` (from a
    /// comma-separated list). A plain value is parsed now.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the variable when a plain value does
    /// not parse.
    pub fn new(
        secret: Secret,
        parse: impl Fn(&str) -> Result<A, InvalidSecret> + Send + Sync + 'static,
    ) -> Result<Self, ConfigError> {
        let keys = Keys {
            inner: Arc::new(Inner {
                secret,
                parse: Box::new(parse),
                built: Mutex::new(None),
            }),
        };
        if keys.inner.secret.reference().is_none() {
            keys.now_or_build()?;
        }
        Ok(keys)
    }

    /// The variable the keys come from.
    pub fn var(&self) -> &str {
        self.inner.secret.var()
    }

    fn now_or_build(&self) -> Result<(), ConfigError> {
        // a plain secret's values are there without a store
        if let Some(values) = self.inner.secret.known() {
            self.build(values)
                .map_err(|e| ConfigError::invalid(self.var(), e))?;
        }
        Ok(())
    }

    /// The verifier last built (always there for a plain value).
    pub fn now(&self) -> Option<Arc<A>> {
        lock(&self.inner.built).as_ref().map(|(_, a)| a.clone())
    }

    /// The verifier for the keys now: every key of the current value and,
    /// while the store keeps it, of the previous one (unless that one does
    /// not parse: then it is left out).
    ///
    /// # Errors
    /// The store's error, or a current value that does not parse.
    pub(crate) async fn get(&self) -> Result<Arc<A>, KeysError> {
        let values = self
            .inner
            .secret
            .values()
            .await
            .map_err(KeysError::Secret)?;
        if let Some((seen, built)) = lock(&self.inner.built).as_ref() {
            if Arc::ptr_eq(seen, &values) {
                return Ok(built.clone());
            }
        }
        self.build(values)
            .map_err(|e| KeysError::Invalid(self.var().to_owned(), e))
    }

    /// Resolves and builds once (start-up).
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable (and the reference).
    pub async fn check(&self) -> Result<(), ConfigError> {
        match self.get().await {
            Ok(_) => Ok(()),
            Err(KeysError::Secret(e)) => Err(e.into()),
            Err(KeysError::Invalid(var, e)) => Err(ConfigError::invalid(var, e)),
        }
    }

    fn build(&self, values: Arc<Values>) -> Result<Arc<A>, InvalidSecret> {
        let mut list = values.current().to_owned();
        if let Some(previous) = values.previous().filter(|p| *p != values.current()) {
            if (self.inner.parse)(previous).is_ok() {
                list.push(',');
                list.push_str(previous);
            }
        }
        let built = Arc::new((self.inner.parse)(&list)?);
        *lock(&self.inner.built) = Some((values, built.clone()));
        Ok(built)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
