#![no_main]
//! The HubSpot event-array parser and mapper.

use libfuzzer_sys::fuzz_target;
use switchyard_webhooks::hubspot;

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = hubspot::parse(data) {
        let _ = hubspot::map(&events);
    }
});
