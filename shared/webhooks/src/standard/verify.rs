//! The Standard Webhooks signature.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD as BASE64};
use chrono::{DateTime, Utc};

use crate::error::VerifyError;
use crate::request::{SignedRequest, check_window, parse_timestamp};
use crate::secret::{InvalidSecret, Secret, Secrets, ct_eq, hmac_sha256};

/// `webhook-id`: the message id, stable across retries.
pub const ID_HEADER: &str = "webhook-id";
/// `webhook-timestamp`: seconds since the epoch.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// `webhook-signature`: space-separated `v1,<base64>` entries.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// How secrets are read: the standard alphabet, padded or not, and trailing
/// bits that are not zero ignored. That is the union of what the reference
/// libraries accept (Python appends `==` and decodes leniently; Go ignores
/// non-canonical trailing bits); what all of them refuse stays refused:
/// characters outside the alphabet, an impossible length, an empty key.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The active signing secrets (their decoded keys).
#[derive(Debug, Clone)]
pub struct StandardAuth {
    /// The HMAC keys.
    pub keys: Secrets,
}

impl StandardAuth {
    /// From a comma-separated list of `whsec_<base64>` secrets (the prefix is
    /// optional; the base64 may be unpadded or carry non-zero trailing bits).
    ///
    /// # Errors
    /// [`InvalidSecret`] naming the position of a secret that is not base64
    /// or decodes to no bytes.
    pub fn parse(list: &str) -> Result<Self, InvalidSecret> {
        let mut keys = Vec::new();
        for (i, s) in list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let encoded = s.strip_prefix("whsec_").unwrap_or(s);
            let key = SECRET_BASE64
                .decode(encoded)
                .map_err(|_| InvalidSecret::Malformed {
                    position: i + 1,
                    reason: "expected whsec_ followed by base64",
                })?;
            keys.push(Secret::new(key));
        }
        Ok(StandardAuth {
            keys: Secrets::new(keys)?,
        })
    }
}

/// The `v1` signatures of a `webhook-signature` header; entries of other
/// versions (`v1a`, ...) are skipped.
///
/// # Errors
/// [`VerifyError::Malformed`] when no `v1` entry decodes.
pub fn parse_signature_header(value: &str) -> Result<Vec<Vec<u8>>, VerifyError> {
    let signatures: Vec<Vec<u8>> = value
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| BASE64.decode(sig).ok())
        .take(32)
        .collect();
    if signatures.is_empty() {
        return Err(VerifyError::Malformed {
            header: SIGNATURE_HEADER,
            reason: "no v1,<base64> entry",
        });
    }
    Ok(signatures)
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let mac = hmac_sha256(key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    format!("v1,{}", BASE64.encode(mac))
}

