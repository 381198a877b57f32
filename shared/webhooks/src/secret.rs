//! Secrets, several active at once (key rotation), and the constant-time
//! comparisons every scheme uses.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// One secret's bytes. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret from its raw bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    /// The raw bytes (the HMAC key, or the shared key itself).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// The active secrets of one provider. A request verifies when it verifies
/// under any of them, so a new secret can be added before the CRM switches
/// to it and the old one removed after.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secrets(Vec<Secret>);

/// A configured secret list that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSecret {
    /// The list holds no secret.
    #[error("no secret given")]
    Empty,
    /// One entry is malformed (its position, 1-based, and why; never its value).
    #[error("secret #{position}: {reason}")]
    Malformed {
        /// 1-based position in the comma-separated list.
        position: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

impl Secrets {
    /// Secrets from a list.
    ///
    /// # Errors
    /// [`InvalidSecret::Empty`] when the list is empty.
    pub fn new(secrets: Vec<Secret>) -> Result<Self, InvalidSecret> {
        if secrets.is_empty() || secrets.iter().any(|s| s.0.is_empty()) {
            return Err(InvalidSecret::Empty);
        }
        Ok(Secrets(secrets))
    }

    /// Secrets from a comma-separated list of plain strings (whitespace
    /// around entries is trimmed, empty entries are skipped).
    ///
    /// # Errors
    /// [`InvalidSecret::Empty`] when no entry is left.
    pub fn parse_plain(list: &str) -> Result<Self, InvalidSecret> {
        Self::new(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Secret::new(s.as_bytes()))
                .collect(),
        )
    }

    /// The active secrets.
    pub fn iter(&self) -> impl Iterator<Item = &Secret> {
        self.0.iter()
    }

    /// How many secrets are active.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no secret is active (never true for a constructed value).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `presented` equals one of the secrets, compared in constant
    /// time (over SHA-256 digests, so neither content nor length leaks).
    /// Every secret is compared, whatever matched first.
    pub fn matches_key(&self, presented: &[u8]) -> bool {
        let presented = Sha256::digest(presented);
        let mut any = subtle::Choice::from(0);
        for secret in &self.0 {
            any |= Sha256::digest(&secret.0).ct_eq(&presented);
        }
        any.into()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets(<{} redacted>)", self.0.len())
    }
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 32],
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Constant-time equality of two byte strings (lengths may differ; a length
/// difference is not data-dependent on secrets here, since both sides are
/// digests or signatures of fixed size).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes hex (either case); `None` when it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let s = Secrets::parse_plain("hunter2, correct-horse").unwrap();
        assert_eq!(s.len(), 2);
        let shown = format!("{s:?} {:?}", s.iter().next().unwrap());
        assert!(
            !shown.contains("hunter2") && !shown.contains("horse"),
            "{shown}"
        );
    }

    #[test]
    fn any_active_key_matches() {
        let s = Secrets::parse_plain("old-key,new-key").unwrap();
        assert!(s.matches_key(b"old-key"));
        assert!(s.matches_key(b"new-key"));
        assert!(!s.matches_key(b"new-ke"));
        assert!(!s.matches_key(b""));
        assert!(Secrets::parse_plain(" , ").is_err());
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00ABff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?"
        let mac = hmac_sha256(b"Jefe", &[b"what do ya ", b"want for nothing?"]);
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
