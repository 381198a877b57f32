#![no_main]
//! The Standard Webhooks and Stripe-style body parsers and mappers.

use libfuzzer_sys::fuzz_target;
use switchyard_webhooks::{MapOptions, standard, stripe};

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = standard::parse(data) {
        let _ = standard::map("fuzz", body, Some("order.placed"), &MapOptions::default());
    }
    if let Ok(body) = stripe::parse(data) {
        let _ = stripe::map(body, None, &MapOptions::default());
    }
});
