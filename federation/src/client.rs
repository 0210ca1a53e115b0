//! Outgoing HTTP: a pooled reqwest client for fetches, and one connection per delivery
//! ([`HttpClient::post_once`]). Both have bounded timeouts, no redirects, and the same DNS
//! resolver, which refuses every address that is not globally reachable unless the operator
//! allowed it (all of them, or named hosts in `federation.allowed_private_hosts`), so a remote
//! document cannot make us call internal hosts. Behind an outbound proxy the target's name is
//! resolved and checked by us before the proxy sees it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rathaus_shared::config::AllowedHost;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::Value;
use url::Url;

use crate::protocol::is_activity_json;
use crate::signatures::Signer;

/// The largest document a fetch reads; the rest of a larger answer is never downloaded.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// Why a fetch failed. Details are for our log only: the inbox answers every one of these
/// with the same sentence, so a sender cannot use us to probe hosts and ports.
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

impl FetchError {
    /// The HTTP status the remote server answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
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

/// True for every address that is not globally reachable unicast: the IANA special-purpose
/// ranges of IPv4 and IPv6, and IPv6 forms that embed or translate to IPv4 (mapped,
/// compatible, NAT64, 6to4, Teredo), which could reach an internal IPv4 host.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_special_v4(v4),
        IpAddr::V6(v6) => is_special_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn is_special_v4(ip: Ipv4Addr) -> bool {
    const RANGES: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),       // "this network"
        ([10, 0, 0, 0], 8),      // private
        ([100, 64, 0, 0], 10),   // shared address space (CGNAT)
        ([127, 0, 0, 0], 8),     // loopback
        ([169, 254, 0, 0], 16),  // link local
        ([172, 16, 0, 0], 12),   // private
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // documentation
        ([192, 31, 196, 0], 24), // AS112
        ([192, 52, 193, 0], 24), // AMT
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated)
        ([192, 168, 0, 0], 16),  // private
        ([192, 175, 48, 0], 24), // direct delegation AS112
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // documentation
        ([203, 0, 113, 0], 24),  // documentation
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved, and the limited broadcast address
    ];
    RANGES.iter().any(|(net, bits)| in_v4(ip, *net, *bits))
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], bits: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn is_special_v6(ip: Ipv6Addr) -> bool {
    // Only global unicast (2000::/3) can be public. That excludes the unspecified and
    // loopback addresses, IPv4-mapped and IPv4-compatible ::/96 forms, NAT64 64:ff9b::/96
    // and 64:ff9b:1::/48, discard 100::/64, unique local fc00::/7, link local fe80::/10,
    // site local fec0::/10 and multicast ff00::/8.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return true;
    }
    const SPECIAL: &[([u16; 8], u32)] = &[
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments, incl. Teredo
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), // 6to4
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation
    ];
    SPECIAL.iter().any(|(net, bits)| in_v6(ip, *net, *bits))
}

/// Where outgoing requests may go: public addresses always; private ones if all are allowed
/// (tests, local trials) or the URL's `host[:port]` is one the operator named.
#[derive(Debug, Clone, Default)]
pub struct Egress {
    pub allow_private: bool,
    pub allowed_hosts: Vec<AllowedHost>,
}

impl Egress {
    /// Private addresses allowed everywhere (benchmarks and trials only).
    pub fn allow_all() -> Self {
        Self {
            allow_private: true,
            allowed_hosts: Vec::new(),
        }
    }

    pub fn allows_private(&self, url: &Url) -> bool {
        self.allow_private || self.allowed_hosts.iter().any(|h| h.matches(url))
    }
}

/// Sent with every outgoing request.
const USER_AGENT: &str = concat!("Rathaus/", env!("CARGO_PKG_VERSION"));

/// Adds the signature headers to a reqwest request; reqwest sets `Host` from the URL itself.
fn with_signature(
    mut req: reqwest::RequestBuilder,
    headers: &[(&str, String)],
) -> reqwest::RequestBuilder {
    for (name, value) in headers {
        if *name != "host" {
            req = req.header(*name, value);
        }
    }
    req
}

