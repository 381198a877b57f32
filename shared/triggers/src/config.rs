//! Reading settings from the environment: a missing or malformed variable
//! is an error that names it, never a panic.

use std::str::FromStr;

/// A setting could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("missing setting: environment variable {var} is not set ({what})")]
    Missing {
        /// The variable.
        var: String,
        /// What it is for.
        what: &'static str,
    },
    /// A variable is set to something unusable.
    #[error("invalid setting {var}={value:?}: {reason}")]
    Invalid {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: String,
    },
}

/// Reads settings from a source of variables (the process environment, or a
/// map in tests).
pub struct Env<F = fn(&str) -> Option<String>> {
    lookup: F,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Env {
            lookup: |k| std::env::var(k).ok(),
        }
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// Variables from a lookup function.
    pub fn from_fn(lookup: F) -> Self {
        Env { lookup }
    }

    /// An optional variable; empty counts as unset.
    pub fn optional(&self, var: &str) -> Option<String> {
        (self.lookup)(var).filter(|v| !v.trim().is_empty())
    }

    /// A required variable.
    pub fn required(&self, var: &str, what: &'static str) -> Result<String, ConfigError> {
        self.optional(var).ok_or_else(|| ConfigError::Missing {
            var: var.to_owned(),
            what,
        })
    }

    /// An optional parsed variable.
    pub fn parse<T: FromStr>(&self, var: &str) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.optional(var) {
            None => Ok(None),
            Some(value) => {
                value
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|e: T::Err| ConfigError::Invalid {
                        var: var.to_owned(),
                        value,
                        reason: e.to_string(),
                    })
            }
        }
    }
}
