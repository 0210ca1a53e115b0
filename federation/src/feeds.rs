//! Atom feeds (RFC 4287, written by the atom_syndication crate, which escapes for us):
//! announcements, and each consultation's published comments with official answers.

use atom_syndication::{Content, Entry, Feed, Link, Person, Text};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, FixedOffset, Utc};
use rathaus_shared::domain::Network;
use rathaus_shared::markdown;
use rathaus_shared::services::transparency::{self, Thread};

use crate::error::{Error, Result};
use crate::state::FedState;

/// Entries in the announcements feed.
const FEED_SIZE: u64 = 20;

pub fn routes() -> Router<FedState> {
    Router::new()
        .route("/feed.atom", get(announcements))
        .route("/announcements/{id}/comments.atom", get(comments))
}

/// Removes characters XML 1.0 does not allow (control characters a remote text may carry),
/// which would make the whole feed unreadable.
pub fn xml_safe(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r')
                || ('\u{20}'..='\u{D7FF}').contains(&c)
                || ('\u{E000}'..='\u{FFFD}').contains(&c)
                || c >= '\u{10000}'
        })
        .collect()
}

fn fixed(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.fixed_offset()
}

fn link(href: &str, rel: &str, media: Option<&str>) -> Link {
    Link {
        href: href.to_owned(),
        rel: rel.to_owned(),
        mime_type: media.map(str::to_owned),
        ..Default::default()
    }
}

fn html_content(html: String) -> Content {
    Content {
        value: Some(xml_safe(&html)),
        content_type: Some("html".to_owned()),
        ..Default::default()
    }
}

fn atom(feed: &Feed) -> Response {
    (
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        feed.to_string(),
    )
        .into_response()
}

/// # GET /feed.atom
async fn announcements(State(state): State<FedState>) -> Result<Response> {
    let app = &state.app;
    let urls = app.urls();
    let listing = transparency::listing(app, 1).await?;
    let publisher = app.config.site.publisher(&app.config.actor).to_owned();
    let mut updated = DateTime::<Utc>::UNIX_EPOCH;
    let mut entries = Vec::new();
    for (view, _) in listing.items.iter().take(FEED_SIZE as usize) {
        let a = &view.announcement;
        if a.retracted_at.is_some() {
            continue;
        }
        updated = updated.max(a.updated_at);
        let url = urls.announcement(a.id);
        let mut body = markdown::sanitize(&a.body_html);
        if let Some(result) = view
            .consultation
            .as_ref()
            .and_then(|c| c.result_html.as_deref())
        {
            body.push_str("<p><strong>Ergebnis / Result</strong></p>");
            body.push_str(&markdown::sanitize(result));
        }
        entries.push(Entry {
            title: Text::plain(xml_safe(
                &a.title
                    .clone()
                    .unwrap_or_else(|| format!("Bekanntmachung {}", a.id)),
            )),
            id: url.clone(),
            updated: fixed(a.updated_at),
            published: Some(fixed(a.created_at)),
            links: vec![link(&url, "alternate", Some("text/html"))],
            content: Some(html_content(body)),
            ..Default::default()
        });
    }
    let feed = Feed {
        title: Text::plain(publisher.clone()),
        id: format!("{}/feed.atom", urls.base()),
        updated: fixed(updated),
        authors: vec![Person {
            name: publisher,
            uri: Some(urls.profile()),
            ..Default::default()
        }],
        links: vec![
            link(
                &format!("{}/feed.atom", urls.base()),
                "self",
                Some("application/atom+xml"),
            ),
            link(&format!("{}/", urls.base()), "alternate", Some("text/html")),
        ],
        lang: Some("de".to_owned()),
        entries,
        ..Default::default()
    };
    Ok(atom(&feed))
}

/// A comment's content warning as the feed states it, in both languages; `None` without one.
fn warning_line(content_warning: Option<&str>, sensitive: bool) -> Option<String> {
    match content_warning {
        Some(w) => Some(format!("Inhaltswarnung / Content warning: {w}")),
        None => sensitive.then(|| "Inhaltswarnung / Content warning".to_owned()),
    }
}

fn flatten<'a>(threads: &'a [Thread], out: &mut Vec<&'a Thread>) {
    for t in threads {
        out.push(t);
        flatten(&t.replies, out);
    }
}

