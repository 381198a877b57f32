//! The bad-input matrix: every provider × bad signature, missing header,
//! stale and future timestamp, wrong secret, truncated body, malformed
//! JSON/XML, oversize, wrong content type, unmapped entity and duplicate
//! delivery. Each case asserts the status, that the answer echoes no
//! secret, and that nothing was published.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use common::*;

const STALE_SECS: i64 = 301;
/// One byte over the default 1 MiB limit.
const OVERSIZE: usize = 1024 * 1024 + 1;

fn oversize_json() -> Vec<u8> {
    let mut body = b"[".to_vec();
    body.resize(OVERSIZE - 1, b' ');
    body.push(b']');
    body
}

fn with_content_type(mut request: Request<Body>, value: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert("content-type", value.parse().unwrap());
    request
}

fn without_header(mut request: Request<Body>, name: &str) -> Request<Body> {
    assert!(request.headers_mut().remove(name).is_some(), "{name}");
    request
}

fn truncated(body: &[u8]) -> Vec<u8> {
    body[..body.len() / 2].to_vec()
}

fn dynamics_with_key(body: Vec<u8>, key: &str) -> Request<Body> {
    let mut r = dynamics(body);
    r.headers_mut()
        .insert("x-switchyard-key", key.parse().unwrap());
    r
}

fn dynamics_query(code: &str) -> Request<Body> {
    Request::post(format!("/webhooks/dynamics?code={code}"))
        .header("content-type", "application/json")
        .body(Body::from(fixture("dynamics-salesorder-create.json")))
        .unwrap()
}

fn dynamics_size_exceeded() -> Request<Body> {
    let mut r = dynamics(fixture("dynamics-contact-update-size-exceeded.json"));
    r.headers_mut()
        .insert("x-ms-dynamics-msg-size-exceeded", "true".parse().unwrap());
    r
}

fn hubspot_tampered() -> Request<Body> {
    let mut r = hubspot(fixture("hubspot-contact-creation.json"));
    r.headers_mut().insert(
        "x-hubspot-signature-v3",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
            .parse()
            .unwrap(),
    );
    r
}

fn hubspot_v2_not_accepted() -> Request<Body> {
    let body = fixture("hubspot-contact-creation.json");
    let sig = switchyard_webhooks::hubspot::sign_v2(
        HUBSPOT_SECRET.as_bytes(),
        "POST",
        &format!("{BASE_URL}/webhooks/hubspot"),
        &body,
    );
    Request::post("/webhooks/hubspot")
        .header("content-type", "application/json")
        .header("x-hubspot-signature", sig)
        .header("x-hubspot-signature-version", "v2")
        .body(Body::from(body))
        .unwrap()
}

fn hubspot_other_url() -> Request<Body> {
    let body = fixture("hubspot-contact-creation.json");
    let ts = now_ms().to_string();
    let sig = switchyard_webhooks::hubspot::sign_v3(
        HUBSPOT_SECRET.as_bytes(),
        "POST",
        "https://attacker.example/webhooks/hubspot",
        &body,
        &ts,
    );
    Request::post("/webhooks/hubspot")
        .header("content-type", "application/json")
        .header("x-hubspot-signature-v3", sig)
        .header("x-hubspot-request-timestamp", ts)
        .body(Body::from(body))
        .unwrap()
}

fn standard_tampered() -> Request<Body> {
    let mut r = standard_req("msg_bad", fixture("standard-order-placed.json"));
    r.headers_mut().insert(
        "webhook-signature",
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
            .parse()
            .unwrap(),
    );
    r
}

fn stripe_tampered() -> Request<Body> {
    let mut r = stripe_req(fixture("stripe-order-placed.json"));
    let t = Utc::now().timestamp();
    r.headers_mut().insert(
        "stripe-signature",
        format!("t={t},v1={}", "0".repeat(64)).parse().unwrap(),
    );
    r
}

fn now() -> i64 {
    Utc::now().timestamp()
}

