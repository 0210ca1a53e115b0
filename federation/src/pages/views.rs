//! The pages as pure functions of their data (maud checks the markup at compile time and
//! escapes every interpolated string; only sanitised HTML goes in as `PreEscaped`).

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use rathaus_shared::domain::{ActionKind, AnnouncementKind, CommentStatus, Network};
use rathaus_shared::services::announcements::AnnouncementView;
use rathaus_shared::services::transparency::{
    Actor, AnnouncementPage, CommentView, Counts, Listing, LogPage, Statistics, Thread,
};

use super::Lang;

/// What every page needs besides its own content.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    pub lang: Lang,
    /// The language the town hall writes its announcements in (`site.language`).
    pub content_lang: Lang,
    pub site_name: &'a str,
    /// The path of this page (without query), for the language switch.
    pub path: &'a str,
    pub imprint_url: &'a str,
    pub privacy_url: &'a str,
    pub tz: chrono_tz::Tz,
    pub now: DateTime<Utc>,
}

impl Frame<'_> {
    fn t<'s>(&self, de: &'s str, en: &'s str) -> &'s str {
        self.lang.t(de, en)
    }

    /// A date and time people read: `25.11.2026, 14:30 Uhr` / `25 Nov 2026, 14:30`.
    fn when(&self, t: DateTime<Utc>) -> Markup {
        let local = t.with_timezone(&self.tz);
        let text = match self.lang {
            Lang::De => local.format("%d.%m.%Y, %H:%M Uhr").to_string(),
            Lang::En => local.format("%-d %b %Y, %H:%M").to_string(),
        };
        html! { time datetime=(t.to_rfc3339()) { (text) } }
    }

    fn day(&self, t: DateTime<Utc>) -> Markup {
        let local = t.with_timezone(&self.tz);
        let text = match self.lang {
            Lang::De => local.format("%d.%m.%Y").to_string(),
            Lang::En => local.format("%-d %b %Y").to_string(),
        };
        html! { time datetime=(local.date_naive().to_string()) { (text) } }
    }
}

