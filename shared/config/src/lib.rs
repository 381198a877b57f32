#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A setting is missing or unusable, or a component could not be built
/// from the settings. Every variant names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("missing setting: environment variable {var} is not set ({what})")]
    Missing {
        /// The variable (and its per-function form, when there is one).
        var: String,
        /// What it is for.
        what: String,
    },
    /// A variable holds something unusable. The reason repeats the value
    /// only where it cannot be a secret.
    #[error("invalid setting {var}: {reason}")]
    Invalid {
        /// The variable.
        var: String,
        /// What is wrong.
        reason: String,
    },
    /// A component could not be built from valid settings (a store that
    /// does not open, a client that cannot be created).
    #[error("cannot build {what}: {reason}")]
    Unavailable {
        /// The component.
        what: String,
        /// Why.
        reason: String,
    },
}

impl ConfigError {
    /// A required variable is unset.
    pub fn missing(var: impl Into<String>, what: impl Into<String>) -> Self {
        ConfigError::Missing {
            var: var.into(),
            what: what.into(),
        }
    }

    /// A variable is unusable.
    pub fn invalid(var: impl Into<String>, reason: impl fmt::Display) -> Self {
        ConfigError::Invalid {
            var: var.into(),
            reason: reason.to_string(),
        }
    }

    /// A component could not be built.
    pub fn unavailable(what: impl Into<String>, reason: impl fmt::Display) -> Self {
        ConfigError::Unavailable {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where settings come from: the process environment or a map, optionally
/// scoped to one function, with optional fallbacks. Cheap to clone.
#[derive(Clone)]
pub struct Settings {
    source: Lookup,
    scope: Option<String>,
    fallbacks: Arc<BTreeMap<String, String>>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("scope", &self.scope)
            .field("fallbacks", &self.fallbacks.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The per-function prefix of `function`: `erp-sync` → `ERP_SYNC__`.
pub fn scope_prefix(function: &str) -> String {
    let mut prefix: String = function
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    prefix.push_str("__");
    prefix
}

impl Settings {
    /// The process environment.
    pub fn process() -> Self {
        Settings::from_fn(|var| std::env::var(var).ok())
    }

    /// Variables from a lookup function.
    pub fn from_fn(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Settings {
            source: Arc::new(lookup),
            scope: None,
            fallbacks: Arc::new(BTreeMap::new()),
        }
    }

    /// Variables from pairs (tests, the local stack).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let map: BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Settings::from_fn(move |var| map.get(var).cloned())
    }

    /// The same variables read for `function`: its own `PREFIX__VAR` wins
    /// over the shared `VAR`.
    #[must_use]
    pub fn scoped(&self, function: &str) -> Self {
        Settings {
            source: self.source.clone(),
            scope: Some(scope_prefix(function)),
            fallbacks: self.fallbacks.clone(),
        }
    }

    /// Values used when a variable is unset everywhere (local defaults).
    #[must_use]
    pub fn with_fallbacks<K: Into<String>, V: Into<String>>(
        &self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut fallbacks = (*self.fallbacks).clone();
        fallbacks.extend(pairs.into_iter().map(|(k, v)| (k.into(), v.into())));
        Settings {
            source: self.source.clone(),
            scope: self.scope.clone(),
            fallbacks: Arc::new(fallbacks),
        }
    }

    fn raw(&self, var: &str) -> Option<String> {
        (self.source)(var).filter(|v| !v.trim().is_empty())
    }

    /// The variable that holds `var`'s value (its per-function form when
    /// that one is set) and the value.
    fn find(&self, var: &str) -> Option<(String, String)> {
        if let Some(prefix) = &self.scope {
            let scoped = format!("{prefix}{var}");
            if let Some(v) = self.raw(&scoped) {
                return Some((scoped, v));
            }
        }
        self.raw(var)
            .map(|v| (var.to_owned(), v))
            .or_else(|| self.fallbacks.get(var).map(|v| (var.to_owned(), v.clone())))
    }

    /// How a variable is named in errors: `VAR (or PREFIX__VAR)` when scoped.
    pub fn describe(&self, var: &str) -> String {
        match &self.scope {
            Some(prefix) => format!("{var} (or {prefix}{var})"),
            None => var.to_owned(),
        }
    }

    /// An optional variable, trimmed; empty counts as unset.
    pub fn optional(&self, var: &str) -> Option<String> {
        self.find(var).map(|(_, v)| v.trim().to_owned())
    }

    /// A required variable.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] naming it.
    pub fn required(&self, var: &str, what: &str) -> Result<String, ConfigError> {
        self.optional(var)
            .ok_or_else(|| ConfigError::missing(self.describe(var), what))
    }

    /// An optional parsed variable. The error repeats the value: do not use
    /// this for secrets.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the variable that holds the value.
    pub fn parse<T: FromStr>(&self, var: &str) -> Result<Option<T>, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.find(var) {
            None => Ok(None),
            Some((name, value)) => value
                .trim()
                .parse()
                .map(Some)
                .map_err(|e: T::Err| ConfigError::invalid(name, format!("{value:?}: {e}"))),
        }
    }

    /// A parsed variable with a default.
    ///
    /// # Errors
    /// As [`Settings::parse`].
    pub fn parse_or<T: FromStr>(&self, var: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        Ok(self.parse(var)?.unwrap_or(default))
    }

    /// A required parsed variable.
    ///
    /// # Errors
    /// As [`Settings::required`] and [`Settings::parse`].
    pub fn parse_required<T: FromStr>(&self, var: &str, what: &str) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        self.parse(var)?
            .ok_or_else(|| ConfigError::missing(self.describe(var), what))
    }

    /// The variable that holds `var`'s value, for error messages about a
    /// value this crate did not parse (e.g. a secret).
    pub fn source_of(&self, var: &str) -> String {
        self.find(var)
            .map(|(name, _)| name)
            .unwrap_or_else(|| var.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_unset_and_missing_ones_are_named() {
        let s = Settings::from_pairs([("A", "  ")]);
        assert_eq!(s.optional("A"), None);
        let err = s.required("A", "the a").unwrap_err();
        assert_eq!(err, ConfigError::missing("A", "the a"));
        let err = s.scoped("erp-sync").required("A", "the a").unwrap_err();
        assert!(err.to_string().contains("A (or ERP_SYNC__A)"), "{err}");
    }

    #[test]
    fn the_scoped_value_wins_and_its_variable_is_named_when_invalid() {
        let s = Settings::from_pairs([("N", "5"), ("AUDIT_LOG__N", "x")]);
        assert_eq!(s.parse_or::<u32>("N", 1).unwrap(), 5);
        let err = s.scoped("audit-log").parse::<u32>("N").unwrap_err();
        assert!(err.to_string().contains("AUDIT_LOG__N"), "{err}");
        assert_eq!(s.scoped("erp-sync").parse_or::<u32>("N", 1).unwrap(), 5);
    }

    #[test]
    fn fallbacks_apply_only_when_unset() {
        let s = Settings::from_pairs([("A", "set")]).with_fallbacks([("A", "f"), ("B", "f")]);
        assert_eq!(s.optional("A").as_deref(), Some("set"));
        assert_eq!(s.optional("B").as_deref(), Some("f"));
        assert_eq!(s.scope_free_prefix(), None);
    }

    impl Settings {
        fn scope_free_prefix(&self) -> Option<&str> {
            self.scope.as_deref()
        }
    }
}
