#![no_main]
//! The Dynamics `RemoteExecutionContext` parser and mapper.

use libfuzzer_sys::fuzz_target;
use switchyard_webhooks::{MapOptions, dynamics};

fuzz_target!(|data: &[u8]| {
    if let Ok(ctx) = dynamics::parse(data) {
        let _ = dynamics::map(&ctx, true, &MapOptions::default());
        let _ = dynamics::map(&ctx, false, &MapOptions::default());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = dynamics::parse_date(text);
    }
});
