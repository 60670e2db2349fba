//! The URL clients are told to reach the gateway at (`resume_gateway_url`, `GET /gateway`).
//!
//! In order: the configured public URL; the `Host` header of the request being answered;
//! the listen address, with an unspecified address (`0.0.0.0`, `::`) replaced by loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Turns a configured public URL into the gateway URL announced to clients.
///
/// Accepts `http://`, `https://`, `ws://` and `wss://` URLs with a host, an optional port and
/// an optional path (no query, fragment or credentials); `http` becomes `ws`, `https`
/// becomes `wss`, a trailing `/` is dropped.
pub(crate) fn public_gateway_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        format!("public URL {url:?} has no scheme (http://, https://, ws://, wss://)")
    })?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => {
            return Err(format!(
                "public URL scheme {other:?} is not one of http, https, ws, wss"
            ));
        }
    };
    if rest.contains(['?', '#']) {
        return Err(format!(
            "public URL {url:?} must not have a query or fragment"
        ));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = host_authority(authority)
        .ok_or_else(|| format!("public URL {url:?} has no valid host[:port]"))?;
    if path.contains(char::is_whitespace) {
        return Err(format!("public URL {url:?} has whitespace in its path"));
    }
    Ok(format!(
        "{scheme}://{authority}{}",
        path.trim_end_matches('/')
    ))
}

/// `authority` when it is a plain `host[:port]` (a DNS name, an IPv4 address or a bracketed
/// IPv6 address; no credentials, path or spaces), `None` otherwise.
pub(crate) fn host_authority(authority: &str) -> Option<&str> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        addr.parse::<Ipv6Addr>().ok()?;
        let port = if after.is_empty() {
            None
        } else {
            Some(after.strip_prefix(':')?)
        };
        (None, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(authority), None),
        }
    };
    if let Some(h) = host {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if h.is_empty() || h.len() > 253 || !h.trim_end_matches('.').split('.').all(label_ok) {
            return None;
        }
    }
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return None;
    }
    Some(authority)
}

/// The listen address as a client on this host reaches it: an unspecified IP becomes
/// loopback of the same family.
pub(crate) fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_schemes_map_to_websocket_schemes() {
        let cases = [
            (
                "http://kyuta-sim.kyuta.svc:8787",
                "ws://kyuta-sim.kyuta.svc:8787",
            ),
            ("https://sim.example.org/", "wss://sim.example.org"),
            ("ws://10.0.0.7:8787", "ws://10.0.0.7:8787"),
            (
                "WSS://sim.example.org/gateway/",
                "wss://sim.example.org/gateway",
            ),
            ("http://[fd00::1]:8787", "ws://[fd00::1]:8787"),
        ];
        for (input, want) in cases {
            assert_eq!(public_gateway_url(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn bad_public_urls_are_refused_with_a_reason() {
        for bad in [
            "kyuta-sim:8787",
            "ftp://sim:21",
            "http://",
            "http://sim:99999",
            "http://user@sim",
            "http://sim?x=1",
            "http://sim#frag",
            "http://si m",
            "http://[zz::1]:80",
        ] {
            let err = public_gateway_url(bad).expect_err(bad);
            assert!(err.contains("public URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn host_headers_are_accepted_only_as_host_and_port() {
        assert_eq!(host_authority("sim:8787"), Some("sim:8787"));
        assert_eq!(host_authority("127.0.0.1:9"), Some("127.0.0.1:9"));
        assert_eq!(host_authority("[::1]:9"), Some("[::1]:9"));
        assert_eq!(host_authority("[::1]"), Some("[::1]"));
        assert_eq!(host_authority("sim.example"), Some("sim.example"));
        for bad in [
            "",
            "a b",
            "evil/path",
            "u@h",
            "h:port",
            "[::1]x",
            "h:",
            "..",
            "h:1:2",
        ] {
            assert_eq!(host_authority(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn unspecified_listen_addresses_become_loopback_never_0_0_0_0() {
        assert_eq!(
            reachable("0.0.0.0:8787".parse().unwrap()),
            "127.0.0.1:8787".parse().unwrap()
        );
        assert_eq!(
            reachable("[::]:8787".parse().unwrap()),
            "[::1]:8787".parse().unwrap()
        );
        assert_eq!(
            reachable("10.1.2.3:8787".parse().unwrap()),
            "10.1.2.3:8787".parse().unwrap()
        );
    }
}