/// # GET /announcements/{id}/comments.atom
async fn comments(State(state): State<FedState>, Path(id): Path<String>) -> Result<Response> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::NotFound(format!("announcement {id}")))?;
    let app = &state.app;
    let urls = app.urls();
    let page = transparency::announcement_page(app, id).await?;
    let a = &page.view.announcement;
    if a.retracted_at.is_some() {
        return Err(Error::NotFound(format!("announcement {id} was retracted")));
    }
    let page_url = urls.announcement(id);
    let mut all = Vec::new();
    flatten(&page.threads, &mut all);
    let mut updated = a.updated_at;
    let mut entries = Vec::new();
    for t in all {
        let c = &t.comment;
        updated = updated.max(c.updated_at);
        let name = c
            .author_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "(ohne Namen)".to_owned());
        let body = match c.network {
            Network::Fediverse => {
                markdown::sanitize_comment(c.content.as_deref().unwrap_or_default())
            }
            Network::Matrix => format!(
                "<p>{}</p>",
                rathaus_shared::apub::html_escape(c.content.as_deref().unwrap_or_default())
            ),
        };
        // No link to the author's own post: its URL names them.
        let links = vec![link(
            &format!("{page_url}#comment-{}", c.id),
            "alternate",
            Some("text/html"),
        )];
        let warning = warning_line(c.content_warning.as_deref(), c.sensitive);
        let body = match &warning {
            Some(w) => format!(
                "<details><summary>{}</summary>{body}</details>",
                rathaus_shared::apub::html_escape(w)
            ),
            None => body,
        };
        entries.push(Entry {
            summary: warning.map(|w| Text::plain(xml_safe(&w))),
            title: Text::plain(xml_safe(&format!("Kommentar {} von {name}", c.id))),
            id: format!("{page_url}#comment-{}", c.id),
            updated: fixed(c.updated_at),
            published: Some(fixed(c.created_at)),
            authors: vec![Person {
                name: xml_safe(&name),
                ..Default::default()
            }],
            links,
            content: Some(html_content(body)),
            ..Default::default()
        });
        for answer in &t.answers {
            updated = updated.max(answer.created_at);
            entries.push(Entry {
                title: Text::plain(format!("Offizielle Antwort auf Kommentar {}", c.id)),
                id: urls.answer(answer.id),
                updated: fixed(answer.created_at),
                published: Some(fixed(answer.created_at)),
                authors: vec![Person {
                    name: app.config.site.publisher(&app.config.actor).to_owned(),
                    uri: Some(urls.profile()),
                    ..Default::default()
                }],
                links: vec![link(
                    &format!("{page_url}#comment-{}", c.id),
                    "alternate",
                    Some("text/html"),
                )],
                content: Some(html_content(markdown::sanitize(&answer.body_html))),
                ..Default::default()
            });
        }
    }
    let self_url = format!("{page_url}/comments.atom");
    let feed = Feed {
        title: Text::plain(xml_safe(&format!(
            "Kommentare: {}",
            a.title
                .clone()
                .unwrap_or_else(|| format!("Beteiligung {id}"))
        ))),
        id: self_url.clone(),
        updated: fixed(updated),
        links: vec![
            link(&self_url, "self", Some("application/atom+xml")),
            link(&page_url, "alternate", Some("text/html")),
        ],
        lang: Some("de".to_owned()),
        entries,
        ..Default::default()
    };
    Ok(atom(&feed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_stated_in_both_languages() {
        assert_eq!(
            warning_line(Some("Politik"), false).as_deref(),
            Some("Inhaltswarnung / Content warning: Politik")
        );
        assert_eq!(
            warning_line(None, true).as_deref(),
            Some("Inhaltswarnung / Content warning")
        );
        assert_eq!(warning_line(None, false), None);
    }

    #[test]
    fn control_characters_never_reach_the_xml() {
        assert_eq!(xml_safe("a\u{1}b\u{1b}c\td\ne\u{FFFE}f😀"), "abc\td\nef😀");
        let feed = Feed {
            title: Text::plain(xml_safe("Bell\u{7} <b>")),
            ..Default::default()
        };
        let xml = feed.to_string();
        assert!(Feed::read_from(xml.as_bytes()).is_ok(), "{xml}");
    }
}
