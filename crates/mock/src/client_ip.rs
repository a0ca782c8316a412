//! Which address a request comes from, as nginx's realip module decides it.

use std::net::{IpAddr, SocketAddr};

use http::header::{HeaderMap, HeaderName};
use ipnet::IpNet;

/// Trusts the forwarding header only when the peer is a trusted proxy, then walks the
/// header from the right past further trusted proxies (`real_ip_recursive on`), so a client
/// cannot pick its own address by prepending to the header.
#[derive(Debug, Clone)]
pub(crate) struct ClientIpResolver {
    pub(crate) trusted: Vec<IpNet>,
    pub(crate) header: HeaderName,
}

impl ClientIpResolver {
    pub(crate) fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.is_trusted(peer) {
            return peer;
        }
        let mut client = peer;
        let values: Vec<&str> = headers
            .get_all(&self.header)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        for item in values.iter().rev().flat_map(|value| value.rsplit(',')) {
            let Some(ip) = parse_forwarded_ip(item.trim()) else {
                // nginx stops at the first entry it cannot read and keeps the last good one.
                return client;
            };
            client = ip;
            if !self.is_trusted(ip) {
                return ip;
            }
        }
        client
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }
}

/// Reads `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1` and `[2001:db8::1]:4711`.
fn parse_forwarded_ip(item: &str) -> Option<IpAddr> {
    if let Ok(ip) = item.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    item.parse::<SocketAddr>()
        .ok()
        .map(|addr| addr.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn resolver() -> ClientIpResolver {
        ClientIpResolver {
            trusted: vec![
                "127.0.0.0/8".parse().unwrap(),
                "10.0.0.0/8".parse().unwrap(),
            ],
            header: HeaderName::from_static("x-forwarded-for"),
        }
    }

    #[track_caller]
    fn check(peer: &str, xff: &[&str], expected: &str) {
        let mut headers = HeaderMap::new();
        for value in xff {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        let got = resolver().resolve(peer.parse().unwrap(), &headers);
        assert_eq!(got, expected.parse::<IpAddr>().unwrap());
    }

    #[test]
    fn untrusted_peers_are_the_client() {
        check("198.51.100.1", &["203.0.113.7"], "198.51.100.1");
    }

    #[test]
    fn trusted_peers_forward_the_client() {
        check("127.0.0.1", &["203.0.113.7"], "203.0.113.7");
        check("127.0.0.1", &[], "127.0.0.1");
    }

    #[test]
    fn the_rightmost_untrusted_entry_wins() {
        check(
            "127.0.0.1",
            &["1.1.1.1, 203.0.113.7, 10.0.0.5"],
            "203.0.113.7",
        );
        check("127.0.0.1", &["1.1.1.1", "203.0.113.7"], "203.0.113.7");
        check("127.0.0.1", &["10.0.0.9, 10.0.0.5"], "10.0.0.9");
    }

    #[test]
    fn ports_and_brackets_are_understood() {
        check("127.0.0.1", &["203.0.113.7:4711"], "203.0.113.7");
        check("127.0.0.1", &["[2001:db8::1]:4711"], "2001:db8::1");
        check("::ffff:127.0.0.1", &["2001:db8::1"], "2001:db8::1");
    }

    #[test]
    fn garbage_stops_the_walk() {
        check(
            "127.0.0.1",
            &["203.0.113.7, nonsense, 10.0.0.5"],
            "10.0.0.5",
        );
    }
}
