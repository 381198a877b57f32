//! erp-sync's `ERP_CLIENT_SECRET` as a secret store reference, read from
//! moto server's Secrets Manager and Parameter Store by the Lambda host's
//! store, and a rotation: after the TTL, a token request uses the new
//! secret without a rebuild. Needs the emulator (`AWS_ENDPOINT_URL`).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use serde_json::json;
use switchyard_config::Settings;
use switchyard_erp_sync::{ErpSync, build};
use switchyard_local::erp::ErpStub;
use switchyard_local::oauth::OAuthStub;
use switchyard_publish::InMemoryPublisher;
use switchyard_triggers::Handler;
use switchyard_triggers::registry::{App, BuildContext, Resources};

mod common;
use common::{context, order_event};

const CLIENT: &str = "erp-sync-app";
/// The cache's TTL in these tests.
const TTL: Duration = Duration::from_secs(1);

struct Stack {
    erp: ErpStub,
    oauth: OAuthStub,
    aws: aws_config::SdkConfig,
}

async fn stack(secret: &str) -> Stack {
    let oauth = OAuthStub::start().await;
    oauth.state().register_secret(CLIENT, secret);
    let erp = ErpStub::start().await;
    let tokens = oauth.state().clone();
    erp.state()
        .require_tokens(Arc::new(move |token: &str| tokens.accepts(token)));
    Stack {
        erp,
        oauth,
        aws: switchyard_testkit::aws_config().await,
    }
}

fn settings(stack: &Stack, reference: &str) -> Settings {
    Settings::from_pairs([
        ("ERP_BASE_URL", stack.erp.base_url()),
        ("ERP_CLIENT_ID", CLIENT.to_owned()),
        ("ERP_CLIENT_SECRET", reference.to_owned()),
        ("ERP_TOKEN_URL", stack.oauth.entra_token_url("contoso")),
        ("ERP_SCOPE", "api://erp/.default".to_owned()),
        ("SWITCHYARD_SECRETS_TTL_SECS", TTL.as_secs().to_string()),
    ])
    .scoped("erp-sync")
}

/// The handler as the Lambda host builds it: the AWS secret store as a resource.
async fn handler(stack: &Stack, reference: &str) -> Result<ErpSync, String> {
    let settings = settings(stack, reference);
    let resolver =
        switchyard_runtime::secrets::resolver(&settings, &stack.aws).map_err(|e| e.to_string())?;
    build(BuildContext {
        function: "erp-sync",
        settings,
        publisher: Arc::new(InMemoryPublisher::new()),
        resources: Resources::new().with(resolver),
    })
    .await
    .map_err(|e| e.to_string())
}

/// The IdP now knows only `secret`, and every token issued so far is revoked
/// (the next ERP call answers 401 and a new token is requested).
fn rotate_at_the_idp(stack: &Stack, secret: &str) {
    stack.oauth.state().register_secret(CLIENT, secret);
    stack.oauth.state().revoke_all();
}

#[tokio::test]
async fn the_erp_client_secret_from_secrets_manager_follows_a_rotation() {
    let stack = stack("sm-secret-1").await;
    let sm = aws_sdk_secretsmanager::Client::new(&stack.aws);
    let name = switchyard_testkit::unique_name("erp-sync-erp");
    let created = sm
        .create_secret()
        .name(&name)
        .secret_string(json!({ "client_id": CLIENT, "client_secret": "sm-secret-1" }).to_string())
        .send()
        .await
        .expect("create the secret on moto");
    let arn = created.arn().expect("the secret's ARN").to_owned();
    let erp_sync = handler(&stack, &format!("secretsmanager:{arn}#client_secret"))
        .await
        .unwrap();
    erp_sync.handle(order_event(1), context()).await.unwrap();
    assert_eq!(stack.oauth.state().requests(), 1);

    // rotation: a new version becomes AWSCURRENT, the old one AWSPREVIOUS
    sm.put_secret_value()
        .secret_id(&arn)
        .secret_string(json!({ "client_id": CLIENT, "client_secret": "sm-secret-2" }).to_string())
        .send()
        .await
        .expect("put the new version");
    rotate_at_the_idp(&stack, "sm-secret-2");
    tokio::time::sleep(TTL + Duration::from_millis(300)).await;
    erp_sync.handle(order_event(2), context()).await.unwrap();
    // one token request, with the new secret (re-read after the TTL)
    assert_eq!(stack.oauth.state().requests(), 2);
    let statuses: Vec<u16> = stack.erp.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [201, 401, 201]);

    sm.delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete the secret");
}

