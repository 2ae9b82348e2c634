//! The small value types a config file names: rule-id globs, IP addresses and
//! networks, durations. Each parses with a reason a person can act on.

use std::fmt;
use std::net::IpAddr;

/// A pattern over rule ids (or actor ARNs): `*` matches any run of characters,
/// everything else matches itself, case-sensitively (rule ids are lowercase).
///
/// No `?` or character classes: rule ids are plain dashes and words, and a smaller
/// language leaves less to get wrong in a file that decides who gets woken up.
#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    text: String,
    /// The text split at each `*`: the first piece must start the value, the last must
    /// end it, the ones between must appear in order.
    pieces: Vec<String>,
}

impl Glob {
    pub fn new(text: &str) -> Result<Glob, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty pattern matches nothing; remove it".into());
        }
        if text.contains("**") {
            return Err(format!("`{text}`: `**` means the same as `*`; write one"));
        }
        Ok(Glob {
            text: text.to_owned(),
            pieces: text.split('*').map(str::to_owned).collect(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, value: &str) -> bool {
        let (first, rest) = self.pieces.split_first().expect("split gives one piece");
        let Some(mut tail) = value.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return tail.is_empty(); // no `*`: exact
        };
        for piece in middle {
            match tail.find(piece.as_str()) {
                Some(at) => tail = &tail[at + piece.len()..],
                None => return false,
            }
        }
        tail.ends_with(last.as_str())
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.text)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One IP address or a network in CIDR notation (`203.0.113.0/24`, `2001:db8::/32`).
/// An address matches every spelling of itself (`::1` and `0:0:0:0:0:0:0:1`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IpMatch {
    network: IpAddr,
    prefix: u8,
}

impl IpMatch {
    pub fn parse(text: &str) -> Result<IpMatch, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or a CIDR like 203.0.113.0/24"))?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= width => n,
                _ => {
                    return Err(format!(
                        "`{text}`: the prefix length must be a number from 0 to {width}"
                    ))
                }
            },
        };
        let network = mask(addr, prefix);
        if network != addr {
            // `10.1.2.3/8` is most likely a typo for one address or for `10.0.0.0/8`:
            // silencing a whole /8 by accident is worse than asking.
            return Err(format!(
                "`{text}` has host bits set; did you mean {network}/{prefix}?"
            ));
        }
        Ok(IpMatch { network, prefix })
    }

    /// Whether `ip` (as an alert carries it: any spelling, maybe not an IP at all, such
    /// as `AWS Internal` or a service name) is this address or in this network.
    pub fn contains(&self, ip: &str) -> bool {
        match ip.trim().parse::<IpAddr>() {
            Ok(addr) => {
                addr.is_ipv4() == self.network.is_ipv4() && mask(addr, self.prefix) == self.network
            }
            Err(_) => false,
        }
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

impl fmt::Display for IpMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = if self.network.is_ipv4() { 32 } else { 128 };
        if self.prefix == width {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

impl fmt::Debug for IpMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IpMatch({self})")
    }
}

/// `60s`, `10m`, `24h`, `7d`, `2w` in milliseconds (the rule format's parser, so a
/// duration means the same everywhere).
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    trailguard_core::rule::parse_duration(text)
}

/// Whether a tag filter matches an alert's tag: equal, or a dotted prefix of it
/// (`attack.t1098` matches `attack.t1098.001`, not `attack.t10980`).
pub fn tag_matches(filter: &str, tag: &str) -> bool {
    tag == filter
        || (tag.len() > filter.len()
            && tag.starts_with(filter)
            && tag.as_bytes()[filter.len()] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = |p: &str| Glob::new(p).unwrap();
        assert!(g("aws-iam-*").matches("aws-iam-access-key-created"));
        assert!(!g("aws-iam-*").matches("aws-ec2-run"));
        assert!(g("aws-iam-access-key-created").matches("aws-iam-access-key-created"));
        assert!(!g("aws-iam-access-key").matches("aws-iam-access-key-created"));
        assert!(g("*-created").matches("aws-iam-user-created"));
        assert!(g("aws-*-created").matches("aws-iam-user-created"));
        assert!(
            !g("aws-*-created").matches("aws-created"),
            "pieces do not overlap"
        );
        assert!(g("*").matches(""));
        assert!(g("a*b*c").matches("abc"));
        assert!(g("a*b*c").matches("a-b-b-c"));
        assert!(!g("a*b*c").matches("a-c-b"));
        assert!(g("arn:aws:iam::*:role/ci-*").matches("arn:aws:iam::1:role/ci-deploy"));
        assert!(Glob::new(" ").is_err());
        assert!(Glob::new("a**").unwrap_err().contains("**"));
        assert_eq!(g(" x-* ").to_string(), "x-*");
    }

    #[test]
    fn ip_matches() {
        let ip = |p: &str| IpMatch::parse(p).unwrap();
        assert!(ip("203.0.113.7").contains("203.0.113.7"));
        assert!(!ip("203.0.113.7").contains("203.0.113.8"));
        assert!(ip("203.0.113.0/24").contains("203.0.113.200"));
        assert!(!ip("203.0.113.0/24").contains("203.0.114.1"));
        assert!(ip("0.0.0.0/0").contains("8.8.8.8"));
        assert!(!ip("0.0.0.0/0").contains("::1"), "families never cross");
        assert!(ip("2001:db8::/32").contains("2001:0db8:0:0:0:0:0:1"));
        assert!(ip("::1").contains("0:0:0:0:0:0:0:1"));
        assert!(!ip("10.0.0.0/8").contains("AWS Internal"));
        assert!(!ip("10.0.0.0/8").contains("ec2.amazonaws.com"));
        assert_eq!(ip("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(ip("10.0.0.1/32").to_string(), "10.0.0.1");
        for (bad, says) in [
            ("10.0.0.0/33", "0 to 32"),
            ("2001:db8::/129", "0 to 128"),
            ("10.0.0.0/x", "prefix length"),
            ("300.1.1.1", "not an IP address"),
            ("10.1.2.3/8", "did you mean 10.0.0.0/8"),
            ("", "not an IP"),
        ] {
            let e = IpMatch::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn tags_match_exactly_or_by_dotted_prefix() {
        assert!(tag_matches("attack.persistence", "attack.persistence"));
        assert!(tag_matches("attack.t1098", "attack.t1098.001"));
        assert!(tag_matches("attack", "attack.t1098.001"));
        assert!(!tag_matches("attack.t1098", "attack.t10980"));
        assert!(!tag_matches("attack.t1098.001", "attack.t1098"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("60s"), Ok(60_000));
        assert_eq!(parse_duration_ms("24h"), Ok(86_400_000));
        assert!(parse_duration_ms("6Os").is_err());
        assert!(parse_duration_ms("0s").is_err());
    }
}
