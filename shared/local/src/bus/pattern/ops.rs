//! The values the matchers compare with: literals, numbers, wildcards and
//! CIDR blocks.

use std::cmp::Ordering;
use std::net::IpAddr;

use serde_json::Value;

/// The most unescaped `*` one wildcard value may hold. EventBridge rejects
/// wildcard patterns it finds too complex without publishing its measure;
/// this bound is the local approximation (README, "Event patterns").
pub(super) const MAX_WILDCARDS: usize = 5;

/// An exact value of a pattern (or of an `anything-but` list).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    Str(String),
    Num(serde_json::Number),
    Bool(bool),
    Null,
}

impl Literal {
    /// The literal for a JSON scalar; `None` for an array or object.
    pub(super) fn of(v: &Value) -> Option<Literal> {
        Some(match v {
            Value::String(s) => Literal::Str(s.clone()),
            Value::Number(n) => Literal::Num(n.clone()),
            Value::Bool(b) => Literal::Bool(*b),
            Value::Null => Literal::Null,
            Value::Array(_) | Value::Object(_) => return None,
        })
    }

    /// Equal to the event's leaf value: same type and same value; numbers
    /// by their representation, as the guide says of exact matching
    /// ("300, 300.0 and 3.0e2 are not considered equal"): an integer is
    /// never equal to a float. Once parsed, `300.0` and `3.0e2` are the
    /// same float, so those two are equal here (README, "Event patterns").
    /// `numeric` compares values.
    pub(super) fn equals(&self, v: &Value) -> bool {
        match (self, v) {
            (Literal::Str(a), Value::String(b)) => a == b,
            (Literal::Num(a), Value::Number(b)) => a == b,
            (Literal::Bool(a), Value::Bool(b)) => a == b,
            (Literal::Null, Value::Null) => true,
            _ => false,
        }
    }
}

/// Numbers compare as EventBridge documents: inside ±5.0e9, at six digits
/// after the decimal point; outside that range, as doubles.
pub(super) fn compare(a: f64, b: f64) -> Option<Ordering> {
    match (fixed(a), fixed(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.partial_cmp(&b),
    }
}

fn fixed(n: f64) -> Option<i64> {
    (n.is_finite() && n.abs() <= 5.0e9).then(|| (n * 1e6).round() as i64)
}

/// A `wildcard` value: `*` matches any run of characters (also none);
/// `\*` is a literal `*` and `\\` a literal `\`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Wildcard(Vec<Token>);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Char(char),
    Star,
}

