//! Which push endpoints the server will post to. Members hand us these addresses, so without a
//! policy anyone could make the server send requests into its own network (SSRF). Only
//! `https://` addresses on port 443 of public hosts are accepted; the resolver used for
//! delivery drops private and loopback addresses too, so a public name that resolves to an
//! internal address (DNS rebinding) is not reached either.
//!
//! `MUTUAL_PUSH_ALLOW_INSECURE` lifts all of this, for tests and development against a local
//! push endpoint only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

/// Longest endpoint accepted (real ones are 150 to 600 characters).
pub const MAX_LEN: usize = 2048;

/// An endpoint, checked against the policy.
pub fn parse(raw: &str, allow_insecure: bool) -> Result<Url, &'static str> {
    if raw.is_empty() || raw.len() > MAX_LEN {
        return Err("an https address of at most 2048 characters");
    }
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("an address without spaces or control characters");
    }
    let url = Url::parse(raw).map_err(|_| "an absolute https address")?;
    let secure = url.scheme() == "https";
    if !(secure || (allow_insecure && url.scheme() == "http")) {
        return Err("an https address");
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err("an address without credentials or fragment");
    }
    if allow_insecure {
        return match url.host_str() {
            Some(_) => Ok(url),
            None => Err("an address with a host"),
        };
    }
    if url.port_or_known_default() != Some(443) {
        return Err("an https address on the standard port");
    }
    // An IPv6 host is written in brackets; an IP host is judged as it is, a name by its form
    // here and by the addresses it resolves to when a push is sent.
    let public = match url.host_str() {
        Some(host) => match host.trim_start_matches('[').trim_end_matches(']').parse() {
            Ok(ip) => is_public_ip(ip),
            Err(_) => is_public_name(host),
        },
        None => false,
    };
    if !public {
        return Err("the address of a public push service");
    }
    Ok(url)
}

/// Names that only mean something inside a network, refused before any lookup.
fn is_public_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    const INTERNAL: [&str; 6] = [
        ".localhost",
        ".local",
        ".internal",
        ".lan",
        ".home.arpa",
        ".localdomain",
    ];
    name.contains('.')
        && name != "localhost"
        && !INTERNAL.iter().any(|suffix| name.ends_with(suffix))
}

/// Whether an address is on the public Internet: not loopback, private, link-local, shared
/// (CGNAT), documentation, benchmarking, multicast or reserved space.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Global unicast is 2000::/3; everything else (loopback, unique local, link-local,
    // multicast, IPv4-mapped and NAT64 forms) stays out.
    if s[0] & 0xe000 != 0x2000 {
        return false;
    }
    // Documentation (2001:db8::/32) and Teredo (2001::/32), which tunnels to any IPv4.
    if s[0] == 0x2001 && (s[1] == 0x0db8 || s[1] == 0) {
        return false;
    }
    // 6to4 (2002::/16) carries an IPv4 address: judge that one.
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return is_public_v4(v4);
    }
    true
}

/// The resolver of the delivery client: a name's public addresses only.
pub struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|a| is_public_ip(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_https_endpoints_pass() {
        let ok = [
            "https://fcm.googleapis.com/fcm/send/abc:def",
            "https://updates.push.services.mozilla.com/wpush/v2/gAAA",
            "https://web.push.apple.com:443/QGx",
            "https://8.8.8.8/x",
            "https://[2a00:1450:4001::1]/x",
        ];
        for raw in ok {
            assert!(parse(raw, false).is_ok(), "{raw}");
        }
        let refused = [
            "http://fcm.googleapis.com/fcm/send/abc",
            "https://localhost/x",
            "https://push.localhost/x",
            "https://127.0.0.1/x",
            "https://10.0.0.5/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/x",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://[2002:7f00:1::]/x",
            "https://intranet/x",
            "https://printer.local/x",
            "https://fcm.googleapis.com:8443/x",
            "https://user:pw@fcm.googleapis.com/x",
            "ftp://fcm.googleapis.com/x",
            "not a url",
            "",
        ];
        for raw in refused {
            assert!(parse(raw, false).is_err(), "{raw}");
        }
    }

    #[test]
    fn the_insecure_setting_allows_local_http() {
        assert!(parse("http://127.0.0.1:9000/push/1", true).is_ok());
        assert!(parse("https://localhost:9000/push/1", true).is_ok());
        assert!(parse("ftp://127.0.0.1/x", true).is_err());
    }
}