/// The page around `content`.
pub fn layout(f: &Frame<'_>, title: &str, content: Markup) -> Markup {
    let other = f.lang.other();
    html! {
        (DOCTYPE)
        html lang=(f.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – " (f.site_name) }
                link rel="stylesheet" href="/assets/style.css";
                link rel="alternate" type="application/atom+xml" href="/feed.atom"
                    title=(f.t("Bekanntmachungen (Atom)", "Announcements (Atom)"));
            }
            body {
                a class="skip" href="#main" { (f.t("Zum Inhalt springen", "Skip to content")) }
                header class="site" {
                    div class="bar" {
                        a class="name" href="/" { (f.site_name) }
                        nav aria-label=(f.t("Hauptnavigation", "Main navigation")) {
                            ul {
                                li { a href="/" { (f.t("Bekanntmachungen", "Announcements")) } }
                                li { a href="/statistics" { (f.t("Statistik", "Statistics")) } }
                                li { a href="/moderation-log" { (f.t("Moderationsprotokoll", "Moderation log")) } }
                                li { a href="/open-data" { (f.t("Offene Daten", "Open data")) } }
                                li {
                                    a href={ (f.path) "?lang=" (other.code()) } lang=(other.code()) hreflang=(other.code()) {
                                        (other.t("Deutsch", "English"))
                                    }
                                }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" { (content) }
                footer class="site" {
                    ul {
                        @if !f.imprint_url.is_empty() {
                            li { a href=(f.imprint_url) { (f.t("Impressum", "Imprint")) } }
                        }
                        @if !f.privacy_url.is_empty() {
                            li { a href=(f.privacy_url) { (f.t("Datenschutz", "Privacy")) } }
                        }
                        li { a href="/accessibility" { (f.t("Barrierefreiheit", "Accessibility")) } }
                        li { a href="/feed.atom" { (f.t("Atom-Feed", "Atom feed")) } }
                    }
                    p { (f.t("Diese Seiten verwenden keine Cookies zur Verfolgung und laden nichts von Dritten.",
                             "These pages use no tracking cookies and load nothing from third parties.")) }
                }
            }
        }
    }
}

fn status_badge(f: &Frame<'_>, view: &AnnouncementView) -> Markup {
    let Some(c) = &view.consultation else {
        return html! {};
    };
    if view.is_open(f.now) {
        html! { span class="badge open" { (f.t("Beteiligung läuft", "Open for comments")) } }
    } else if f.now < c.opens_at {
        html! { span class="badge closed" { (f.t("Beteiligung beginnt bald", "Opens soon")) } }
    } else {
        html! { span class="badge closed" { (f.t("Beteiligung beendet", "Closed")) } }
    }
}

fn title_of(f: &Frame<'_>, view: &AnnouncementView) -> String {
    let a = &view.announcement;
    a.title.clone().unwrap_or_else(|| match a.kind {
        AnnouncementKind::Consultation => {
            format!("{} {}", f.t("Beteiligung", "Consultation"), a.id)
        }
        AnnouncementKind::Announcement => {
            format!("{} {}", f.t("Bekanntmachung", "Announcement"), a.id)
        }
    })
}

fn excerpt(html_text: &str) -> String {
    let plain = rathaus_shared::markdown::to_plain_text(html_text);
    let mut out: String = plain.chars().take(280).collect();
    if plain.chars().count() > 280 {
        out.push('…');
    }
    out
}

/// What a pager says, in German and English, and where its links jump to.
struct Pager {
    label: (&'static str, &'static str),
    prev: (&'static str, &'static str),
    next: (&'static str, &'static str),
    anchor: &'static str,
}

/// Lists newest first: the start page, the log, the Open Data index.
const NEWEST_FIRST: Pager = Pager {
    label: ("Seiten", "Pages"),
    prev: ("Neuere", "Newer"),
    next: ("Ältere", "Older"),
    anchor: "",
};

/// An announcement's comments, oldest first.
const COMMENTS: Pager = Pager {
    label: ("Seiten der Kommentare", "Pages of comments"),
    prev: ("Frühere", "Earlier"),
    next: ("Weitere", "Later"),
    anchor: "#comments",
};

fn pager(f: &Frame<'_>, page: u64, pages: u64, p: &Pager) -> Markup {
    html! {
        @if pages > 1 {
            nav class="pages" aria-label=(f.t(p.label.0, p.label.1)) {
                ul {
                    @if page > 1 {
                        li { a href={ (f.path) "?page=" (page - 1) (p.anchor) } rel="prev" { (f.t(p.prev.0, p.prev.1)) } }
                    }
                    li aria-current="page" { (f.t("Seite", "Page")) " " (page) " / " (pages) }
                    @if page < pages {
                        li { a href={ (f.path) "?page=" (page + 1) (p.anchor) } rel="next" { (f.t(p.next.0, p.next.1)) } }
                    }
                }
            }
        }
    }
}

/// The start page: announcements and consultations, newest first.
pub fn start(f: &Frame<'_>, listing: &Listing, handle: &str) -> Markup {
    let content = html! {
        h1 { (f.t("Bekanntmachungen und Beteiligungen", "Announcements and consultations")) }
        p {
            (f.t("Offizielle Bekanntmachungen der Verwaltung. Bei laufenden Beteiligungen können Sie aus dem Fediverse (z. B. Mastodon) oder aus Matrix mitreden – ohne Anmeldung hier. Folgen Sie ",
                 "Official announcements of the administration. While a consultation is open you can take part from the fediverse (e.g. Mastodon) or from Matrix – no sign-up here. Follow "))
            code { (handle) }
            "."
        }
        @if listing.items.is_empty() {
            p { (f.t("Noch keine Bekanntmachungen.", "No announcements yet.")) }
        } @else {
            ol class="items" {
                @for (view, published) in &listing.items {
                    li {
                        h2 { a href={ "/announcements/" (view.announcement.id) } { (title_of(f, view)) } }
                        p class="meta" {
                            (f.day(view.announcement.created_at)) " "
                            (status_badge(f, view))
                            @if view.consultation.is_some() {
                                " · " (published) " " (f.t("veröffentlichte Kommentare", "published comments"))
                            }
                        }
                        @if view.announcement.retracted_at.is_some() {
                            p { (f.t("Zurückgezogen.", "Retracted.")) }
                        } @else {
                            p { (excerpt(&view.announcement.body_html)) }
                        }
                    }
                }
            }
        }
        (pager(f, listing.page, listing.pages, &NEWEST_FIRST))
    };
    layout(f, f.t("Start", "Home"), content)
}

/// How to take part, for an open consultation.
#[derive(Debug, Clone)]
pub struct Participation<'a> {
    pub handle: &'a str,
    pub note_url: &'a str,
    /// matrix.to links of the public rooms.
    pub matrix_rooms: Vec<String>,
}

fn comment_body(c: &CommentView) -> Markup {
    let text = c.content.as_deref().unwrap_or_default();
    match c.network {
        // Sanitised once, when it was stored (`content::read`): every path into the store
        // goes through it, so a page renders it as it is.
        Network::Fediverse => PreEscaped(text.to_owned()),
        Network::Matrix => html! {
            @for (i, line) in text.lines().enumerate() {
                @if i > 0 { br; }
                (line)
            }
        },
    }
}

/// The comment's text, behind a native disclosure when its author gave a content warning or
/// marked it sensitive: the warning (escaped text) is the summary, the text opens on request.
fn comment_text(f: &Frame<'_>, c: &CommentView) -> Markup {
    let body = html! { div class="body" lang=[c.language.as_deref()] { (comment_body(c)) } };
    if c.content_warning.is_none() && !c.sensitive {
        return body;
    }
    html! {
        details class="cw" {
            summary {
                strong { (f.t("Inhaltswarnung", "Content warning")) ": " }
                @match &c.content_warning {
                    Some(warning) => span lang=[c.language.as_deref()] { (warning) },
                    None => (f.t("heikler Inhalt", "sensitive content")),
                }
                " " span class="meta" { (f.t("(Text anzeigen)", "(show text)")) }
            }
            (body)
        }
    }
}

fn thread(f: &Frame<'_>, t: &Thread) -> Markup {
    let c = &t.comment;
    let network = match c.network {
        Network::Fediverse => f.t("Fediverse", "Fediverse"),
        Network::Matrix => "Matrix",
    };
    let name = c
        .author_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(f.t("(ohne Namen)", "(no name)"));
    html! {
        li {
            article class="comment" id={ "comment-" (c.id) } aria-labelledby={ "comment-" (c.id) "-by" } {
                h3 id={ "comment-" (c.id) "-by" } { (name) }
                p class="meta" {
                    (network) " · " (f.when(c.created_at))
                    @if c.late { " · " (f.t("nach Ende eingegangen", "arrived after closing")) }
                }
                (comment_text(f, c))
                @for a in &t.answers {
                    aside class="answer" aria-label=(f.t("Offizielle Antwort", "Official answer")) {
                        p class="meta" { strong { (f.t("Offizielle Antwort", "Official answer")) } " · " (f.when(a.created_at)) }
                        div class="body" { (PreEscaped(&a.body_html)) }
                    }
                }
            }
            @if !t.replies.is_empty() {
                ol class="replies" { @for r in &t.replies { (thread(f, r)) } }
            }
        }
    }
}

fn counts_line(f: &Frame<'_>, c: &Counts) -> Markup {
    html! {
        p class="meta" {
            (c.published) " " (f.t("veröffentlicht", "published")) " · "
            (c.held) " " (f.t("in Prüfung", "awaiting review")) " · "
            (c.removed) " " (f.t("nicht veröffentlicht oder entfernt", "not published or removed")) " · "
            (c.deleted_by_author) " " (f.t("von Verfassenden gelöscht", "deleted by their authors"))
            @if c.late > 0 { " · " (c.late) " " (f.t("nach Ende eingegangen", "after closing")) }
            " – " a href="/moderation-log" { (f.t("Gründe im Moderationsprotokoll", "reasons in the moderation log")) }
        }
    }
}

/// One announcement or consultation with its published threads.
pub fn announcement(f: &Frame<'_>, p: &AnnouncementPage, how: &Participation<'_>) -> Markup {
    let view = &p.view;
    let a = &view.announcement;
    let title = title_of(f, view);
    let content = html! {
        article {
            h1 { (title) }
            p class="meta" {
                (f.t("Veröffentlicht", "Published")) " " (f.when(a.created_at))
                @if a.updated_at != a.created_at {
                    " · " (f.t("geändert", "updated")) " " (f.when(a.updated_at))
                }
                " " (status_badge(f, view))
            }
            @if let Some(c) = &view.consultation {
                p {
                    (f.t("Beteiligung vom", "Open for comments from")) " " (f.when(c.opens_at)) " "
                    (f.t("bis", "until")) " " (f.when(c.closed_at.unwrap_or(c.closes_at)))
                    @if c.closed_at.is_some() { " (" (f.t("vorzeitig beendet", "closed early")) ")" }
                    "."
                }
            }
            div class="body" lang=(f.content_lang.code()) { (PreEscaped(&a.body_html)) }
        }
        @if let Some(c) = &view.consultation {
            @if let (Some(result), Some(at)) = (&c.result_html, c.result_at) {
                section class="result" aria-labelledby="result" {
                    h2 id="result" { (f.t("Ergebnis der Beteiligung", "Result of the consultation")) }
                    p class="meta" { (f.when(at)) }
                    div class="body" lang=(f.content_lang.code()) { (PreEscaped(result)) }
                }
            }
            @if view.is_open(f.now) {
                section class="participate" aria-labelledby="participate" {
                    h2 id="participate" { (f.t("So machen Sie mit", "How to take part")) }
                    ul {
                        li {
                            (f.t("Aus Mastodon oder einem anderen Fediverse-Dienst: Suchen Sie in Ihrer App nach ",
                                 "From Mastodon or another fediverse service: search your app for "))
                            code { (how.note_url) }
                            (f.t(" und antworten Sie auf den Beitrag. Folgen Sie ", " and reply to the post. Follow "))
                            code { (how.handle) }
                            (f.t(" für neue Bekanntmachungen.", " for new announcements."))
                        }
                        @if !how.matrix_rooms.is_empty() {
                            li {
                                (f.t("Aus Matrix: Antworten Sie im Thread dieser Bekanntmachung im öffentlichen Raum ",
                                     "From Matrix: reply in the thread of this announcement in the public room "))
                                @for (i, room) in how.matrix_rooms.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    a href=(room) { (room.trim_start_matches("https://matrix.to/#/")) }
                                }
                                "."
                            }
                        }
                    }
                    p class="meta" {
                        (f.t("Jeder Kommentar wird nach der Netiquette geprüft; die Gründe jeder Entscheidung stehen im Moderationsprotokoll.",
                             "Every comment is checked against the netiquette; the reason for every decision is in the moderation log."))
                    }
                }
            }
        }
        @if view.consultation.is_some() || !p.threads.is_empty() {
            section aria-labelledby="comments" {
                h2 id="comments" { (f.t("Kommentare", "Comments")) }
                (counts_line(f, &p.counts))
                @if p.threads.is_empty() {
                    p { (f.t("Noch keine veröffentlichten Kommentare.", "No published comments yet.")) }
                } @else {
                    ol class="thread" { @for t in &p.threads { (thread(f, t)) } }
                    (pager(f, p.page, p.pages, &COMMENTS))
                }
            }
        }
        section aria-labelledby="data" {
            h2 id="data" { (f.t("Offene Daten und Feeds", "Open data and feeds")) }
            ul {
                li { a href={ "/open-data/" (a.id) "/" } { (f.t("Offene Daten dieser Beteiligung (CSV, JSON, DCAT-AP.de)", "Open data of this consultation (CSV, JSON, DCAT-AP.de)")) } }
                li { a href={ "/announcements/" (a.id) "/comments.atom" } { (f.t("Kommentare als Atom-Feed", "Comments as Atom feed")) } }
            }
        }
    };
    layout(f, &title, content)
}

/// A retracted announcement (410).
pub fn retracted(f: &Frame<'_>) -> Markup {
    let title = f.t("Zurückgezogen", "Retracted");
    layout(
        f,
        title,
        html! {
            h1 { (f.t("Diese Bekanntmachung wurde zurückgezogen.", "This announcement was retracted.")) }
            p { a href="/" { (f.t("Zu allen Bekanntmachungen", "All announcements")) } }
        },
    )
}

/// An error page: what went wrong, in words.
pub fn error(f: &Frame<'_>, status: u16, message: &str) -> Markup {
    let title = match status {
        404 => f.t("Nicht gefunden", "Not found"),
        400..=499 => f.t("Ungültige Anfrage", "Bad request"),
        _ => f.t("Fehler", "Error"),
    };
    layout(
        f,
        title,
        html! {
            h1 { (title) }
            p { (message) }
            p { a href="/" { (f.t("Zur Startseite", "To the start page")) } }
        },
    )
}

pub fn action_label(lang: Lang, action: ActionKind) -> &'static str {
    let (de, en) = action.labels();
    lang.t(de, en)
}

