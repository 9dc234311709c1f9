//! The client behind a load balancer: `TRUSTED_PROXIES`, `X-Forwarded-For`, `Forwarded`
//! (RFC 7239) and `X-Forwarded-Proto`.
//!
//! Forwarding headers are only words a peer says about someone else, so they are read
//! only when the TCP peer is one of the operator's proxies. The chain is walked from the
//! right (the entry our nearest proxy appended) and every trusted proxy is skipped: the
//! first address not in the list is the client. Entries to its left were written by the
//! client itself and are never believed, which is what stops a client from prepending
//! an address to escape its rate limit or to forge its audit trail.
//!
//! ```
//! use erp_server::client_ip::TrustedProxies;
//! use http::HeaderMap;
//!
//! let proxies = TrustedProxies::parse("10.0.0.0/8, fd00::/8").unwrap();
//! let mut headers = HeaderMap::new();
//! headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.2.3".parse().unwrap());
//! let client = proxies.resolve(Some("10.0.0.1:4000".parse().unwrap()), &headers);
//! assert_eq!(client.ip.unwrap().to_string(), "203.0.113.7");
//! ```

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, HeaderValue};

/// One `TRUSTED_PROXIES` entry: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a single host).
    pub fn parse(entry: &str) -> Option<Self> {
        let (addr, prefix) = match entry.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (entry, None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            // Digits only: `u8::from_str` would also take `+8`.
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
            None => max,
        };
        Some(Self {
            network: mask(network, prefix),
            prefix,
        })
    }

    /// True when `ip` is inside this block. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
    /// what a dual-stack socket reports for an IPv4 peer) matches as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & m).into())
        }
    }
}

/// `TRUSTED_PROXIES`: the peers whose forwarding headers are believed. Empty: none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    blocks: Vec<Cidr>,
}

/// A `TRUSTED_PROXIES` entry that is not a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidProxyEntry(pub String);

impl std::fmt::Display for InvalidProxyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} is not an IPv4 or IPv6 CIDR block (like 10.0.0.0/8 or fd00::/8)",
            self.0
        )
    }
}

impl std::error::Error for InvalidProxyEntry {}

/// Who sent a request, as far as the peer and the trusted proxies tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    /// The client's address; `None` without connection info (in-process tests).
    pub ip: Option<IpAddr>,
    /// A trusted proxy said the client spoke HTTPS to it.
    pub https: bool,
}

impl TrustedProxies {
    /// Comma-separated CIDR blocks; blank entries are ignored, anything else that is not
    /// a block is an error naming the entry (a typo must not silently trust no one, or
    /// worse, be read as something wider).
    pub fn parse(list: &str) -> Result<Self, InvalidProxyEntry> {
        let blocks = list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| Cidr::parse(e).ok_or_else(|| InvalidProxyEntry(e.to_owned())))
            .collect::<Result<_, _>>()?;
        Ok(Self { blocks })
    }

    /// No proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// True when `ip` is one of the proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.blocks.iter().any(|b| b.contains(ip))
    }

    /// The client of a request from `peer` with `headers`. Headers from a peer outside
    /// the list are ignored; malformed ones fall back to the peer.
    pub fn resolve(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Client {
        let Some(peer) = peer.map(|p| canonical(p.ip())) else {
            return Client {
                ip: None,
                https: false,
            };
        };
        if !self.trusts(peer) {
            return Client {
                ip: Some(peer),
                https: false,
            };
        }
        Client {
            ip: Some(self.forwarded_client(headers).unwrap_or(peer)),
            https: forwarded_https(headers),
        }
    }

    /// The rightmost untrusted address of the chain; `None` when there is no chain or a
    /// hop we had to read is malformed (then the peer is all we know).
    fn forwarded_client(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let forwarded = headers
            .contains_key(http::header::FORWARDED)
            .then(|| forwarded_for(headers).and_then(|chain| self.walk(&chain)));
        let xff = headers
            .contains_key("x-forwarded-for")
            .then(|| list_values(headers.get_all("x-forwarded-for")).and_then(|c| self.walk(&c)));
        match (forwarded, xff) {
            (Some(client), None) | (None, Some(client)) => client,
            // Both: a proxy writes one of them and passes the other through as the client
            // sent it, and we cannot tell which is which. Only when they agree is the
            // answer safe; otherwise the peer.
            (Some(a), Some(b)) => a.filter(|_| a == b),
            (None, None) => None,
        }
    }

    fn walk(&self, chain: &[String]) -> Option<IpAddr> {
        let mut leftmost = None;
        for hop in chain.iter().rev() {
            let ip = canonical(parse_node(hop)?);
            if !self.trusts(ip) {
                return Some(ip);
            }
            leftmost = Some(ip);
        }
        // Every hop is a proxy of ours: the farthest one is the best we know.
        leftmost
    }
}

