//! The address of the client, for throttling.
//!
//! `X-Forwarded-For` is written by whoever sent the request: every proxy
//! appends the address it saw, and everything to the left of the first
//! proxy we trust is the client's own text. So the header is read only
//! when the peer is a trusted proxy, from the right, skipping trusted
//! proxies; the first address that is not one is the client.
//!
//! An IPv6 client holds a whole /64 (2^64 addresses it can pick from at
//! will), so throttling counts the /64, not the address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::state::AppState;

/// The client as throttling counts it: an IPv4 address, or an IPv6 /64.
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip());
        let address = match peer {
            Some(peer) => client_ip(peer, &parts.headers, &state.config.trusted_proxies),
            None => return Ok(ClientAddr("unknown".into())),
        };
        Ok(ClientAddr(throttle_key(address)))
    }
}

/// The unit one client controls: its IPv4 address, or its IPv6 /64 network.
/// An IPv4 peer of a dual-stack socket is its IPv4 address, or every such
/// client would share the /64 of `::ffff:0:0`.
fn throttle_key(client: IpAddr) -> String {
    match canonical(client) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => ipnet::Ipv6Net::new_assert(v6, 64).trunc().to_string(),
    }
}

/// The rightmost address of the forwarding chain that is not a trusted
/// proxy; the peer itself when it is not trusted.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&canonical(*ip)));
    if !is_trusted(&peer) {
        return peer;
    }
    // Several headers count as one list, in order.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        // Garbage left of a trusted hop: the last trusted hop is all we know.
        let Some(ip) = parse_hop(hop) else {
            return nearest;
        };
        if !is_trusted(&ip) {
            return canonical(ip);
        }
        nearest = ip;
    }
    canonical(nearest)
}

/// A hop as proxies write it: an address, possibly with a port
/// (`1.2.3.4:5678`, `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// IPv4 seen through an IPv6 socket (`::ffff:1.2.3.4`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Parses `TRUSTED_PROXIES`: addresses and CIDR ranges.
pub fn parse_trusted_proxies(items: &[String]) -> Result<Vec<IpNet>, String> {
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("TRUSTED_PROXIES: {s:?} is neither an address nor a CIDR range")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", v.parse().unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_of_an_untrusted_peer_is_ignored() {
        let trusted = parse_trusted_proxies(&["10.0.0.0/8".into()]).unwrap();
        let got = client_ip(ip("203.0.113.5"), &headers(&["1.1.1.1"]), &trusted);
        assert_eq!(got, ip("203.0.113.5"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = parse_trusted_proxies(&["10.0.0.0/8".into(), "192.0.2.7".into()]).unwrap();
        // The client wrote "6.6.6.6" itself; the proxies appended the rest.
        let chain = headers(&["6.6.6.6, 198.51.100.4", "192.0.2.7:443"]);
        assert_eq!(
            client_ip(ip("10.1.2.3"), &chain, &trusted),
            ip("198.51.100.4")
        );
        let junk = headers(&["not-an-ip, 10.9.9.9"]);
        assert_eq!(client_ip(ip("10.1.2.3"), &junk, &trusted), ip("10.9.9.9"));
        assert_eq!(
            client_ip(ip("::ffff:10.1.2.3"), &headers(&[]), &trusted),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn an_ipv6_client_is_its_64_network() {
        let key = |s: &str| throttle_key(ip(s));
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:1:2:3"), key("2001:db8:1:2::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("203.0.113.5"), "203.0.113.5");
        assert_eq!(key("::ffff:203.0.113.5"), "203.0.113.5");
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert!(parse_trusted_proxies(&["10.0.0.0/33".into()]).is_err());
        assert!(parse_trusted_proxies(&["proxy.local".into()]).is_err());
        assert_eq!(
            parse_trusted_proxies(&["::1".into(), " ".into()])
                .unwrap()
                .len(),
            1
        );
    }
}