fn actor_label(f: &Frame<'_>, a: Actor) -> &'static str {
    match a {
        Actor::Policy => f.lang.t("Regelwerk (automatisch)", "Policy (automatic)"),
        Actor::Author => f.lang.t("verfassende Person", "author"),
        Actor::Office => f.lang.t("Moderation", "Moderation"),
        Actor::Report => f
            .lang
            .t("Meldung aus dem Fediverse", "report from the fediverse"),
    }
}

/// The public moderation log: what happened, under which rule, why — and no one's identity.
pub fn moderation_log(f: &Frame<'_>, log: &LogPage) -> Markup {
    let title = f.t("Moderationsprotokoll", "Moderation log");
    let content = html! {
        h1 { (title) }
        p {
            (f.t("Jede Entscheidung über einen Kommentar – automatisch oder durch die Moderation – mit Regel und Begründung. Das Protokoll kann nicht nachträglich geändert werden. Es nennt keine Personen.",
                 "Every decision on a comment – automatic or by a moderator – with its rule and reason. The log cannot be changed afterwards. It names no one."))
        }
        @if log.entries.is_empty() {
            p { (f.t("Das Protokoll ist leer.", "The log is empty.")) }
        } @else {
            table {
                caption { (title) ", " (f.t("neueste zuerst", "newest first")) }
                thead { tr {
                    th scope="col" { (f.t("Zeit", "Time")) }
                    th scope="col" { (f.t("Schritt", "Action")) }
                    th scope="col" { (f.t("durch", "By")) }
                    th scope="col" { (f.t("Regel", "Rule")) }
                    th scope="col" { (f.t("Begründung", "Reason")) }
                    th scope="col" { (f.t("Betrifft", "Concerns")) }
                } }
                tbody {
                    @for e in &log.entries {
                        tr {
                            td { (f.when(e.created_at)) }
                            td { (action_label(f.lang, e.action)) }
                            td { (actor_label(f, e.actor)) }
                            td {
                                @if let Some(rule) = &e.rule_id {
                                    code { (rule) }
                                    @if let Some(v) = e.rule_version { " v" (v) }
                                }
                            }
                            td { (e.reason.as_deref().unwrap_or("")) }
                            td {
                                @match (e.announcement_id, e.comment_id) {
                                    (Some(a), Some(c)) => {
                                        a href={ "/announcements/" (a) } { (f.t("Beteiligung", "Consultation")) " " (a) }
                                        ", " (f.t("Kommentar", "comment")) " " (c)
                                    }
                                    (None, Some(c)) => { (f.t("Kommentar", "Comment")) " " (c) }
                                    _ => {}
                                }
                            }
                        }
                    }
                }
            }
        }
        (pager(f, log.page, log.pages, &NEWEST_FIRST))
    };
    layout(f, title, content)
}

fn status_label(lang: Lang, status: &str) -> &'static str {
    match status.parse::<CommentStatus>() {
        Ok(CommentStatus::Published) => lang.t("veröffentlicht", "published"),
        Ok(CommentStatus::Pending) => lang.t("in Prüfung", "awaiting review"),
        Ok(CommentStatus::Rejected) => lang.t("abgelehnt", "rejected"),
        Ok(CommentStatus::Hidden) => lang.t("verborgen", "hidden"),
        Ok(CommentStatus::Deleted) => lang.t("gelöscht", "deleted"),
        Ok(CommentStatus::Private) => lang.t("nicht öffentlich", "not public"),
        Err(_) => lang.t("unbekannt", "unknown"),
    }
}

