//! A stable-Rust stand-in for the cargo-fuzz targets (fuzz/): a few thousand
//! random and mutated inputs through every payload parser, mapper and
//! signature-header parser. Each must return a value or an error — never
//! panic. A tiny xorshift generator keeps it dependency-free and reproducible.

use chrono::DateTime;
use http::HeaderMap;
use switchyard_webhooks::{
    MapOptions, SignedRequest, cloudevents, dynamics, hubspot, salesforce, standard, stripe,
};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SEEDS: &[&str] = &[
    "dynamics-salesorder-create.json",
    "dynamics-contact-update.json",
    "dynamics-contact-update-size-exceeded.json",
    "hubspot-contact-creation.json",
    "hubspot-contact-propertychange.json",
    "hubspot-deal-creation.json",
    "salesforce-contact-notification.xml",
    "salesforce-order-notification.xml",
    "standard-order-placed.json",
    "standard-envelope-customer-updated.json",
    "stripe-order-placed.json",
    "cloudevents-batch-orders.json",
];

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"<",
    b">",
    b"</",
    b"/>",
    b"&amp;",
    b"&#0;",
    b"&#x110000;",
    b"&bogus;",
    b"<!DOCTYPE x>",
    b"<![CDATA[",
    b"xsi:nil=\"true\"",
    b"/Date(",
    b")/",
    b"+0000",
    b"\\u0000",
    b"\xff\xfe",
    b"%",
    b"=",
    b"v1,",
    b"t=",
];

fn mutate(rng: &mut XorShift, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(5) {
            0 if !data.is_empty() => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, t.iter().copied());
            }
            2 if at < data.len() => data[at] = (rng.next() & 0xff) as u8,
            3 => data.truncate(at),
            _ => {
                let n = rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| (rng.next() & 0xff) as u8).collect();
                data.splice(at..at, bytes);
            }
        }
    }
    data
}

fn all_parsers(input: &[u8]) {
    let options = MapOptions {
        default_currency: Some("EUR".parse().unwrap()),
        ..MapOptions::default()
    };
    if let Ok(ctx) = dynamics::parse(input) {
        let _ = dynamics::map(&ctx, true, &options);
        let _ = dynamics::map(&ctx, false, &options);
    }
    if let Ok(events) = hubspot::parse(input) {
        let _ = hubspot::map(&events);
    }
    if let Ok(msg) = salesforce::parse(input) {
        let _ = salesforce::map(&msg, &options);
    }
    if let Ok(body) = standard::parse(input) {
        let _ = standard::map("m", body, Some("order.placed"), &options);
    }
    if let Ok(body) = stripe::parse(input) {
        let _ = stripe::map(body, None, &options);
    }
    // CloudEvents in every content mode, the body as random as the rest
    for content_type in [
        cloudevents::STRUCTURED_CONTENT_TYPE,
        cloudevents::BATCH_CONTENT_TYPE,
        "application/json",
    ] {
        let mut h = HeaderMap::new();
        h.insert("content-type", content_type.parse().unwrap());
        if content_type == "application/json" {
            for (k, v) in [
                ("ce-specversion", "1.0"),
                ("ce-id", "1"),
                ("ce-source", "/s"),
                ("ce-type", "order.placed"),
            ] {
                h.insert(k, v.parse().unwrap());
            }
        }
        let req = SignedRequest {
            method: "POST",
            uri: "https://h/x",
            headers: &h,
            body: input,
        };
        if let Ok(body) = cloudevents::parse(&req) {
            let _ = cloudevents::map(body, &options);
        }
    }
    let text = String::from_utf8_lossy(input);
    let _ = dynamics::parse_date(&text);
    let _ = stripe::parse_signature_header(&text);
    let _ = standard::parse_signature_header(&text);
    let _ = hubspot::v3_source_uri(&text);
    let _ = switchyard_webhooks::percent_decode(input);
    // and through the verifiers, header values as random as the body
    if let Ok(value) = http::HeaderValue::from_bytes(input) {
        let mut h = HeaderMap::new();
        for name in [
            "stripe-signature",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "x-hubspot-signature-v3",
            "x-hubspot-request-timestamp",
            "x-switchyard-key",
            "authorization",
            "webhook-request-origin",
            "webhook-request-rate",
            "ce-specversion",
            "ce-subject",
        ] {
            h.insert(name, value.clone());
        }
        let req = SignedRequest {
            method: "POST",
            uri: "https://h/x?code=%zz",
            headers: &h,
            body: input,
        };
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let secrets = switchyard_webhooks::Secrets::parse_plain("k").unwrap();
        let _ = stripe::verify(
            &req,
            &stripe::StripeAuth {
                secrets: secrets.clone(),
            },
            now,
        );
        let _ = standard::verify(
            &req,
            &standard::StandardAuth {
                keys: secrets.clone(),
            },
            now,
        );
        let _ = hubspot::verify(
            &req,
            &hubspot::HubSpotAuth {
                secrets: secrets.clone(),
                accept_legacy: true,
            },
            now,
        );
        let _ = dynamics::verify(
            &req,
            &dynamics::DynamicsAuth {
                header: http::HeaderName::from_static("x-switchyard-key"),
                keys: secrets.clone(),
            },
        );
        let auth = cloudevents::CloudEventsAuth {
            origins: cloudevents::AllowedOrigins::parse("*"),
            ..cloudevents::CloudEventsAuth::parse("k").unwrap()
        };
        let _ = cloudevents::verify(&req, &auth);
        let _ = cloudevents::handshake(&req, &auth);
        if let Ok(body) = cloudevents::parse(&req) {
            let _ = cloudevents::map(body, &MapOptions::default());
        }
    }
}

#[test]
fn thousands_of_mutated_inputs_never_panic() {
    let seeds: Vec<Vec<u8>> = SEEDS
        .iter()
        .map(|s| {
            std::fs::read(format!("{}/tests/fixtures/{s}", env!("CARGO_MANIFEST_DIR"))).unwrap()
        })
        .collect();
    let mut rng = XorShift(0x5eed_cafe_f00d_d00d);
    let mut n = 0;
    for round in 0..400 {
        for seed in &seeds {
            all_parsers(&mutate(&mut rng, seed));
            n += 1;
        }
        // and pure noise
        let len = rng.below(64 + round);
        let noise: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
        all_parsers(&noise);
        n += 1;
    }
    assert!(n >= 4_000, "{n}");
}

#[test]
fn header_parsers_take_random_tokens() {
    let mut rng = XorShift(42);
    for _ in 0..3_000 {
        let mut header = Vec::new();
        for _ in 0..rng.below(6) {
            header.extend_from_slice(TOKENS[rng.below(TOKENS.len())]);
            header.extend_from_slice((rng.next() % 10_000_000_000).to_string().as_bytes());
        }
        let text = String::from_utf8_lossy(&header);
        let _ = stripe::parse_signature_header(&text);
        let _ = standard::parse_signature_header(&text);
        let _ = dynamics::parse_date(&text);
        let _ = switchyard_webhooks::parse_timestamp("t", &text);
    }
}
