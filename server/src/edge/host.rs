//! Which host names this site answers to. A page served under any `Host` would let DNS
//! rebinding reach a loopback dev server from another site (its `Origin` then matches the
//! forged `Host`, and the return URL is built from it). So only the site's own names are
//! served: `UPLOAD_PUBLIC_ORIGIN` in a real deployment, else the address it listens on and its
//! loopback aliases. A trusted proxy may say the name in `X-Forwarded-Host`; anyone else's is
//! ignored. Others get `421 Misdirected Request`; `/healthz` is exempt (balancers probe by
//! address), as is `/readyz`, which is served outside this check.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode, Uri};

use super::client::TrustedProxies;
use crate::metrics::Metrics;

/// The host names (with their port, unless it is the scheme's default) the site serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteHosts(Vec<String>);

/// `host[:port]` lowercased, without a default port (`:80`, `:443`): how a browser's `Host`
/// and an origin compare.
pub fn normalized(authority: &str) -> String {
    let lower = authority.trim().to_ascii_lowercase();
    for default in [":80", ":443"] {
        if let Some(bare) = lower.strip_suffix(default) {
            return bare.to_owned();
        }
    }
    lower
}

impl SiteHosts {
    /// `UPLOAD_PUBLIC_ORIGIN`: comma-separated origins (`https://upload.example.com`).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut hosts = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let wrong =
                || format!("expected origins such as https://upload.example.com, got {item:?}");
            let uri: Uri = item.parse().map_err(|_| wrong())?;
            let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
            let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
            let authority = uri.authority().filter(|a| !a.as_str().contains('@'));
            match authority {
                Some(authority) if scheme_ok && bare && !authority.host().is_empty() => {
                    hosts.push(normalized(authority.as_str()));
                }
                _ => return Err(wrong()),
            }
        }
        Ok(Self(hosts))
    }

    /// What a site listening on `addr` serves without `UPLOAD_PUBLIC_ORIGIN`: that address
    /// (unless it is 0.0.0.0 or ::, which no browser addresses) and the loopback names.
    pub fn listening_on(addr: SocketAddr) -> Self {
        let port = addr.port();
        let mut hosts = Vec::new();
        if !addr.ip().is_unspecified() {
            hosts.push(normalized(&addr.to_string()));
        }
        for alias in ["localhost", "127.0.0.1", "[::1]"] {
            let alias = normalized(&format!("{alias}:{port}"));
            if !hosts.contains(&alias) {
                hosts.push(alias);
            }
        }
        Self(hosts)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn serves(&self, host: &str) -> bool {
        let host = normalized(host);
        self.0.contains(&host)
    }

    /// For the start-up log.
    pub fn names(&self) -> &[String] {
        &self.0
    }
}

/// What the check needs: the names, whose `X-Forwarded-Host` to believe, and what it counts.
pub struct HostCheck {
    pub hosts: SiteHosts,
    pub proxies: TrustedProxies,
    pub metrics: Arc<Metrics>,
}

/// The host the browser asked for: a trusted proxy's `X-Forwarded-Host` (the last, which the
/// nearest proxy set; the proxy must set it itself, over whatever the client sent), else
/// `Host`, else the request line's authority (HTTP/2). `Some("")` for a name that does not
/// read (no name is served under it).
fn asked_for(check: &HostCheck, peer: Option<IpAddr>, request: &Request) -> Option<String> {
    let headers = request.headers();
    let readable = |v: &HeaderValue| v.to_str().unwrap_or_default().to_owned();
    let forwarded = peer
        .filter(|peer| check.proxies.trusts(*peer))
        .and_then(|_| headers.get_all("x-forwarded-host").iter().next_back())
        .map(|v| readable(v).rsplit(',').next().unwrap_or_default().trim().to_owned());
    let host = headers.get(header::HOST).map(readable);
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    forwarded.or(host).or(authority)
}

/// axum middleware for the whole site. A request naming no host at all (no browser sends one)
/// passes. The host a trusted proxy forwarded becomes the request's `Host`, so that everything
/// after (the same-origin check, the return URL) sees the name the browser used.
pub async fn only_own(
    State(check): State<Arc<HostCheck>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let peer = ConnectInfo::<SocketAddr>::from_request_parts(&mut parts, &())
        .await
        .ok()
        .map(|ConnectInfo(addr)| addr.ip());
    let mut request = Request::from_parts(parts, body);
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    if let Some(host) = asked_for(&check, peer, &request) {
        if !check.hosts.serves(&host) {
            check.metrics.host_refused();
            tracing::warn!(target: "audit", event = "host_refused", host = ?crate::logging::clip(&host), path = request.uri().path());
            return (StatusCode::MISDIRECTED_REQUEST, "this site is not served under that name")
                .into_response();
        }
        if let Ok(value) = HeaderValue::from_str(&host.to_ascii_lowercase()) {
            request.headers_mut().insert(header::HOST, value);
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_become_host_names_and_bad_ones_are_refused() {
        let hosts = SiteHosts::parse("https://Upload.Example.com, http://127.0.0.1:8080/").unwrap();
        assert_eq!(hosts.names(), ["upload.example.com", "127.0.0.1:8080"]);
        assert!(hosts.serves("upload.example.com") && hosts.serves("UPLOAD.example.com:443"));
        assert!(!hosts.serves("evil.test") && !hosts.serves("127.0.0.1:8081"));
        for bad in [
            "upload.example.com",
            "ftp://x.example",
            "https://x.example/path",
            "https://u@x.example",
        ] {
            assert!(SiteHosts::parse(bad).unwrap_err().contains(bad), "{bad}");
        }
    }

    #[test]
    fn by_default_the_listening_address_and_loopback_names() {
        let hosts = SiteHosts::listening_on("127.0.0.1:3000".parse().unwrap());
        for own in ["127.0.0.1:3000", "localhost:3000", "[::1]:3000", "LOCALHOST:3000"] {
            assert!(hosts.serves(own), "{own}");
        }
        for other in ["evil.test", "evil.test:3000", "127.0.0.1:3001", "localhost"] {
            assert!(!hosts.serves(other), "{other}");
        }
        let any = SiteHosts::listening_on("0.0.0.0:3000".parse().unwrap());
        assert!(!any.serves("0.0.0.0:3000") && any.serves("localhost:3000"));
        // On port 80 a browser sends no port.
        let http = SiteHosts::listening_on("127.0.0.1:80".parse().unwrap());
        assert!(http.serves("localhost") && http.serves("127.0.0.1:80"));
        assert!(!SiteHosts::parse("").unwrap().serves(""), "a name that does not read");
    }
}
