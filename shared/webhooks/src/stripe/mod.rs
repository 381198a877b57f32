//! Stripe-style signatures: `Stripe-Signature: t=<secs>,v1=<hex>[,v1=...]`,
//! hex HMAC-SHA256 of `t.body` under the secret string as it is (Stripe
//! does not decode `whsec_` secrets), tolerance 5 minutes.
//!
//! The body is a contract envelope, or a Stripe-style event object
//! `{"id", "type", "created", "data": {"object": <payload>}}`; its `id` is
//! the dedupe id.

mod map;
mod model;
mod verify;

pub use map::map;
pub use model::parse;
pub use verify::{
    SIGNATURE_HEADER, StripeAuth, StripeSignature, parse_signature_header, sign, verify,
};
