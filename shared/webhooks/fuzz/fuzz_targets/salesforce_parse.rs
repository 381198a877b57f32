#![no_main]
//! The Salesforce outbound-message (SOAP) parser and mapper.

use libfuzzer_sys::fuzz_target;
use switchyard_webhooks::{MapOptions, salesforce};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = salesforce::parse(data) {
        let _ = salesforce::map(&message, &MapOptions::default());
    }
});
