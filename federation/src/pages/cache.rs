//! Rendered pages, kept while nothing they show has changed, with `ETag`/`Last-Modified`
//! revalidation and a short public `Cache-Control`, so a stampede (a newspaper link, thousands
//! of servers fetching a preview) costs one query per request, and nothing at all behind a
//! reverse proxy. Freshness is `content_version` (one query over the tables pages show: every
//! change by any process moves it) plus the minute, because pages say how long a consultation
//! still runs and retention renames authors on its own schedule.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Entries kept at most; past that the cache starts afresh (pages × languages are few).
const MAX_ENTRIES: usize = 1024;
/// What a reverse proxy or browser may reuse without asking.
const CACHE_CONTROL: &str = "public, max-age=10";

#[derive(Debug, Default)]
pub struct PageCache {
    entries: Mutex<HashMap<String, Entry>>,
    /// One render per page at a time: a stampede on a page that just changed waits for the
    /// first render instead of rendering it once per request.
    rendering: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Debug, Clone)]
struct Entry {
    etag: String,
    modified: SystemTime,
    headers: HeaderMap,
    body: Bytes,
}

/// What the request already has, from `If-None-Match` and `If-Modified-Since`.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<SystemTime>,
}

impl Validators {
    pub fn of(headers: &HeaderMap) -> Self {
        Self {
            if_none_match: headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            if_modified_since: headers
                .get(header::IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok()),
        }
    }

    /// RFC 9110 §13.1.2: a weak comparison; `*` matches anything.
    fn matches(&self, etag: &str) -> bool {
        self.if_none_match.as_deref().is_some_and(|list| {
            list.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.trim_start_matches("W/") == etag.trim_start_matches("W/"))
        })
    }

    /// Whether the client's copy is current: `If-None-Match` decides when present, else
    /// `If-Modified-Since` against when the page was rendered.
    fn fresh(&self, etag: &str, modified: Option<SystemTime>) -> bool {
        if self.if_none_match.is_some() {
            return self.matches(etag);
        }
        match (self.if_modified_since, modified) {
            // HTTP dates have whole seconds.
            (Some(since), Some(m)) => {
                let secs = |t: SystemTime| {
                    t.duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                };
                secs(m) <= secs(since)
            }
            _ => false,
        }
    }
}

/// The validator for a page: what it shows (`version`), the minute, language and address.
pub fn etag(version: &str, minute: i64, lang: &str, key: &str) -> String {
    let mut h = DefaultHasher::new();
    (version, minute, lang, key).hash(&mut h);
    format!("W/\"{:016x}\"", h.finish())
}

impl PageCache {
    /// The cached answer for `key` if it is still `etag`, as 304 when the client has it.
    pub fn answer(&self, key: &str, etag: &str, v: &Validators) -> Option<Response> {
        let entry = self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .filter(|e| e.etag == etag)
            .cloned();
        match entry {
            Some(e) if v.fresh(etag, Some(e.modified)) => Some(not_modified(&e.headers)),
            Some(e) => {
                let mut response = Response::new(Body::from(e.body));
                *response.headers_mut() = e.headers;
                Some(response)
            }
            // Rendered by another process (or before a restart): the client's copy is current
            // if its tag is.
            None if v.matches(etag) => {
                let mut headers = HeaderMap::new();
                validators(&mut headers, etag, None);
                Some(not_modified(&headers))
            }
            None => None,
        }
    }

    /// The lock that lets one request at a time render `key`.
    pub fn render_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.rendering.lock().unwrap_or_else(|e| e.into_inner());
        if locks.len() >= MAX_ENTRIES {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(key.to_owned()).or_default().clone()
    }

    /// Keeps a rendered 200 answer under `key` and returns it with its validators.
    pub async fn keep(&self, key: String, etag: &str, response: Response) -> Response {
        if response.status() != StatusCode::OK {
            return response;
        }
        let (mut parts, body) = response.into_parts();
        let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let modified = SystemTime::now();
        validators(&mut parts.headers, etag, Some(modified));
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                etag: etag.to_owned(),
                modified,
                headers: parts.headers.clone(),
                body: body.clone(),
            },
        );
        drop(entries);
        Response::from_parts(parts, Body::from(body))
    }
}