/// Statistics: comments by network, status and day; moderation actions by rule.
pub fn statistics(f: &Frame<'_>, s: &Statistics) -> Markup {
    let title = f.t("Statistik", "Statistics");
    let content = html! {
        h1 { (title) }
        p { (f.t("Alle Kommentare aller Beteiligungen:", "All comments of all consultations:")) " " strong { (s.total) } }
        table {
            caption { (f.t("Kommentare nach Netz", "Comments by network")) }
            thead { tr { th scope="col" { (f.t("Netz", "Network")) } th scope="col" class="num" { (f.t("Anzahl", "Count")) } } }
            tbody { @for (k, v) in &s.by_network {
                tr { th scope="row" { (if *k == "matrix" { "Matrix" } else { "Fediverse" }) } td class="num" { (v) } }
            } }
        }
        table {
            caption { (f.t("Kommentare nach Status", "Comments by status")) }
            thead { tr { th scope="col" { "Status" } th scope="col" class="num" { (f.t("Anzahl", "Count")) } } }
            tbody { @for (k, v) in &s.by_status {
                tr { th scope="row" { (status_label(f.lang, k)) } td class="num" { (v) } }
            } }
        }
        table {
            caption { (f.t("Kommentare nach Tag (UTC)", "Comments by day (UTC)")) }
            thead { tr { th scope="col" { (f.t("Tag", "Day")) } th scope="col" class="num" { (f.t("Anzahl", "Count")) } } }
            tbody { @for (day, v) in s.by_day.iter().rev() {
                tr { th scope="row" { time datetime=(day.to_string()) { (day.to_string()) } } td class="num" { (v) } }
            } }
        }
        table {
            caption { (f.t("Reichweite im Fediverse (wie oft eine Bekanntmachung gefallen hat oder geteilt wurde; wer, wird nicht gespeichert)", "Reach in the fediverse (how often an announcement was liked or shared; who is not stored)")) }
            thead { tr {
                th scope="col" { (f.t("Bekanntmachung", "Announcement")) }
                th scope="col" class="num" { (f.t("Gefällt mir", "Likes")) }
                th scope="col" class="num" { (f.t("Geteilt", "Boosts")) }
            } }
            tbody {
                @if s.reach.is_empty() {
                    tr { td colspan="3" { (f.t("Noch keine.", "None yet.")) } }
                }
                @for r in &s.reach {
                    tr {
                        th scope="row" { a href={ "/announcements/" (r.announcement_id) } {
                            (r.title.clone().unwrap_or_else(|| format!("{} {}", f.t("Bekanntmachung", "Announcement"), r.announcement_id)))
                        } }
                        td class="num" { (r.likes) }
                        td class="num" { (r.boosts) }
                    }
                }
            }
        }
        table {
            caption { (f.t("Moderationsschritte nach Regel", "Moderation actions by rule")) }
            thead { tr {
                th scope="col" { (f.t("Schritt", "Action")) }
                th scope="col" { (f.t("Regel", "Rule")) }
                th scope="col" class="num" { (f.t("Anzahl", "Count")) }
            } }
            tbody { @for (action, rule, n) in &s.actions_by_rule {
                tr {
                    th scope="row" { (action_label(f.lang, *action)) }
                    td { @if rule.is_empty() { "–" } @else { code { (rule) } } }
                    td class="num" { (n) }
                }
            } }
        }
    };
    layout(f, title, content)
}