type Case = (&'static str, fn() -> Request<Body>, StatusCode);

fn cases() -> Vec<Case> {
    use StatusCode as S;
    vec![
        // Dynamics 365
        (
            "dynamics: wrong key header",
            || dynamics_with_key(fixture("dynamics-salesorder-create.json"), "wrong"),
            S::UNAUTHORIZED,
        ),
        (
            "dynamics: missing key",
            || {
                without_header(
                    dynamics(fixture("dynamics-salesorder-create.json")),
                    "x-switchyard-key",
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "dynamics: wrong ?code",
            || dynamics_query("wrong"),
            S::UNAUTHORIZED,
        ),
        (
            "dynamics: key of another tenant (wrong secret)",
            || dynamics_with_key(fixture("dynamics-salesorder-create.json"), "dyn-key-new "),
            S::UNAUTHORIZED,
        ),
        (
            "dynamics: truncated body",
            || dynamics(truncated(&fixture("dynamics-salesorder-create.json"))),
            S::BAD_REQUEST,
        ),
        (
            "dynamics: malformed JSON",
            || dynamics(b"{\"MessageName\": Create}".to_vec()),
            S::BAD_REQUEST,
        ),
        (
            "dynamics: not a context",
            || dynamics(b"[1,2,3]".to_vec()),
            S::BAD_REQUEST,
        ),
        (
            "dynamics: bad OperationCreatedOn",
            || {
                dynamics(edit(
                    &fixture("dynamics-salesorder-create.json"),
                    "\\/Date(1716808800000+0000)\\/",
                    "yesterday",
                ))
            },
            S::BAD_REQUEST,
        ),
        (
            "dynamics: oversize",
            || dynamics(oversize_json()),
            S::PAYLOAD_TOO_LARGE,
        ),
        (
            "dynamics: wrong content type",
            || {
                with_content_type(
                    dynamics(fixture("dynamics-salesorder-create.json")),
                    "text/plain",
                )
            },
            S::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "dynamics: unmapped entity",
            || {
                dynamics(edit(
                    &fixture("dynamics-salesorder-create.json"),
                    "\"PrimaryEntityName\": \"salesorder\"",
                    "\"PrimaryEntityName\": \"lead\"",
                ))
            },
            S::OK,
        ),
        (
            "dynamics: message size exceeded",
            dynamics_size_exceeded,
            S::BAD_REQUEST,
        ),
        (
            "dynamics: order without customer",
            || {
                dynamics(edit(
                    &fixture("dynamics-salesorder-create.json"),
                    "\"customerid\"",
                    "\"parentcustomerid\"",
                ))
            },
            S::BAD_REQUEST,
        ),
        // HubSpot
        ("hubspot: bad signature", hubspot_tampered, S::UNAUTHORIZED),
        (
            "hubspot: missing signature",
            || {
                without_header(
                    hubspot(fixture("hubspot-contact-creation.json")),
                    "x-hubspot-signature-v3",
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "hubspot: missing timestamp",
            || {
                without_header(
                    hubspot(fixture("hubspot-contact-creation.json")),
                    "x-hubspot-request-timestamp",
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "hubspot: stale timestamp",
            || {
                hubspot_signed(
                    fixture("hubspot-contact-creation.json"),
                    HUBSPOT_SECRET,
                    now_ms() - STALE_SECS * 1000,
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "hubspot: future timestamp",
            || {
                hubspot_signed(
                    fixture("hubspot-contact-creation.json"),
                    HUBSPOT_SECRET,
                    now_ms() + STALE_SECS * 1000,
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "hubspot: wrong secret",
            || {
                hubspot_signed(
                    fixture("hubspot-contact-creation.json"),
                    "not-the-secret",
                    now_ms(),
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "hubspot: signed for another URL",
            hubspot_other_url,
            S::UNAUTHORIZED,
        ),
        (
            "hubspot: v2 signature not accepted",
            hubspot_v2_not_accepted,
            S::UNAUTHORIZED,
        ),
        (
            "hubspot: truncated body",
            || hubspot(truncated(&fixture("hubspot-contact-creation.json"))),
            S::BAD_REQUEST,
        ),
        (
            "hubspot: malformed JSON",
            || hubspot(b"[{\"eventId\": }]".to_vec()),
            S::BAD_REQUEST,
        ),
        (
            "hubspot: object instead of array",
            || hubspot(b"{\"eventId\": 1}".to_vec()),
            S::BAD_REQUEST,
        ),
        (
            "hubspot: 101 events",
            || {
                let one = r#"{"eventId":1,"portalId":1,"occurredAt":1,"subscriptionType":"deal.creation","objectId":1}"#;
                hubspot(format!("[{}]", vec![one; 101].join(",")).into_bytes())
            },
            S::BAD_REQUEST,
        ),
        (
            "hubspot: oversize",
            || hubspot(oversize_json()),
            S::PAYLOAD_TOO_LARGE,
        ),
        (
            "hubspot: wrong content type",
            || {
                with_content_type(
                    hubspot(fixture("hubspot-contact-creation.json")),
                    "application/x-www-form-urlencoded",
                )
            },
            S::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "hubspot: unmapped subscription",
            || hubspot(fixture("hubspot-deal-creation.json")),
            S::OK,
        ),
        // Salesforce
        (
            "salesforce: unknown organization",
            || {
                salesforce(edit(
                    &fixture("salesforce-contact-notification.xml"),
                    "00D5e000000AbCdEAF",
                    "00D5e000000ZzZzEAF",
                ))
            },
            S::UNAUTHORIZED,
        ),
        (
            "salesforce: missing OrganizationId",
            || {
                salesforce(edit(
                    &fixture("salesforce-contact-notification.xml"),
                    "<OrganizationId>00D5e000000AbCdEAF</OrganizationId>",
                    "",
                ))
            },
            S::UNAUTHORIZED,
        ),
        (
            "salesforce: truncated body",
            || salesforce(truncated(&fixture("salesforce-contact-notification.xml"))),
            S::BAD_REQUEST,
        ),
        (
            "salesforce: malformed XML",
            || {
                salesforce(
                    b"<soapenv:Envelope><soapenv:Body><notifications></soapenv:Body>".to_vec(),
                )
            },
            S::BAD_REQUEST,
        ),
        (
            "salesforce: DOCTYPE refused",
            || {
                salesforce(
                    b"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"boom\">]><x>&e;</x>"
                        .to_vec(),
                )
            },
            S::BAD_REQUEST,
        ),
        (
            "salesforce: not SOAP",
            || salesforce(b"<order><id>1</id></order>".to_vec()),
            S::BAD_REQUEST,
        ),
        (
            "salesforce: order without account",
            || {
                salesforce(edit(
                    &fixture("salesforce-order-notification.xml"),
                    "<sf:AccountId>0015e00000AccAAAS</sf:AccountId>",
                    "",
                ))
            },
            S::BAD_REQUEST,
        ),
        (
            "salesforce: oversize",
            || salesforce(vec![b' '; OVERSIZE]),
            S::PAYLOAD_TOO_LARGE,
        ),
        (
            "salesforce: wrong content type",
            || {
                with_content_type(
                    salesforce(fixture("salesforce-contact-notification.xml")),
                    "application/json",
                )
            },
            S::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "salesforce: unmapped sObject",
            || {
                salesforce(edit(
                    &fixture("salesforce-contact-notification.xml"),
                    "sf:Contact",
                    "sf:Lead",
                ))
            },
            S::OK,
        ),
        // Standard Webhooks
        (
            "standard: bad signature",
            standard_tampered,
            S::UNAUTHORIZED,
        ),
        (
            "standard: missing webhook-id",
            || {
                without_header(
                    standard_req("msg_1", fixture("standard-order-placed.json")),
                    "webhook-id",
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "standard: missing webhook-signature",
            || {
                without_header(
                    standard_req("msg_1", fixture("standard-order-placed.json")),
                    "webhook-signature",
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "standard: missing webhook-timestamp",
            || {
                without_header(
                    standard_req("msg_1", fixture("standard-order-placed.json")),
                    "webhook-timestamp",
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "standard: stale timestamp",
            || {
                standard_signed(
                    "msg_1",
                    fixture("standard-order-placed.json"),
                    &standard_key(),
                    now() - STALE_SECS,
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "standard: future timestamp",
            || {
                standard_signed(
                    "msg_1",
                    fixture("standard-order-placed.json"),
                    &standard_key(),
                    now() + STALE_SECS,
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "standard: wrong secret",
            || {
                standard_signed(
                    "msg_1",
                    fixture("standard-order-placed.json"),
                    b"another key",
                    now(),
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "standard: signature of another id",
            || {
                let mut r = standard_req("msg_1", fixture("standard-order-placed.json"));
                r.headers_mut()
                    .insert("webhook-id", "msg_2".parse().unwrap());
                r
            },
            S::UNAUTHORIZED,
        ),
        (
            "standard: truncated body",
            || standard_req("msg_1", truncated(&fixture("standard-order-placed.json"))),
            S::BAD_REQUEST,
        ),
        (
            "standard: malformed JSON",
            || standard_req("msg_1", b"{\"type\":".to_vec()),
            S::BAD_REQUEST,
        ),
        (
            "standard: contract broken",
            || {
                standard_req(
                    "msg_1",
                    edit(
                        &fixture("standard-order-placed.json"),
                        "\"total\":\"1000.00\"",
                        "\"total\":\"999.00\"",
                    ),
                )
            },
            S::BAD_REQUEST,
        ),
        (
            "standard: invalid envelope",
            || {
                standard_req(
                    "msg_1",
                    edit(
                        &fixture("standard-envelope-customer-updated.json"),
                        "\"dataversion\":1",
                        "\"dataversion\":\"one\"",
                    ),
                )
            },
            S::BAD_REQUEST,
        ),
        (
            "standard: oversize",
            || standard_req("msg_1", oversize_json()),
            S::PAYLOAD_TOO_LARGE,
        ),
        (
            "standard: wrong content type",
            || {
                with_content_type(
                    standard_req("msg_1", fixture("standard-order-placed.json")),
                    "text/xml",
                )
            },
            S::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "standard: unmapped type",
            || {
                standard_req(
                    "msg_1",
                    edit(
                        &fixture("standard-order-placed.json"),
                        "\"order.placed\"",
                        "\"invoice.paid\"",
                    ),
                )
            },
            S::OK,
        ),
        // Stripe-style
        ("stripe: bad signature", stripe_tampered, S::UNAUTHORIZED),
        (
            "stripe: missing header",
            || {
                without_header(
                    stripe_req(fixture("stripe-order-placed.json")),
                    "stripe-signature",
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "stripe: header without t",
            || {
                let mut r = stripe_req(fixture("stripe-order-placed.json"));
                r.headers_mut().insert(
                    "stripe-signature",
                    format!("v1={}", "0".repeat(64)).parse().unwrap(),
                );
                r
            },
            S::UNAUTHORIZED,
        ),
        (
            "stripe: stale timestamp",
            || {
                stripe_signed(
                    fixture("stripe-order-placed.json"),
                    STRIPE_SECRET,
                    now() - STALE_SECS,
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "stripe: future timestamp",
            || {
                stripe_signed(
                    fixture("stripe-order-placed.json"),
                    STRIPE_SECRET,
                    now() + STALE_SECS,
                )
            },
            S::UNAUTHORIZED,
        ),
        (
            "stripe: wrong secret",
            || stripe_signed(fixture("stripe-order-placed.json"), "whsec_other", now()),
            S::UNAUTHORIZED,
        ),
        (
            "stripe: truncated body",
            || stripe_req(truncated(&fixture("stripe-order-placed.json"))),
            S::BAD_REQUEST,
        ),
        (
            "stripe: malformed JSON",
            || stripe_req(b"{id:1}".to_vec()),
            S::BAD_REQUEST,
        ),
        (
            "stripe: event without id",
            || {
                stripe_req(edit(
                    &fixture("stripe-order-placed.json"),
                    "\"id\":\"evt_1PabcDEFghiJKL\",",
                    "",
                ))
            },
            S::BAD_REQUEST,
        ),
        (
            "stripe: oversize",
            || stripe_req(oversize_json()),
            S::PAYLOAD_TOO_LARGE,
        ),
        (
            "stripe: wrong content type",
            || {
                without_header(
                    stripe_req(fixture("stripe-order-placed.json")),
                    "content-type",
                )
            },
            S::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "stripe: unmapped type",
            || {
                stripe_req(edit(
                    &fixture("stripe-order-placed.json"),
                    "\"order.placed\"",
                    "\"charge.succeeded\"",
                ))
            },
            S::OK,
        ),
    ]
}

const SECRETS: &[&str] = &[
    DYNAMICS_KEY,
    "dyn-key-old",
    HUBSPOT_SECRET,
    STANDARD_KEY_B64,
    STRIPE_SECRET,
];

#[tokio::test]
async fn every_bad_input_is_refused_and_nothing_is_published() {
    let cases = cases();
    assert!(cases.len() >= 30, "{}", cases.len());
    let mut failures = Vec::new();
    for (name, build, want) in &cases {
        let h = harness();
        let answer = send(&h.app, build()).await;
        let text = answer.text();
        if answer.status != *want {
            failures.push(format!("{name}: got {} want {want}: {text}", answer.status));
        }
        if !h.published.published().is_empty() {
            failures.push(format!("{name}: published {:?}", h.published.published()));
        }
        if let Some(secret) = SECRETS.iter().find(|s| text.contains(*s)) {
            failures.push(format!("{name}: the answer echoes secret {secret}"));
        }
        if answer.status.is_client_error() && !text.contains("\"message\"") {
            failures.push(format!("{name}: the answer names nothing: {text}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Duplicate delivery, per provider: the second delivery answers 200 and
/// publishes nothing more.
#[tokio::test]
async fn a_duplicate_delivery_is_never_published_twice() {
    let deliveries: Vec<Case> = vec![
        (
            "dynamics",
            || dynamics(fixture("dynamics-salesorder-create.json")),
            StatusCode::OK,
        ),
        (
            "hubspot",
            || hubspot(fixture("hubspot-contact-creation.json")),
            StatusCode::OK,
        ),
        (
            "salesforce",
            || salesforce(fixture("salesforce-contact-notification.xml")),
            StatusCode::OK,
        ),
        (
            "standard",
            || standard_req("msg_dup", fixture("standard-order-placed.json")),
            StatusCode::OK,
        ),
        (
            "stripe",
            || stripe_req(fixture("stripe-order-placed.json")),
            StatusCode::OK,
        ),
    ];
    for (name, build, want) in deliveries {
        let h = harness();
        let first = send(&h.app, build()).await;
        assert!(first.status.is_success(), "{name}: {}", first.text());
        let before = h.published.published();
        assert_eq!(before.len(), 1, "{name}");
        let second = send(&h.app, build()).await;
        assert_eq!(second.status, want, "{name}: {}", second.text());
        assert_eq!(h.published.published(), before, "{name}: published again");
    }
}
