//! Standard Webhooks body → contracts (pass-through with validation).

use crate::error::MapError;
use crate::mapped::{MapOptions, Mapped, Provider};
use crate::passthrough::{self, PassThrough};

/// Maps a parsed body delivered with `webhook_id`. `configured_type` is the
/// contract a wrapper's payload is read as when its `type` is not a contract type.
///
/// # Errors
/// [`MapError::Envelope`] when the payload is not a valid contract.
pub fn map(
    webhook_id: &str,
    body: PassThrough,
    configured_type: Option<&str>,
    options: &MapOptions,
) -> Result<Mapped, MapError> {
    passthrough::map(
        Provider::Standard,
        webhook_id,
        body,
        configured_type,
        options,
    )
}