/// All comma-separated values of a header, in order across its lines; `None` when a
/// line is not visible ASCII.
fn list_values<'a>(values: impl IntoIterator<Item = &'a HeaderValue>) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for value in values {
        for item in value.to_str().ok()?.split(',') {
            out.push(item.trim().to_owned());
        }
    }
    Some(out)
}

/// The `for=` of every element of `Forwarded`, in order; an element without one, or
/// with a broken quoted string, makes the whole header malformed.
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for element in list_values(headers.get_all(http::header::FORWARDED))? {
        out.push(forwarded_param(&element, "for")?);
    }
    Some(out)
}

/// The value of `name` in one `Forwarded` element (`for=1.2.3.4;proto=https`), unquoted.
fn forwarded_param(element: &str, name: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        if !key.trim().eq_ignore_ascii_case(name) {
            return None;
        }
        let value = value.trim();
        match value.strip_prefix('"') {
            Some(rest) => rest
                .strip_suffix('"')
                .filter(|inner| !inner.contains('"'))
                .map(str::to_owned),
            None => Some(value.to_owned()),
        }
    })
}

/// A node of either header: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:443`. `unknown` and obfuscated names (`_hidden`) are not addresses.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = node.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    node.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// `X-Forwarded-Proto`'s rightmost value (what our nearest proxy said), else the `proto`
/// of `Forwarded`'s rightmost element.
fn forwarded_https(headers: &HeaderMap) -> bool {
    let last = |values: Option<Vec<String>>| values.and_then(|v| v.into_iter().last());
    let proto = if headers.contains_key("x-forwarded-proto") {
        last(list_values(headers.get_all("x-forwarded-proto")))
    } else {
        last(list_values(headers.get_all(http::header::FORWARDED)))
            .and_then(|element| forwarded_param(&element, "proto"))
    };
    proto.is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// Adds `Secure` to a `Set-Cookie` value that lacks it: the request came over HTTPS to
/// a trusted proxy, so the browser must never send the cookie over plain http.
pub fn make_secure(cookie: HeaderValue) -> HeaderValue {
    let has = cookie.to_str().is_ok_and(|c| {
        c.split(';')
            .any(|attr| attr.trim().eq_ignore_ascii_case("secure"))
    });
    if has {
        return cookie;
    }
    let mut bytes = cookie.as_bytes().to_vec();
    bytes.extend_from_slice(b"; Secure");
    HeaderValue::from_bytes(&bytes).unwrap_or(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies() -> TrustedProxies {
        TrustedProxies::parse("10.0.0.0/8, 192.168.1.1, fd00::/8").unwrap()
    }

    fn peer(s: &str) -> Option<SocketAddr> {
        Some(s.parse().unwrap())
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_bytes(v.as_bytes()).unwrap(),
            );
        }
        h
    }

    fn ip(p: &TrustedProxies, from: &str, h: &[(&str, &str)]) -> String {
        p.resolve(peer(from), &headers(h)).ip.unwrap().to_string()
    }

    #[test]
    fn parses_blocks_and_names_the_bad_entry() {
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse(" , ").unwrap().is_empty());
        let p = TrustedProxies::parse("10.1.2.3/8,::1,2001:db8::/32").unwrap();
        assert!(p.trusts("10.200.0.1".parse().unwrap()));
        assert!(!p.trusts("11.0.0.1".parse().unwrap()));
        assert!(p.trusts("::1".parse().unwrap()));
        assert!(p.trusts("2001:db8:ffff::9".parse().unwrap()));
        assert!(!p.trusts("2001:db9::1".parse().unwrap()));
        assert!(
            TrustedProxies::parse("0.0.0.0/0")
                .unwrap()
                .trusts("8.8.8.8".parse().unwrap())
        );
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "proxy.internal",
            "[::1]",
            "10.0.0.0/-1",
        ] {
            let err = TrustedProxies::parse(&format!("10.0.0.1, {bad}")).unwrap_err();
            assert_eq!(err, InvalidProxyEntry(bad.to_owned()), "{bad}");
            assert!(err.to_string().contains(bad));
        }
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let p = proxies();
        let spoof = [
            ("x-forwarded-for", "1.1.1.1"),
            ("forwarded", "for=2.2.2.2;proto=https"),
            ("x-forwarded-proto", "https"),
        ];
        let c = p.resolve(peer("203.0.113.9:5555"), &headers(&spoof));
        assert_eq!(c.ip.unwrap().to_string(), "203.0.113.9");
        assert!(!c.https);
        // No list at all: nobody is trusted, not even loopback.
        let none = TrustedProxies::default();
        let c = none.resolve(peer("127.0.0.1:1"), &headers(&spoof));
        assert_eq!(c.ip.unwrap().to_string(), "127.0.0.1");
        assert!(!c.https);
        assert_eq!(none.resolve(None, &headers(&spoof)).ip, None);
    }

    #[test]
    fn the_rightmost_untrusted_hop_wins_over_prepended_entries() {
        let p = proxies();
        let xff = |v| ip(&p, "10.0.0.1:80", &[("x-forwarded-for", v)]);
        assert_eq!(xff("203.0.113.7"), "203.0.113.7");
        // The client prepended its own "client": the hop our proxy saw wins.
        assert_eq!(xff("6.6.6.6, 203.0.113.7"), "203.0.113.7");
        // Even a prepended trusted-looking address cannot win past the real hop.
        assert_eq!(xff("10.9.9.9, 203.0.113.7, 10.0.0.2"), "203.0.113.7");
        // Two proxies of ours in a row are both skipped.
        assert_eq!(xff("203.0.113.7, 192.168.1.1, 10.0.0.2"), "203.0.113.7");
        // Only proxies: the farthest one.
        assert_eq!(xff("10.0.0.3, 10.0.0.2"), "10.0.0.3");
        // Ports, spaces, several header lines.
        assert_eq!(xff(" 203.0.113.7:4711 ,10.0.0.2"), "203.0.113.7");
        assert_eq!(
            ip(
                &p,
                "10.0.0.1:80",
                &[
                    ("x-forwarded-for", "6.6.6.6"),
                    ("x-forwarded-for", "198.51.100.1, 10.0.0.5")
                ]
            ),
            "198.51.100.1"
        );
    }

    #[test]
    fn ipv6_hops_and_peers() {
        let p = proxies();
        assert_eq!(
            ip(&p, "[fd00::1]:443", &[("x-forwarded-for", "2001:db8::7")]),
            "2001:db8::7"
        );
        assert_eq!(
            ip(
                &p,
                "[fd00::1]:443",
                &[("x-forwarded-for", "[2001:db8::7]:9, fd12::3")]
            ),
            "2001:db8::7"
        );
        // A dual-stack socket reports an IPv4 proxy as ::ffff:a.b.c.d.
        assert_eq!(
            ip(
                &p,
                "[::ffff:10.0.0.1]:80",
                &[("x-forwarded-for", "203.0.113.7")]
            ),
            "203.0.113.7"
        );
        assert_eq!(ip(&p, "[::ffff:203.0.113.8]:80", &[]), "203.0.113.8");
    }

    #[test]
    fn forwarded_rfc7239_forms() {
        let p = proxies();
        let fwd = |v| ip(&p, "10.0.0.1:80", &[("forwarded", v)]);
        assert_eq!(
            fwd("for=192.0.2.60;proto=http;by=203.0.113.43"),
            "192.0.2.60"
        );
        assert_eq!(fwd("For=\"[2001:db8:cafe::17]:4711\""), "2001:db8:cafe::17");
        assert_eq!(fwd("for=\"[2001:db8:cafe::17]\""), "2001:db8:cafe::17");
        assert_eq!(fwd("for=\"192.0.2.43:47011\""), "192.0.2.43");
        assert_eq!(
            fwd("for=6.6.6.6, for=198.51.100.17;proto=https, for=10.0.0.9"),
            "198.51.100.17"
        );
        // Both headers: the proxy wrote one, the client may have written the other; only
        // an agreeing pair is believed, else the peer.
        let both = |f, x| {
            ip(
                &p,
                "10.0.0.1:80",
                &[("forwarded", f), ("x-forwarded-for", x)],
            )
        };
        assert_eq!(both("for=198.51.100.17", "6.6.6.6"), "10.0.0.1");
        assert_eq!(both("for=6.6.6.6", "198.51.100.17"), "10.0.0.1");
        assert_eq!(both("for=6.6.6.6", "garbage"), "10.0.0.1");
        assert_eq!(
            both("for=198.51.100.17", "198.51.100.17, 10.0.0.4"),
            "198.51.100.17"
        );
    }

    #[test]
    fn garbage_falls_back_to_the_peer() {
        let p = proxies();
        for (name, value) in [
            ("x-forwarded-for", "not-an-ip"),
            ("x-forwarded-for", ""),
            ("x-forwarded-for", "203.0.113.7, , 10.0.0.2"),
            ("x-forwarded-for", "203.0.113.7, garbage"),
            ("x-forwarded-for", "[2001:db8::1"),
            ("x-forwarded-for", "1.2.3.4.5"),
            ("x-forwarded-for", "\u{00e9}"),
            ("forwarded", "for=unknown"),
            ("forwarded", "for=_hidden"),
            ("forwarded", "proto=https"),
            ("forwarded", "for=\"1.2.3.4"),
            ("forwarded", "for=\"1.2\"3.4\""),
            ("forwarded", ";;;=,,="),
            ("forwarded", "for=[2001:db8::1]:x"),
        ] {
            assert_eq!(
                ip(&p, "10.0.0.1:80", &[(name, value)]),
                "10.0.0.1",
                "{name}: {value}"
            );
        }
        // Garbage to the left of the client is never read.
        assert_eq!(
            ip(
                &p,
                "10.0.0.1:80",
                &[("x-forwarded-for", "garbage, 203.0.113.7")]
            ),
            "203.0.113.7"
        );
        // A header that is not a string at all.
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        );
        assert_eq!(
            p.resolve(peer("10.0.0.1:80"), &h).ip.unwrap().to_string(),
            "10.0.0.1"
        );
    }

    #[test]
    fn https_only_from_a_trusted_proxy() {
        let p = proxies();
        let https = |from, h: &[(&str, &str)]| p.resolve(peer(from), &headers(h)).https;
        assert!(https("10.0.0.1:80", &[("x-forwarded-proto", "https")]));
        assert!(https("10.0.0.1:80", &[("x-forwarded-proto", "HTTPS")]));
        assert!(!https("10.0.0.1:80", &[("x-forwarded-proto", "http")]));
        // The nearest proxy's word counts, not what the client put first.
        assert!(!https(
            "10.0.0.1:80",
            &[("x-forwarded-proto", "https, http")]
        ));
        assert!(https(
            "10.0.0.1:80",
            &[("forwarded", "for=1.2.3.4;proto=https")]
        ));
        assert!(!https(
            "10.0.0.1:80",
            &[("forwarded", "proto=https, for=1.2.3.4")]
        ));
        assert!(!https("10.0.0.1:80", &[]));
        assert!(!https("203.0.113.1:80", &[("x-forwarded-proto", "https")]));
    }

    #[test]
    fn make_secure_adds_the_attribute_once() {
        let plain = HeaderValue::from_static("s=1; Path=/; HttpOnly");
        assert_eq!(make_secure(plain), "s=1; Path=/; HttpOnly; Secure");
        let already = HeaderValue::from_static("s=1; Path=/; Secure");
        assert_eq!(make_secure(already), "s=1; Path=/; Secure");
    }
}
