//! HTTP for `strata serve --http` and `strata fetch`: hyper (a well-kept
//! HTTP/1.1 implementation) over strata's tokio sockets. Connection
//! handling — keep-alive, pipelining, chunked coding, HEAD, the header read
//! timeout, malformed requests — is hyper's; what is ours is the static-file
//! service ([`files`]: paths, directory redirects and listings, `Range`),
//! the server loop with its access log ([`server`]) and the URL form the
//! CLI accepts ([`Url`]).
//!
//! The hand-written HTTP/1.1 in `strata_io::http` is the lesson's example
//! of what such a library does, not what runs here.

pub mod files;
pub mod server;

use std::str::FromStr;

/// An `http://` URL with a literal IPv4 host (strata has no resolver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The host address.
    pub host: std::net::Ipv4Addr,
    /// The TCP port (80 unless given).
    pub port: u16,
    /// The request target: path and query, starting with `/`.
    pub path: String,
}

/// A URL that is not `http://A.B.C.D[:PORT][/PATH]`.
#[derive(Debug, thiserror::Error)]
#[error("bad URL {0:?}: expected http://A.B.C.D[:PORT][/PATH]")]
pub struct BadUrl(pub String);

impl FromStr for Url {
    type Err = BadUrl;
    fn from_str(s: &str) -> Result<Url, BadUrl> {
        let bad = || BadUrl(s.to_string());
        let rest = s
            .strip_prefix("http://")
            .or_else(|| s.strip_prefix("HTTP://"))
            .ok_or_else(bad)?;
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (authority, 80),
        };
        let host = host.parse().map_err(|_| bad())?;
        let path = path.split('#').next().unwrap_or("");
        // RFC 9110 §4.2.3: an empty path is "/" in a request target.
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        // The target goes on the request line as it is: no spaces or
        // control characters (hyper refuses them too, less clearly).
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad());
        }
        Ok(Url { host, port, path })
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}:{}{}", self.host, self.port, self.path)
    }
}

impl Url {
    /// The `Host` header field value (RFC 9110 §7.2): the port only when
    /// it is not 80.
    pub fn host_header(&self) -> String {
        if self.port == 80 {
            self.host.to_string()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Where a `Location` points, resolved against this URL (RFC 9110
    /// §10.2.2, RFC 3986 §5.2 for the forms a server sends: absolute,
    /// absolute path, or relative to the current directory).
    pub fn join(&self, location: &str) -> Result<Url, BadUrl> {
        let l = location.trim();
        if l.len() >= 7 && l[..7].eq_ignore_ascii_case("http://") {
            return l.parse();
        }
        if l.contains("://") {
            return Err(BadUrl(l.to_string()));
        }
        let path = if l.starts_with('/') {
            l.to_string()
        } else {
            let base = self.path.split(['?', '#']).next().unwrap_or("/");
            let dir = base.rsplit_once('/').map_or("", |(d, _)| d);
            format!("{dir}/{l}")
        };
        format!("http://{}:{}{}", self.host, self.port, path).parse()
    }

    /// The file name `-O` takes from a URL: its last path segment.
    pub fn file_name(&self) -> Option<String> {
        let path = self.path.split(['?', '#']).next().unwrap_or("");
        let name = path.rsplit('/').next().unwrap_or("");
        (!name.is_empty() && name != "." && name != "..").then(|| name.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parsing() {
        let u: Url = "http://10.20.0.2:8080/a/b?x=1#frag".parse().unwrap();
        assert_eq!(u.host, std::net::Ipv4Addr::new(10, 20, 0, 2));
        assert_eq!(u.port, 8080);
        assert_eq!(u.path, "/a/b?x=1");
        assert_eq!(u.host_header(), "10.20.0.2:8080");
        let u: Url = "http://10.0.0.1".parse().unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        assert_eq!(u.host_header(), "10.0.0.1");
        let u: Url = "http://10.0.0.1?q".parse().unwrap();
        assert_eq!(u.path, "/?q");
        for bad in [
            "ftp://1.2.3.4/",
            "http://example.com/",
            "http://1.2.3.4:99999/",
            "http://1.2.3/",
            "http://1.2.3.4/a b",
        ] {
            assert!(bad.parse::<Url>().is_err(), "{bad}");
        }
    }

    #[test]
    fn redirects_resolve_like_a_browser() {
        let base: Url = "http://10.0.0.1:8000/a/b?x".parse().unwrap();
        assert_eq!(
            base.join("/sub/").unwrap().to_string(),
            "http://10.0.0.1:8000/sub/"
        );
        assert_eq!(
            base.join("c.html").unwrap().to_string(),
            "http://10.0.0.1:8000/a/c.html"
        );
        assert_eq!(
            base.join("http://10.0.0.2/z").unwrap().to_string(),
            "http://10.0.0.2:80/z"
        );
        assert!(base.join("https://10.0.0.2/").is_err());
    }

    #[test]
    fn remote_file_names() {
        let name = |s: &str| s.parse::<Url>().unwrap().file_name();
        assert_eq!(name("http://1.2.3.4/a/big.bin?x=1"), Some("big.bin".into()));
        assert_eq!(name("http://1.2.3.4/a/"), None);
        assert_eq!(name("http://1.2.3.4/.."), None);
    }
}