#[tokio::test]
async fn the_erp_client_secret_from_a_securestring_parameter_follows_an_overwrite() {
    let stack = stack("ssm-secret-1").await;
    let ssm = aws_sdk_ssm::Client::new(&stack.aws);
    let name = format!(
        "/{}/erp-client-secret",
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
    put("ssm-secret-1")
        .await
        .expect("put the parameter on moto");
    let erp_sync = handler(&stack, &format!("ssm:{name}")).await.unwrap();
    erp_sync.handle(order_event(1), context()).await.unwrap();

    put("ssm-secret-2").await.expect("overwrite the parameter");
    rotate_at_the_idp(&stack, "ssm-secret-2");
    tokio::time::sleep(TTL + Duration::from_millis(300)).await;
    erp_sync.handle(order_event(2), context()).await.unwrap();
    assert_eq!(stack.oauth.state().requests(), 2);

    ssm.delete_parameter()
        .name(&name)
        .send()
        .await
        .expect("delete the parameter");
}

#[tokio::test]
async fn a_missing_secret_fails_the_build_naming_the_variable_and_the_reference() {
    let stack = stack("unused").await;
    for reference in [
        format!(
            "secretsmanager:{}",
            switchyard_testkit::unique_name("no-such-secret")
        ),
        format!(
            "ssm:/{}/none",
            switchyard_testkit::unique_name("switchyard")
        ),
    ] {
        let err = handler(&stack, &reference).await.err().unwrap_or_default();
        assert!(
            err.contains("ERP_CLIENT_SECRET") && err.contains(&reference),
            "{err}"
        );
        assert!(err.contains("not found"), "{err}");
    }
}

/// The Lambda host's own build hands erp-sync the AWS secret store: a
/// reference resolves there (a host without a store would refuse it).
#[tokio::test]
async fn the_lambda_host_resolves_references() {
    let stack = stack("host-secret").await;
    let ssm = aws_sdk_ssm::Client::new(&stack.aws);
    let name = format!("/{}/erp", switchyard_testkit::unique_name("switchyard"));
    ssm.put_parameter()
        .name(&name)
        .value("host-secret")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .expect("put the parameter on moto");
    let pairs = [
        ("ERP_BASE_URL", stack.erp.base_url()),
        ("ERP_CLIENT_ID", CLIENT.to_owned()),
        ("ERP_CLIENT_SECRET", format!("ssm:{name}")),
        ("ERP_TOKEN_URL", stack.oauth.entra_token_url("contoso")),
        ("ERP_SCOPE", "api://erp/.default".to_owned()),
        ("SWITCHYARD_IDEMPOTENCY", "memory".to_owned()),
        (
            "SQS_QUEUE_URL",
            format!("{}/000000000000/unused", switchyard_testkit::aws_endpoint()),
        ),
    ];
    let function = switchyard_erp_sync::function();
    let settings = Settings::from_pairs(pairs.clone()).scoped(function.name);
    let app = switchyard_runtime::lambda::build(&function, &settings, &stack.aws)
        .await
        .expect("the Lambda host builds erp-sync with a referenced secret");
    assert!(matches!(app, App::Messages(_)));
    let plain_host = build(BuildContext {
        function: "erp-sync",
        settings: Settings::from_pairs(pairs).scoped("erp-sync"),
        publisher: Arc::new(InMemoryPublisher::new()),
        resources: Resources::new(),
    })
    .await
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        plain_host.contains("ERP_CLIENT_SECRET") && plain_host.contains("no secret store"),
        "{plain_host}"
    );
    ssm.delete_parameter().name(&name).send().await.ok();
}