/// The actor's profile page (where Mastodon links to). `summary_html` comes from
/// `markdown::to_html`, which sanitises.
pub fn profile(f: &Frame<'_>, summary_html: &str, handle: &str, actor_url: &str) -> Markup {
    let content = html! {
        h1 { (f.site_name) }
        div class="body" { (PreEscaped(summary_html)) }
        h2 { (f.t("Im Fediverse folgen", "Follow in the fediverse")) }
        p {
            (f.t("Suchen Sie in Mastodon oder einem anderen Fediverse-Dienst nach ", "Search Mastodon or any other fediverse service for "))
            code { (handle) } (f.t(" und folgen Sie dem Konto.", " and follow the account."))
        }
        p class="meta" { "ActivityPub: " code { (actor_url) } }
        p { a href="/" { (f.t("Alle Bekanntmachungen", "All announcements")) } }
    };
    layout(f, f.t("Profil", "Profile"), content)
}

/// What the accessibility statement (Erklärung zur Barrierefreiheit) needs to say.
#[derive(Debug, Clone)]
pub struct AccessibilityInfo<'a> {
    pub contact: &'a str,
    pub enforcement_url: &'a str,
}

pub fn accessibility(f: &Frame<'_>, info: &AccessibilityInfo<'_>) -> Markup {
    let title = f.t("Erklärung zur Barrierefreiheit", "Accessibility statement");
    let contact = html! {
        @if info.contact.contains('@') && !info.contact.contains("://") {
            a href={ "mailto:" (info.contact) } { (info.contact) }
        } @else if info.contact.is_empty() {
            (f.t("über die im Impressum genannten Kontaktwege", "through the contacts named in the imprint"))
        } @else {
            a href=(info.contact) { (info.contact) }
        }
    };
    let content = html! {
        h1 { (title) }
        p {
            (f.site_name)
            (f.t(" ist bemüht, diese Seiten im Einklang mit der Barrierefreie-Informationstechnik-Verordnung (BITV 2.0) und der Norm EN 301 549 barrierefrei zugänglich zu machen.",
                 " strives to make these pages accessible in accordance with the German BITV 2.0 and the standard EN 301 549."))
        }
        h2 { (f.t("Stand der Vereinbarkeit", "Compliance status")) }
        p {
            (f.t("Die Seiten sollen die Anforderungen der WCAG 2.1 auf Stufe AA erfüllen. Sie werden bei jeder Änderung automatisch in einem Browser geprüft (axe-core); Inhalte, die Bürgerinnen und Bürger aus anderen Netzen beitragen, können wir nur eingeschränkt barrierefrei gestalten, etwa fehlende Bildbeschreibungen.",
                 "The pages aim to meet WCAG 2.1 level AA. They are checked automatically in a browser (axe-core) on every change; content citizens contribute from other networks can only partly be made accessible, e.g. missing image descriptions."))
        }
        h2 { (f.t("Barrieren melden", "Report a barrier")) }
        p {
            (f.t("Sind Ihnen Barrieren aufgefallen? Schreiben Sie uns ", "Did you notice a barrier? Contact us "))
            (contact) "."
        }
        h2 { (f.t("Schlichtungsverfahren", "Enforcement procedure")) }
        p {
            (f.t("Wenn Sie auf Ihre Meldung keine zufriedenstellende Antwort erhalten, können Sie sich an die Schlichtungsstelle wenden: ",
                 "If you receive no satisfactory answer to your report, you can turn to the arbitration body: "))
            @if info.enforcement_url.is_empty() { "–" } @else { a href=(info.enforcement_url) { (info.enforcement_url) } }
        }
    };
    layout(f, title, content)
}