/// How long a resolved address list is reused: a fan-out opens connections to the same host
/// names over and over, and the system resolver is slow to ask each time.
const DNS_TTL: Duration = Duration::from_secs(60);

/// Answers as the system resolver gave them, unfiltered: each resolver filters on its own.
type DnsCache =
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Vec<SocketAddr>)>>;

/// Looks host names up through the system resolver, keeps the answers for [`DNS_TTL`], and
/// drops addresses that are not allowed.
#[derive(Debug, Clone)]
struct GuardedResolver {
    allow_private: bool,
    cache: Arc<DnsCache>,
}

impl GuardedResolver {
    /// Every address of `host`, from the cache when it is fresh.
    async fn lookup_all(&self, host: &str) -> std::io::Result<Vec<SocketAddr>> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
            .filter(|(at, _)| at.elapsed() < DNS_TTL)
            .map(|(_, addrs)| addrs.clone());
        if let Some(addrs) = cached {
            return Ok(addrs);
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(host.to_owned(), (std::time::Instant::now(), addrs.clone()));
        Ok(addrs)
    }

    /// The allowed addresses of `host`; an error if there are none.
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = self
            .lookup_all(host)
            .await?
            .into_iter()
            .filter(|a| self.allow_private || !is_private(a.ip()))
            .collect();
        if addrs.is_empty() {
            return Err(std::io::Error::other(format!(
                "{host} resolves to no allowed address"
            )));
        }
        Ok(addrs)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let addrs = resolver.lookup(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The shared HTTP client plus the policy on where it may go.
#[derive(Debug, Clone)]
pub struct HttpClient {
    /// For URLs that must reach public addresses only (its resolver drops the others).
    strict: reqwest::Client,
    /// For allowed private hosts, and behind a proxy (which needs its own, often private,
    /// address resolved; the target was checked by [`HttpClient::guard`] before).
    open: reqwest::Client,
    egress: Egress,
    strict_resolver: GuardedResolver,
    open_resolver: GuardedResolver,
    timeout: Duration,
    connect_timeout: Duration,
    tls: Arc<tokio_rustls::rustls::ClientConfig>,
    /// An outbound proxy is configured in the environment: deliveries go through reqwest,
    /// which honours it, instead of connecting directly.
    proxied: bool,
}

/// One request's outcome as [`HttpClient::post_once`] reports it.
pub type PostResult = Result<u16, String>;

impl HttpClient {
    pub fn new(egress: Egress, timeout: Duration, max_per_host_idle: usize) -> crate::Result<Self> {
        let cache: Arc<DnsCache> = Arc::default();
        let strict_resolver = GuardedResolver {
            allow_private: egress.allow_private,
            cache: cache.clone(),
        };
        let open_resolver = GuardedResolver {
            allow_private: true,
            cache,
        };
        let connect_timeout = timeout.min(Duration::from_secs(5));
        // A client that cannot be built is a start-up error: never fall back to one without
        // the guard.
        let build = |resolver: &GuardedResolver| {
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(connect_timeout)
                .timeout(timeout)
                .pool_max_idle_per_host(max_per_host_idle)
                .dns_resolver(Arc::new(resolver.clone()))
                .build()
                .map_err(|e| crate::Error::Internal(format!("HTTP client: {}", error_chain(&e))))
        };
        Ok(Self {
            strict: build(&strict_resolver)?,
            open: build(&open_resolver)?,
            egress,
            strict_resolver,
            open_resolver,
            timeout,
            connect_timeout,
            tls: Arc::new(tls_config(&[])?),
            proxied: proxy_configured(|name| std::env::var_os(name)),
        })
    }

    /// The reqwest client for a URL that passed [`HttpClient::guard`].
    fn client_for(&self, url: &Url) -> &reqwest::Client {
        if self.proxied || self.egress.allows_private(url) {
            &self.open
        } else {
            &self.strict
        }
    }

    /// POSTs `body` to `url` with `headers` (which carry `host`) and returns the status.
    ///
    /// A fan-out sends one request per host, so this opens a connection of its own and drives
    /// it inside the calling task with hyper's connection API: no pool, no connection task,
    /// no idle sockets. In the fan-out benchmark that halved the non-signing cost per delivery
    /// compared with the pooled reqwest client (BENCHMARKS.md). Behind an outbound proxy it
    /// uses reqwest, which honours the proxy settings.
    pub async fn post_once(
        &self,
        url: &Url,
        headers: &[(&str, String)],
        body: bytes::Bytes,
    ) -> PostResult {
        self.guard(url).await.map_err(|e| e.to_string())?;
        if self.proxied {
            return self.send_reqwest(url, headers, body).await;
        }
        match tokio::time::timeout(self.timeout, self.post_direct(url, headers, body)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} s", self.timeout.as_secs())),
        }
    }

    /// The same POST through the pooled reqwest client: the path behind an outbound proxy.
    pub async fn post_reqwest(
        &self,
        url: &Url,
        headers: &[(&str, String)],
        body: bytes::Bytes,
    ) -> PostResult {
        self.guard(url).await.map_err(|e| e.to_string())?;
        self.send_reqwest(url, headers, body).await
    }

    async fn send_reqwest(
        &self,
        url: &Url,
        headers: &[(&str, String)],
        body: bytes::Bytes,
    ) -> PostResult {
        let req = with_signature(self.client_for(url).post(url.clone()).body(body), headers);
        match req.send().await {
            Ok(res) => Ok(res.status().as_u16()),
            Err(e) => Err(error_chain(&e.without_url())),
        }
    }

    async fn post_direct(
        &self,
        url: &Url,
        headers: &[(&str, String)],
        body: bytes::Bytes,
    ) -> PostResult {
        let stream = self.dial(url).await?;
        let request = post_request(url, headers, body, false)?;
        if url.scheme() == "https" {
            exchange(
                hyper_util::rt::TokioIo::new(self.tls(url, stream).await?),
                request,
            )
            .await
        } else {
            exchange(hyper_util::rt::TokioIo::new(stream), request).await
        }
    }

    /// POSTs like [`HttpClient::post_once`], but for a host that has more deliveries waiting
    /// in this fan-out: the connection (`kept`, if still open, else a new one) is kept
    /// alive and handed back for the next of them. `last`: no more wait, so the request says
    /// `Connection: close` and nothing is handed back. Behind a proxy, reqwest's pool does
    /// the same.
    pub async fn post_keep(
        &self,
        url: &Url,
        headers: &[(&str, String)],
        body: bytes::Bytes,
        kept: Option<Kept>,
        last: bool,
    ) -> (PostResult, Option<Kept>) {
        if let Err(e) = self.guard(url).await {
            return (Err(e.to_string()), None);
        }
        if self.proxied {
            return (self.send_reqwest(url, headers, body).await, None);
        }
        let attempt = async {
            let mut kept = match kept.filter(|k| !k.sender.is_closed()) {
                Some(k) => k,
                None => self.open_kept(url).await?,
            };
            let request = post_request(url, headers, body, !last)?;
            kept.sender.ready().await.map_err(|e| error_chain(&e))?;
            let response = kept
                .sender
                .send_request(request)
                .await
                .map_err(|e| error_chain(&e))?;
            let status = response.status().as_u16();
            // The answer must be read to the end before the connection can carry another.
            let reusable = {
                use http_body_util::BodyExt;
                http_body_util::Limited::new(response.into_body(), 64 * 1024)
                    .collect()
                    .await
                    .is_ok()
            };
            Ok::<_, String>((status, (reusable && !last).then_some(kept)))
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok((status, kept))) => (Ok(status), kept),
            Ok(Err(e)) => (Err(e), None),
            Err(_) => (
                Err(format!("no answer within {} s", self.timeout.as_secs())),
                None,
            ),
        }
    }

