//! HTTP signatures (draft-cavage, as Mastodon signs and verifies them). The signing string is
//! built and parsed by `http-signature-normalization`; RSA is aws-lc-rs: constant-time, and
//! about 2.4× the signing rate of the pure-Rust `rsa` crate (which has an open timing
//! advisory, RUSTSEC-2023-0071).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http_signature_normalization::Config;

/// Mastodon accepts signatures whose `Date` is up to 12 h old, plus an hour of clock skew.
pub const MAX_AGE: Duration = Duration::from_secs(13 * 3600);
/// Dates further in the future than this are refused.
pub const MAX_SKEW: Duration = Duration::from_secs(3600);

/// Why a request's signature was not accepted. All of these are the sender's fault (401/400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Signature header")]
    Missing,
    #[error("malformed Signature header: {0}")]
    Malformed(String),
    #[error("the signature does not cover {0}")]
    Uncovered(&'static str),
    #[error("Digest header missing or neither SHA-256 nor SHA-512")]
    DigestMissing,
    #[error("body does not match the Digest header")]
    DigestMismatch,
    #[error("Date header missing or unreadable")]
    DateMissing,
    #[error("Date is outside the accepted window")]
    DateOutOfWindow,
    #[error("signature does not verify with the sender's key")]
    BadSignature,
    #[error("the sender's public key is unusable")]
    BadKey,
}

/// `SHA-256=<base64>` of a body, as the `Digest` header carries it.
pub fn digest_header(body: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    format!("SHA-256={}", BASE64.encode(digest.as_ref()))
}

/// `SHA-512=<base64>` of a body (some servers send only this one).
pub fn digest_header_sha512(body: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, body);
    format!("SHA-512={}", BASE64.encode(digest.as_ref()))
}

/// Checks a `Digest` header (RFC 3230: comma-separated `algorithm=base64` pairs) against the
/// body. Every SHA-256 and SHA-512 value present must match; others are ignored, and at least
/// one of the two must be there.
fn check_digest(header: &str, body: &[u8]) -> Result<(), SignatureError> {
    let mut checked = false;
    for part in header.split(',') {
        let Some((algorithm, value)) = part.trim().split_once('=') else {
            continue;
        };
        let ours = if algorithm.eq_ignore_ascii_case("SHA-256") {
            digest_header(body)
        } else if algorithm.eq_ignore_ascii_case("SHA-512") {
            digest_header_sha512(body)
        } else {
            continue;
        };
        if ours[8..] != *value.trim() {
            return Err(SignatureError::DigestMismatch);
        }
        checked = true;
    }
    if checked {
        Ok(())
    } else {
        Err(SignatureError::DigestMissing)
    }
}

fn cavage_config() -> Config {
    Config::new().mastodon_compat().set_expiration(MAX_AGE)
}

