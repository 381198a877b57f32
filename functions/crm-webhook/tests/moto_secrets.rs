//! crm-webhook's webhook secrets as secret store references, read from
//! moto server's Secrets Manager and Parameter Store by the Lambda host's
//! store (`switchyard_runtime::secrets`), with rotations: after the TTL the
//! new key verifies; a delivery signed with the previous key is accepted
//! while `AWSPREVIOUS` holds it and refused once it is gone. Needs the
//! emulator (`AWS_ENDPOINT_URL`).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use axum::http::StatusCode;
use base64::Engine as _;
use chrono::Utc;
use switchyard_config::Settings;
use switchyard_crm_webhook::Config;
use switchyard_publish::{InMemoryPublisher, Publisher};
use switchyard_secrets::SecretResolver;
use switchyard_triggers::registry::{App, Platform, Resources, Trigger};

mod common;
use common::{BASE_URL, Harness, fixture, harness_with, hubspot_signed, now_ms, send};

/// The cache's TTL in these tests.
const TTL: Duration = Duration::from_secs(1);

fn settings(var: &str, reference: &str) -> Settings {
    Settings::from_pairs([
        (var, reference),
        ("SWITCHYARD_IDEMPOTENCY", "memory"),
        ("SWITCHYARD_PUBLIC_BASE_URL", BASE_URL),
        ("SWITCHYARD_SECRETS_TTL_SECS", "1"),
    ])
    .scoped("crm-webhook")
}

fn resolver(settings: &Settings, aws: &aws_config::SdkConfig) -> SecretResolver {
    switchyard_runtime::secrets::resolver(settings, aws).expect("the AWS secret store")
}

async fn harness(settings: &Settings, aws: &aws_config::SdkConfig) -> Harness {
    let config = Config::load(settings, &resolver(settings, aws))
        .await
        .expect("crm-webhook's config with referenced secrets");
    let published = InMemoryPublisher::new();
    harness_with(config, Arc::new(published.clone()), published)
}

/// A random Standard Webhooks key: its bytes and its `whsec_` form.
fn standard_key(seed: &str) -> (Vec<u8>, String) {
    let key = format!("{seed}-{}", uuid_like()).into_bytes();
    let text = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(&key)
    );
    (key, text)
}

fn uuid_like() -> String {
    switchyard_testkit::unique_name("k")
}

/// A Standard Webhooks delivery signed with `key`: its status.
async fn deliver_standard(h: &Harness, key: &[u8]) -> StatusCode {
    let id = format!("msg_{}", uuid_like());
    let request = common::standard_signed(
        &id,
        fixture("standard-envelope-customer-updated.json"),
        key,
        Utc::now().timestamp(),
    );
    send(&h.app, request).await.status
}

async fn past_the_ttl() {
    tokio::time::sleep(TTL + Duration::from_millis(300)).await;
}

#[tokio::test]
async fn standard_webhooks_keys_from_secrets_manager_follow_a_rotation() {
    let aws = switchyard_testkit::aws_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&aws);
    let (old, old_text) = standard_key("old");
    let (new, new_text) = standard_key("new");
    let name = switchyard_testkit::unique_name("crm-webhook-standard");
    let created = sm
        .create_secret()
        .name(&name)
        .secret_string(&old_text)
        .send()
        .await
        .expect("create the secret on moto");
    let arn = created.arn().expect("its ARN").to_owned();
    let old_version = created.version_id().expect("its version").to_owned();
    let settings = settings(
        "SWITCHYARD_STANDARD_WEBHOOK_SECRET",
        &format!("secretsmanager:{arn}"),
    );
    let h = harness(&settings, &aws).await;
    assert!(deliver_standard(&h, &old).await.is_success());
    assert_eq!(deliver_standard(&h, &new).await, StatusCode::UNAUTHORIZED);

    // rotation: the new version is AWSCURRENT, the old one AWSPREVIOUS
    sm.put_secret_value()
        .secret_id(&arn)
        .secret_string(&new_text)
        .send()
        .await
        .expect("put the new version");
    past_the_ttl().await;
    assert!(deliver_standard(&h, &new).await.is_success());
    // senders not yet switched still get through
    assert!(deliver_standard(&h, &old).await.is_success());

    // the rotation finishes: AWSPREVIOUS leaves the old version
    sm.update_secret_version_stage()
        .secret_id(&arn)
        .version_stage("AWSPREVIOUS")
        .remove_from_version_id(&old_version)
        .send()
        .await
        .expect("move AWSPREVIOUS off the old version");
    past_the_ttl().await;
    assert_eq!(deliver_standard(&h, &old).await, StatusCode::UNAUTHORIZED);
    assert!(deliver_standard(&h, &new).await.is_success());

    sm.delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete the secret");
}