    /// A new connection for [`HttpClient::post_keep`]; its driver runs as a task of its own
    /// until the connection is dropped.
    async fn open_kept(&self, url: &Url) -> Result<Kept, String> {
        let stream = self.dial(url).await?;
        if url.scheme() == "https" {
            Kept::start(hyper_util::rt::TokioIo::new(self.tls(url, stream).await?)).await
        } else {
            Kept::start(hyper_util::rt::TokioIo::new(stream)).await
        }
    }

    /// Resolves (through the guard) and connects to `url`'s host.
    async fn dial(&self, url: &Url) -> Result<tokio::net::TcpStream, String> {
        let host = url.host_str().ok_or("the URL has no host")?;
        let port = url.port_or_known_default().ok_or("the URL has no port")?;
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            _ => self
                .resolver_for(url)
                .lookup(host)
                .await
                .map_err(|e| format!("resolving {host}: {e}"))?
                .into_iter()
                .map(|a| SocketAddr::new(a.ip(), port))
                .collect(),
        };
        self.connect(&addrs).await
    }

    async fn tls(
        &self,
        url: &Url,
        stream: tokio::net::TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
        use tokio_rustls::rustls::pki_types::ServerName;
        let host = url.host_str().unwrap_or_default();
        let name = match url.host() {
            Some(url::Host::Ipv4(ip)) => ServerName::from(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => ServerName::from(IpAddr::V6(ip)),
            _ => ServerName::try_from(host.to_owned()).map_err(|e| format!("{host}: {e}"))?,
        };
        tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS with {host}: {e}"))
    }

    /// Connects to the first address that answers. The connect timeout is shared between the
    /// addresses, so a host with several unreachable ones cannot use up the request's time.
    async fn connect(&self, addrs: &[SocketAddr]) -> Result<tokio::net::TcpStream, String> {
        let mut last = String::from("no address");
        let each = (self.connect_timeout / u32::try_from(addrs.len().max(1)).unwrap_or(u32::MAX))
            .max(Duration::from_millis(500));
        for addr in addrs {
            match tokio::time::timeout(each, tokio::net::TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Ok(Err(e)) => last = format!("connecting to {addr}: {e}"),
                Err(_) => last = format!("connecting to {addr}: timed out"),
            }
        }
        Err(last)
    }

    fn resolver_for(&self, url: &Url) -> &GuardedResolver {
        if self.egress.allows_private(url) {
            &self.open_resolver
        } else {
            &self.strict_resolver
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
            && is_private(ip)
            && !self.egress.allows_private(url)
        {
            return Err(FetchError::Forbidden(url.to_string()));
        }
        Ok(())
    }

    /// [`HttpClient::check_url`], and behind a proxy also the name: the proxy resolves it, not
    /// our resolver, so every address it has must be allowed before the request is handed on.
    pub async fn guard(&self, url: &Url) -> Result<(), FetchError> {
        self.check_url(url)?;
        if !self.proxied || self.egress.allows_private(url) {
            return Ok(());
        }
        if let Some(url::Host::Domain(host)) = url.host() {
            let addrs =
                self.strict_resolver
                    .lookup_all(host)
                    .await
                    .map_err(|e| FetchError::Transport {
                        url: url.to_string(),
                        reason: format!("resolving {host}: {e}"),
                    })?;
            if addrs.is_empty() || addrs.iter().any(|a| is_private(a.ip())) {
                return Err(FetchError::Forbidden(url.to_string()));
            }
        }
        Ok(())
    }

    /// GETs an ActivityPub document, signed by `signer` (authorized-fetch servers require it).
    /// The answer must be served as ActivityPub JSON (a file uploaded to a shared host is not
    /// an actor); its body is read chunk by chunk and abandoned past [`MAX_DOCUMENT_BYTES`].
    pub async fn fetch_json(&self, url: &str, signer: &Signer) -> Result<Value, FetchError> {
        let parsed = Url::parse(url).map_err(|e| FetchError::Invalid {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        self.guard(&parsed).await?;
        let transport = |reason: String| FetchError::Transport {
            url: url.to_owned(),
            reason,
        };
        let invalid = |reason: String| FetchError::Invalid {
            url: url.to_owned(),
            reason,
        };
        let headers = signer
            .sign("GET", &parsed, None, SystemTime::now())
            .map_err(|e| transport(e.to_string()))?;
        let req = with_signature(
            self.client_for(&parsed).get(parsed.clone()).header(
                "accept",
                "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            ),
            &headers,
        );
        let mut res = req
            .send()
            .await
            .map_err(|e| transport(error_chain(&e.without_url())))?;
        let status = res.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !is_activity_json(content_type, false) {
            return Err(invalid(format!(
                "served as `{content_type}`, not as ActivityPub JSON"
            )));
        }
        let too_large = || invalid(format!("larger than {MAX_DOCUMENT_BYTES} bytes"));
        if res
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|e| transport(error_chain(&e.without_url())))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| invalid(e.to_string()))
    }
}

/// TLS for deliveries: the Mozilla roots that reqwest also uses (plus `extra_roots`, for
/// tests), HTTP/1.1 only.
fn tls_config(
    extra_roots: &[tokio_rustls::rustls::pki_types::CertificateDer<'static>],
) -> crate::Result<tokio_rustls::rustls::ClientConfig> {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for root in extra_roots {
        roots
            .add(root.clone())
            .map_err(|e| crate::Error::Internal(format!("TLS root: {e}")))?;
    }
    // aws-lc-rs, as for the signatures; named because the dependency graph enables two
    // providers and rustls will not guess.
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| crate::Error::Internal(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// Whether the environment names an outbound proxy (the variables reqwest reads).
fn proxy_configured(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .any(|name| var(name).is_some_and(|v| !v.is_empty()))
}

/// Sends one request on a fresh HTTP/1.1 connection, driving the connection in this task,
/// and returns the response status (the body is not read; the connection is closed).
/// A signed POST to `url`. `keep_alive`: more requests follow on this connection; else the
/// request says `Connection: close`, and the server need not wait for a second one.
fn post_request(
    url: &Url,
    headers: &[(&str, String)],
    body: bytes::Bytes,
    keep_alive: bool,
) -> Result<http::Request<http_body_util::Full<bytes::Bytes>>, String> {
    let mut request =
        http::Request::post(&url[url::Position::BeforePath..url::Position::AfterQuery])
            .header(http::header::USER_AGENT, USER_AGENT);
    if !keep_alive {
        request = request.header(http::header::CONNECTION, "close");
    }
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request
        .body(http_body_util::Full::new(body))
        .map_err(|e| format!("building the request: {e}"))
}

/// An open HTTP/1.1 connection kept for the next delivery to the same host. Dropping it
/// closes it.
#[derive(Debug)]
pub struct Kept {
    sender: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
    driver: tokio::task::JoinHandle<()>,
}

impl Kept {
    async fn start<T>(io: T) -> Result<Self, String>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| error_chain(&e))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { sender, driver })
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

async fn exchange<T>(
    io: T,
    request: http::Request<http_body_util::Full<bytes::Bytes>>,
) -> PostResult
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| error_chain(&e))?;
    let response = sender.send_request(request);
    tokio::pin!(connection, response);
    tokio::select! {
        biased;
        answered = &mut response => answered.map(|r| r.status().as_u16()).map_err(|e| error_chain(&e)),
        closed = &mut connection => {
            // The connection ended first. The answer may still have arrived: a server that
            // refuses early (413) answers and closes while the body is being written, which
            // fails the connection after the status was read. The status wins.
            match response.await {
                Ok(r) => Ok(r.status().as_u16()),
                Err(e) => Err(error_chain(&closed.err().map_or(e, |c| c))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_special_purpose_range_is_refused() {
        for ip in [
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.5.5",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.0.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "::10.0.0.1",
            "::ffff:0:10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::a00:1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:a00:1::",
            "3fff::1",
            "fc00::1",
            "fd00::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "feff::1",
            "ff02::1",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip} must be refused");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "100.128.0.1",
            "100.63.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "198.20.0.1",
            "223.255.255.254",
            "2a00:1450::1",
            "2606:4700::1111",
            "2001:4860:4860::8888",
        ] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip} is public");
        }
    }

    #[test]
    fn literal_private_urls_are_refused_unless_allowed() {
        let strict = HttpClient::new(Egress::default(), Duration::from_secs(1), 1).expect("client");
        let open = HttpClient::new(Egress::allow_all(), Duration::from_secs(1), 1).expect("client");
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
        let strict = HttpClient::new(Egress::default(), Duration::from_secs(2), 1).expect("client");
        let err = strict
            .fetch_json("http://localhost:9/users/x", &signer)
            .await
            .expect_err("must be refused");
        assert!(err.to_string().contains("no allowed address"), "{err}");
    }

    /// The direct path even when the test runs behind a proxy.
    fn direct(client: crate::Result<HttpClient>) -> HttpClient {
        let mut client = client.expect("client");
        client.proxied = false;
        client
    }

    #[tokio::test]
    async fn an_early_refusal_is_reported_even_while_the_body_is_still_being_sent() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            // Read the head only, refuse, and close with most of the body unread.
            let mut head = [0u8; 1024];
            let _ = tcp.read(&mut head).await;
            let _ = tcp
                .write_all(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        });
        let client = direct(HttpClient::new(
            Egress::allow_all(),
            Duration::from_secs(5),
            1,
        ));
        let url = Url::parse(&format!("http://127.0.0.1:{port}/inbox")).expect("url");
        let status = client
            .post_once(
                &url,
                &[("host", format!("127.0.0.1:{port}"))],
                bytes::Bytes::from(vec![b'x'; 8 << 20]),
            )
            .await;
        assert_eq!(status, Ok(413));
    }

    /// An HTTPS inbox on loopback with a fresh self-signed certificate for `localhost`: it
    /// answers one request with `status` and hands over what it received.
    async fn tls_inbox(
        status: u16,
    ) -> (
        u16,
        tokio_rustls::rustls::pki_types::CertificateDer<'static>,
        tokio::sync::oneshot::Receiver<String>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        let cert = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                return;
            };
            let mut seen = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let text = String::from_utf8_lossy(&seen).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
                match tls.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&chunk[..n]),
                }
            }
            let answer = format!("HTTP/1.1 {status} Whatever\r\ncontent-length: 0\r\n\r\n");
            let _ = tls.write_all(answer.as_bytes()).await;
            let _ = tls.shutdown().await;
            let _ = tx.send(String::from_utf8_lossy(&seen).into_owned());
        });
        (port, cert, rx)
    }

    #[tokio::test]
    async fn deliveries_go_over_tls_with_their_headers_and_body() {
        let (port, cert, received) = tls_inbox(202).await;
        let mut client = direct(HttpClient::new(
            Egress::allow_all(),
            Duration::from_secs(5),
            1,
        ));
        client.tls = Arc::new(tls_config(&[cert]).expect("tls"));
        let url = Url::parse(&format!("https://localhost:{port}/inbox?x=1")).expect("url");
        let headers = vec![
            ("host", format!("localhost:{port}")),
            ("signature", "keyId=\"k\",signature=\"s\"".to_owned()),
        ];
        let status = client
            .post_once(
                &url,
                &headers,
                bytes::Bytes::from_static(b"{\"type\":\"Create\"}"),
            )
            .await;
        assert_eq!(status, Ok(202));
        let request = received.await.expect("the inbox saw the request");
        assert!(
            request.starts_with("POST /inbox?x=1 HTTP/1.1\r\n"),
            "{request}"
        );
        for line in [
            &format!("host: localhost:{port}"),
            "signature: keyId=\"k\",signature=\"s\"",
            "connection: close",
            "content-length: 17",
        ] {
            assert!(
                request.contains(&format!("{line}\r\n")),
                "{line} missing in {request}"
            );
        }
        assert!(
            request.ends_with("\r\n\r\n{\"type\":\"Create\"}"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn an_untrusted_certificate_is_refused() {
        let (port, _, received) = tls_inbox(202).await;
        let client = direct(HttpClient::new(
            Egress::allow_all(),
            Duration::from_secs(5),
            1,
        ));
        let url = Url::parse(&format!("https://localhost:{port}/inbox")).expect("url");
        let err = client
            .post_once(
                &url,
                &[("host", format!("localhost:{port}"))],
                bytes::Bytes::new(),
            )
            .await
            .expect_err("self-signed must not be trusted");
        assert!(
            err.contains("TLS with localhost") && err.contains("certificate"),
            "{err}"
        );
        assert!(received.await.is_err(), "no request may reach the inbox");
    }

    #[tokio::test]
    async fn a_silent_inbox_times_out_and_a_closed_port_is_reported() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let client = direct(HttpClient::new(
            Egress::allow_all(),
            Duration::from_secs(1),
            1,
        ));
        let url = Url::parse(&format!("http://127.0.0.1:{port}/inbox")).expect("url");
        let headers = [("host", format!("127.0.0.1:{port}"))];
        let post = || client.post_once(&url, &headers, bytes::Bytes::new());
        let err = post().await.expect_err("nobody answers");
        assert!(err.contains("no answer within 1 s"), "{err}");
        drop(listener);
        let err = post().await.expect_err("port closed");
        assert!(err.contains("connecting to 127.0.0.1"), "{err}");
    }

    #[tokio::test]
    async fn loopback_is_refused_for_deliveries_unless_allowed() {
        let strict = direct(HttpClient::new(
            Egress::default(),
            Duration::from_secs(1),
            1,
        ));
        for (url, reason) in [
            ("http://127.0.0.1:9/inbox", "not an allowed address"),
            ("http://localhost:9/inbox", "no allowed address"),
        ] {
            let url = Url::parse(url).expect("url");
            let err = strict
                .post_once(&url, &[], bytes::Bytes::new())
                .await
                .expect_err("refused");
            assert!(err.contains(reason), "{err}");
        }
    }

    fn egress_for(hosts: &[&str]) -> Egress {
        Egress {
            allow_private: false,
            allowed_hosts: hosts.iter().map(|h| h.parse().expect("host")).collect(),
        }
    }

    /// A loopback server that answers every request with `head` and then `body` (sent in
    /// chunks of `chunk`, `repeat` times, or forever if `repeat` is 0); it counts requests.
    async fn document_server(
        head: &'static str,
        chunk: &'static [u8],
        repeat: usize,
    ) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = tcp.read(&mut buf).await;
                    if tcp.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let mut sent = 0;
                    while repeat == 0 || sent < repeat {
                        if tcp.write_all(chunk).await.is_err() {
                            return;
                        }
                        sent += 1;
                    }
                });
            }
        });
        (port, hits)
    }

    fn fetch_signer() -> Signer {
        let keys = rathaus_shared::keys::generate_rsa_keypair().expect("keys");
        Signer::from_pem("https://x/#k", &keys.private_pem).expect("signer")
    }

    #[tokio::test]
    async fn only_the_named_private_host_and_port_may_be_fetched() {
        let (port, hits) = document_server(
            "HTTP/1.1 200 OK\r\ncontent-type: application/activity+json\r\ncontent-length: 2\r\n\r\n",
            b"{}",
            1,
        )
        .await;
        let (other, other_hits) = document_server(
            "HTTP/1.1 200 OK\r\ncontent-type: application/activity+json\r\ncontent-length: 2\r\n\r\n",
            b"{}",
            1,
        )
        .await;
        let signer = fetch_signer();
        let client = direct(HttpClient::new(
            egress_for(&[&format!("localhost:{port}")]),
            Duration::from_secs(2),
            1,
        ));
        client
            .fetch_json(&format!("http://localhost:{port}/users/a"), &signer)
            .await
            .expect("the named host is allowed");
        for url in [
            format!("http://localhost:{other}/users/a"),
            format!("http://127.0.0.1:{other}/users/a"),
            format!("http://127.0.0.1:{port}/users/a"),
            format!("http://[::ffff:127.0.0.1]:{other}/users/a"),
        ] {
            client
                .fetch_json(&url, &signer)
                .await
                .expect_err("another private host:port is refused");
            let bytes = bytes::Bytes::new();
            client
                .post_once(&Url::parse(&url).expect("url"), &[], bytes)
                .await
                .expect_err("and not delivered to");
        }
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(other_hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn behind_a_proxy_the_target_is_checked_before_the_proxy_sees_it() {
        // The "proxy" is a listener that counts connections: none may arrive.
        let (proxy_port, proxy_hits) = document_server("HTTP/1.1 502 x\r\n\r\n", b"", 1).await;
        let mut client =
            HttpClient::new(Egress::default(), Duration::from_secs(2), 1).expect("client");
        let proxy = reqwest::Proxy::all(format!("http://127.0.0.1:{proxy_port}")).expect("proxy");
        client.open = reqwest::Client::builder()
            .proxy(proxy)
            .build()
            .expect("proxied client");
        client.proxied = true;
        let signer = fetch_signer();
        for url in [
            "http://localhost:8080/users/a",
            "http://127.0.0.1:8080/users/a",
            "http://[::1]/users/a",
        ] {
            let err = client
                .fetch_json(url, &signer)
                .await
                .expect_err("loopback is refused");
            assert!(matches!(err, FetchError::Forbidden(_)), "{url}: {err}");
            client
                .post_once(&Url::parse(url).expect("url"), &[], bytes::Bytes::new())
                .await
                .expect_err("no delivery either");
        }
        assert_eq!(proxy_hits.load(std::sync::atomic::Ordering::SeqCst), 0);
        // An allowed host is handed to the proxy.
        client.egress = egress_for(&["localhost:8080"]);
        let err = client
            .fetch_json("http://localhost:8080/users/a", &signer)
            .await
            .expect_err("the proxy answers 502");
        assert_eq!(err.status(), Some(502), "{err}");
        assert_eq!(proxy_hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_endless_document_is_abandoned_at_the_limit() {
        let (port, _) = document_server(
            "HTTP/1.1 200 OK\r\ncontent-type: application/activity+json\r\n\r\n",
            &[b' '; 1024],
            0,
        )
        .await;
        let client = direct(HttpClient::new(
            Egress::allow_all(),
            Duration::from_secs(30),
            1,
        ));
        let started = std::time::Instant::now();
        let err = client
            .fetch_json(&format!("http://127.0.0.1:{port}/users/a"), &fetch_signer())
            .await
            .expect_err("too large");
        assert!(err.to_string().contains("larger than"), "{err}");
        // Abandoned at the limit, not read until the 30 s timeout.
        assert!(started.elapsed() < Duration::from_secs(25));
    }

    #[tokio::test]
    async fn documents_must_be_served_as_activitypub_json() {
        for (content_type, ok) in [
            ("application/activity+json", true),
            ("application/activity+json; charset=utf-8", true),
            (
                "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
                true,
            ),
            ("application/ld+json", false),
            ("application/json", false),
            ("text/plain", false),
            ("text/html", false),
        ] {
            let head: &'static str = Box::leak(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: 2\r\n\r\n"
                )
                .into_boxed_str(),
            );
            let (port, _) = document_server(head, b"{}", 1).await;
            let client = direct(HttpClient::new(
                Egress::allow_all(),
                Duration::from_secs(2),
                1,
            ));
            let got = client
                .fetch_json(&format!("http://127.0.0.1:{port}/users/a"), &fetch_signer())
                .await;
            assert_eq!(got.is_ok(), ok, "{content_type}: {got:?}");
        }
    }

    #[test]
    fn a_proxy_in_the_environment_is_noticed() {
        assert!(!proxy_configured(|_| None));
        assert!(!proxy_configured(|_| Some("".into())));
        assert!(proxy_configured(|name| {
            (name == "https_proxy").then(|| "http://proxy.rathaus.example:3128".into())
        }));
    }
}
