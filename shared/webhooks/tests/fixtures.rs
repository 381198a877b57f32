//! Every fixture parses and maps to the contract its name promises (one
//! test per fixture; fixtures/README.md says where each shape comes from).

use std::collections::HashMap;

use switchyard_contracts::DomainEvent;
use switchyard_webhooks::{
    MapError, MapOptions, Provider, cloudevents, dynamics, event_id, hubspot, salesforce, standard,
    stripe,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn options() -> MapOptions {
    MapOptions {
        default_currency: None,
        dynamics_currencies: HashMap::from([(
            "0b6c3f1e-1c2b-e711-8118-000d3a1a0e11".to_owned(),
            "EUR".parse().unwrap(),
        )]),
    }
}

#[test]
fn dynamics_salesorder_create_is_an_order_placed() {
    let ctx = dynamics::parse(&fixture("dynamics-salesorder-create.json")).unwrap();
    assert_eq!(ctx.depth, Some(1));
    let mapped = dynamics::map(&ctx, false, &options()).unwrap();
    assert_eq!(
        mapped.deliveries,
        ["9e8c9b0c-6a5d-4f8e-9a61-2f7f0d1c2b3a:5f1d2c3b-7a8e-4b9c-8d0e-1f2a3b4c5d6e"]
    );
    let env = &mapped.events[0].envelope;
    assert_eq!(env.event_type, "order.placed");
    assert_eq!(env.source, "switchyard/crm-webhook/dynamics/contoso");
    assert_eq!(env.correlationid, "9e8c9b0c-6a5d-4f8e-9a61-2f7f0d1c2b3a");
    assert_eq!(
        env.id,
        event_id(Provider::Dynamics, &mapped.deliveries[0], 0)
    );
    assert_eq!(env.time.unwrap().timestamp_millis(), 1_716_808_800_000);
    let DomainEvent::OrderPlaced(order) = &env.data else {
        panic!("{:?}", env.data)
    };
    assert_eq!(order.order_id, "2d7e9a1b-5c6d-e711-8118-000d3a1a0e11");
    assert_eq!(order.customer_id, "6a1e8f2c-3b4d-e711-8118-000d3a1a0e11");
    assert_eq!(order.currency.code(), "EUR");
    assert_eq!(order.total.to_string(), "1234.5");
    assert!(order.lines.is_empty());
}

#[test]
fn dynamics_salesorder_without_a_known_currency_is_rejected() {
    let ctx = dynamics::parse(&fixture("dynamics-salesorder-create.json")).unwrap();
    let err = dynamics::map(&ctx, false, &MapOptions::default()).unwrap_err();
    assert!(err.to_string().contains("transactioncurrencyid"), "{err}");
    let with_default = MapOptions {
        default_currency: Some("USD".parse().unwrap()),
        ..MapOptions::default()
    };
    let mapped = dynamics::map(&ctx, false, &with_default).unwrap();
    let DomainEvent::OrderPlaced(order) = &mapped.events[0].envelope.data else {
        panic!()
    };
    assert_eq!(order.currency.code(), "USD");
}

#[test]
fn dynamics_contact_update_merges_the_post_image() {
    let ctx = dynamics::parse(&fixture("dynamics-contact-update.json")).unwrap();
    let mapped = dynamics::map(&ctx, false, &options()).unwrap();
    let DomainEvent::CustomerUpdated(c) = &mapped.events[0].envelope.data else {
        panic!()
    };
    assert_eq!(c.customer_id, "1f0e2d3c-4b5a-e711-8118-000d3a1a0e11");
    assert_eq!(c.display_name, "Jane Doe");
    assert_eq!(c.email.as_deref(), Some("jane.doe@contoso.example"));
    assert_eq!(c.phone.as_deref(), Some("+49 30 1234567"));
    assert_eq!(
        c.billing_address.as_ref().map(|a| a.country.as_str()),
        Some("DE")
    );
    assert_eq!(
        c.changed_fields,
        ["emailaddress1", "telephone1", "modifiedon"]
    );
}

#[test]
fn dynamics_size_exceeded_is_an_explicit_error() {
    let ctx = dynamics::parse(&fixture("dynamics-contact-update-size-exceeded.json")).unwrap();
    assert_eq!(
        dynamics::map(&ctx, true, &options()).unwrap_err(),
        MapError::SizeExceeded
    );
    // without the header it is a plain missing target
    assert!(matches!(
        dynamics::map(&ctx, false, &options()).unwrap_err(),
        MapError::Missing { .. }
    ));
}

#[test]
fn dynamics_unmapped_messages_are_acknowledged() {
    let text = String::from_utf8(fixture("dynamics-salesorder-create.json"))
        .unwrap()
        .replace(
            "\"PrimaryEntityName\": \"salesorder\"",
            "\"PrimaryEntityName\": \"lead\"",
        );
    let ctx = dynamics::parse(text.as_bytes()).unwrap();
    let mapped = dynamics::map(&ctx, false, &options()).unwrap();
    assert!(mapped.events.is_empty());
    assert_eq!(mapped.unmapped[0].kind, "Create lead");
}

#[test]
fn hubspot_contact_creation_groups_its_properties() {
    let events = hubspot::parse(&fixture("hubspot-contact-creation.json")).unwrap();
    let mapped = hubspot::map(&events).unwrap();
    assert_eq!(mapped.deliveries, ["1001", "1002", "1003", "1004"]);
    assert_eq!(mapped.events.len(), 1);
    assert_eq!(mapped.events[0].deliveries, [0, 1, 2, 3]);
    let env = &mapped.events[0].envelope;
    assert_eq!(env.source, "switchyard/crm-webhook/hubspot/62515");
    assert_eq!(env.correlationid, env.id);
    let DomainEvent::CustomerUpdated(c) = &env.data else {
        panic!()
    };
    assert_eq!(
        (c.customer_id.as_str(), c.display_name.as_str()),
        ("123", "Jane Doe")
    );
    assert_eq!(c.email.as_deref(), Some("jane.doe@example.com"));
    assert_eq!(c.changed_fields, ["email", "firstname", "lastname"]);
}

#[test]
fn hubspot_property_changes_map_only_with_a_whole_name() {
    let events = hubspot::parse(&fixture("hubspot-contact-propertychange.json")).unwrap();
    let mapped = hubspot::map(&events).unwrap();
    assert_eq!(mapped.events.len(), 1);
    let DomainEvent::CustomerUpdated(c) = &mapped.events[0].envelope.data else {
        panic!()
    };
    assert_eq!(c.display_name, "Janet Doe-Smith");
    assert_eq!(mapped.unmapped.len(), 1);
    assert_eq!(
        (
            mapped.unmapped[0].delivery_id.as_str(),
            mapped.unmapped[0].reason
        ),
        ("2003", "needs_enrichment")
    );
}

#[test]
fn hubspot_deal_creation_is_acknowledged_unmapped() {
    let events = hubspot::parse(&fixture("hubspot-deal-creation.json")).unwrap();
    let mapped = hubspot::map(&events).unwrap();
    assert!(mapped.events.is_empty() && mapped.deliveries.is_empty());
    assert_eq!(mapped.unmapped[0].kind, "deal.creation");
}

#[test]
fn hubspot_more_than_100_events_is_rejected() {
    let one = r#"{"eventId":1,"portalId":1,"occurredAt":1,"subscriptionType":"deal.creation","objectId":1}"#;
    let body = format!("[{}]", vec![one; 101].join(","));
    let events = hubspot::parse(body.as_bytes()).unwrap();
    assert_eq!(
        hubspot::map(&events).unwrap_err(),
        MapError::TooMany {
            count: 101,
            max: 100
        }
    );
}

#[test]
fn salesforce_contact_notification() {
    let msg = salesforce::parse(&fixture("salesforce-contact-notification.xml")).unwrap();
    assert_eq!(msg.organization_id, "00D5e000000AbCdEAF");
    let mapped = salesforce::map(&msg, &options()).unwrap();
    assert_eq!(mapped.deliveries, ["04l5e000001AbCdAAK"]);
    let env = &mapped.events[0].envelope;
    assert_eq!(
        env.source,
        "switchyard/crm-webhook/salesforce/00D5e000000AbCdEAF"
    );
    let DomainEvent::CustomerUpdated(c) = &env.data else {
        panic!()
    };
    assert_eq!(c.display_name, "Jane Doe & Partners");
    assert_eq!(c.phone, None);
    let address = c.billing_address.as_ref().unwrap();
    assert_eq!(
        (address.line1.as_str(), address.country.as_str()),
        ("Friedrichstraße 1", "DE")
    );
}

#[test]
fn salesforce_order_notification_and_an_unmapped_lead() {
    let msg = salesforce::parse(&fixture("salesforce-order-notification.xml")).unwrap();
    let mapped = salesforce::map(&msg, &options()).unwrap();
    assert_eq!(mapped.events.len(), 1);
    let DomainEvent::OrderPlaced(o) = &mapped.events[0].envelope.data else {
        panic!()
    };
    assert_eq!(
        (
            o.order_id.as_str(),
            o.customer_id.as_str(),
            o.total.to_string()
        ),
        (
            "8015e000000OrdAAAS",
            "0015e00000AccAAAS",
            "1234.50".to_owned()
        )
    );
    assert_eq!(mapped.unmapped[0].kind, "sObject Lead");
}

#[test]
fn standard_wrapper_and_envelope_pass_through() {
    let body = standard::parse(&fixture("standard-order-placed.json")).unwrap();
    let mapped = standard::map("msg_1", body, None, &options()).unwrap();
    assert_eq!(mapped.deliveries, ["msg_1"]);
    assert_eq!(mapped.events[0].envelope.event_type, "order.placed");
    assert_eq!(
        mapped.events[0].envelope.id,
        event_id(Provider::Standard, "msg_1", 0)
    );

    let body = standard::parse(&fixture("standard-envelope-customer-updated.json")).unwrap();
    let mapped = standard::map("msg_2", body, None, &options()).unwrap();
    let env = &mapped.events[0].envelope;
    // an envelope passes through as sent: its id, source and correlation are kept
    assert_eq!(
        (
            env.id.as_str(),
            env.source.as_str(),
            env.correlationid.as_str()
        ),
        (
            "0190c3a0-0000-7000-8000-000000000001",
            "crm/acme",
            "acme-corr-77"
        )
    );
}

#[test]
fn standard_unknown_types_use_the_configured_type_or_are_acknowledged() {
    let text = String::from_utf8(fixture("standard-order-placed.json"))
        .unwrap()
        .replace("\"order.placed\"", "\"shop.order.created\"");
    let mapped = standard::map(
        "m",
        standard::parse(text.as_bytes()).unwrap(),
        None,
        &options(),
    )
    .unwrap();
    assert_eq!(
        (mapped.events.len(), mapped.unmapped[0].reason),
        (0, "unknown_event_type")
    );
    let mapped = standard::map(
        "m",
        standard::parse(text.as_bytes()).unwrap(),
        Some("order.placed"),
        &options(),
    )
    .unwrap();
    assert_eq!(mapped.events.len(), 1);
}

#[test]
fn stripe_event_object_passes_through() {
    let body = stripe::parse(&fixture("stripe-order-placed.json")).unwrap();
    let mapped = stripe::map(body, None, &options()).unwrap();
    assert_eq!(mapped.deliveries, ["evt_1PabcDEFghiJKL"]);
    let DomainEvent::OrderPlaced(o) = &mapped.events[0].envelope.data else {
        panic!()
    };
    assert_eq!(o.currency.code(), "USD");
    assert_eq!(
        mapped.events[0].envelope.time.unwrap().timestamp(),
        1_716_811_200
    );
}

#[test]
fn invalid_contract_payloads_are_rejected_with_the_path() {
    let text = String::from_utf8(fixture("standard-order-placed.json"))
        .unwrap()
        .replace("\"1000.00\"}", "\"999.00\"}");
    let err = standard::map(
        "m",
        standard::parse(text.as_bytes()).unwrap(),
        None,
        &options(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("data.lines[0].lineTotal"), "{err}");
}

#[test]
fn salesforce_truncated_xml_is_rejected() {
    let body = fixture("salesforce-contact-notification.xml");
    for cut in [body.len() / 2, body.len() - 30, body.len() - 12] {
        assert!(salesforce::parse(&body[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn cloudevents_batch_keeps_the_producers_event_and_acknowledges_the_unknown_type() {
    let body = fixture("cloudevents-batch-orders.json");
    let mapped = cloudevents::map(cloudevents::Body::Batch(&body), &options()).unwrap();
    assert_eq!(mapped.events.len(), 1);
    let e = &mapped.events[0].envelope;
    // kept as sent, Switchyard's additions derived
    assert_eq!(e.id, "9aeb0fdf-c01e-0131-0922-9eb54906e209");
    assert!(e.source.ends_with("/topics/orders"));
    assert_eq!(e.correlationid, e.id);
    assert_eq!(e.dataversion, 2);
    assert_eq!(
        mapped.deliveries,
        [format!("{} {}", e.source, e.id)],
        "deduped on source and id"
    );
    assert!(matches!(e.data, DomainEvent::OrderPlaced(ref o) if o.order_id == "SO-1001"));
    assert_eq!(mapped.unmapped.len(), 1);
    assert_eq!(mapped.unmapped[0].kind, "com.example.someevent");
    assert_eq!(
        mapped.unmapped[0].delivery_id,
        "/mycontext/4 B234-1234-1234"
    );
}
