//! Outgoing HTTP: one reqwest client for fetches and deliveries, with bounded timeouts, no
//! redirects, and a DNS resolver that refuses loopback and private addresses unless the
//! operator allowed them (tests do), so a remote document cannot make us call internal hosts.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::Value;
use url::Url;

use crate::signatures::Signer;

/// Why a fetch failed; the inbox maps these to 401 (cannot verify the sender).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0} is not an allowed address")]
    Forbidden(String),
    #[error("fetching {url} failed: {reason}")]
    Transport { url: String, reason: String },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url} did not return a usable ActivityPub document: {reason}")]
    Invalid { url: String, reason: String },
}

/// An error with its causes on one line ("error sending request: … : connection refused").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Loopback, private, link-local, unspecified and similar ranges.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 // CGNAT 100.64/10
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// How long a resolved address list is reused: a fan-out opens connections to the same host
/// names over and over, and the system resolver is slow to ask each time.
const DNS_TTL: Duration = Duration::from_secs(60);

type DnsCache =
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Vec<SocketAddr>)>>;

#[derive(Debug)]
struct GuardedResolver {
    allow_private: bool,
    cache: Arc<DnsCache>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let cache = self.cache.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let cached = cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&host)
                .filter(|(at, _)| at.elapsed() < DNS_TTL)
                .map(|(_, addrs)| addrs.clone());
            let addrs = match cached {
                Some(addrs) => addrs,
                None => {
                    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                        .await?
                        .filter(|a| allow_private || !is_private(a.ip()))
                        .collect();
                    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
                    if cache.len() > 10_000 {
                        cache.clear();
                    }
                    cache.insert(host.clone(), (std::time::Instant::now(), addrs.clone()));
                    addrs
                }
            };
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no allowed address").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The shared HTTP client plus the policy on where it may go.
#[derive(Debug, Clone)]
pub struct HttpClient {
    pub inner: reqwest::Client,
    allow_private: bool,
}

impl HttpClient {
    pub fn new(allow_private: bool, timeout: Duration, max_per_host_idle: usize) -> Self {
        let inner = reqwest::Client::builder()
            .user_agent(concat!("Rathaus/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .pool_max_idle_per_host(max_per_host_idle)
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private,
                cache: Arc::default(),
            }))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            inner,
            allow_private,
        }
    }

    /// Refuses URLs we must not call: non-http(s), and IP literals in forbidden ranges
    /// (hostnames are checked by the resolver when they are looked up).
    pub fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Forbidden(url.to_string()));
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(FetchError::Forbidden(url.to_string())),
        };
        if let Some(ip) = literal
            && !self.allow_private
            && is_private(ip)
        {
            return Err(FetchError::Forbidden(url.to_string()));
        }
        Ok(())
    }

    /// GETs an ActivityPub document, signed by `signer` (authorized-fetch servers require it).
    pub async fn fetch_json(&self, url: &str, signer: &Signer) -> Result<Value, FetchError> {
        let parsed = Url::parse(url).map_err(|e| FetchError::Invalid {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        self.check_url(&parsed)?;
        let headers = signer
            .sign("GET", &parsed, None, SystemTime::now())
            .map_err(|e| FetchError::Transport {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        let mut req = self.inner.get(parsed.clone()).header(
            "accept",
            "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
        );
        for (name, value) in headers {
            if name != "host" {
                req = req.header(name, value);
            }
        }
        let res = req.send().await.map_err(|e| FetchError::Transport {
            url: url.to_owned(),
            reason: error_chain(&e.without_url()),
        })?;
        let status = res.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        let bytes = res.bytes().await.map_err(|e| FetchError::Transport {
            url: url.to_owned(),
            reason: error_chain(&e.without_url()),
        })?;
        if bytes.len() > 1 << 20 {
            return Err(FetchError::Invalid {
                url: url.to_owned(),
                reason: "larger than 1 MiB".into(),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| FetchError::Invalid {
            url: url.to_owned(),
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["93.184.216.34", "2a00:1450::1", "100.128.0.1"] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn literal_private_urls_are_refused_unless_allowed() {
        let strict = HttpClient::new(false, Duration::from_secs(1), 1);
        let open = HttpClient::new(true, Duration::from_secs(1), 1);
        let url = Url::parse("http://127.0.0.1:8080/x").expect("url");
        assert!(strict.check_url(&url).is_err());
        assert!(open.check_url(&url).is_ok());
        assert!(
            strict
                .check_url(&Url::parse("ftp://example.com/").expect("url"))
                .is_err()
        );
        assert!(
            strict
                .check_url(&Url::parse("https://example.com/").expect("url"))
                .is_ok()
        );
    }

    #[tokio::test]
    async fn hostnames_resolving_to_loopback_are_refused_unless_allowed() {
        let keys = rathaus_shared::keys::generate_rsa_keypair().expect("keys");
        let signer = Signer::from_pem("https://x/#k", &keys.private_pem).expect("signer");
        let strict = HttpClient::new(false, Duration::from_secs(2), 1);
        let err = strict
            .fetch_json("http://localhost:9/users/x", &signer)
            .await
            .expect_err("must be refused");
        assert!(err.to_string().contains("no allowed address"), "{err}");
    }
}