fn validators(headers: &mut HeaderMap, etag: &str, modified: Option<SystemTime>) {
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    if let Some(m) = modified
        && let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(m))
    {
        headers.insert(header::LAST_MODIFIED, v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
}

/// 304 with the validators and caching headers of the full answer, and no body.
fn not_modified(full: &HeaderMap) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    for name in [
        header::ETAG,
        header::LAST_MODIFIED,
        header::CACHE_CONTROL,
        header::VARY,
        header::CONTENT_LANGUAGE,
    ] {
        if let Some(v) = full.get(&name) {
            response.headers_mut().insert(name, v.clone());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(inm: Option<&str>, ims: Option<SystemTime>) -> Validators {
        Validators {
            if_none_match: inm.map(str::to_owned),
            if_modified_since: ims,
        }
    }

    #[test]
    fn validators_compare_weakly_and_if_none_match_wins() {
        let tag = etag("1.2.3", 7, "de", "/announcements/1");
        assert_ne!(tag, etag("1.2.4", 7, "de", "/announcements/1"));
        assert_ne!(tag, etag("1.2.3", 8, "de", "/announcements/1"));
        assert_ne!(tag, etag("1.2.3", 7, "en", "/announcements/1"));
        assert_ne!(tag, etag("1.2.3", 7, "de", "/announcements/1?page=2"));
        let strong = tag.trim_start_matches("W/").to_owned();
        let now = SystemTime::now();
        let earlier = now - std::time::Duration::from_secs(60);
        assert!(with(Some(&tag), None).fresh(&tag, Some(now)));
        assert!(with(Some(&strong), None).fresh(&tag, Some(now)));
        assert!(with(Some(&format!("\"x\", {tag}")), None).fresh(&tag, Some(now)));
        assert!(with(Some("*"), None).fresh(&tag, None));
        assert!(!with(Some("\"other\""), Some(now)).fresh(&tag, Some(earlier)));
        assert!(with(None, Some(now)).fresh(&tag, Some(earlier)));
        assert!(!with(None, Some(earlier)).fresh(&tag, Some(now)));
        assert!(!with(None, None).fresh(&tag, Some(now)));
    }

    #[tokio::test]
    async fn a_kept_page_is_served_until_its_tag_changes() {
        let cache = PageCache::default();
        let tag = etag("1", 1, "de", "/");
        let none = Validators::default();
        assert!(cache.answer("de|/", &tag, &none).is_none());
        let first = cache
            .keep(
                "de|/".into(),
                &tag,
                (StatusCode::OK, "Seite").into_response(),
            )
            .await;
        assert_eq!(first.headers()[header::ETAG], tag.as_str());
        assert_eq!(first.headers()[header::CACHE_CONTROL], CACHE_CONTROL);
        let hit = cache.answer("de|/", &tag, &none).expect("hit");
        assert_eq!(hit.status(), StatusCode::OK);
        let body = axum::body::to_bytes(hit.into_body(), 100)
            .await
            .expect("body");
        assert_eq!(&body[..], b"Seite");
        let revalidated = cache
            .answer("de|/", &tag, &with(Some(&tag), None))
            .expect("304");
        assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(revalidated.headers()[header::ETAG], tag.as_str());
        // Something changed: the old entry is not served.
        let newer = etag("2", 1, "de", "/");
        assert!(cache.answer("de|/", &newer, &none).is_none());
        assert!(
            cache
                .answer("de|/", &newer, &with(Some(&tag), None))
                .is_none()
        );
        // Errors are not kept.
        let missing = cache
            .keep("de|/x".into(), &tag, StatusCode::NOT_FOUND.into_response())
            .await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(cache.answer("de|/x", &tag, &none).is_none());
    }
}