/// Verifies a request; returns its `webhook-id`.
///
/// # Errors
/// A [`VerifyError`] saying what is missing, stale or wrong.
pub fn verify(
    request: &SignedRequest<'_>,
    auth: &StandardAuth,
    now: DateTime<Utc>,
) -> Result<String, VerifyError> {
    let id = request.required_header(ID_HEADER)?;
    let timestamp = request.required_header(TIMESTAMP_HEADER)?;
    let signature = request.required_header(SIGNATURE_HEADER)?;
    let ts = parse_timestamp(TIMESTAMP_HEADER, timestamp)?;
    check_window(ts, now)?;
    let presented = parse_signature_header(signature)?;
    let mut ok = false;
    for key in auth.keys.iter() {
        let mac = hmac_sha256(
            key.expose(),
            &[
                id.as_bytes(),
                b".",
                timestamp.as_bytes(),
                b".",
                request.body,
            ],
        );
        for sig in &presented {
            ok |= ct_eq(&mac, sig);
        }
    }
    if ok {
        Ok(id.to_owned())
    } else {
        Err(VerifyError::Mismatch("signature"))
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;

    // Published vector: standard-webhooks/standard-webhooks, libraries/rust/src/lib.rs,
    // `test_sign` (the reference implementation's test; the same values appear in
    // the other language libraries of that repository).
    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: i64 = 1_649_367_553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SIGNATURE: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";

    fn request<'a>(h: &'a HeaderMap, body: &'a [u8]) -> SignedRequest<'a> {
        SignedRequest {
            method: "POST",
            uri: "https://h/webhooks/standard",
            headers: h,
            body,
        }
    }

    fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ID_HEADER, id.parse().unwrap());
        h.insert(TIMESTAMP_HEADER, ts.to_string().parse().unwrap());
        h.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        h
    }

    #[test]
    fn published_vector_signs_and_verifies() {
        let auth = StandardAuth::parse(SECRET).unwrap();
        let key = auth.keys.iter().next().unwrap();
        assert_eq!(sign(key.expose(), ID, TS, BODY), SIGNATURE);
        let now = DateTime::from_timestamp(TS + 10, 0).unwrap();
        let h = headers(ID, TS, SIGNATURE);
        assert_eq!(verify(&request(&h, BODY), &auth, now), Ok(ID.to_owned()));
    }

    #[test]
    fn any_entry_under_any_key_verifies() {
        let auth = StandardAuth::parse(&format!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,{SECRET}"))
            .unwrap();
        let now = DateTime::from_timestamp(TS, 0).unwrap();
        let multi = format!("v1a,xyz v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU= {SIGNATURE}");
        let h = headers(ID, TS, &multi);
        assert_eq!(verify(&request(&h, BODY), &auth, now), Ok(ID.to_owned()));
        let h = headers(ID, TS, "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=");
        assert_eq!(
            verify(&request(&h, BODY), &auth, now),
            Err(VerifyError::Mismatch("signature"))
        );
    }

    #[test]
    fn stale_future_and_tampered_are_rejected() {
        let auth = StandardAuth::parse(SECRET).unwrap();
        let h = headers(ID, TS, SIGNATURE);
        let late = DateTime::from_timestamp(TS + 301, 0).unwrap();
        assert!(matches!(
            verify(&request(&h, BODY), &auth, late),
            Err(VerifyError::Stale { .. })
        ));
        let early = DateTime::from_timestamp(TS - 301, 0).unwrap();
        assert!(matches!(
            verify(&request(&h, BODY), &auth, early),
            Err(VerifyError::Future { .. })
        ));
        let now = DateTime::from_timestamp(TS, 0).unwrap();
        assert_eq!(
            verify(&request(&h, b"{}"), &auth, now),
            Err(VerifyError::Mismatch("signature"))
        );
    }

    /// The key bytes a secret decodes to, or `None` when it is refused.
    fn key_of(secret: &str) -> Option<Vec<u8>> {
        StandardAuth::parse(secret)
            .ok()
            .and_then(|a| a.keys.iter().next().map(|k| k.expose().to_vec()))
    }

    // The reference libraries (standard-webhooks/libraries): Python decodes
    // `b64decode(secret + "==")`, so padding is optional and trailing bits
    // are ignored; Go's `base64.StdEncoding` ignores trailing bits too. Both
    // are accepted here. Characters outside the standard alphabet and an
    // impossible length are refused, as Go, Rust and JavaScript refuse them
    // (Python alone drops unknown characters silently).
    #[test]
    fn secrets_padded_unpadded_and_with_trailing_bits() {
        let accepted: &[(&str, &[u8])] = &[
            ("whsec_QQ==", b"A"),
            ("whsec_QQ", b"A"),
            ("QQ", b"A"),
            ("whsec_QR==", b"A"),
            ("whsec_QR", b"A"),
            ("whsec_QUI=", b"AB"),
            ("whsec_QUI", b"AB"),
            ("whsec_QUJD", b"ABC"),
        ];
        for (secret, key) in accepted {
            assert_eq!(key_of(secret).as_deref(), Some(*key), "{secret}");
        }
        let refused = [
            "whsec_Q",
            "whsec_Q===",
            "whsec_-_8A",
            "whsec_QU I=",
            "whsec_***",
            "whsec_",
            "",
        ];
        for secret in refused {
            assert_eq!(key_of(secret), None, "{secret}");
        }
    }

    #[test]
    fn an_unpadded_secret_signs_like_its_padded_form() {
        // 32 random bytes whose base64 ends in one `=`: the unpadded form is
        // how some providers print their signing secrets.
        let padded = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwq3D2WN1xN0A=";
        let unpadded = padded.trim_end_matches('=');
        assert_ne!(padded, unpadded);
        let now = DateTime::from_timestamp(TS, 0).unwrap();
        let key = key_of(padded).unwrap();
        assert_eq!(key_of(unpadded), Some(key.clone()));
        let signature = sign(&key, ID, TS, BODY);
        let h = headers(ID, TS, &signature);
        let auth = StandardAuth::parse(unpadded).unwrap();
        assert_eq!(verify(&request(&h, BODY), &auth, now), Ok(ID.to_owned()));
    }

    #[test]
    fn malformed_headers_and_secrets() {
        assert!(parse_signature_header("v2,abc").is_err());
        assert!(parse_signature_header("v1,***").is_err());
        assert!(parse_signature_header("").is_err());
        assert!(StandardAuth::parse("whsec_***").is_err());
        assert!(StandardAuth::parse("").is_err());
    }
}
