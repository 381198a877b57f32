//! One token request (RFC 6749 §4.4.2) and the classification of its answer
//! (§5.1 success, §5.2 error).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::{ClientAuth, OAuthConfig, TokenError, assertion};

/// `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How much of a server's `error_description` an error repeats.
const DESCRIPTION_CHARS: usize = 200;

/// A token as the endpoint issued it.
pub(crate) struct Issued {
    pub(crate) access_token: String,
    /// `expires_in`, when the server sent one.
    pub(crate) lifetime: Option<Duration>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the token itself
        f.debug_struct("Issued")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// The form body of a token request; `secret` is the client secret's value
/// now (with [`ClientAuth::Secret`]).
pub(crate) fn form(config: &OAuthConfig, secret: Option<&str>) -> Result<String, TokenError> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    form.append_pair("client_id", &config.client_id);
    match &config.auth {
        ClientAuth::Secret(_) => {
            form.append_pair("client_secret", secret.unwrap_or_default());
        }
        ClientAuth::Certificate {
            key_pkcs8,
            thumbprint_sha256,
        } => {
            let jwt = assertion::sign(
                key_pkcs8,
                thumbprint_sha256,
                &config.client_id,
                &config.token_url,
            )
            .map_err(TokenError::Refused)?;
            form.append_pair("client_assertion_type", JWT_BEARER);
            form.append_pair("client_assertion", &jwt);
        }
    }
    if let Some(scope) = &config.scope {
        form.append_pair("scope", scope);
    }
    Ok(form.finish())
}

/// A secret that could not be read, as a token error: transient when the
/// store was unreachable.
pub(crate) fn token_error(e: switchyard_secrets::SecretError) -> TokenError {
    if e.is_transient() {
        TokenError::Unavailable(e.to_string())
    } else {
        TokenError::Refused(e.to_string())
    }
}

/// The client secret's value now: a secret store that cannot be reached is
/// transient, a missing or unreadable secret a refusal.
async fn client_secret(config: &OAuthConfig) -> Result<Option<Arc<str>>, TokenError> {
    match &config.auth {
        ClientAuth::Secret(secret) => secret.current().await.map(Some).map_err(token_error),
        ClientAuth::Certificate { .. } => Ok(None),
    }
}

/// Asks the token endpoint for a token. When it refuses a client secret
/// read from a secret store, the secret is re-read at once and, if it was
/// rotated meanwhile, asked once more with the new value.
pub(crate) async fn request(
    http: &reqwest::Client,
    config: &OAuthConfig,
) -> Result<Issued, TokenError> {
    let secret = client_secret(config).await?;
    let first = attempt(http, config, secret.as_deref()).await;
    let ClientAuth::Secret(stored) = &config.auth else {
        return first;
    };
    if !matches!(first, Err(TokenError::Refused(_))) || stored.reference().is_none() {
        return first;
    }
    stored.invalidate();
    let again = client_secret(config).await?;
    if again == secret {
        return first;
    }
    tracing::info!(
        var = stored.var(),
        "oauth client secret rotated: asking again"
    );
    attempt(http, config, again.as_deref()).await
}

async fn attempt(
    http: &reqwest::Client,
    config: &OAuthConfig,
    secret: Option<&str>,
) -> Result<Issued, TokenError> {
    let body = form(config, secret)?;
    let response = http
        .post(&config.token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| TokenError::Unavailable(describe_transport(&e)))?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|e| {
        TokenError::Unavailable(format!("answer cut off: {}", describe_transport(&e)))
    })?;
    classify(status, &bytes, secret)
}

fn describe_transport(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // the URL is the token endpoint's, never a secret; the source says why
    match std::error::Error::source(e) {
        Some(source) => format!("{kind}: {e}: {source}"),
        None => format!("{kind}: {e}"),
    }
}