#[tokio::test]
async fn hubspot_secrets_from_secrets_manager_json_keep_the_previous_one_until_the_next_rotation() {
    let aws = switchyard_testkit::aws_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&aws);
    let name = switchyard_testkit::unique_name("crm-webhook-hubspot");
    let json = |secret: &str| serde_json::json!({ "client_secret": secret }).to_string();
    let arn = sm
        .create_secret()
        .name(&name)
        .secret_string(json("hubspot-1"))
        .send()
        .await
        .expect("create the secret on moto")
        .arn()
        .expect("its ARN")
        .to_owned();
    let settings = settings(
        "SWITCHYARD_HUBSPOT_CLIENT_SECRET",
        &format!("secretsmanager:{arn}#client_secret"),
    );
    let h = harness(&settings, &aws).await;
    let hubspot = |secret: &str| {
        hubspot_signed(
            fixture("hubspot-contact-propertychange.json"),
            secret,
            now_ms(),
        )
    };
    assert!(send(&h.app, hubspot("hubspot-1")).await.status.is_success());
    for (n, current) in [(2, "hubspot-2"), (3, "hubspot-3")] {
        sm.put_secret_value()
            .secret_id(&arn)
            .secret_string(json(current))
            .send()
            .await
            .expect("put the new version");
        past_the_ttl().await;
        let previous = format!("hubspot-{}", n - 1);
        let stale = format!("hubspot-{}", n - 2);
        assert!(send(&h.app, hubspot(current)).await.status.is_success());
        assert!(send(&h.app, hubspot(&previous)).await.status.is_success());
        assert_eq!(
            send(&h.app, hubspot(&stale)).await.status,
            StatusCode::UNAUTHORIZED,
            "{stale} is neither AWSCURRENT nor AWSPREVIOUS"
        );
    }
    sm.delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete the secret");
}

#[tokio::test]
async fn hubspot_secrets_from_a_securestring_parameter_rotate_with_a_key_list() {
    let aws = switchyard_testkit::aws_config().await;
    let ssm = aws_sdk_ssm::Client::new(&aws);
    let name = format!(
        "/{}/hubspot-client-secret",
        switchyard_testkit::unique_name("switchyard")
    );
    let put = |value: &'static str| {
        ssm.put_parameter()
            .name(&name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send()
    };
    put("ssm-hubspot-1")
        .await
        .expect("put the parameter on moto");
    let settings = settings("SWITCHYARD_HUBSPOT_CLIENT_SECRET", &format!("ssm:{name}"));
    let h = harness(&settings, &aws).await;
    let status = |secret: &'static str| {
        let request = hubspot_signed(
            fixture("hubspot-contact-propertychange.json"),
            secret,
            now_ms(),
        );
        let app = h.app.clone();
        async move { send(&app, request).await.status }
    };
    assert!(status("ssm-hubspot-1").await.is_success());
    // Parameter Store keeps no previous value: the overlap is a key list
    put("ssm-hubspot-2,ssm-hubspot-1").await.expect("overwrite");
    past_the_ttl().await;
    assert!(status("ssm-hubspot-2").await.is_success());
    assert!(status("ssm-hubspot-1").await.is_success());
    put("ssm-hubspot-2").await.expect("overwrite");
    past_the_ttl().await;
    assert!(status("ssm-hubspot-2").await.is_success());
    assert_eq!(status("ssm-hubspot-1").await, StatusCode::UNAUTHORIZED);
    ssm.delete_parameter()
        .name(&name)
        .send()
        .await
        .expect("delete the parameter");
}

/// A missing secret fails the function's build naming the variable and the
/// reference; an unreachable store is transient (`Unavailable`).
#[tokio::test]
async fn a_missing_secret_or_an_unreachable_store_fails_the_build() {
    let aws = switchyard_testkit::aws_config().await;
    let function = switchyard_crm_webhook::function();
    let build = |settings: Settings, resolver: SecretResolver| {
        let function = function.clone();
        async move {
            let platform = Platform {
                store: Some(
                    switchyard_runtime::open_store(&function, &settings, None)
                        .expect("a memory store"),
                ),
                settings,
                publisher: Arc::new(InMemoryPublisher::new()) as Arc<dyn Publisher>,
                sqs: None,
                servicebus: None,
                triggers: vec![Trigger::Http],
                resources: Resources::new().with(resolver),
            };
            function
                .build(&platform)
                .await
                .map(|app| matches!(app, App::Http(_)))
        }
    };
    let reference = format!(
        "secretsmanager:{}",
        switchyard_testkit::unique_name("no-such-secret")
    );
    let s = settings("SWITCHYARD_STANDARD_WEBHOOK_SECRET", &reference);
    let err = build(s.clone(), resolver(&s, &aws)).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("SWITCHYARD_STANDARD_WEBHOOK_SECRET") && text.contains(&reference),
        "{text}"
    );
    assert!(
        matches!(err, switchyard_config::ConfigError::Invalid { .. }),
        "{err}"
    );

    // nothing listens on port 9 (discard)
    let unreachable = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .load()
        .await;
    let err = build(s.clone(), resolver(&s, &unreachable))
        .await
        .unwrap_err();
    assert!(
        matches!(err, switchyard_config::ConfigError::Unavailable { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("SWITCHYARD_STANDARD_WEBHOOK_SECRET")
    );
}
