//! The client-credentials grant against the token endpoint stub of
//! switchyard-local, with a resource route that accepts only the stub's
//! live tokens.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use switchyard_auth::{
    ClientAuth, ClientCredentials, Credentials, OAuthConfig, SendError, TokenError, entra_token_url,
};
use switchyard_config::{ConfigError, Settings};
use switchyard_local::oauth::{OAuthState, OAuthStub};
use switchyard_secrets::{MemorySecretStore, Secret, SecretResolver, Versions};

const CLIENT: &str = "erp-client";
const SECRET: &str = "s3cr3t-value-never-logged";
const SCOPE: &str = "api://erp/.default";

/// What the resource saw: per call, the token and whether it was accepted.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(Instant, String, bool)>>>);

impl Seen {
    fn calls(&self) -> Vec<(Instant, String, bool)> {
        self.0.lock().unwrap().clone()
    }
    fn refused(&self) -> usize {
        self.calls().iter().filter(|c| !c.2).count()
    }
}

struct Resource {
    base_url: String,
    seen: Seen,
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned()
}

/// `GET /ok` answers 200 to a token the stub accepts, 401 otherwise;
/// `GET /always-401` answers 401 to everything.
async fn resource(oauth: OAuthState) -> Resource {
    let seen = Seen::default();
    let app = Router::new()
        .route(
            "/ok",
            get(
                |State((oauth, seen)): State<(OAuthState, Seen)>, headers: HeaderMap| async move {
                    let token = bearer(&headers);
                    let ok = oauth.accepts(&token);
                    seen.0.lock().unwrap().push((Instant::now(), token, ok));
                    if ok {
                        StatusCode::OK
                    } else {
                        StatusCode::UNAUTHORIZED
                    }
                },
            ),
        )
        .route(
            "/always-401",
            get(
                |State((_, seen)): State<(OAuthState, Seen)>, headers: HeaderMap| async move {
                    seen.0
                        .lock()
                        .unwrap()
                        .push((Instant::now(), bearer(&headers), false));
                    StatusCode::UNAUTHORIZED
                },
            ),
        )
        .with_state((oauth, seen.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Resource {
        base_url: format!("http://{addr}"),
        seen,
    }
}

fn secret_config(token_url: String, secret: &str) -> OAuthConfig {
    OAuthConfig {
        token_url,
        client_id: CLIENT.into(),
        auth: ClientAuth::Secret(Secret::plain("ERP_CLIENT_SECRET", secret)),
        scope: Some(SCOPE.into()),
    }
}

fn grant(config: OAuthConfig) -> Arc<ClientCredentials> {
    Arc::new(ClientCredentials::new(config, reqwest::Client::new()))
}

async fn entra() -> (OAuthStub, Resource, Arc<ClientCredentials>) {
    let stub = OAuthStub::start().await;
    stub.state().register_secret(CLIENT, SECRET);
    let resource = resource(stub.state().clone()).await;
    let grant = grant(secret_config(stub.entra_token_url("contoso"), SECRET));
    (stub, resource, grant)
}

async fn get_status(credentials: &Credentials, url: &str) -> Result<u16, SendError> {
    let http = reqwest::Client::new();
    let response = credentials.send(|| http.get(url)).await?;
    Ok(response.status().as_u16())
}

#[tokio::test]
async fn one_token_request_serves_a_hundred_calls() {
    let (stub, resource, grant) = entra().await;
    let credentials = Credentials::OAuth(grant.clone());
    let url = format!("{}/ok", resource.base_url);
    for _ in 0..100 {
        assert_eq!(get_status(&credentials, &url).await.unwrap(), 200);
    }
    assert_eq!(stub.state().requests(), 1);
    assert_eq!(grant.requests(), 1);
    assert_eq!(resource.seen.calls().len(), 100);
    assert_eq!(resource.seen.refused(), 0);
}

#[tokio::test]
async fn the_token_is_refreshed_before_it_expires() {
    let (stub, resource, grant) = entra().await;
    // a 3 s token is refreshed when a tenth of it (300 ms) remains
    let lifetime = Duration::from_secs(3);
    stub.state().set_lifetime(lifetime);
    let credentials = Credentials::OAuth(grant.clone());
    let url = format!("{}/ok", resource.base_url);
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(4_500) {
        assert_eq!(get_status(&credentials, &url).await.unwrap(), 200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls = resource.seen.calls();
    // no call went out with an expired (refused) token
    assert_eq!(
        resource.seen.refused(),
        0,
        "a call carried an expired token"
    );
    let first = calls[0].1.clone();
    let (switched_at, second) = calls
        .iter()
        .find(|c| c.1 != first)
        .map(|c| (c.0, c.1.clone()))
        .expect("a second token was used");
    assert!(
        switched_at < started + lifetime,
        "the new token came {:?} after the first call, not before the old one expired",
        switched_at - started
    );
    assert!(calls.iter().all(|c| c.1 == first || c.1 == second));
    assert_eq!(stub.state().requests(), 2);
    assert_eq!(grant.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_callers_share_one_token_request() {
    let (stub, resource, grant) = entra().await;
    let credentials = Credentials::OAuth(grant.clone());
    let url = format!("{}/ok", resource.base_url);
    let calls: Vec<_> = (0..32)
        .map(|_| {
            let (credentials, url) = (credentials.clone(), url.clone());
            tokio::spawn(async move { get_status(&credentials, &url).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), 200);
    }
    assert_eq!(stub.state().requests(), 1);
    assert_eq!(grant.requests(), 1);
    let tokens: std::collections::HashSet<String> =
        resource.seen.calls().into_iter().map(|c| c.1).collect();
    assert_eq!(tokens.len(), 1);
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_once() {
    let (stub, resource, grant) = entra().await;
    let credentials = Credentials::OAuth(grant.clone());
    let url = format!("{}/ok", resource.base_url);
    assert_eq!(get_status(&credentials, &url).await.unwrap(), 200);
    stub.state().revoke_all();
    assert_eq!(get_status(&credentials, &url).await.unwrap(), 200);
    assert_eq!(stub.state().requests(), 2, "exactly one more token request");
    let calls = resource.seen.calls();
    assert_eq!(calls.len(), 3);
    assert!(!calls[1].2 && calls[2].2);
    assert_ne!(calls[1].1, calls[2].1);
    // the new token is cached again
    assert_eq!(get_status(&credentials, &url).await.unwrap(), 200);
    assert_eq!(stub.state().requests(), 2);
}

#[tokio::test]
async fn a_resource_that_always_answers_401_gets_it_back_after_one_refresh() {
    let (stub, resource, grant) = entra().await;
    let credentials = Credentials::OAuth(grant);
    let url = format!("{}/always-401", resource.base_url);
    assert_eq!(get_status(&credentials, &url).await.unwrap(), 401);
    assert_eq!(stub.state().requests(), 2);
    assert_eq!(resource.seen.calls().len(), 2);
}

#[tokio::test]
async fn a_token_endpoint_outage_is_transient() {
    let (stub, resource, grant) = entra().await;
    stub.state().set_unavailable(true);
    let url = format!("{}/ok", resource.base_url);
    let err = get_status(&Credentials::OAuth(grant), &url)
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(
        matches!(err, SendError::Token(TokenError::Unavailable(_))),
        "{err}"
    );
    assert!(resource.seen.calls().is_empty());

    // a port nothing listens on
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let grant = grant_for(format!("http://{closed}/t/oauth2/v2.0/token"));
    let err = get_status(&Credentials::OAuth(grant), &url)
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(
        matches!(err, SendError::Token(TokenError::Unavailable(_))),
        "{err}"
    );
}

fn grant_for(token_url: String) -> Arc<ClientCredentials> {
    grant(secret_config(token_url, SECRET))
}

#[tokio::test]
async fn a_wrong_secret_is_refused_permanently_without_repeating_it() {
    let stub = OAuthStub::start().await;
    stub.state().register_secret(CLIENT, SECRET);
    let wrong = "wrong-secret-3f9a";
    let grant = grant(secret_config(stub.entra_token_url("contoso"), wrong));
    let err = grant.token().await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(matches!(err, TokenError::Refused(_)), "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("invalid_client"), "{text}");
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(!text.contains(wrong) && !text.contains(SECRET), "{text}");
    let send = Credentials::OAuth(grant)
        .send(|| reqwest::Client::new().get("http://127.0.0.1:9/unused"))
        .await
        .unwrap_err();
    assert!(!send.is_transient(), "{send}");
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[tokio::test]
async fn a_certificate_assertion_is_accepted_by_the_stub() {
    let stub = OAuthStub::start().await;
    let resource = resource(stub.state().clone()).await;
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let pkcs8 = pair.as_der().unwrap();
    // the stub hashes the certificate's bytes for the thumbprint and
    // verifies with the public key registered beside it
    let certificate = b"\x30\x03\x02\x01\x01 certificate bytes of the test";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client.pem");
    std::fs::write(
        &path,
        format!(
            "{}{}",
            pem("PRIVATE KEY", pkcs8.as_ref()),
            pem("CERTIFICATE", certificate)
        ),
    )
    .unwrap();
    let settings = Settings::from_pairs([
        ("ERP_CLIENT_ID", CLIENT.to_owned()),
        ("ERP_CLIENT_CERTIFICATE", path.display().to_string()),
        ("ERP_TOKEN_URL", stub.entra_token_url("contoso")),
        ("ERP_SCOPE", SCOPE.to_owned()),
    ]);
    let config = OAuthConfig::from_settings(&settings, "ERP", None)
        .unwrap()
        .unwrap();
    assert!(matches!(config.auth, ClientAuth::Certificate { .. }));

    // registered under another certificate: the thumbprint does not match
    stub.state()
        .register_certificate(CLIENT, b"another certificate", pair.public_key().as_ref());
    let err = grant(config.clone()).token().await.unwrap_err();
    assert!(matches!(err, TokenError::Refused(_)), "{err}");
    assert!(err.to_string().contains("AADSTS700027"), "{err}");

    // the right one: the signature is checked with the public key
    stub.state()
        .register_certificate(CLIENT, certificate, pair.public_key().as_ref());
    let credentials = Credentials::OAuth(grant(config));
    let url = format!("{}/ok", resource.base_url);
    assert_eq!(get_status(&credentials, &url).await.unwrap(), 200);
    assert_eq!(resource.seen.refused(), 0);

    // a different key under the registered certificate fails the signature
    let other = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    stub.state()
        .register_certificate(CLIENT, certificate, other.public_key().as_ref());
    let config = OAuthConfig::from_settings(&settings, "ERP", None)
        .unwrap()
        .unwrap();
    let err = grant(config).token().await.unwrap_err();
    assert!(err.to_string().contains("invalid_client"), "{err}");
}

/// A token endpoint that sends `expires_in` as a string, as Entra ID v1 does.
async fn string_expiry_endpoint(expires_in: &'static str) -> (String, Arc<Mutex<usize>>) {
    let count = Arc::new(Mutex::new(0usize));
    let counter = count.clone();
    let app = Router::new().route(
        "/token",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                let n = {
                    let mut c = counter.lock().unwrap();
                    *c += 1;
                    *c
                };
                axum::Json(serde_json::json!({
                    "token_type": "bearer",
                    "access_token": format!("token-{n}"),
                    "expires_in": expires_in,
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/token"), count)
}

#[tokio::test]
async fn expires_in_as_a_string_is_understood() {
    let (url, count) = string_expiry_endpoint("1").await;
    let grant = grant_for(url);
    let first = grant.token().await.unwrap();
    assert_eq!(grant.token().await.unwrap(), first);
    assert_eq!(*count.lock().unwrap(), 1);
    // a 1 s token is replaced after 900 ms (had the string been ignored,
    // the token would be kept for half an hour)
    tokio::time::sleep(Duration::from_millis(950)).await;
    let second = grant.token().await.unwrap();
    assert_ne!(second, first);
    assert_eq!(*count.lock().unwrap(), 2);
    assert_eq!(grant.requests(), 2);
}

#[tokio::test]
async fn salesforce_tokens_without_expires_in_are_cached_until_a_401() {
    let stub = OAuthStub::start().await;
    stub.state().register_secret(CLIENT, SECRET);
    let resource = resource(stub.state().clone()).await;
    let mut config = secret_config(stub.salesforce_token_url(), SECRET);
    config.scope = None;
    let grant = grant(config);
    let credentials = Credentials::OAuth(grant.clone());
    let url = format!("{}/ok", resource.base_url);
    for _ in 0..20 {
        assert_eq!(get_status(&credentials, &url).await.unwrap(), 200);
    }
    assert_eq!(stub.state().requests(), 1);
    stub.state().revoke_all();
    assert_eq!(get_status(&credentials, &url).await.unwrap(), 200);
    assert_eq!(stub.state().requests(), 2);
    assert_eq!(grant.requests(), 2);

    // and a wrong secret is Salesforce's invalid_client, refused
    let mut wrong = secret_config(stub.salesforce_token_url(), "nope-nope");
    wrong.scope = None;
    let err = ClientCredentials::new(wrong, reqwest::Client::new())
        .token()
        .await
        .unwrap_err();
    assert!(
        !err.is_transient() && err.to_string().contains("invalid_client"),
        "{err}"
    );
}

#[test]
fn the_entra_url_is_built_from_the_tenant() {
    let settings = Settings::from_pairs([
        ("ERP_CLIENT_ID", "app"),
        ("ERP_CLIENT_SECRET", "x"),
        ("ERP_TENANT_ID", "contoso.onmicrosoft.com"),
    ]);
    let config =
        OAuthConfig::from_settings(&settings, "ERP", Some("https://erp.example.com/.default"))
            .unwrap()
            .unwrap();
    assert_eq!(
        config.token_url,
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert_eq!(config.token_url, entra_token_url("contoso.onmicrosoft.com"));
    assert_eq!(
        config.scope.as_deref(),
        Some("https://erp.example.com/.default")
    );
    // <P>_SCOPE wins over the default; <P>_TOKEN_URL over the tenant
    let settings = Settings::from_pairs([
        ("ERP_CLIENT_ID", "app"),
        ("ERP_CLIENT_SECRET", "x"),
        ("ERP_TENANT_ID", "contoso"),
        ("ERP_TOKEN_URL", "https://idp.example.com/token"),
        ("ERP_SCOPE", "api://erp/.default"),
    ]);
    let config = OAuthConfig::from_settings(&settings, "ERP", Some("ignored"))
        .unwrap()
        .unwrap();
    assert_eq!(config.token_url, "https://idp.example.com/token");
    assert_eq!(config.scope.as_deref(), Some("api://erp/.default"));
}

fn settings_error(pairs: &[(&str, &str)]) -> ConfigError {
    let settings = Settings::from_pairs(pairs.iter().copied());
    OAuthConfig::from_settings(&settings, "ERP", None).unwrap_err()
}

#[test]
fn settings_errors_name_the_variables() {
    let none = Settings::from_pairs([("ERP_CLIENT_SECRET", "x")]);
    assert!(
        OAuthConfig::from_settings(&none, "ERP", None)
            .unwrap()
            .is_none()
    );

    let both = settings_error(&[
        ("ERP_CLIENT_ID", "app"),
        ("ERP_CLIENT_SECRET", "hush-123"),
        ("ERP_CLIENT_CERTIFICATE", "/nowhere.pem"),
        ("ERP_TENANT_ID", "t"),
    ]);
    let text = both.to_string();
    assert!(
        text.contains("ERP_CLIENT_SECRET") && text.contains("ERP_CLIENT_CERTIFICATE"),
        "{text}"
    );
    assert!(!text.contains("hush-123"), "{text}");

    let neither = settings_error(&[("ERP_CLIENT_ID", "app"), ("ERP_TENANT_ID", "t")]);
    assert!(matches!(neither, ConfigError::Missing { .. }), "{neither}");
    let text = neither.to_string();
    assert!(
        text.contains("ERP_CLIENT_SECRET") && text.contains("ERP_CLIENT_CERTIFICATE"),
        "{text}"
    );

    let no_endpoint = settings_error(&[("ERP_CLIENT_ID", "app"), ("ERP_CLIENT_SECRET", "x")]);
    let text = no_endpoint.to_string();
    assert!(
        text.contains("ERP_TOKEN_URL") && text.contains("ERP_TENANT_ID"),
        "{text}"
    );

    // Entra ID v2 refuses a client-credentials request without a scope
    let no_scope = settings_error(&[
        ("ERP_CLIENT_ID", "app"),
        ("ERP_CLIENT_SECRET", "x"),
        ("ERP_TENANT_ID", "contoso.onmicrosoft.com"),
    ]);
    assert!(
        matches!(no_scope, ConfigError::Missing { .. }),
        "{no_scope}"
    );
    assert!(no_scope.to_string().contains("ERP_SCOPE"), "{no_scope}");

    let bad_url = settings_error(&[
        ("ERP_CLIENT_ID", "app"),
        ("ERP_CLIENT_SECRET", "x"),
        ("ERP_TOKEN_URL", "not a url"),
    ]);
    assert!(bad_url.to_string().contains("ERP_TOKEN_URL"), "{bad_url}");

    let bad_tenant = settings_error(&[
        ("ERP_CLIENT_ID", "app"),
        ("ERP_CLIENT_SECRET", "x"),
        ("ERP_TENANT_ID", "a/../b"),
    ]);
    assert!(
        bad_tenant.to_string().contains("ERP_TENANT_ID"),
        "{bad_tenant}"
    );

    let unreadable = settings_error(&[
        ("ERP_CLIENT_ID", "app"),
        ("ERP_CLIENT_CERTIFICATE", "/no/such/file.pem"),
        ("ERP_TENANT_ID", "t"),
    ]);
    assert!(
        unreadable.to_string().contains("ERP_CLIENT_CERTIFICATE"),
        "{unreadable}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.pem");
    std::fs::write(&path, pem("CERTIFICATE", b"only a certificate")).unwrap();
    let path = path.display().to_string();
    let no_key = settings_error(&[
        ("ERP_CLIENT_ID", "app"),
        ("ERP_CLIENT_CERTIFICATE", &path),
        ("ERP_TENANT_ID", "t"),
    ]);
    let text = no_key.to_string();
    assert!(
        text.contains("ERP_CLIENT_CERTIFICATE") && text.contains("PRIVATE KEY"),
        "{text}"
    );

    // per-function settings are named in their scoped form
    let scoped = Settings::from_pairs([("ERP_SYNC__ERP_CLIENT_ID", "app")]).scoped("erp-sync");
    let err = OAuthConfig::from_settings(&scoped, "ERP", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("ERP_SYNC__ERP_CLIENT_SECRET"), "{err}");
}

/// A client secret from a secret store: read for the token request; after a
/// rotation (the token endpoint knows only the new secret), a refused token
/// request re-reads the store and asks again, before the TTL has passed.
#[tokio::test]
async fn a_stored_client_secret_is_re_read_when_the_token_endpoint_refuses_it() {
    let stub = OAuthStub::start().await;
    stub.state().register_secret(CLIENT, SECRET);
    let resource = resource(stub.state().clone()).await;
    let store = MemorySecretStore::new();
    store.set(
        "erp",
        Versions::current(format!(r#"{{"client_secret":"{SECRET}"}}"#)),
    );
    let secrets = SecretResolver::new(Arc::new(store.clone()), Duration::from_secs(3600));
    let settings = Settings::from_pairs([
        ("ERP_CLIENT_ID", CLIENT.to_owned()),
        (
            "ERP_CLIENT_SECRET",
            "secretsmanager:erp#client_secret".to_owned(),
        ),
        ("ERP_TOKEN_URL", stub.entra_token_url("contoso")),
        ("ERP_SCOPE", SCOPE.to_owned()),
    ]);
    let config = OAuthConfig::load(&settings, "ERP", None, &secrets)
        .await
        .unwrap()
        .unwrap();
    assert!(!format!("{config:?}").contains(SECRET));
    let credentials = Credentials::OAuth(grant(config));
    let url = format!("{}/ok", resource.base_url);
    assert_eq!(get_status(&credentials, &url).await.unwrap(), 200);
    assert_eq!(store.reads(), 1);

    stub.state().register_secret(CLIENT, "rotated-secret");
    store.rotate("erp", r#"{"client_secret":"rotated-secret"}"#);
    stub.state().revoke_all();
    assert_eq!(get_status(&credentials, &url).await.unwrap(), 200);
    // the refused request with the cached secret, then the new one
    assert_eq!(stub.state().requests(), 3);
    assert_eq!(store.reads(), 2);

    // a plain reader refuses the reference, naming the variable
    let err = OAuthConfig::from_settings(&settings, "ERP", None).unwrap_err();
    assert!(err.to_string().contains("ERP_CLIENT_SECRET"), "{err}");
    // a missing secret names the variable and the reference
    let missing = Settings::from_pairs([
        ("ERP_CLIENT_ID", CLIENT),
        ("ERP_CLIENT_SECRET", "ssm:/erp/none"),
        ("ERP_TOKEN_URL", "https://t.example/token"),
    ]);
    let err = OAuthConfig::load(&missing, "ERP", None, &secrets)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ERP_CLIENT_SECRET") && err.contains("ssm:/erp/none"),
        "{err}"
    );
}