#[derive(Deserialize)]
struct Success {
    access_token: String,
    token_type: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Failure {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The token endpoint's answer as a token or an error. `secret` is cut out
/// of anything repeated from the answer.
pub(crate) fn classify(
    status: u16,
    body: &[u8],
    secret: Option<&str>,
) -> Result<Issued, TokenError> {
    match status {
        200..=299 => success(body),
        408 | 429 | 500..=599 => Err(TokenError::Unavailable(match failure(body, secret) {
            Some(reason) => format!("HTTP {status}: {reason}"),
            None => format!("HTTP {status}"),
        })),
        400..=499 => match serde_json::from_slice::<Failure>(body) {
            Ok(f) if matches!(f.error.as_str(), "temporarily_unavailable" | "server_error") => Err(
                TokenError::Unavailable(format!("HTTP {status}: {}", describe(&f, secret))),
            ),
            Ok(f) => Err(TokenError::Refused(format!(
                "HTTP {status}: {}",
                describe(&f, secret)
            ))),
            Err(_) => Err(TokenError::Refused(format!(
                "HTTP {status} without an OAuth error"
            ))),
        },
        _ => Err(TokenError::Unavailable(format!("unexpected HTTP {status}"))),
    }
}

fn success(body: &[u8]) -> Result<Issued, TokenError> {
    let token: Success = serde_json::from_slice(body).map_err(|e| {
        // serde's message names the field, never the value of a string
        TokenError::Unavailable(format!("unreadable token response: {}", category(&e)))
    })?;
    if !token.token_type.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::Refused(format!(
            "token_type {:?} is not Bearer",
            truncate(&token.token_type, 20)
        )));
    }
    if token.access_token.is_empty() {
        return Err(TokenError::Unavailable(
            "unreadable token response: empty access_token".to_owned(),
        ));
    }
    let lifetime = match token.expires_in {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => n.as_u64().map(Duration::from_secs),
        // Entra ID v1 and some others send the number as a string
        Some(serde_json::Value::String(s)) => s.trim().parse().ok().map(Duration::from_secs),
        Some(_) => None,
    };
    Ok(Issued {
        access_token: token.access_token,
        lifetime,
    })
}

fn category(e: &serde_json::Error) -> String {
    if e.is_syntax() || e.is_eof() {
        "not JSON".to_owned()
    } else {
        // "missing field `access_token`", "invalid type: ..." name no value
        let text = e.to_string();
        truncate(text.split(" at line").next().unwrap_or(""), 100)
    }
}

fn failure(body: &[u8], secret: Option<&str>) -> Option<String> {
    serde_json::from_slice::<Failure>(body)
        .ok()
        .map(|f| describe(&f, secret))
}

fn describe(f: &Failure, secret: Option<&str>) -> String {
    let code = truncate(&f.error, 60);
    let text = match &f.error_description {
        Some(d) => format!("{code}: {}", truncate(d, DESCRIPTION_CHARS)),
        None => code,
    };
    match secret {
        Some(secret) if !secret.is_empty() => text.replace(secret, "<redacted>"),
        _ => text,
    }
}

fn truncate(text: &str, chars: usize) -> String {
    let mut out: String = text.chars().take(chars).collect();
    if text.chars().nth(chars).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        let ok = classify(
            200,
            br#"{"access_token":"t","token_type":"bearer","expires_in":"3599"}"#,
            None,
        )
        .unwrap();
        assert_eq!(ok.lifetime, Some(Duration::from_secs(3599)));
        let ok = classify(200, br#"{"access_token":"t","token_type":"Bearer"}"#, None).unwrap();
        assert_eq!(ok.lifetime, None);
        for status in [408, 429, 500, 503] {
            assert!(
                classify(status, b"", None).unwrap_err().is_transient(),
                "{status}"
            );
        }
        assert!(classify(200, b"<html>", None).unwrap_err().is_transient());
        assert!(
            classify(200, br#"{"token_type":"Bearer"}"#, None)
                .unwrap_err()
                .is_transient()
        );
        let mac = classify(200, br#"{"access_token":"t","token_type":"mac"}"#, None);
        assert!(!mac.unwrap_err().is_transient());
        for code in [
            "invalid_client",
            "invalid_scope",
            "unauthorized_client",
            "invalid_grant",
            "invalid_request",
        ] {
            let body = format!(r#"{{"error":"{code}","error_description":"AADSTS1: no"}}"#);
            let err = classify(400, body.as_bytes(), None).unwrap_err();
            assert!(!err.is_transient(), "{code}");
            assert!(err.to_string().contains(code), "{err}");
        }
    }

    #[test]
    fn descriptions_are_truncated_and_never_repeat_the_secret() {
        let long = "x".repeat(1000);
        let body = format!(r#"{{"error":"invalid_client","error_description":"s3cr3t {long}"}}"#);
        let err = classify(401, body.as_bytes(), Some("s3cr3t"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(err.len() < 400, "{err}");
    }
}
