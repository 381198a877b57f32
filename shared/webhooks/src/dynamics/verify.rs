//! `HttpHeader` and `WebhookKey` authentication.

use http::HeaderName;

use crate::error::VerifyError;
use crate::request::SignedRequest;
use crate::secret::Secrets;

/// The header that carries the key when none is configured.
pub const DEFAULT_KEY_HEADER: &str = "x-switchyard-key";

/// How Dynamics proves itself: the key(s) registered on the service endpoint
/// and the header name of `HttpHeader` authentication.
#[derive(Debug, Clone)]
pub struct DynamicsAuth {
    /// The header of `HttpHeader` authentication.
    pub header: HeaderName,
    /// The active keys.
    pub keys: Secrets,
}

/// Verifies a Dynamics request: the key header when present, else the
/// `code` query parameter (`WebhookKey`). A present but wrong header is not
/// rescued by a query parameter.
///
/// # Errors
/// [`VerifyError::Missing`] when neither is present, [`VerifyError::Mismatch`]
/// when the key is not an active one.
pub fn verify(request: &SignedRequest<'_>, auth: &DynamicsAuth) -> Result<(), VerifyError> {
    let mut values = request.headers.get_all(&auth.header).iter();
    if let Some(value) = values.next() {
        if values.next().is_some() {
            return Err(VerifyError::Malformed {
                header: "key header",
                reason: "present more than once",
            });
        }
        return if auth.keys.matches_key(value.as_bytes()) {
            Ok(())
        } else {
            Err(VerifyError::Mismatch("key header"))
        };
    }
    match request.query_param("code") {
        Some(code) if auth.keys.matches_key(&code) => Ok(()),
        Some(_) => Err(VerifyError::Mismatch("`code` query parameter")),
        None => Err(VerifyError::Missing("key header or `code` query parameter")),
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;

    fn auth() -> DynamicsAuth {
        DynamicsAuth {
            header: HeaderName::from_static(DEFAULT_KEY_HEADER),
            keys: Secrets::parse_plain("old-key-1,new-key-2").unwrap(),
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

    #[test]
    fn http_header_auth_accepts_any_active_key() {
        for key in ["old-key-1", "new-key-2"] {
            let mut h = HeaderMap::new();
            h.insert(DEFAULT_KEY_HEADER, key.parse().unwrap());
            assert_eq!(
                verify(&request("https://h/webhooks/dynamics", &h), &auth()),
                Ok(())
            );
        }
    }

    #[test]
    fn webhook_key_auth_reads_the_code_parameter() {
        let h = HeaderMap::new();
        assert_eq!(
            verify(
                &request("https://h/webhooks/dynamics?code=new-key-2", &h),
                &auth()
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                &request("https://h/webhooks/dynamics?code=new%2Dkey%2D2", &h),
                &auth()
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                &request("https://h/webhooks/dynamics?code=nope", &h),
                &auth()
            ),
            Err(VerifyError::Mismatch("`code` query parameter"))
        );
    }

    #[test]
    fn a_wrong_header_is_not_rescued_by_the_query() {
        let mut h = HeaderMap::new();
        h.insert(DEFAULT_KEY_HEADER, "wrong".parse().unwrap());
        assert_eq!(
            verify(
                &request("https://h/webhooks/dynamics?code=new-key-2", &h),
                &auth()
            ),
            Err(VerifyError::Mismatch("key header"))
        );
    }

    #[test]
    fn nothing_presented_is_missing() {
        let h = HeaderMap::new();
        assert!(matches!(
            verify(&request("https://h/webhooks/dynamics", &h), &auth()),
            Err(VerifyError::Missing(_))
        ));
    }
}
