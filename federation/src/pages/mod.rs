//! Public HTML pages: start page, announcements with their threads, statistics, the public
//! moderation log, profile, accessibility statement, Open Data index. German by default,
//! English on request (`Accept-Language`, or the switch, remembered in a cookie). No
//! JavaScript, no third-party resources, and a Content-Security-Policy that forbids both.

pub mod cache;
pub mod views;

use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::Markup;
use rathaus_shared::services::transparency;
use serde::Deserialize;

use crate::error::Error;
use crate::state::FedState;
use views::Frame;

const STYLE: &str = include_str!("style.css");
const LANG_COOKIE: &str = "rathaus_lang";

/// Served with every page: nothing runs, nothing loads from elsewhere, nothing frames us.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

pub fn routes() -> Router<FedState> {
    Router::new()
        .route("/", get(start))
        .route("/statistics", get(statistics))
        .route("/moderation-log", get(moderation_log))
        .route("/accessibility", get(accessibility))
        .route("/open-data", get(open_data_index))
        .route("/assets/style.css", get(style))
}

/// The pages speak the site's language type; the short name keeps the templates readable.
pub use rathaus_shared::config::Language as Lang;

/// The language a browser prefers among ours, by `Accept-Language` q-values (RFC 9110).
pub fn negotiate(accept_language: &str) -> Option<Lang> {
    let mut best: Option<(f32, usize, Lang)> = None;
    for (i, part) in accept_language.split(',').enumerate() {
        let mut pieces = part.split(';');
        let Some(lang) = pieces.next().and_then(Lang::from_tag) else {
            continue;
        };
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        // Higher q wins; on a tie the earlier entry.
        if best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
            best = Some((q, i, lang));
        }
    }
    best.map(|(_, _, l)| l)
}

/// Who is looking: the language, and whether they just switched it (then we remember it).
#[derive(Debug, Clone)]
pub struct Viewer {
    pub lang: Lang,
    switched: bool,
    path: String,
    /// Path and query: what the page cache keys on.
    target: String,
    /// `?page=`, for the pages that have pages.
    page: u64,
    validators: cache::Validators,
}

#[derive(Debug, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

impl FromRequestParts<FedState> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &FedState,
    ) -> Result<Self, Self::Rejection> {
        let path = parts.uri.path().to_owned();
        let target = parts
            .uri
            .path_and_query()
            .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
        let page = Query::<PageQuery>::try_from_uri(&parts.uri)
            .map(|q| q.0.page())
            .unwrap_or(1);
        let validators = cache::Validators::of(&parts.headers);
        let from_query = Query::<LangQuery>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.lang)
            .and_then(|l| Lang::from_tag(&l));
        if let Some(lang) = from_query {
            return Ok(Viewer {
                lang,
                switched: true,
                path,
                target,
                page,
                validators,
            });
        }
        let cookie = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix(LANG_COOKIE)?.strip_prefix('='))
            .and_then(Lang::from_tag);
        let header = || {
            parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(negotiate)
        };
        let default = site_lang(state);
        Ok(Viewer {
            lang: cookie.or_else(header).unwrap_or(default),
            switched: false,
            path,
            target,
            page,
            validators,
        })
    }
}

/// The language of the town hall's own texts.
fn site_lang(state: &FedState) -> Lang {
    state.app.config.site.language
}

impl Viewer {
    pub fn frame<'a>(&'a self, state: &'a FedState) -> Frame<'a> {
        let config = &state.app.config;
        Frame {
            lang: self.lang,
            content_lang: site_lang(state),
            site_name: config.site.publisher(&config.actor),
            path: &self.path,
            imprint_url: &config.actor.imprint_url,
            privacy_url: &config.actor.privacy_url,
            tz: config.site.time_zone,
            now: state.app.now(),
        }
    }

    /// An HTML answer with our headers (and the language cookie after a switch).
    pub fn respond(&self, status: StatusCode, markup: Markup) -> Response {
        let mut response = (status, markup.into_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        security_headers(headers);
        headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(self.lang.code()),
        );
        headers.insert(
            header::VARY,
            HeaderValue::from_static("Accept, Accept-Language, Cookie"),
        );
        if self.switched {
            let cookie = format!(
                "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
                self.lang.code()
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                headers.insert(header::SET_COOKIE, v);
            }
        }
        response
    }

    /// The page from the cache while nothing it shows changed (304 if the client has it),
    /// else rendered by `render` and kept. A language switch is never cached: its answer
    /// sets a cookie.
    pub async fn cached(
        &self,
        state: &FedState,
        render: impl std::future::Future<Output = Response>,
    ) -> Response {
        if self.switched {
            return render.await;
        }
        let version = match transparency::content_version(&state.app).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "pages: no content version, rendering uncached");
                return render.await;
            }
        };
        let minute = state.app.now().timestamp().div_euclid(60);
        let etag = cache::etag(&version, minute, self.lang.code(), &self.target);
        let key = format!("{}|{}", self.lang.code(), self.target);
        if let Some(answer) = state.pages.answer(&key, &etag, &self.validators) {
            return answer;
        }
        let lock = state.pages.render_lock(&key);
        let _rendering = lock.lock().await;
        // Rendered while we waited?
        if let Some(answer) = state.pages.answer(&key, &etag, &self.validators) {
            return answer;
        }
        state.pages.keep(key, &etag, render.await).await
    }

    /// Renders what was loaded with `view`, or the error as a page.
    pub fn render<T>(
        &self,
        state: &FedState,
        loaded: rathaus_shared::Result<T>,
        view: impl FnOnce(&Frame<'_>, &T) -> Markup,
    ) -> Response {
        match loaded {
            Ok(data) => self.respond(StatusCode::OK, view(&self.frame(state), &data)),
            Err(e) => self.error(state, e.into()),
        }
    }

    /// The error as a page a person can read (4xx with the reason, 500 without details).
    pub fn error(&self, state: &FedState, err: Error) -> Response {
        let status = err.status();
        let message = if status.is_server_error() {
            tracing::error!(error = %err, "page failed");
            self.lang
                .t(
                    "Ein interner Fehler ist aufgetreten. Bitte versuchen Sie es später erneut.",
                    "An internal error occurred. Please try again later.",
                )
                .to_owned()
        } else if status == StatusCode::NOT_FOUND {
            self.lang
                .t(
                    "Diese Seite gibt es nicht (mehr).",
                    "This page does not exist (any more).",
                )
                .to_owned()
        } else {
            err.to_string()
        };
        self.respond(
            status,
            views::error(&self.frame(state), status.as_u16(), &message),
        )
    }
}

