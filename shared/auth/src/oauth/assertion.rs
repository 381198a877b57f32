//! Certificate credentials: the PEM file a client certificate comes in, and
//! the RS256 `client_assertion` JWT signed with its key (RFC 7523 §2.2, the
//! form Entra ID documents for certificate credentials).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

/// How long a signed assertion is valid (`exp` - `iat`).
pub(crate) const ASSERTION_LIFETIME_SECS: u64 = 600;

/// The key and certificate read from a PEM file.
pub(crate) struct PemCredential {
    /// PKCS#8 DER of the RSA private key.
    pub(crate) key_pkcs8: Vec<u8>,
    /// SHA-256 of the first certificate's DER.
    pub(crate) thumbprint_sha256: [u8; 32],
}

/// Reads a PEM holding a `PRIVATE KEY` (PKCS#8; an `RSA PRIVATE KEY`,
/// PKCS#1, is converted) and a `CERTIFICATE`. The error never repeats the
/// file's content.
pub(crate) fn read_pem(text: &str) -> Result<PemCredential, String> {
    let mut key = None;
    let mut certificate = None;
    for (label, der) in pem_blocks(text)? {
        match label.as_str() {
            "PRIVATE KEY" if key.is_none() => {
                RsaKeyPair::from_pkcs8(&der)
                    .map_err(|e| format!("its PRIVATE KEY is not a PKCS#8 RSA key ({e})"))?;
                key = Some(der);
            }
            "RSA PRIVATE KEY" if key.is_none() => {
                let pair = RsaKeyPair::from_der(&der)
                    .map_err(|e| format!("its RSA PRIVATE KEY is not usable ({e})"))?;
                let pkcs8 = pair
                    .as_der()
                    .map_err(|_| "its RSA PRIVATE KEY cannot be re-encoded as PKCS#8".to_owned())?;
                key = Some(pkcs8.as_ref().to_vec());
            }
            "CERTIFICATE" if certificate.is_none() => certificate = Some(der),
            _ => {}
        }
    }
    let key_pkcs8 = key.ok_or("it holds no PRIVATE KEY block")?;
    let certificate = certificate.ok_or("it holds no CERTIFICATE block")?;
    Ok(PemCredential {
        key_pkcs8,
        thumbprint_sha256: sha256(&certificate),
    })
}

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// The `(label, DER)` of every `-----BEGIN label-----` block.
fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for line in lines.by_ref() {
            if line == end {
                closed = true;
                break;
            }
            body.push_str(line);
        }
        if !closed {
            return Err(format!("its {label} block has no END line"));
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| format!("its {label} block is not base64"))?;
        blocks.push((label.to_owned(), der));
    }
    if blocks.is_empty() {
        return Err("it holds no PEM block".to_owned());
    }
    Ok(blocks)
}

/// A signed `client_assertion` for `client_id` at `token_url`.
pub(crate) fn sign(
    key_pkcs8: &[u8],
    thumbprint_sha256: &[u8; 32],
    client_id: &str,
    token_url: &str,
) -> Result<String, String> {
    let key = RsaKeyPair::from_pkcs8(key_pkcs8)
        .map_err(|e| format!("the client certificate's key is not a PKCS#8 RSA key ({e})"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let header = json!({
        "alg": "RS256",
        "typ": "JWT",
        "x5t#S256": URL_SAFE_NO_PAD.encode(thumbprint_sha256),
    });
    let claims = json!({
        "aud": token_url,
        "iss": client_id,
        "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "signing the client assertion failed".to_owned())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    fn pem(label: &str, der: &[u8]) -> String {
        let b64 = STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn a_pem_key_and_certificate_sign_a_verifiable_assertion() {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = pair.as_der().unwrap();
        let cert = b"not really a certificate, but its bytes are hashed all the same";
        let text = format!(
            "{}{}",
            pem("PRIVATE KEY", pkcs8.as_ref()),
            pem("CERTIFICATE", cert)
        );
        let read = read_pem(&text).unwrap();
        assert_eq!(read.thumbprint_sha256, sha256(cert));

        let jwt = sign(
            &read.key_pkcs8,
            &read.thumbprint_sha256,
            "app",
            "https://t/token",
        )
        .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t#S256"], URL_SAFE_NO_PAD.encode(sha256(cert)));
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://t/token");
        assert_eq!(claims["iss"], "app");
        assert_eq!(claims["sub"], "app");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            ASSERTION_LIFETIME_SECS
        );
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref())
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .unwrap();
    }

    #[test]
    fn pem_errors_say_what_is_missing_without_the_content() {
        let err = read_pem(&pem("CERTIFICATE", b"abc")).err().unwrap();
        assert!(err.contains("no PRIVATE KEY"), "{err}");
        let err = read_pem("secret-looking text").err().unwrap();
        assert!(!err.contains("secret"), "{err}");
        let err = read_pem(&pem("PRIVATE KEY", b"garbage")).err().unwrap();
        assert!(err.contains("PKCS#8"), "{err}");
    }
}
