//! Checking `Authorization: SharedAccessSignature ...` headers the way
//! Service Bus documents it: a known key name, an unexpired `se`, a resource
//! URI (`sr`) that the request's URI starts with, and
//! `sig = base64(HMAC-SHA256(key, <sr as sent> + "\n" + se))`.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A right a SAS rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Right {
    /// Send to queues and topics.
    Send,
    /// Receive from queues and subscriptions (peek-lock, complete, unlock, renew).
    Listen,
    /// Everything.
    Manage,
}

/// A shared access authorization rule: a key and its rights.
#[derive(Debug, Clone)]
pub(crate) struct SasRule {
    pub(crate) key: String,
    pub(crate) rights: Vec<Right>,
}

/// Why a request was refused (HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unauthorized(pub(crate) String);

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes `%xx` escapes (not `+`) in a URL path segment.
pub(crate) fn decode_segment(s: &str) -> String {
    percent_decode(&s.replace('+', "%2B"))
}

fn normalize(uri: &str) -> String {
    let lower = uri.to_ascii_lowercase();
    let without_scheme = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .or_else(|| lower.strip_prefix("sb://"))
        .unwrap_or(&lower);
    without_scheme.trim_end_matches('/').to_owned()
}

/// Checks `header` for a request to `resource_uri` (the public URI of the
/// request, without query) that needs `right`.
pub(crate) fn authorize(
    rules: &BTreeMap<String, SasRule>,
    header: Option<&str>,
    resource_uri: &str,
    right: Right,
) -> Result<(), Unauthorized> {
    let header = header.ok_or_else(|| {
        Unauthorized("MissingToken: the request has no Authorization header".into())
    })?;
    let token = header
        .strip_prefix("SharedAccessSignature ")
        .ok_or_else(|| {
            Unauthorized("InvalidSignature: not a SharedAccessSignature token".into())
        })?;
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for part in token.split('&') {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| Unauthorized(format!("InvalidSignature: malformed field {part:?}")))?;
        fields.insert(name, value);
    }
    let field = |name: &str| {
        fields
            .get(name)
            .copied()
            .ok_or_else(|| Unauthorized(format!("InvalidSignature: the token has no {name}")))
    };
    let (sr_raw, sig_raw, se_raw, skn_raw) =
        (field("sr")?, field("sig")?, field("se")?, field("skn")?);
    let key_name = percent_decode(skn_raw);
    let rule = rules
        .get(&key_name)
        .ok_or_else(|| Unauthorized(format!("InvalidSignature: unknown key name {key_name:?}")))?;
    let expiry: u64 = se_raw
        .parse()
        .map_err(|_| Unauthorized("InvalidSignature: se is not a number".into()))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if expiry <= now {
        return Err(Unauthorized("ExpiredToken: the token has expired".into()));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(rule.key.as_bytes())
        .map_err(|_| Unauthorized("InvalidSignature: unusable key".into()))?;
    mac.update(format!("{sr_raw}\n{se_raw}").as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if percent_decode(sig_raw) != expected {
        return Err(Unauthorized(
            "InvalidSignature: the token signature is invalid".into(),
        ));
    }
    // A query in `sr` is not part of the scope: azure_messaging_servicebus
    // signs peek-lock URIs with their `?timeout=n`.
    let sr = percent_decode(sr_raw);
    let scope = normalize(sr.split('?').next().unwrap_or(""));
    let target = normalize(resource_uri);
    if !(target == scope || target.starts_with(&format!("{scope}/"))) {
        return Err(Unauthorized(format!(
            "InvalidAudience: the token is for {scope:?}, not {target:?}"
        )));
    }
    if !(rule.rights.contains(&right) || rule.rights.contains(&Right::Manage)) {
        return Err(Unauthorized(format!(
            "Unauthorized access. '{right:?}' claim(s) are required to perform this operation."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(uri: &str, key: &str, se: u64) -> String {
        let sr: String = url_encode(uri);
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{sr}\n{se}").as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        format!(
            "SharedAccessSignature sr={sr}&sig={}&se={se}&skn=send",
            url_encode(&sig)
        )
    }

    /// Every byte but `A-Z a-z 0-9 - _ . *` as `%XX`: `form_urlencoded`,
    /// with a space (its own `+` chunk) as `%20`.
    fn url_encode(s: &str) -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .map(|chunk| if chunk == "+" { "%20" } else { chunk })
            .collect()
    }

    #[test]
    fn url_encode_keeps_only_its_unreserved_set() {
        let unreserved = "AZaz09-_.*";
        assert_eq!(url_encode(unreserved), unreserved);
        assert_eq!(url_encode(" +/=:~%é"), "%20%2B%2F%3D%3A%7E%25%C3%A9");
    }

    #[test]
    fn checks_key_signature_expiry_scope_and_right() {
        let rules = BTreeMap::from([(
            "send".to_owned(),
            SasRule {
                key: "k1".into(),
                rights: vec![Right::Send],
            },
        )]);
        let later = 4_000_000_000;
        let ns = "https://ns.servicebus.windows.net";
        let q = format!("{ns}/q/messages");
        let ok = token(ns, "k1", later);
        assert_eq!(authorize(&rules, Some(&ok), &q, Right::Send), Ok(()));
        assert!(
            authorize(&rules, Some(&ok), &q, Right::Listen)
                .unwrap_err()
                .0
                .contains("Listen")
        );
        let wrong_key = token(ns, "k2", later);
        assert!(
            authorize(&rules, Some(&wrong_key), &q, Right::Send)
                .unwrap_err()
                .0
                .contains("signature")
        );
        let expired = token(ns, "k1", 1);
        assert!(
            authorize(&rules, Some(&expired), &q, Right::Send)
                .unwrap_err()
                .0
                .contains("Expired")
        );
        let other_entity = token(&format!("{ns}/other"), "k1", later);
        assert!(
            authorize(&rules, Some(&other_entity), &q, Right::Send)
                .unwrap_err()
                .0
                .contains("Audience")
        );
        let prefix_trick = token(&format!("{ns}/q"), "k1", later);
        assert!(
            authorize(
                &rules,
                Some(&prefix_trick),
                &format!("{ns}/qq/messages"),
                Right::Send
            )
            .is_err()
        );
        assert!(authorize(&rules, None, &q, Right::Send).is_err());
        let tampered = ok.replace("se=4000000000", "se=4000000001");
        assert!(authorize(&rules, Some(&tampered), &q, Right::Send).is_err());
    }
}
