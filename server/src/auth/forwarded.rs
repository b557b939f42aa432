//! Who is on the other end: the connection's peer, unless the peer is a configured trusted
//! reverse proxy (`FIELDVISIT_TRUSTED_PROXIES`), in which case its `X-Forwarded-For` and
//! `X-Forwarded-Proto` are believed. Anyone else can write those headers, so they are ignored.

use std::net::IpAddr;

use actix_web::web;
use actix_web::HttpRequest;
use ipnet::IpNet;

use crate::state::AppState;

fn trusted(req: &HttpRequest) -> Vec<IpNet> {
    req.app_data::<web::Data<AppState>>().map(|s| s.settings.trusted_proxies.clone()).unwrap_or_default()
}

fn peer_is_trusted(req: &HttpRequest, proxies: &[IpNet]) -> bool {
    req.peer_addr().is_some_and(|peer| proxies.iter().any(|net| net.contains(&peer.ip())))
}

/// The client's address: the peer's, or, behind trusted proxies, the nearest `X-Forwarded-For`
/// hop that is not itself a trusted proxy (hops further left were written by the client).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let hops: Vec<&str> =
        req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).collect();
    client_from(req.peer_addr().map(|a| a.ip()), &hops, &trusted(req))
}

fn client_from(peer: Option<IpAddr>, hops: &[&str], proxies: &[IpNet]) -> Option<IpAddr> {
    let is_proxy = |ip: &IpAddr| proxies.iter().any(|net| net.contains(ip));
    let mut client = peer?;
    if !is_proxy(&client) {
        return Some(client);
    }
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else { break };
        client = ip;
        if !is_proxy(&ip) {
            break;
        }
    }
    Some(client)
}

/// The client's address as text, for limits and audit rows.
pub fn client_addr(req: &HttpRequest) -> Option<String> {
    client_ip(req).map(|ip| ip.to_string())
}

/// Whether the client reached us over https: the connection's own scheme, or a trusted proxy's
/// `X-Forwarded-Proto`.
pub fn is_https(req: &HttpRequest) -> bool {
    if req.app_config().secure() {
        return true;
    }
    let proxies = trusted(req);
    peer_is_trusted(req, &proxies)
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// The address as login limits count it: an IPv4 address, or an IPv6 address's /64 (one
/// subscriber usually holds a whole /64, so counting single addresses there would count nothing).
pub fn throttle_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => ipnet::Ipv6Net::new(v6, 64).map_or_else(|_| v6.to_string(), |n| n.trunc().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(peer: &str, xff: &[&str], proxies: &[&str], expected: &str) {
        let proxies: Vec<IpNet> = proxies.iter().map(|p| p.parse().expect("cidr")).collect();
        let got = client_from(Some(peer.parse().expect("ip")), xff, &proxies).expect("an address");
        assert_eq!(got.to_string(), expected, "peer {peer}, X-Forwarded-For {xff:?}, proxies {proxies:?}");
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        check("198.51.100.1", &["10.0.0.9"], &[], "198.51.100.1");
        check("198.51.100.1", &["10.0.0.9"], &["127.0.0.1/32"], "198.51.100.1");
        check("127.0.0.1", &["203.0.113.5"], &["127.0.0.1/32"], "203.0.113.5");
        // The client wrote the leftmost hop; the proxies appended the rest.
        check("127.0.0.1", &["6.6.6.6", " 203.0.113.5", "10.1.2.3"], &["127.0.0.1/32", "10.0.0.0/8"], "203.0.113.5");
        check("127.0.0.1", &["garbage", "203.0.113.5"], &["127.0.0.1/32"], "203.0.113.5");
        check("127.0.0.1", &["garbage"], &["127.0.0.1/32"], "127.0.0.1");
        check("127.0.0.1", &[], &["127.0.0.1/32"], "127.0.0.1");
    }

    #[test]
    fn ipv6_clients_are_throttled_by_their_64() {
        assert_eq!(throttle_key("2001:db8:1:2:3:4:5:6".parse().expect("ip")), "2001:db8:1:2::/64");
        assert_eq!(throttle_key("192.0.2.7".parse().expect("ip")), "192.0.2.7");
    }
}
