//! Source allowlists: an optional per-endpoint list of networks that may deliver
//! to it.
//!
//! Some senders publish the ranges they send from (GitHub's `meta` API, Stripe's
//! IP list). A signature already proves who signed a request; an allowlist also
//! refuses a leaked secret used from anywhere else, and spares the relay the
//! work of verifying junk. An empty list allows every source.
//!
//! Entries are CIDRs (`192.0.2.0/24`, `2001:db8::/32`) or bare addresses (a
//! single host). They are checked when an endpoint is saved, so a typo is refused
//! then, with the entry named, rather than silently refusing every delivery.
//! An entry with bits set past its prefix (`192.0.2.1/24`) is refused too: it is
//! usually a host typed where a network was meant.
//!
//! IPv4-mapped IPv6 (`::ffff:192.0.2.1`), as a dual-stack socket may report an
//! IPv4 peer, is compared as the IPv4 address it carries, both in sources and
//! in entries.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A network: an address whose bits past `prefix` are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses one entry; the error says what is wrong with it, without the entry
    /// itself (see [`parse_cidrs`] for that).
    pub fn parse(entry: &str) -> Result<Cidr, String> {
        let entry = entry.trim();
        if entry.is_empty() {
            return Err("it is empty".into());
        }
        let (addr, prefix) = match entry.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (entry, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IPv4 or IPv6 address"))?;
        let max = max_prefix(addr);
        let prefix = match prefix {
            Some(p) => parse_prefix(p, max)?,
            None => max,
        };
        if mask(addr, prefix) != addr {
            return Err(format!(
                "it has host bits set past /{prefix}; the network is {}/{prefix}",
                mask(addr, prefix)
            ));
        }
        Ok(Cidr::unmapped(addr, prefix))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = unmapped(ip);
        same_family(self.network, ip) && mask(ip, self.prefix) == self.network
    }

    /// `::ffff:a.b.c.d/96+n` is the IPv4 network `a.b.c.d/n`.
    fn unmapped(network: IpAddr, prefix: u8) -> Cidr {
        match network {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => Cidr {
                    network: IpAddr::V4(v4),
                    prefix: prefix - 96,
                },
                None => Cidr { network, prefix },
            },
            _ => Cidr { network, prefix },
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Parses an endpoint's allowlist; the error names the first bad entry.
pub fn parse_cidrs(entries: &[String]) -> Result<Vec<Cidr>, String> {
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            Cidr::parse(entry).map_err(|why| {
                let n = i + 1;
                format!("allowlist entry {n}, {entry:?}, is not an address or CIDR: {why}")
            })
        })
        .collect()
}

/// Whether a request from `ip` (the client address as the platform reports it)
/// may proceed. An empty list allows everyone; otherwise a missing or unreadable
/// address is refused, since it cannot be shown to be inside the list.
pub fn is_allowed(list: &[Cidr], ip: Option<&str>) -> bool {
    if list.is_empty() {
        return true;
    }
    let Some(ip) = ip.and_then(|s| s.trim().parse::<IpAddr>().ok()) else {
        return false;
    };
    list.iter().any(|cidr| cidr.contains(ip))
}

fn parse_prefix(raw: &str, max: u8) -> Result<u8, String> {
    let valid_digits = !raw.is_empty() && raw.len() <= 3 && raw.bytes().all(|b| b.is_ascii_digit());
    let prefix = raw
        .parse::<u8>()
        .ok()
        .filter(|_| valid_digits)
        .ok_or_else(|| format!("prefix length {raw:?} is not a number"))?;
    if prefix > max {
        return Err(format!("prefix length /{prefix} is longer than /{max}"));
    }
    Ok(prefix)
}

fn max_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// `addr` with every bit past `prefix` cleared.
fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4) & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
    }
}

fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Vec<Cidr> {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        parse_cidrs(&entries).unwrap()
    }

    #[test]
    fn sources_inside_and_outside_the_list() {
        let github_like = [
            "192.30.252.0/22",
            "185.199.108.0/22",
            "140.82.112.0/20",
            "2a0a:a440::/29",
            "2606:50c0::/32",
        ];
        let single_hosts = ["203.0.113.7", "2001:db8::42"];
        let cases: &[(&[&str], Option<&str>, bool)] = &[
            // Empty list: everyone, even without an address.
            (&[], Some("8.8.8.8"), true),
            (&[], None, true),
            (&[], Some("garbage"), true),
            // IPv4 ranges.
            (&github_like, Some("192.30.252.1"), true),
            (&github_like, Some("192.30.255.255"), true),
            (&github_like, Some("192.31.0.0"), false),
            (&github_like, Some("140.82.127.254"), true),
            (&github_like, Some("140.82.128.0"), false),
            (&github_like, Some("185.199.107.255"), false),
            // IPv6 ranges.
            (&github_like, Some("2a0a:a440::1"), true),
            (&github_like, Some("2a0a:a447:ffff::1"), true),
            (&github_like, Some("2a0a:a448::1"), false),
            (&github_like, Some("2606:50c0:8000::154"), true),
            (&github_like, Some("2606:50c1::1"), false),
            // IPv4-mapped IPv6 sources match IPv4 ranges.
            (&github_like, Some("::ffff:192.30.252.1"), true),
            (&github_like, Some("::ffff:c01e:fc01"), true),
            (&github_like, Some("::ffff:192.31.0.0"), false),
            // ...but an IPv4 range never matches a native IPv6 address, nor the reverse.
            (&github_like, Some("::c01e:fc01"), false),
            (&["::/0"], Some("192.0.2.1"), false),
            (&["0.0.0.0/0"], Some("2001:db8::1"), false),
            (&["0.0.0.0/0"], Some("::ffff:192.0.2.1"), true),
            // Bare addresses are single hosts.
            (&single_hosts, Some("203.0.113.7"), true),
            (&single_hosts, Some("203.0.113.8"), false),
            (&single_hosts, Some("2001:db8::42"), true),
            (&single_hosts, Some("2001:db8::43"), false),
            (&single_hosts, Some("2001:DB8:0:0:0:0:0:42"), true),
            // Whitespace around the reported address is tolerated.
            (&single_hosts, Some(" 203.0.113.7 "), true),
            // A non-empty list refuses what it cannot place.
            (&github_like, None, false),
            (&github_like, Some(""), false),
            (&github_like, Some("not-an-ip"), false),
            (&github_like, Some("192.30.252.1:443"), false),
            (&github_like, Some("[2a0a:a440::1]"), false),
            (&github_like, Some("192.30.252.1, 10.0.0.1"), false),
            // Catch-all lists.
            (&["0.0.0.0/0", "::/0"], Some("198.51.100.1"), true),
            (&["0.0.0.0/0", "::/0"], Some("2001:db8::1"), true),
            // Entries written as IPv4-mapped IPv6 behave as IPv4.
            (&["::ffff:198.51.100.0/120"], Some("198.51.100.9"), true),
            (&["::ffff:198.51.100.0/120"], Some("198.51.101.9"), false),
        ];
        for (entries, ip, expected) in cases {
            assert_eq!(
                is_allowed(&list(entries), *ip),
                *expected,
                "{entries:?} {ip:?}"
            );
        }
    }

    #[test]
    fn entries_are_normalised() {
        let cases = [
            ("192.0.2.0/24", "192.0.2.0/24"),
            (" 192.0.2.0/24 ", "192.0.2.0/24"),
            ("192.0.2.1", "192.0.2.1/32"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("2001:DB8::1", "2001:db8::1/128"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("::/0", "::/0"),
            ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
            ("::ffff:192.0.2.1", "192.0.2.1/32"),
            ("10.0.0.0/08", "10.0.0.0/8"),
        ];
        for (entry, expected) in cases {
            assert_eq!(Cidr::parse(entry).unwrap().to_string(), expected, "{entry}");
        }
    }

    #[test]
    fn bad_entries_are_refused_with_a_reason() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("192.0.2.0/33", "longer than /32"),
            ("2001:db8::/129", "longer than /128"),
            ("192.0.2.0/", "not a number"),
            ("192.0.2.0/-1", "not a number"),
            ("192.0.2.0/+24", "not a number"),
            ("192.0.2.0/24/8", "not a number"),
            ("192.0.2.0/ 24", "not a number"),
            ("192.0.2.0/0024", "not a number"),
            ("192.0.2.1/24", "the network is 192.0.2.0/24"),
            ("2001:db8::1/32", "the network is 2001:db8::/32"),
            ("192.0.2", "not an IPv4 or IPv6 address"),
            ("192.0.2.256", "not an IPv4 or IPv6 address"),
            ("010.0.0.0/8", "not an IPv4 or IPv6 address"),
            ("example.com/24", "not an IPv4 or IPv6 address"),
            ("[2001:db8::]/32", "not an IPv4 or IPv6 address"),
            ("fe80::1%eth0", "not an IPv4 or IPv6 address"),
            ("/24", "not an IPv4 or IPv6 address"),
        ];
        for (entry, reason) in cases {
            let err = Cidr::parse(entry).unwrap_err();
            assert!(err.contains(reason), "{entry:?}: {err}");
        }
    }

    #[test]
    fn the_error_names_the_bad_entry_and_its_position() {
        let entries = [
            "192.0.2.0/24".to_string(),
            "2001:db8::/32".to_string(),
            "10.0.0.0/33".to_string(),
        ];
        let err = parse_cidrs(&entries).unwrap_err();
        assert!(
            err.starts_with("allowlist entry 3, \"10.0.0.0/33\","),
            "{err}"
        );
        assert!(err.contains("/33 is longer than /32"), "{err}");
        assert_eq!(parse_cidrs(&[]), Ok(vec![]));
    }
}
