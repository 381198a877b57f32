//! Fixtures and decode options shared by the contracts tests.
#![allow(dead_code, unreachable_pub)]

use switchyard_contracts::DecodeOptions;

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn eur() -> DecodeOptions {
    DecodeOptions {
        order_placed_v1_currency: Some("EUR".parse().unwrap()),
    }
}
