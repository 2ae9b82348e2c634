//! IP addresses for `cidr` and for exact strings that look like IP addresses.
//!
//! EventBridge (event-ruler) compiles an exact string that is an IP address into a
//! one-address range, so `"2001:db8::1"` also matches `"2001:0db8:0:0:0:0:0:1"`; a
//! `cidr` matches strings that parse as an address of the same family in the range.

use std::net::IpAddr;

/// An IPv4 or IPv6 network: the address bits kept by the mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpRange {
    v6: bool,
    network: u128,
    mask: u128,
}

impl IpRange {
    /// Parses `a.b.c.d/n` or `x:y::/n`, with AWS's reasons for what it rejects.
    pub(crate) fn parse_cidr(text: &str) -> Result<IpRange, String> {
        let (ip, bits) = match text.split_once('/') {
            Some((ip, bits)) if !bits.contains('/') => (ip, bits),
            _ => return Err("Malformed CIDR, one '/' required".into()),
        };
        let bits: u32 = bits
            .parse()
            .map_err(|_| "Malformed CIDR, mask bits must be an integer".to_owned())?;
        let addr: IpAddr = ip
            .parse()
            .map_err(|_| format!("Nonstandard IP address: {ip}"))?;
        let (v6, width) = match addr {
            IpAddr::V4(_) => (false, 32),
            IpAddr::V6(_) => (true, 128),
        };
        // A full-length mask is one address: AWS wants an exact string for that.
        if bits >= width {
            let family = if v6 { "IPv6" } else { "IPv4" };
            return Err(format!("{family} mask bits must be < {width}"));
        }
        let all = if v6 { u128::MAX } else { u32::MAX as u128 };
        let mask = if bits == 0 { 0 } else { all & !(all >> bits) };
        Ok(IpRange {
            v6,
            network: bits_of(addr) & mask,
            mask,
        })
    }

    pub(crate) fn contains(&self, addr: IpAddr) -> bool {
        matches!(addr, IpAddr::V6(_)) == self.v6 && bits_of(addr) & self.mask == self.network
    }
}

fn bits_of(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The address a string holds, when it is one; cheap to reject ordinary strings.
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let first = *s.as_bytes().first()?;
    if s.len() > 45 || !(first.is_ascii_hexdigit() || first == b':') {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges() {
        let r = IpRange::parse_cidr("203.0.113.0/24").unwrap();
        assert!(r.contains(ip("203.0.113.0")) && r.contains(ip("203.0.113.255")));
        assert!(!r.contains(ip("203.0.114.1")) && !r.contains(ip("::1")));
        let any = IpRange::parse_cidr("0.0.0.0/0").unwrap();
        assert!(any.contains(ip("255.255.255.255")));
        let v6 = IpRange::parse_cidr("2001:db8:1234:1a00::/64").unwrap();
        assert!(v6.contains(ip("2001:0db8:1234:1a00:0000:0000:0000:0001")));
        assert!(!v6.contains(ip("2001:db8:1234:1a01::1")));
        // Host bits in the network address are masked off, not an error.
        assert!(IpRange::parse_cidr("10.1.2.3/8")
            .unwrap()
            .contains(ip("10.9.9.9")));
    }

    #[test]
    fn rejects_like_aws() {
        for (bad, why) in [
            ("203.0.113.10", "one '/'"),
            ("1.2.3.4/8/8", "one '/'"),
            ("203.0.113.0/x", "integer"),
            ("203.0.113.0/-1", "integer"),
            ("203.0.x.0/24", "Nonstandard"),
            ("203.0.113.10/32", "< 32"),
            ("::1/128", "< 128"),
            ("1.2.3.4/99999999999", "integer"),
        ] {
            let err = IpRange::parse_cidr(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn only_addresses_parse() {
        assert!(parse_ip("198.51.100.7").is_some());
        assert!(parse_ip("2001:db8::ff00:42:8329").is_some());
        for s in [
            "",
            "iam.amazonaws.com",
            "AWS Internal",
            "arn:aws:iam::1:user/a",
            "1.2.3.256",
        ] {
            assert!(parse_ip(s).is_none(), "{s}");
        }
    }
}
