//! Outgoing HTTP: a pooled reqwest client for fetches, and one connection per delivery
//! ([`HttpClient::post_once`]). Both have bounded timeouts, no redirects, and the same DNS
//! resolver that refuses loopback and private addresses unless the operator allowed them
//! (tests do), so a remote document cannot make us call internal hosts.

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

type DnsCache =
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Vec<SocketAddr>)>>;

/// Looks host names up through the system resolver, keeps the answers for [`DNS_TTL`], and
/// drops addresses the operator did not allow.
#[derive(Debug, Clone)]
struct GuardedResolver {
    allow_private: bool,
    cache: Arc<DnsCache>,
}

impl GuardedResolver {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<SocketAddr>> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
            .filter(|(at, _)| at.elapsed() < DNS_TTL)
            .map(|(_, addrs)| addrs.clone());
        let addrs = match cached {
            Some(addrs) => addrs,
            None => {
                let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
                    .await?
                    .filter(|a| self.allow_private || !is_private(a.ip()))
                    .collect();
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                if cache.len() > 10_000 {
                    cache.clear();
                }
                cache.insert(host.to_owned(), (std::time::Instant::now(), addrs.clone()));
                addrs
            }
        };
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
    pub inner: reqwest::Client,
    /// Also holds whether private addresses are allowed.
    resolver: GuardedResolver,
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
    pub fn new(
        allow_private: bool,
        timeout: Duration,
        max_per_host_idle: usize,
    ) -> crate::Result<Self> {
        let resolver = GuardedResolver {
            allow_private,
            cache: Arc::default(),
        };
        let connect_timeout = timeout.min(Duration::from_secs(5));
        let inner = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .pool_max_idle_per_host(max_per_host_idle)
            .dns_resolver(Arc::new(resolver.clone()))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let proxied = proxy_configured(|name| std::env::var_os(name));
        Ok(Self {
            inner,
            resolver,
            timeout,
            connect_timeout,
            tls: Arc::new(tls_config(&[])?),
            proxied,
        })
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
        self.check_url(url).map_err(|e| e.to_string())?;
        if self.proxied {
            return self.post_reqwest(url, headers, body).await;
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
        let req = with_signature(self.inner.post(url.clone()).body(body), headers);
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
        let host = url.host_str().ok_or("the URL has no host")?;
        let port = url.port_or_known_default().ok_or("the URL has no port")?;
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            _ => self
                .resolver
                .lookup(host)
                .await
                .map_err(|e| format!("resolving {host}: {e}"))?
                .into_iter()
                .map(|a| SocketAddr::new(a.ip(), port))
                .collect(),
        };
        let stream = self.connect(&addrs).await?;
        let mut request =
            http::Request::post(&url[url::Position::BeforePath..url::Position::AfterQuery])
                .header(http::header::USER_AGENT, USER_AGENT)
                // Never reused: say so, and the server need not wait for a second request.
                .header(http::header::CONNECTION, "close");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(http_body_util::Full::new(body))
            .map_err(|e| format!("building the request: {e}"))?;
        if url.scheme() == "https" {
            use tokio_rustls::rustls::pki_types::ServerName;
            let name = match url.host() {
                Some(url::Host::Ipv4(ip)) => ServerName::from(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => ServerName::from(IpAddr::V6(ip)),
                _ => ServerName::try_from(host.to_owned()).map_err(|e| format!("{host}: {e}"))?,
            };
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS with {host}: {e}"))?;
            exchange(hyper_util::rt::TokioIo::new(tls), request).await
        } else {
            exchange(hyper_util::rt::TokioIo::new(stream), request).await
        }
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
            && !self.resolver.allow_private
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
        let req = with_signature(
            self.inner.get(parsed.clone()).header(
                "accept",
                "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            ),
            &headers,
        );
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
        let strict = HttpClient::new(false, Duration::from_secs(1), 1).expect("client");
        let open = HttpClient::new(true, Duration::from_secs(1), 1).expect("client");
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
        let strict = HttpClient::new(false, Duration::from_secs(2), 1).expect("client");
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
        let client = direct(HttpClient::new(true, Duration::from_secs(5), 1));
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
        let mut client = direct(HttpClient::new(true, Duration::from_secs(5), 1));
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
        let client = direct(HttpClient::new(true, Duration::from_secs(5), 1));
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
        let client = direct(HttpClient::new(true, Duration::from_secs(1), 1));
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
        let strict = direct(HttpClient::new(false, Duration::from_secs(1), 1));
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

    #[test]
    fn a_proxy_in_the_environment_is_noticed() {
        assert!(!proxy_configured(|_| None));
        assert!(!proxy_configured(|_| Some("".into())));
        assert!(proxy_configured(|name| {
            (name == "https_proxy").then(|| "http://proxy.rathaus.example:3128".into())
        }));
    }
}