/// Signs requests with one actor's key.
#[derive(Clone)]
pub struct Signer {
    key_id: String,
    key: Arc<KeyPair>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl Signer {
    pub fn from_pem(key_id: &str, private_pem: &str) -> Result<Self, rathaus_shared::Error> {
        Ok(Self {
            key_id: key_id.to_owned(),
            key: Arc::new(rathaus_shared::keys::load_private_key(private_pem)?),
            rng: SystemRandom::new(),
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn sign_bytes(&self, data: &[u8]) -> Result<String, rathaus_shared::Error> {
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, data, &mut sig)
            .map_err(|_| rathaus_shared::Error::Crypto("RSA signing failed".into()))?;
        Ok(BASE64.encode(sig))
    }

    /// Headers for a signed request: `Host`, `Date`, (`Digest`, `Content-Type`), `Signature`.
    /// `body` is `Some` for POST.
    pub fn sign(
        &self,
        method: &str,
        url: &url::Url,
        body: Option<&[u8]>,
        now: SystemTime,
    ) -> Result<Vec<(&'static str, String)>, rathaus_shared::Error> {
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let mut path = url.path().to_owned();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        let mut headers: Vec<(&'static str, String)> =
            vec![("host", host), ("date", httpdate::fmt_http_date(now))];
        if let Some(body) = body {
            headers.push(("digest", digest_header(body)));
            headers.push(("content-type", "application/activity+json".into()));
        }
        let header = self.signature_header(method, &path, &headers)?;
        headers.push(("signature", header));
        Ok(headers)
    }

    /// The `Signature` header over exactly these headers (lower-case names) for a request to
    /// `path_and_query`: [`Signer::sign`] without its choice of headers.
    pub fn signature_header(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&'static str, String)],
    ) -> Result<String, rathaus_shared::Error> {
        let map: BTreeMap<String, String> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let signed = cavage_config()
            .begin_sign(&method.to_lowercase(), path_and_query, map)
            .map_err(|e| rathaus_shared::Error::Crypto(format!("signing string: {e}")))?
            .sign(self.key_id.clone(), |s| self.sign_bytes(s.as_bytes()))?;
        Ok(signed
            .signature_header()
            // Mastodon and most servers expect rsa-sha256 to be named; hs2019 works too but
            // older Pleroma/Misskey versions only accept the explicit name.
            .replace("algorithm=\"hs2019\"", "algorithm=\"rsa-sha256\""))
    }
}

/// A signature that parsed and is within its time window; `key_id` says whose key to check.
#[derive(Debug)]
pub struct PendingSignature {
    pub key_id: String,
    /// The `host` value the signature covers: the server the request was made for.
    pub host: String,
    signing_string: String,
    signature: String,
}

/// Checks everything that needs no key: presence, coverage, digest, date window.
/// `headers` are (lower-case name, value) pairs of the request.
pub fn begin_verify(
    method: &str,
    path_and_query: &str,
    headers: &BTreeMap<String, String>,
    body: Option<&[u8]>,
    now: SystemTime,
) -> Result<PendingSignature, SignatureError> {
    if !headers.contains_key("signature") && !headers.contains_key("authorization") {
        return Err(SignatureError::Missing);
    }
    let date = headers
        .get("date")
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .ok_or(SignatureError::DateMissing)?;
    let too_old = date + MAX_AGE < now;
    let too_new = date > now + MAX_SKEW;
    if too_old || too_new {
        return Err(SignatureError::DateOutOfWindow);
    }
    if let Some(body) = body {
        let claimed = headers.get("digest").ok_or(SignatureError::DigestMissing)?;
        check_digest(claimed, body)?;
    }
    let unverified = cavage_config()
        .begin_verify(&method.to_lowercase(), path_and_query, headers.clone())
        .map_err(|e| SignatureError::Malformed(e.to_string()))?;
    let signing_string = unverified.signing_string().to_owned();
    let covers = |name: &str| {
        signing_string.lines().any(|l| {
            l.split(':')
                .next()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    };
    if !covers("(request-target)") {
        return Err(SignatureError::Uncovered("(request-target)"));
    }
    if !covers("host") {
        return Err(SignatureError::Uncovered("host"));
    }
    if !covers("date") {
        return Err(SignatureError::Uncovered("date"));
    }
    if body.is_some() && !covers("digest") {
        return Err(SignatureError::Uncovered("digest"));
    }
    let host = signing_string
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("host")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    Ok(PendingSignature {
        key_id: unverified.key_id().to_owned(),
        host,
        signature: unverified.signature().to_owned(),
        signing_string,
    })
}

impl PendingSignature {
    /// Verifies against the sender's public key (SPKI PEM).
    pub fn verify(&self, public_key_pem: &str) -> Result<(), SignatureError> {
        let der = pem::parse(public_key_pem).map_err(|_| SignatureError::BadKey)?;
        let sig = BASE64
            .decode(self.signature.as_bytes())
            .map_err(|_| SignatureError::Malformed("signature is not base64".into()))?;
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der.contents())
            .verify(self.signing_string.as_bytes(), &sig)
            .map_err(|_| SignatureError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_signer() -> (Signer, String) {
        let keys = rathaus_shared::keys::generate_rsa_keypair().expect("keys");
        (
            Signer::from_pem("https://a.example/users/a#main-key", &keys.private_pem)
                .expect("signer"),
            keys.public_pem,
        )
    }

    fn as_map(headers: &[(&'static str, String)]) -> BTreeMap<String, String> {
        headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn signed_post_verifies_and_tampering_is_caught() {
        let (signer, public) = new_signer();
        let url = url::Url::parse("https://b.example:8443/inbox").expect("url");
        let body = br#"{"type":"Create"}"#;
        let now = SystemTime::now();
        let headers = signer.sign("POST", &url, Some(body), now).expect("sign");
        let map = as_map(&headers);
        assert_eq!(map["host"], "b.example:8443");
        assert!(map["signature"].contains("algorithm=\"rsa-sha256\""));
        assert!(
            map["signature"].contains("headers=\"(request-target) content-type date digest host\"")
        );

        let pending = begin_verify("POST", "/inbox", &map, Some(body), now).expect("parses");
        assert_eq!(pending.key_id, "https://a.example/users/a#main-key");
        pending.verify(&public).expect("verifies");

        // A different body with the original digest header.
        assert_eq!(
            begin_verify("POST", "/inbox", &map, Some(b"{}"), now).expect_err("tampered"),
            SignatureError::DigestMismatch
        );
        // A different path.
        let other = begin_verify("POST", "/users/x/inbox", &map, Some(body), now).expect("parses");
        assert_eq!(other.verify(&public), Err(SignatureError::BadSignature));
        // Another key.
        let (_, wrong_public) = new_signer();
        assert_eq!(
            pending.verify(&wrong_public),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn missing_signature_and_dates_are_refused() {
        let (signer, _) = new_signer();
        let url = url::Url::parse("https://b.example/inbox").expect("url");
        let now = SystemTime::now();
        let mut map = as_map(&signer.sign("POST", &url, Some(b"x"), now).expect("sign"));
        let unsigned: BTreeMap<String, String> = map
            .iter()
            .filter(|(k, _)| *k != "signature")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(
            begin_verify("POST", "/inbox", &unsigned, Some(b"x"), now).expect_err("unsigned"),
            SignatureError::Missing
        );
        let later = now + MAX_AGE + Duration::from_secs(60);
        assert_eq!(
            begin_verify("POST", "/inbox", &map, Some(b"x"), later).expect_err("old"),
            SignatureError::DateOutOfWindow
        );
        let earlier = now - MAX_SKEW - Duration::from_secs(60);
        assert_eq!(
            begin_verify("POST", "/inbox", &map, Some(b"x"), earlier).expect_err("future"),
            SignatureError::DateOutOfWindow
        );
        map.remove("digest");
        assert_eq!(
            begin_verify("POST", "/inbox", &map, Some(b"x"), now).expect_err("no digest"),
            SignatureError::DigestMissing
        );
    }

    #[test]
    fn digests_sha256_and_sha512_are_checked_others_ignored() {
        let body = b"{\"type\":\"Create\"}";
        let (s256, s512) = (digest_header(body), digest_header_sha512(body));
        assert_eq!(check_digest(&s256, body), Ok(()));
        assert_eq!(check_digest(&s512, body), Ok(()));
        assert_eq!(
            check_digest(&format!("sha-512={}", &s512[8..]), body),
            Ok(())
        );
        assert_eq!(check_digest(&format!("{s256},{s512}"), body), Ok(()));
        assert_eq!(check_digest(&format!("MD5=abc, {s512}"), body), Ok(()));
        assert_eq!(
            check_digest(&digest_header_sha512(b"other"), body),
            Err(SignatureError::DigestMismatch)
        );
        assert_eq!(
            check_digest(&format!("{s256}, {}", digest_header_sha512(b"other")), body),
            Err(SignatureError::DigestMismatch)
        );
        assert_eq!(
            check_digest("MD5=abc", body),
            Err(SignatureError::DigestMissing)
        );
        assert_eq!(check_digest("", body), Err(SignatureError::DigestMissing));
    }

    #[test]
    fn signed_get_verifies_without_digest() {
        let (signer, public) = new_signer();
        let url = url::Url::parse("https://b.example/users/b?page=1").expect("url");
        let now = SystemTime::now();
        let map = as_map(&signer.sign("GET", &url, None, now).expect("sign"));
        assert!(!map.contains_key("digest"));
        begin_verify("GET", "/users/b?page=1", &map, None, now)
            .expect("parses")
            .verify(&public)
            .expect("verifies");
    }
}
