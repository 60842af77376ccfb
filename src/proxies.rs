//! Which proxies in front of the server are ours, and so which `X-Forwarded-For` entries are
//! believed: a setting (`MUTUAL_TRUST_PROXY`, `MUTUAL_TRUSTED_PROXIES`) that `http` applies to
//! find the client's address.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// Which proxies in front of the server are ours. Each proxy appends the address it was reached
/// from to `X-Forwarded-For`, so the list is read from the right: entries our proxies added are
/// true, and the first one from outside them is the client. Entries further left were written by
/// the client and are never believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TrustedProxies {
    /// No proxy: the peer is the client.
    #[default]
    None,
    /// This many proxies in a chain (`MUTUAL_TRUST_PROXY=on` is one).
    Hops(usize),
    /// Proxies at these networks, however many (`MUTUAL_TRUSTED_PROXIES`).
    Networks(Vec<Network>),
}

impl TrustedProxies {
    pub fn is_none(&self) -> bool {
        *self == TrustedProxies::None
    }

    /// The client's address, given the peer's and the request's headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if self.is_none() {
            return peer;
        }
        // Several headers are one list, in order (RFC 9110 §5.3).
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        match self {
            TrustedProxies::None => peer,
            TrustedProxies::Hops(n) => {
                // The peer is the nearest proxy; each further proxy is one entry from the right.
                let n = (*n).max(1);
                match hops.len().checked_sub(n) {
                    Some(i) => hops
                        .get(i)
                        .and_then(|h| h.parse::<IpAddr>().ok())
                        .unwrap_or(peer),
                    // Fewer entries than proxies: the leftmost is as far as the chain goes.
                    None => hops
                        .first()
                        .and_then(|h| h.parse::<IpAddr>().ok())
                        .unwrap_or(peer),
                }
            }
            TrustedProxies::Networks(nets) => {
                let trusted = |ip: &IpAddr| nets.iter().any(|n| n.contains(*ip));
                if !trusted(&peer) {
                    return peer;
                }
                let mut client = peer;
                for hop in hops.iter().rev() {
                    let Ok(ip) = hop.parse::<IpAddr>() else {
                        // Garbage in the chain: stop at the last address we could believe.
                        return client;
                    };
                    client = ip;
                    if !trusted(&ip) {
                        break;
                    }
                }
                client
            }
        }
    }
}

/// An address block, `10.0.0.0/8` or `2001:db8::/32`; a bare address is a block of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Network, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let base: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an address or address/prefix"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix must be 0 to {max}"))?,
        };
        Ok(Network { base, prefix })
    }
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client seen through an IPv6 socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.base, ip) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(base) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(base) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}
