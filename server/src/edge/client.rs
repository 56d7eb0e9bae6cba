//! Where a request comes from: the client's address and whether it arrived over https, as told
//! by the socket, or by a proxy the operator trusts (`UPLOAD_TRUSTED_PROXIES`). Headers from
//! anyone else are ignored: a client cannot choose its own rate-limit budget or scheme.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The networks whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Comma-separated CIDRs (`10.0.0.0/8, ::1/128`); a bare address is a network of one.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("expected CIDRs such as 10.0.0.0/8 or ::1/128, got {item:?}")
                })?;
            nets.push(net);
        }
        Ok(Self(nets))
    }

    pub fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client's address: the socket's peer, unless that peer is a trusted proxy; then the
    /// rightmost `X-Forwarded-For` hop that is not one (each proxy appends the address it saw,
    /// so hops left of the first untrusted one may be forged by the client).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(addr) => {
                    client = canonical(addr);
                    if !self.trusts(client) {
                        break;
                    }
                }
                // Garbage in the chain: the last address believed so far is the client.
                Err(_) => break,
            }
        }
        client
    }

    /// Whether the browser reached the site over https: the request's own scheme, or a trusted
    /// proxy's `X-Forwarded-Proto`.
    pub fn https(
        &self,
        peer: Option<IpAddr>,
        own_scheme: Option<&str>,
        headers: &HeaderMap,
    ) -> bool {
        own_scheme == Some("https")
            || (peer.is_some_and(|p| self.trusts(p))
                && headers
                    .get("x-forwarded-proto")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https")))
    }
}

/// IPv4 addresses mapped into IPv6 (`::ffff:192.0.2.1`) as the IPv4 address they are.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in xff {
            map.append("x-forwarded-for", value.parse().unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_socket_is_the_client() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("192.0.2.7"), &headers(&["198.51.100.1"])), ip("192.0.2.7"));
        let mut proto = HeaderMap::new();
        proto.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(!none.https(Some(ip("192.0.2.7")), None, &proto));
    }

    #[test]
    fn the_client_is_the_rightmost_hop_not_trusted() {
        let proxies = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        // The client forged the first hop; the proxies appended the rest.
        let chain = headers(&["6.6.6.6, 203.0.113.9", "10.1.2.3"]);
        assert_eq!(proxies.client(ip("127.0.0.1"), &chain), ip("203.0.113.9"));
        // An untrusted peer's header is ignored.
        assert_eq!(proxies.client(ip("192.0.2.7"), &chain), ip("192.0.2.7"));
        // A trusted peer with no header, or one of garbage, is itself the client.
        assert_eq!(proxies.client(ip("127.0.0.1"), &headers(&[])), ip("127.0.0.1"));
        assert_eq!(proxies.client(ip("127.0.0.1"), &headers(&["nonsense"])), ip("127.0.0.1"));
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &headers(&["203.0.113.9, nonsense"])),
            ip("127.0.0.1")
        );
        // Mapped IPv4 is IPv4, whichever way it arrives.
        assert_eq!(
            proxies.client(ip("::ffff:127.0.0.1"), &headers(&["::ffff:203.0.113.9"])),
            ip("203.0.113.9")
        );
        // Only trusted hops all the way: the leftmost is the client.
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &headers(&["10.0.0.1, 10.0.0.2"])),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn forwarded_proto_is_believed_from_trusted_proxies_only() {
        let proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(proxies.https(Some(ip("127.0.0.1")), None, &h));
        assert!(!proxies.https(Some(ip("192.0.2.1")), None, &h));
        assert!(!proxies.https(None, None, &h));
        assert!(proxies.https(None, Some("https"), &HeaderMap::new()));
    }

    #[test]
    fn bad_lists_are_refused_with_the_item() {
        assert!(TrustedProxies::parse("10.0.0.0/33").unwrap_err().contains("10.0.0.0/33"));
        assert!(TrustedProxies::parse("proxy.example").is_err());
        assert_eq!(TrustedProxies::parse(" ").unwrap(), TrustedProxies::default());
    }
}
