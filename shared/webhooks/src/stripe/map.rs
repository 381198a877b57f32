//! Stripe-style body → contracts (pass-through with validation).

use crate::error::MapError;
use crate::mapped::{MapOptions, Mapped, Provider};
use crate::passthrough::{self, PassThrough};

/// Maps a parsed body; its own id (envelope `id` or event `id`) is the dedupe id.
///
/// # Errors
/// [`MapError::Missing`] without an id; [`MapError::Envelope`] when the payload is not a valid contract.
pub fn map(
    body: PassThrough,
    configured_type: Option<&str>,
    options: &MapOptions,
) -> Result<Mapped, MapError> {
    let id = body
        .body_id()
        .ok_or_else(|| MapError::missing("id", "the event id is the dedupe id"))?;
    passthrough::map(Provider::Stripe, &id, body, configured_type, options)
}
