//! The access token of a delivery and the abuse-protection handshake.

use crate::error::VerifyError;
use crate::request::SignedRequest;
use crate::secret::{InvalidSecret, Secrets};

/// `WebHook-Request-Origin`: the sending system (a DNS name) asking for consent.
pub const REQUEST_ORIGIN_HEADER: &str = "webhook-request-origin";
/// `WebHook-Request-Rate`: the requests per minute the sender asks for.
pub const REQUEST_RATE_HEADER: &str = "webhook-request-rate";
/// `WebHook-Allowed-Origin`: the consent, the origin granted.
pub const ALLOWED_ORIGIN_HEADER: &str = "webhook-allowed-origin";
/// `WebHook-Allowed-Rate`: the requests per minute granted, or `*`.
pub const ALLOWED_RATE_HEADER: &str = "webhook-allowed-rate";

/// The origins whose handshake is answered with consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// `*`: every origin.
    Any,
    /// These origins (lower case); empty: none.
    List(Vec<String>),
}

impl AllowedOrigins {
    /// From `*` or a comma-separated list of origins (`eventgrid.azure.net`).
    pub fn parse(list: &str) -> Self {
        if list.trim() == "*" {
            return AllowedOrigins::Any;
        }
        AllowedOrigins::List(
            list.split(',')
                .map(|o| o.trim().to_ascii_lowercase())
                .filter(|o| !o.is_empty())
                .collect(),
        )
    }

    fn allows(&self, origin: &str) -> bool {
        match self {
            AllowedOrigins::Any => true,
            AllowedOrigins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }
}

/// The rate granted in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowedRate {
    /// `*`: no limit.
    Unlimited,
    /// At most this many requests per minute.
    PerMinute(u32),
}

impl AllowedRate {
    /// From `*` or a positive number of requests per minute.
    ///
    /// # Errors
    /// A message when the value is neither.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        match value.trim() {
            "*" => Ok(AllowedRate::Unlimited),
            v => v
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .map(AllowedRate::PerMinute)
                .ok_or("expected * or a positive number of requests per minute"),
        }
    }
}

/// What a CloudEvents delivery must prove, and whom the handshake consents to.
#[derive(Debug, Clone)]
pub struct CloudEventsAuth {
    /// The active access tokens.
    pub tokens: Secrets,
    /// The origins the handshake consents to.
    pub origins: AllowedOrigins,
    /// The rate the handshake grants.
    pub rate: AllowedRate,
}

impl CloudEventsAuth {
    /// Tokens from a comma-separated list; no origin allowed, no rate limit.
    ///
    /// # Errors
    /// [`InvalidSecret`] when the list holds no token.
    pub fn parse(tokens: &str) -> Result<Self, InvalidSecret> {
        Ok(CloudEventsAuth {
            tokens: Secrets::parse_plain(tokens)?,
            origins: AllowedOrigins::List(Vec::new()),
            rate: AllowedRate::Unlimited,
        })
    }
}

/// Verifies a delivery's access token: `Authorization: Bearer <token>`,
/// else the `access_token` query parameter. A present but wrong header is
/// not rescued by the query parameter.
///
/// # Errors
/// [`VerifyError::Missing`] without either, [`VerifyError::Malformed`] for
/// another scheme than `Bearer`, [`VerifyError::Mismatch`] for a token that
/// is not an active one.
pub fn verify(request: &SignedRequest<'_>, auth: &CloudEventsAuth) -> Result<(), VerifyError> {
    if let Some(value) = request.header("authorization")? {
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(VerifyError::Malformed {
                header: "authorization",
                reason: "expected `Bearer <token>`",
            });
        }
        return if auth.tokens.matches_key(token.trim().as_bytes()) {
            Ok(())
        } else {
            Err(VerifyError::Mismatch("bearer token"))
        };
    }
    match request.query_param("access_token") {
        Some(token) if auth.tokens.matches_key(&token) => Ok(()),
        Some(_) => Err(VerifyError::Mismatch("`access_token` query parameter")),
        None => Err(VerifyError::Missing(
            "Authorization: Bearer token or `access_token` query parameter",
        )),
    }
}

/// The consent to a validation request: the values of
/// [`ALLOWED_ORIGIN_HEADER`] and [`ALLOWED_RATE_HEADER`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The origin granted, as the sender named it.
    pub origin: String,
    /// `*` or requests per minute.
    pub rate: String,
}

/// Why a validation request gets no consent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Not a validation request, or a malformed one (answer 400).
    #[error("{0}")]
    Malformed(&'static str),
    /// The origin is not on the allow-list (answer 403, no consent headers).
    #[error("the origin {0:?} is not allowed to deliver here")]
    NotAllowed(String),
}

