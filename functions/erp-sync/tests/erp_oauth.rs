//! erp-sync's ERP client behind OAuth 2.0 client credentials: the handler
//! built from its settings asks the token stub for a token once, sends it
//! with every upsert to an ERP stub that checks it, refreshes a revoked
//! token once, and classifies refused credentials as permanent. No
//! emulator needed.

use std::sync::Arc;

use serde_json::json;
use switchyard_config::Settings;
use switchyard_erp_sync::{ErpSync, build};
use switchyard_local::erp::ErpStub;
use switchyard_local::oauth::OAuthStub;
use switchyard_publish::InMemoryPublisher;
use switchyard_triggers::registry::{BuildContext, Resources};
use switchyard_triggers::{Handler, HandlerError};

mod common;
use common::{context, order_event};

const CLIENT: &str = "erp-sync-app";
const SECRET: &str = "erp-client-secret";

struct Stack {
    erp: ErpStub,
    oauth: OAuthStub,
}

/// An ERP stub that accepts only the token stub's live tokens.
async fn stack() -> Stack {
    let oauth = OAuthStub::start().await;
    oauth.state().register_secret(CLIENT, SECRET);
    let erp = ErpStub::start().await;
    let tokens = oauth.state().clone();
    erp.state()
        .require_tokens(Arc::new(move |token: &str| tokens.accepts(token)));
    Stack { erp, oauth }
}

async fn handler(stack: &Stack, secret: Option<&str>) -> Result<ErpSync, String> {
    let mut pairs = vec![("ERP_BASE_URL".to_owned(), stack.erp.base_url())];
    if let Some(secret) = secret {
        pairs.extend([
            ("ERP_CLIENT_ID".to_owned(), CLIENT.to_owned()),
            ("ERP_CLIENT_SECRET".to_owned(), secret.to_owned()),
            (
                "ERP_TOKEN_URL".to_owned(),
                stack.oauth.entra_token_url("contoso"),
            ),
            ("ERP_SCOPE".to_owned(), "api://erp/.default".to_owned()),
        ]);
    }
    build(BuildContext {
        function: "erp-sync",
        settings: Settings::from_pairs(pairs).scoped("erp-sync"),
        publisher: Arc::new(InMemoryPublisher::new()),
        resources: Resources::default(),
    })
    .await
    .map_err(|e| e.to_string())
}

#[tokio::test]
async fn orders_carry_a_token_from_one_token_request() {
    let stack = stack().await;
    let erp_sync = handler(&stack, Some(SECRET)).await.unwrap();
    for i in 0..5 {
        erp_sync.handle(order_event(i), context()).await.unwrap();
    }
    assert_eq!(stack.oauth.state().requests(), 1);
    let calls = stack.erp.calls();
    assert_eq!(calls.len(), 5);
    assert!(calls.iter().all(|c| c.status == 201), "{calls:?}");
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once() {
    let stack = stack().await;
    let erp_sync = handler(&stack, Some(SECRET)).await.unwrap();
    erp_sync.handle(order_event(1), context()).await.unwrap();
    stack.oauth.state().revoke_all();
    erp_sync.handle(order_event(2), context()).await.unwrap();
    erp_sync.handle(order_event(3), context()).await.unwrap();
    assert_eq!(stack.oauth.state().requests(), 2);
    let statuses: Vec<u16> = stack.erp.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [201, 401, 201, 201]);
}

#[tokio::test]
async fn refused_credentials_are_permanent_and_an_outage_transient() {
    let stack = stack().await;
    let erp_sync = handler(&stack, Some("not-the-secret")).await.unwrap();
    match erp_sync
        .handle(order_event(1), context())
        .await
        .unwrap_err()
    {
        HandlerError::Permanent { kind, reason } => {
            assert_eq!(kind, "erp_auth_refused");
            assert!(reason.contains("invalid_client"), "{reason}");
            assert!(!reason.contains("not-the-secret"), "{reason}");
        }
        other => panic!("expected a permanent error, got {other}"),
    }
    assert!(stack.erp.calls().is_empty());

    let erp_sync = handler(&stack, Some(SECRET)).await.unwrap();
    stack.oauth.state().set_unavailable(true);
    let err = erp_sync
        .handle(order_event(2), context())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(stack.erp.calls().is_empty());
}

#[tokio::test]
async fn without_a_client_id_no_token_is_sent() {
    let stack = stack().await;
    let erp_sync = handler(&stack, None).await.unwrap();
    let err = erp_sync
        .handle(order_event(1), context())
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert_eq!(stack.oauth.state().requests(), 0);
    assert_eq!(stack.erp.calls()[0].status, 401);
}

#[tokio::test]
async fn oauth_settings_errors_fail_the_build_naming_the_variable() {
    let stack = stack().await;
    let settings = Settings::from_pairs([
        ("ERP_BASE_URL", stack.erp.base_url()),
        ("ERP_CLIENT_ID", CLIENT.to_owned()),
        ("ERP_CLIENT_SECRET", SECRET.to_owned()),
    ]);
    let err = build(BuildContext {
        function: "erp-sync",
        settings: settings.scoped("erp-sync"),
        publisher: Arc::new(InMemoryPublisher::new()),
        resources: Resources::default(),
    })
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("ERP_TOKEN_URL") && err.contains("ERP_TENANT_ID"),
        "{err}"
    );
}

#[tokio::test]
async fn the_erp_stub_answers_401_with_www_authenticate_without_a_live_token() {
    let stack = stack().await;
    let http = reqwest::Client::new();
    let url = format!("{}/orders/O-1", stack.erp.base_url());
    for token in [None, Some("forged")] {
        let mut request = http.put(&url).json(&json!({}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{token:?}");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
    }
}