/// The Open Data index: a dataset per consultation.
pub fn open_data_index(f: &Frame<'_>, listing: &Listing) -> Markup {
    let title = f.t("Offene Daten", "Open data");
    let content = html! {
        h1 { (title) }
        p {
            (f.t("Zu jeder Beteiligung gibt es die veröffentlichten Kommentare (Verfassende pseudonymisiert), offizielle Antworten, das Moderationsprotokoll und Statistik als CSV mit CSV-on-the-Web-Beschreibung und als JSON, beschrieben nach DCAT-AP.de.",
                 "For every consultation: published comments (authors pseudonymised), official answers, the moderation log and statistics as CSV with CSV-on-the-Web metadata and as JSON, described in DCAT-AP.de."))
        }
        ul {
            @for (view, _) in listing.items.iter().filter(|(v, _)| v.consultation.is_some()) {
                li { a href={ "/open-data/" (view.announcement.id) "/" } { (title_of(f, view)) } }
            }
        }
        (pager(f, listing.page, listing.pages, &NEWEST_FIRST))
    };
    layout(f, title, content)
}

/// One dataset's files.
pub fn open_data_dataset(
    f: &Frame<'_>,
    view: &AnnouncementView,
    files: &[(&'static str, &'static str)],
    licence: &str,
) -> Markup {
    let title = format!(
        "{}: {}",
        f.t("Offene Daten", "Open data"),
        title_of(f, view)
    );
    let content = html! {
        h1 { (title) }
        p { a href={ "/announcements/" (view.announcement.id) } { (f.t("Zur Beteiligung", "To the consultation")) } }
        p { (f.t("Lizenz: ", "Licence: ")) a href=(licence) { (licence) } }
        ul {
            @for (name, media) in files {
                li { a href=(name) { (name) } " " span class="meta" { "(" (media) ")" } }
            }
        }
    };
    layout(f, &title, content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rathaus_shared::services::announcements::{Announcement, Consultation};

    fn frame(lang: Lang) -> Frame<'static> {
        Frame {
            lang,
            content_lang: Lang::De,
            site_name: "Stadt <Test>",
            path: "/announcements/1",
            imprint_url: "",
            privacy_url: "",
            tz: chrono_tz::Europe::Berlin,
            now: Utc
                .with_ymd_and_hms(2026, 11, 2, 12, 0, 0)
                .single()
                .expect("t"),
        }
    }

    fn comment_thread(id: i64, network: Network, content: &str) -> Thread {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 1, 10, 0, 0)
            .single()
            .expect("t");
        Thread {
            comment: CommentView {
                id,
                network,
                author_name: Some("<b onmouseover=alert(1)>Eve</b>".into()),
                content: Some(content.into()),
                language: Some("en-GB".into()),
                content_warning: None,
                sensitive: false,
                late: false,
                created_at: t,
                updated_at: t,
            },
            answers: vec![],
            replies: vec![],
        }
    }

    /// Hostile content, stored as the store stores it (sanitised once, on the way in),
    /// renders inert; names and everything else are escaped on every render.
    #[test]
    fn hostile_content_renders_inert() {
        use rathaus_shared::markdown::{sanitize, sanitize_comment};
        let t = Utc
            .with_ymd_and_hms(2026, 11, 1, 9, 0, 0)
            .single()
            .expect("t");
        let view = AnnouncementView {
            announcement: Announcement {
                id: 1,
                kind: AnnouncementKind::Consultation,
                title: Some("Radweg <script>".into()),
                body_markdown: String::new(),
                body_html: sanitize("<p>Text<script>alert(1)</script></p>"),
                author: "cli".into(),
                created_at: t,
                updated_at: t,
                retracted_at: None,
            },
            consultation: Some(Consultation {
                announcement_id: 1,
                opens_at: t,
                closes_at: t + chrono::Duration::days(30),
                closed_at: None,
                result_markdown: None,
                result_html: Some(sanitize("<p onclick=\"x()\">Ergebnis</p>")),
                result_at: Some(t),
            }),
        };
        let page = AnnouncementPage {
            page: 1,
            pages: 1,
            view,
            threads: vec![
                comment_thread(
                    1,
                    Network::Fediverse,
                    &sanitize_comment(
                        "<p>Hi<img src=x onerror=alert(1)><a href=\"javascript:alert(2)\">x</a></p>",
                    ),
                ),
                comment_thread(
                    2,
                    Network::Matrix,
                    "<script>alert(3)</script>\nzweite Zeile",
                ),
            ],
            counts: Counts::default(),
        };
        let how = Participation {
            handle: "@rathaus@x",
            note_url: "https://x/announcements/1",
            matrix_rooms: vec!["https://matrix.to/#/#rathaus:x".into()],
        };
        for lang in [Lang::De, Lang::En] {
            let html = announcement(&frame(lang), &page, &how).into_string();
            for bad in [
                "<script",
                "<img",
                "onerror",
                "onclick",
                "javascript:",
                "<b ",
            ] {
                assert!(!html.contains(bad), "{bad} in {html}");
            }
            assert!(
                html.contains("&lt;script&gt;alert(3)&lt;/script&gt;<br>zweite Zeile"),
                "{html}"
            );
            assert!(html.contains("&lt;b onmouseover=alert(1)&gt;Eve&lt;/b&gt;"));
            assert!(html.contains("Stadt &lt;Test&gt;"));
            assert!(
                html.contains("<div class=\"body\" lang=\"en-GB\">"),
                "comment language marked"
            );
            assert!(
                html.contains("matrix.to/#/#rathaus:x"),
                "Matrix room offered"
            );
            assert!(html.contains(&format!("<html lang=\"{}\">", lang.code())));
        }
    }

    #[test]
    fn content_warnings_hide_the_text_behind_a_disclosure() {
        let mut t = comment_thread(1, Network::Fediverse, "<p>Der Text</p>");
        t.comment.content_warning = Some("<b>Politik</b> & Wahl".into());
        let mut flagged = comment_thread(2, Network::Matrix, "Nur markiert");
        flagged.comment.sensitive = true;
        let plain = comment_thread(3, Network::Fediverse, "<p>Offen</p>");
        for (lang, label, generic) in [
            (Lang::De, "Inhaltswarnung", "heikler Inhalt"),
            (Lang::En, "Content warning", "sensitive content"),
        ] {
            let f = frame(lang);
            let html = comment_text(&f, &t.comment).into_string();
            assert!(
                html.starts_with(&format!(
                    "<details class=\"cw\"><summary><strong>{label}: </strong><span lang=\"en-GB\">&lt;b&gt;Politik&lt;/b&gt; &amp; Wahl</span>"
                )),
                "{html}"
            );
            assert!(html.contains("<p>Der Text</p></div></details>"), "{html}");
            assert!(!html.contains("<b>"), "the warning is text: {html}");
            let html = comment_text(&f, &flagged.comment).into_string();
            assert!(
                html.contains(&format!("{label}: </strong>{generic}")),
                "{html}"
            );
            assert!(html.contains("Nur markiert</div></details>"), "{html}");
            let html = comment_text(&f, &plain.comment).into_string();
            assert!(!html.contains("<details"), "{html}");
        }
    }

    #[test]
    fn no_link_to_the_author_s_post_or_profile() {
        let t = comment_thread(1, Network::Fediverse, "<p>Text</p>");
        let html = thread(&frame(Lang::De), &t).into_string();
        assert!(!html.contains("href"), "{html}");
        assert!(!html.contains("Original"), "{html}");
    }

    #[test]
    fn dates_are_local_and_in_the_reader_s_language() {
        let t = Utc
            .with_ymd_and_hms(2026, 7, 1, 10, 5, 0)
            .single()
            .expect("t");
        let de = frame(Lang::De).when(t).into_string();
        let en = frame(Lang::En).when(t).into_string();
        // Berlin is UTC+2 in summer.
        assert!(de.contains("01.07.2026, 12:05 Uhr"), "{de}");
        assert!(en.contains("1 Jul 2026, 12:05"), "{en}");
        assert!(
            de.contains("datetime=\"2026-07-01T10:05:00+00:00\""),
            "{de}"
        );
    }
}
