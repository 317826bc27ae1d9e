//! Destination URL safety (SSRF): the relay must never be turned into a way to
//! reach the network it runs in.
//!
//! Checked when an endpoint is created or edited and again before every delivery.
//! The `url` crate applies WHATWG host parsing, so `http://2130706433/`,
//! `http://0x7f.1/` and `http://0177.0.0.1/` all arrive here as `127.0.0.1`.
//! `allow_private` (the `ALLOW_PRIVATE_DESTINATIONS` var, set only for local
//! development and tests) permits plain http and private addresses.
//!
//! Host names are not resolved. The check applies to literal IP addresses and to
//! names that are local by definition (`localhost`, `*.localhost`, `*.local`,
//! `*.internal`, `*.home.arpa`); a DNS name that resolves to a private, loopback
//! or metadata address is NOT caught by this check. (A Worker has no resolver to
//! ask before `fetch`, and a name's answer may change between a check and the
//! request anyway.) What such a name reaches is up to the network the runtime
//! fetches from.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

pub fn check_destination(raw: &str, allow_private: bool) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("destination_url is not a valid URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err("destination_url must use https".into()),
        other => return Err(format!("destination_url scheme {other} is not supported")),
    }
    let host = url
        .host()
        .ok_or_else(|| "destination_url has no host".to_string())?;
    if !allow_private {
        if let Some(why) = forbidden_host(&host) {
            return Err(format!("destination_url points at {why}"));
        }
    }
    Ok(url)
}

fn forbidden_host(host: &Host<&str>) -> Option<&'static str> {
    match host {
        Host::Ipv4(ip) => forbidden_v4(*ip),
        Host::Ipv6(ip) => forbidden_v6(*ip),
        Host::Domain(name) => forbidden_name(name),
    }
}

fn forbidden_name(name: &str) -> Option<&'static str> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let internal_suffixes = [".localhost", ".local", ".internal", ".home.arpa"];
    if name == "localhost" || internal_suffixes.iter().any(|s| name.ends_with(s)) {
        return Some("a local host name");
    }
    if name.is_empty() {
        return Some("an empty host name");
    }
    None
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local or metadata address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT address")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("a broadcast, multicast or reserved address")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("an IETF protocol address")
    } else if a == 198 && (18..20).contains(&b) {
        Some("a benchmarking address")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    let first = s[0];
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a unique-local address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if first & 0xffc0 == 0xfec0 {
        Some("a site-local address")
    } else if first == 0x2002 {
        // 6to4 (2002::/16) carries an IPv4 address in its next 32 bits, and a
        // relay router unwraps it towards that IPv4 address. 6to4 is deprecated
        // (RFC 7526) and no real webhook receiver needs it, so the whole block is
        // refused rather than trusting the embedded address to decide.
        Some("a 6to4 address (it embeds an IPv4 address)")
    } else if first == 0x2001 && s[1] == 0 {
        // Teredo (2001::/32, RFC 4380) carries its server's IPv4 address and
        // the client's (bits inverted) and is unwrapped towards them: refused
        // whole, like 6to4.
        Some("a Teredo address (it embeds IPv4 addresses)")
    } else if first == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        // Local-use NAT64 (64:ff9b:1::/48, RFC 8215): translated by the
        // operator's own gateway, wherever the IPv4 part sits in it.
        Some("a local-use NAT64 address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

/// IPv4 hidden in IPv6: mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`) and
/// NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let compatible = s[..6].iter().all(|&x| x == 0) && !ip.is_loopback() && !ip.is_unspecified();
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0);
    (compatible || nat64).then_some(tail)
}

/// True for a literal address that is private; used in tests and logs.
pub fn is_private_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4).is_some(),
        IpAddr::V6(v6) => forbidden_v6(v6).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_https_destinations_pass() {
        for ok in [
            "https://example.com/webhooks",
            "https://93.184.216.34/hook",
            "https://[2606:2800:220:1:248:1893:25c8:1946]/x",
        ] {
            assert!(check_destination(ok, false).is_ok(), "{ok}");
        }
    }

    #[test]
    fn private_loopback_metadata_and_disguises_are_refused() {
        for bad in [
            "http://example.com/",
            "ftp://example.com/",
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f000001/",
            "https://0177.0.0.1/",
            "https://127.1/",
            "https://localhost/",
            "https://LOCALHOST./",
            "https://api.localhost/",
            "https://10.0.0.5/",
            "https://172.16.3.4/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:7f00:1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://user@127.0.0.1/",
            "https://example.com@127.0.0.1/",
            "https://metadata.google.internal/",
            "https://0x7f.0x0.0x0.0x1/",
            "https://017700000001/",
            "https://127.0.0.1./",
            "https://10.1/",
            "https://0/",
            "https://2852039166/",
            "https://0251.0376.0251.0376/",
            "https://169.254.169.254./",
            "https://[::]/",
            "https://[0:0:0:0:0:ffff:7f00:1]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[::127.0.0.1]/",
            "https://[fc00::1]/",
            "https://192.0.0.1/",
            "https://198.18.0.1/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://user:pass@10.0.0.1:8443/",
            "https://foo.local/",
            "https://printer.home.arpa/",
            "not a url",
        ] {
            assert!(check_destination(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn six_to_four_teredo_local_nat64_and_site_local_are_refused() {
        for bad in [
            // 6to4: 2002:AABB:CCDD::/48 wraps the IPv4 address AA.BB.CC.DD.
            "https://[2002:7f00:1::1]/",
            "https://[2002:a9fe:a9fe::]/",
            "https://[2002:c0a8:101::1]/",
            // A public IPv4 inside 6to4 is refused too: the whole block is.
            "https://[2002:5db8:d822::1]/",
            "https://[2002::]/",
            // Teredo: 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC, the client's
            // IPv4 inverted (here 127.0.0.1 and 10.0.0.1).
            "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
            "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",
            "https://[2001::]/",
            // Local-use NAT64, whatever IPv4 it carries.
            "https://[64:ff9b:1::a9fe:a9fe]/",
            "https://[64:ff9b:1::808:808]/",
            "https://[64:ff9b:1:ffff:ffff:ffff:ffff:ffff]/",
            // Deprecated site-local, fec0::/10.
            "https://[fec0::1]/",
            "https://[feff:ffff::1]/",
        ] {
            assert!(check_destination(bad, false).is_err(), "{bad}");
            let host = Url::parse(bad).unwrap().host_str().unwrap().to_string();
            let ip: IpAddr = host.trim_matches(['[', ']']).parse().unwrap();
            assert!(is_private_ip(ip), "{bad}");
        }
        // Global addresses next to those blocks pass.
        for ok in [
            "https://[2001:4860:4860::8888]/",
            "https://[2003::1]/",
            "https://[2600::1]/",
        ] {
            assert!(check_destination(ok, false).is_ok(), "{ok}");
        }
        assert_eq!(
            check_destination("https://[fec0::1]/", false).unwrap_err(),
            "destination_url points at a site-local address"
        );
    }

    #[test]
    fn host_names_are_not_resolved() {
        // A public-looking name passes whatever it resolves to: only literal
        // addresses and local-by-definition names are checked.
        assert!(check_destination("https://127.0.0.1.nip.io/", false).is_ok());
    }

    #[test]
    fn local_development_switch_allows_http_and_loopback() {
        assert!(check_destination("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_destination("ftp://127.0.0.1/", true).is_err());
    }

    #[test]
    fn private_ip_helper() {
        assert!(is_private_ip("10.1.2.3".parse().unwrap()));
        assert!(!is_private_ip("8.8.8.8".parse().unwrap()));
    }
}