/// Answers an `OPTIONS` validation request (http-webhook.md §4.2): consent
/// when `WebHook-Request-Origin` is an allowed origin, granting the
/// configured rate (`WebHook-Request-Rate`, when present, must be a
/// positive integer). Consent is not authentication: deliveries still need
/// the access token. An asynchronous `WebHook-Request-Callback` is not
/// used; the answer is immediate.
///
/// # Errors
/// [`HandshakeError`].
pub fn handshake(
    request: &SignedRequest<'_>,
    auth: &CloudEventsAuth,
) -> Result<Consent, HandshakeError> {
    let header = |name: &'static str| {
        request.header(name).map_err(|_| {
            HandshakeError::Malformed("a WebHook-Request-* header is malformed or repeated")
        })
    };
    let origin = header(REQUEST_ORIGIN_HEADER)?
        .filter(|o| !o.is_empty())
        .ok_or(HandshakeError::Malformed(
            "a validation request carries WebHook-Request-Origin",
        ))?;
    if let Some(rate) = header(REQUEST_RATE_HEADER)? {
        if !rate.parse::<u32>().is_ok_and(|r| r > 0) {
            return Err(HandshakeError::Malformed(
                "WebHook-Request-Rate must be a positive integer",
            ));
        }
    }
    if !auth.origins.allows(origin) {
        return Err(HandshakeError::NotAllowed(
            origin.chars().take(253).collect(),
        ));
    }
    Ok(Consent {
        origin: origin.to_owned(),
        rate: match auth.rate {
            AllowedRate::Unlimited => "*".to_owned(),
            AllowedRate::PerMinute(n) => n.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;

    fn auth() -> CloudEventsAuth {
        CloudEventsAuth {
            origins: AllowedOrigins::parse("eventgrid.azure.net, eventemitter.example.com"),
            rate: AllowedRate::PerMinute(120),
            ..CloudEventsAuth::parse("old-token,new-token").unwrap()
        }
    }

    fn request<'a>(uri: &'a str, headers: &'a HeaderMap) -> SignedRequest<'a> {
        SignedRequest {
            method: "POST",
            uri,
            headers,
            body: b"{}",
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_bearer_token_or_the_access_token_parameter() {
        let uri = "https://h/webhooks/cloudevents";
        for token in ["old-token", "new-token"] {
            let h = headers(&[("authorization", &format!("Bearer {token}"))]);
            assert_eq!(verify(&request(uri, &h), &auth()), Ok(()));
        }
        let h = headers(&[("authorization", "bearer new-token")]);
        assert_eq!(verify(&request(uri, &h), &auth()), Ok(()));
        let none = HeaderMap::new();
        let with_query = "https://h/webhooks/cloudevents?p=q&access_token=new-token";
        assert_eq!(verify(&request(with_query, &none), &auth()), Ok(()));
        assert!(matches!(
            verify(&request(uri, &none), &auth()),
            Err(VerifyError::Missing(_))
        ));
        let h = headers(&[("authorization", "Bearer wrong")]);
        assert_eq!(
            verify(&request(with_query, &h), &auth()),
            Err(VerifyError::Mismatch("bearer token")),
            "a wrong header is not rescued by the query"
        );
        let h = headers(&[("authorization", "Basic b2xkLXRva2Vu")]);
        assert!(matches!(
            verify(&request(uri, &h), &auth()),
            Err(VerifyError::Malformed { .. })
        ));
        let wrong_query = "https://h/webhooks/cloudevents?access_token=nope";
        assert!(matches!(
            verify(&request(wrong_query, &none), &auth()),
            Err(VerifyError::Mismatch(_))
        ));
    }

    #[test]
    fn the_handshake_consents_to_allowed_origins_only() {
        let uri = "https://h/webhooks/cloudevents";
        // the spec's example request
        let h = headers(&[
            ("webhook-request-origin", "eventemitter.example.com"),
            ("webhook-request-rate", "120"),
        ]);
        assert_eq!(
            handshake(&request(uri, &h), &auth()),
            Ok(Consent {
                origin: "eventemitter.example.com".into(),
                rate: "120".into()
            })
        );
        let h = headers(&[("webhook-request-origin", "EventGrid.azure.net")]);
        assert!(handshake(&request(uri, &h), &auth()).is_ok());
        let h = headers(&[("webhook-request-origin", "evil.example.com")]);
        assert!(matches!(
            handshake(&request(uri, &h), &auth()),
            Err(HandshakeError::NotAllowed(_))
        ));
        for bad in [
            headers(&[]),
            headers(&[
                ("webhook-request-origin", "a"),
                ("webhook-request-rate", "0"),
            ]),
            headers(&[
                ("webhook-request-origin", "a"),
                ("webhook-request-origin", "b"),
            ]),
        ] {
            assert!(matches!(
                handshake(&request(uri, &bad), &auth()),
                Err(HandshakeError::Malformed(_))
            ));
        }
        let any = CloudEventsAuth {
            origins: AllowedOrigins::parse("*"),
            ..auth()
        };
        let h = headers(&[("webhook-request-origin", "knative.dev")]);
        assert!(handshake(&request(uri, &h), &any).is_ok());
        // none configured: no consent
        let h = headers(&[("webhook-request-origin", "eventgrid.azure.net")]);
        assert!(handshake(&request(uri, &h), &CloudEventsAuth::parse("t").unwrap()).is_err());
        assert_eq!(AllowedRate::parse("*"), Ok(AllowedRate::Unlimited));
        assert!(AllowedRate::parse("0").is_err());
    }
}