/// Headers every public page carries.
pub fn security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

impl PageQuery {
    /// A bad or missing page number is page 1, never an error.
    fn page(&self) -> u64 {
        self.page
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .max(1)
    }
}

fn handle(state: &FedState) -> String {
    let urls = state.app.urls();
    format!("@{}@{}", urls.username(), urls.host())
}

/// # GET /
async fn start(State(state): State<FedState>, viewer: Viewer) -> Response {
    viewer
        .cached(&state, async {
            let loaded = transparency::listing(&state.app, viewer.page).await;
            let handle = handle(&state);
            viewer.render(&state, loaded, |f, listing| {
                views::start(f, listing, &handle)
            })
        })
        .await
}

/// The HTML side of `/announcements/{id}` (the JSON side is in `objects`).
pub async fn announcement(state: &FedState, viewer: &Viewer, id: i64) -> Response {
    viewer
        .cached(state, render_announcement(state, viewer, id))
        .await
}

async fn render_announcement(state: &FedState, viewer: &Viewer, id: i64) -> Response {
    let page = match transparency::announcement_page_at(&state.app, id, viewer.page).await {
        Ok(p) => p,
        Err(e) => return viewer.error(state, e.into()),
    };
    let frame = viewer.frame(state);
    if page.view.announcement.retracted_at.is_some() {
        return viewer.respond(StatusCode::GONE, views::retracted(&frame));
    }
    let urls = state.app.urls();
    let note_url = urls.announcement(id);
    let handle = handle(state);
    let how = views::Participation {
        handle: &handle,
        note_url: &note_url,
        matrix_rooms: state
            .app
            .config
            .matrix
            .as_ref()
            .map(|m| {
                m.public_rooms
                    .iter()
                    .map(|r| format!("https://matrix.to/#/{r}"))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let mut response = viewer.respond(StatusCode::OK, views::announcement(&frame, &page, &how));
    // Servers find the ActivityPub form from the page.
    if let Ok(v) = HeaderValue::from_str(&format!(
        "<{note_url}>; rel=\"alternate\"; type=\"application/activity+json\""
    )) {
        response.headers_mut().insert(header::LINK, v);
    }
    response
}

/// The HTML side of `/@{name}`.
pub async fn profile(state: &FedState, viewer: &Viewer) -> Response {
    let c = &state.app.config.actor;
    let summary = rathaus_shared::markdown::to_html(&c.summary);
    viewer.respond(
        StatusCode::OK,
        views::profile(
            &viewer.frame(state),
            &summary,
            &handle(state),
            &state.app.urls().actor(),
        ),
    )
}

/// # GET /statistics
async fn statistics(State(state): State<FedState>, viewer: Viewer) -> Response {
    viewer
        .cached(&state, async {
            let loaded = transparency::statistics(&state.app).await;
            viewer.render(&state, loaded, views::statistics)
        })
        .await
}

/// # GET /moderation-log
async fn moderation_log(State(state): State<FedState>, viewer: Viewer) -> Response {
    viewer
        .cached(&state, async {
            let loaded = transparency::public_log(&state.app, viewer.page).await;
            viewer.render(&state, loaded, views::moderation_log)
        })
        .await
}

/// # GET /accessibility
async fn accessibility(State(state): State<FedState>, viewer: Viewer) -> Response {
    let site = &state.app.config.site;
    viewer.respond(
        StatusCode::OK,
        views::accessibility(
            &viewer.frame(&state),
            &views::AccessibilityInfo {
                contact: &site.accessibility_contact,
                enforcement_url: site
                    .accessibility_enforcement_url
                    .as_ref()
                    .map_or("", |u| u.as_str()),
            },
        ),
    )
}

/// # GET /open-data
async fn open_data_index(State(state): State<FedState>, viewer: Viewer) -> Response {
    viewer
        .cached(&state, async {
            let loaded = transparency::listing(&state.app, viewer.page).await;
            viewer.render(&state, loaded, views::open_data_index)
        })
        .await
}

/// # GET /assets/style.css — the brand colour from the config, checked for contrast at start.
async fn style(State(state): State<FedState>) -> Response {
    let css = STYLE.replace("#0b5394", &state.app.config.site.color.to_string());
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        css,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_of_ours() {
        assert_eq!(negotiate("de-DE,de;q=0.9,en;q=0.8"), Some(Lang::De));
        assert_eq!(negotiate("en-US,en;q=0.9,de;q=0.8"), Some(Lang::En));
        assert_eq!(
            negotiate("fr-FR,fr;q=0.9,en;q=0.5,de;q=0.4"),
            Some(Lang::En)
        );
        assert_eq!(negotiate("de;q=0.3, en;q=0.7"), Some(Lang::En));
        assert_eq!(negotiate("en;q=0, de"), Some(Lang::De));
        assert_eq!(negotiate("fr, it"), None);
        assert_eq!(negotiate(""), None);
        assert_eq!(negotiate("*"), None);
    }
}
