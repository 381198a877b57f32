//! The two failures of this crate: a request that is not from the CRM
//! ([`VerifyError`]) and a verified request whose payload cannot be turned
//! into contracts ([`MapError`]). Messages name what is wrong and never echo
//! a secret, a signature or a key.

/// Why a request was not accepted as coming from the CRM. Every variant
/// means "answer 401": the request is not trusted, its body is not read further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header (or query parameter) the scheme needs is absent.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A header the scheme needs cannot be parsed.
    #[error("malformed {header}: {reason}")]
    Malformed {
        /// The header (or query parameter).
        header: &'static str,
        /// What is wrong with it (never its value).
        reason: &'static str,
    },
    /// The signed timestamp is older than the tolerance allows (a replay, or a
    /// delivery held too long).
    #[error("the signed timestamp is {age_secs} s old, over the {tolerance_secs} s tolerance")]
    Stale {
        /// How old it is, in seconds.
        age_secs: i64,
        /// The tolerance, in seconds.
        tolerance_secs: i64,
    },
    /// The signed timestamp is further in the future than the tolerance allows.
    #[error(
        "the signed timestamp is {ahead_secs} s in the future, over the {tolerance_secs} s tolerance"
    )]
    Future {
        /// How far ahead it is, in seconds.
        ahead_secs: i64,
        /// The tolerance, in seconds.
        tolerance_secs: i64,
    },
    /// No signature (or key) matched any of the active secrets.
    #[error("the {0} does not match any active secret")]
    Mismatch(&'static str),
    /// The request names an organisation that is not configured.
    #[error("organization id is not one of the configured organizations")]
    UnknownOrganization,
    /// The request uses a signature version this endpoint does not accept.
    #[error("signature version {0} is not accepted here")]
    Unsupported(String),
}

/// Why a verified payload could not be mapped to contracts. Every variant
/// but [`MapError::UnsupportedMediaType`] (415) means "answer 400": the
/// sender sent something this adapter cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// The body is empty.
    #[error("the request body is empty")]
    Empty,
    /// The body is not the JSON the provider documents.
    #[error("malformed JSON at `{path}`: {message}")]
    Json {
        /// The JSON path that failed (`.` for the root).
        path: String,
        /// What the parser said.
        message: String,
    },
    /// The body is not the XML the provider documents.
    #[error("malformed XML: {0}")]
    Xml(String),
    /// A field the mapping needs is absent.
    #[error("missing `{field}`: {hint}")]
    Missing {
        /// The provider's field name.
        field: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// A field is present but unusable.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The provider's field name.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request carries more events than the provider ever sends at once.
    #[error("{count} events in one request, over the maximum of {max}")]
    TooMany {
        /// How many.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// Dynamics flagged the message as too large and stripped the entity
    /// from it (`x-ms-dynamics-msg-size-exceeded`).
    #[error(
        "Dynamics removed the entity because the execution context exceeded 256 KB \
         (x-ms-dynamics-msg-size-exceeded): register the step with filtering attributes \
         or a smaller entity image so the payload fits"
    )]
    SizeExceeded,
    /// The mapped event breaks a rule of its contract.
    #[error("the mapped {event_type} is invalid at `{path}`: {message}")]
    Contract {
        /// The contract type.
        event_type: &'static str,
        /// The path below `data`.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The body's media type is not one this provider reads (answer 415).
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// A pass-through envelope failed contract decoding.
    #[error("the event envelope is not a valid contract: {0}")]
    Envelope(String),
}

impl MapError {
    pub(crate) fn json(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = err.path().to_string();
        let inner = err.into_inner();
        // serde_json's messages name types and positions, never the input,
        // except for unknown-variant errors, which quote the offending tag.
        MapError::Json {
            path,
            message: inner.to_string(),
        }
    }

    pub(crate) fn missing(field: impl Into<String>, hint: &'static str) -> Self {
        MapError::Missing {
            field: field.into(),
            hint,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        MapError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
