#![no_main]
//! Every signature-header parser.

use libfuzzer_sys::fuzz_target;
use switchyard_webhooks::{hubspot, parse_timestamp, standard, stripe};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = stripe::parse_signature_header(&text);
    let _ = standard::parse_signature_header(&text);
    let _ = hubspot::v3_source_uri(&text);
    let _ = parse_timestamp("fuzz", &text);
});