impl Wildcard {
    /// Parses a wildcard value, rejecting what EventBridge rejects:
    /// consecutive `*` and too many of them.
    pub(super) fn parse(text: &str) -> Result<Wildcard, String> {
        let mut tokens = Vec::new();
        let mut chars = text.chars().enumerate().peekable();
        while let Some((pos, c)) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&(_, next @ ('*' | '\\'))) => {
                        tokens.push(Token::Char(next));
                        chars.next();
                    }
                    _ => tokens.push(Token::Char('\\')),
                },
                '*' if tokens.last() == Some(&Token::Star) => {
                    return Err(format!("consecutive wildcard characters at pos {pos}"));
                }
                '*' => tokens.push(Token::Star),
                c => tokens.push(Token::Char(c)),
            }
        }
        if tokens.iter().filter(|t| **t == Token::Star).count() > MAX_WILDCARDS {
            return Err(format!(
                "rule is too complex - try using fewer wildcard characters (at most \
                 {MAX_WILDCARDS} in one value)"
            ));
        }
        Ok(Wildcard(tokens))
    }

    /// True when the whole of `s` matches.
    pub(super) fn matches(&self, s: &str) -> bool {
        let text: Vec<char> = s.chars().collect();
        let pattern = &self.0;
        let (mut p, mut t) = (0, 0);
        // the last `*` seen and the text position it currently stands for
        let mut backtrack: Option<(usize, usize)> = None;
        while let Some(&c) = text.get(t) {
            match pattern.get(p) {
                Some(Token::Char(x)) if *x == c => {
                    p += 1;
                    t += 1;
                }
                Some(Token::Star) => {
                    backtrack = Some((p, t));
                    p += 1;
                }
                _ => match backtrack {
                    Some((star, from)) => {
                        p = star + 1;
                        t = from + 1;
                        backtrack = Some((star, from + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern.iter().skip(p).all(|token| *token == Token::Star)
    }
}

/// A `cidr` block, IPv4 or IPv6. Host bits set in the address are ignored
/// (`10.0.0.1/24` is `10.0.0.0/24`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Parses `address/bits`.
    pub(super) fn parse(text: &str) -> Result<Cidr, String> {
        let mut parts = text.split('/');
        let (Some(address), Some(bits), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("malformed CIDR {text:?}, one '/' required"));
        };
        let bits: u8 = bits
            .parse()
            .map_err(|_| format!("malformed CIDR {text:?}, mask bits must be an integer"))?;
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("nonstandard IP address: {address}"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        if bits > max {
            return Err(format!(
                "malformed CIDR {text:?}, mask bits must be at most {max}"
            ));
        }
        Ok(Cidr { network, bits })
    }

    /// True when `s` is an IP address of the same family inside the block.
    pub(super) fn contains(&self, s: &str) -> bool {
        match (self.network, s.parse::<IpAddr>()) {
            (IpAddr::V4(net), Ok(IpAddr::V4(ip))) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), Ok(IpAddr::V6(ip))) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let w = |p: &str| Wildcard::parse(p).unwrap();
        assert!(w("*.png").matches("dir/a.png"));
        assert!(w("*.png").matches(".png"));
        assert!(!w("*.png").matches("a.png.txt"));
        assert!(w("a*b*c").matches("abc"));
        assert!(w("a*b*c").matches("aXbYbZc"));
        assert!(!w("a*b*c").matches("aXbYc-"));
        assert!(w(r"a\*b").matches("a*b"));
        assert!(!w(r"a\*b").matches("aXb"));
        assert!(w(r"a\\*").matches(r"a\anything"));
        assert!(w("").matches(""));
        assert!(!w("").matches("x"));
        assert_eq!(
            Wildcard::parse("a**b").unwrap_err(),
            "consecutive wildcard characters at pos 2"
        );
        assert!(
            Wildcard::parse(r"a\**b").is_ok(),
            "an escaped star is not a wildcard"
        );
        assert!(Wildcard::parse("*:*:*:*:*:x/*").is_err());
    }

    #[test]
    fn cidrs() {
        let c = |p: &str| Cidr::parse(p).unwrap();
        assert!(c("10.0.0.0/24").contains("10.0.0.255"));
        assert!(!c("10.0.0.0/24").contains("10.0.1.0"));
        assert!(c("10.0.0.1/24").contains("10.0.0.7"));
        assert!(c("0.0.0.0/0").contains("192.168.1.1"));
        assert!(c("10.0.0.1/32").contains("10.0.0.1"));
        assert!(!c("10.0.0.1/32").contains("10.0.0.2"));
        assert!(c("2001:db8::/32").contains("2001:db8:1234::1"));
        assert!(!c("2001:db8::/32").contains("2001:db9::1"));
        assert!(!c("10.0.0.0/8").contains("::ffff:10.0.0.1"));
        assert!(!c("10.0.0.0/8").contains("not an ip"));
        assert!(Cidr::parse("10.0.0.0").is_err());
        assert!(Cidr::parse("10.0.0.0/x").is_err());
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("xx.11.xx/24").is_err());
        assert!(Cidr::parse("10.0.0.0/8/8").is_err());
    }

    #[test]
    fn numbers_compare_at_six_decimals() {
        assert_eq!(compare(300.0, 3.0e2), Some(Ordering::Equal));
        assert_eq!(compare(0.1 + 0.2, 0.3), Some(Ordering::Equal));
        assert_eq!(compare(1.000_000_1, 1.0), Some(Ordering::Equal));
        assert_eq!(compare(1.000_001, 1.0), Some(Ordering::Greater));
        assert_eq!(compare(6.0e9, 5.0e9), Some(Ordering::Greater));
    }
}
