//! What the bot says, as pure functions of view types: unit-tested without a homeserver, the
//! way `pages/views.rs` renders pages. German first; the press office and moderators read it.

use chrono::{DateTime, Utc};
use rathaus_shared::apub::html_escape;
use rathaus_shared::domain::{AnnouncementKind, CommentStatus, Network};
use rathaus_shared::markdown;
use rathaus_shared::policy::RuleSpec;
use rathaus_shared::services::matrix::{
    CommentCounts, LogStep, ModerationComment, RelayAnnouncement, ReportView, Reported,
};
use rathaus_shared::services::transparency::AnswerView;

/// The language a command was written in: its German name, or its English alias.
pub use rathaus_shared::config::Language as Lang;

pub fn wrong_room(l: Lang) -> &'static str {
    l.t(
        "Dieser Befehl gehört in den Presse- bzw. Moderationsraum.",
        "This command belongs in the press or moderation room.",
    )
}

pub fn not_allowed(l: Lang) -> &'static str {
    l.t(
        "Entschuldigung, diesen Befehl dürfen Sie hier nicht nutzen.",
        "Sorry, you may not use this command here.",
    )
}

pub fn internal_error(l: Lang) -> &'static str {
    l.t(
        "Ein interner Fehler ist aufgetreten; bitte später erneut versuchen.",
        "An internal error occurred; please try again later.",
    )
}
/// The hint for a message in a public room that is no reply in an announcement's thread.
pub const HOW_TO_TAKE_PART: &str = "Hallo! Kommentare zu einer Bekanntmachung oder Beteiligung schreiben Sie als Antwort in deren Thread; Nachrichten außerhalb eines Threads werden nicht berücksichtigt.\nHello! To comment on an announcement or consultation, reply in its thread; messages outside a thread are not taken into account.";
/// How to write `!fediverse`.
pub const BRIDGE_USAGE: &str = "So geht es: `!fediverse aus` (Ihre Kommentare bleiben in Matrix und auf der Website) oder `!fediverse an`. / Usage: `!fediverse off` (your comments stay on Matrix and the website) or `!fediverse on`.";

/// A citizen's `!fediverse` message: `Some(Some(true))` to opt out, `Some(Some(false))` to opt
/// in, `Some(None)` for a malformed one, `None` for any other message.
pub fn bridge_choice(body: &str) -> Option<Option<bool>> {
    let mut words = body.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("!fediverse") {
        return None;
    }
    let choice = words.next().map(str::to_lowercase);
    Some(match (choice.as_deref(), words.next()) {
        (Some("aus" | "off" | "nein" | "no"), None) => Some(true),
        (Some("an" | "on" | "ja" | "yes"), None) => Some(false),
        _ => None,
    })
}

/// After `!fediverse aus|an`.
pub fn bridge_changed(out: bool) -> String {
    if out {
        "Ihre Kommentare bleiben ab jetzt in Matrix und auf der Website; bereits ins Fediverse übertragene werden dort zurückgezogen. / From now on your comments stay on Matrix and the website; those already in the fediverse are withdrawn there.".to_owned()
    } else {
        "Ihre veröffentlichten Kommentare erscheinen ab jetzt auch im Fediverse. / From now on your published comments also appear in the fediverse.".to_owned()
    }
}

pub const ONLY_MODERATORS: &str =
    "Entschuldigung, nur die Moderation kann so entscheiden. / Only moderators can decide this.";

/// A comment's state in a sentence, in English.
fn status_word_en(status: CommentStatus) -> &'static str {
    match status {
        CommentStatus::Pending => "held",
        CommentStatus::Published => "published",
        CommentStatus::Rejected => "rejected",
        CommentStatus::Hidden => "hidden",
        CommentStatus::Deleted => "deleted",
        CommentStatus::Private => "not public (a private message)",
    }
}

/// A comment's state in a sentence: „Kommentar 3 veröffentlicht.“
pub fn status_word(status: CommentStatus) -> &'static str {
    match status {
        CommentStatus::Pending => "zurückgehalten",
        CommentStatus::Published => "veröffentlicht",
        CommentStatus::Rejected => "abgelehnt",
        CommentStatus::Hidden => "verborgen",
        CommentStatus::Deleted => "gelöscht",
        CommentStatus::Private => "nicht öffentlich (Privatnachricht)",
    }
}

/// After `!tilgen`.
pub fn erased(l: Lang, comments: usize, activities: usize) -> String {
    match l {
        Lang::De => format!(
            "Gelöscht: {comments} Kommentar(e); {activities} Antwort(en)/Hinweis(e) zurückgezogen. Kopien in den Räumen werden entfernt."
        ),
        Lang::En => format!(
            "Erased: {comments} comment(s); {activities} answer(s)/notice(s) withdrawn. Copies in the rooms are being removed."
        ),
    }
}

/// A refusal by the domain (not found, not allowed in this state).
pub fn failed(l: Lang, reason: &str) -> String {
    format!("{} {reason}", l.t("Das ging nicht:", "That did not work:"))
}

pub fn comment_now(l: Lang, id: i64, status: CommentStatus) -> String {
    match l {
        Lang::De => format!("Kommentar {id} {}.", status_word(status)),
        Lang::En => format!("Comment {id} {}.", status_word_en(status)),
    }
}

pub fn decided_by_reaction(id: i64, status: CommentStatus, who: &str) -> String {
    format!(
        "Kommentar {id} {} (Reaktion von {who}).",
        status_word(status)
    )
}

/// A time in the site's time zone, as people in the town read it.
fn local(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    rathaus_shared::apub::local_time(t, tz, "%d.%m.%Y %H:%M %Z")
}

pub fn announced(l: Lang, id: i64, url: &str) -> String {
    match l {
        Lang::De => format!("Bekanntmachung {id} veröffentlicht: {url}"),
        Lang::En => format!("Announcement {id} published: {url}"),
    }
}

pub fn consultation_started(
    l: Lang,
    id: i64,
    closes: DateTime<Utc>,
    tz: chrono_tz::Tz,
    url: &str,
) -> String {
    match l {
        Lang::De => format!(
            "Beteiligung {id} gestartet, offen bis {}: {url}",
            local(closes, tz)
        ),
        Lang::En => format!(
            "Consultation {id} started, open until {}: {url}",
            rathaus_shared::apub::local_time(closes, tz, "%Y-%m-%d %H:%M %Z")
        ),
    }
}

pub fn corrected(l: Lang, id: i64) -> String {
    match l {
        Lang::De => format!("Bekanntmachung {id} korrigiert."),
        Lang::En => format!("Announcement {id} corrected."),
    }
}

pub fn retracted(l: Lang, id: i64) -> String {
    match l {
        Lang::De => format!("Bekanntmachung {id} zurückgezogen."),
        Lang::En => format!("Announcement {id} retracted."),
    }
}

pub fn closed(l: Lang, id: i64) -> String {
    match l {
        Lang::De => format!("Beteiligung {id} beendet."),
        Lang::En => format!("Consultation {id} closed."),
    }
}

pub fn result_published(l: Lang, id: i64, url: &str) -> String {
    match l {
        Lang::De => format!("Ergebnis der Beteiligung {id} veröffentlicht: {url}"),
        Lang::En => format!("Result of consultation {id} published: {url}"),
    }
}

pub fn answered(l: Lang, answer: i64, comment: i64) -> String {
    match l {
        Lang::De => format!("Antwort {answer} auf Kommentar {comment} veröffentlicht."),
        Lang::En => format!("Answer {answer} to comment {comment} published."),
    }
}

pub fn blocked(l: Lang, target: &str) -> String {
    match l {
        Lang::De => format!("{target} gesperrt."),
        Lang::En => format!("{target} blocked."),
    }
}

pub fn unblocked(l: Lang, target: &str, was_blocked: bool) -> String {
    match (l, was_blocked) {
        (Lang::De, true) => format!("Sperre für {target} aufgehoben."),
        (Lang::De, false) => format!("{target} war nicht gesperrt."),
        (Lang::En, true) => format!("{target} unblocked."),
        (Lang::En, false) => format!("{target} was not blocked."),
    }
}

pub fn rule_added(l: Lang, id: &str, version: i32) -> String {
    match l {
        Lang::De => format!("Regel {id} Version {version} gilt ab sofort."),
        Lang::En => format!("Rule {id} version {version} applies from now on."),
    }
}

pub fn rule_removed(l: Lang, id: &str) -> String {
    match l {
        Lang::De => format!("Regel {id} entfernt."),
        Lang::En => format!("Rule {id} removed."),
    }
}

pub fn exported(l: Lang, id: i64, base: &str) -> String {
    match l {
        Lang::De => format!(
            "Export der Beteiligung {id} hochgeladen (JSON und CSV, Autorinnen und Autoren pseudonymisiert). Alle Dateien mit CSVW- und DCAT-AP.de-Beschreibung: {base}"
        ),
        Lang::En => format!(
            "Export of consultation {id} uploaded (JSON and CSV, authors pseudonymised). All files with their CSVW and DCAT-AP.de description: {base}"
        ),
    }
}

fn kind_label(l: Lang, kind: AnnouncementKind) -> &'static str {
    match kind {
        AnnouncementKind::Announcement => l.t("Bekanntmachung", "announcement"),
        AnnouncementKind::Consultation => l.t("Beteiligung", "consultation"),
    }
}

/// `!liste`.
pub fn list(l: Lang, rows: &[RelayAnnouncement]) -> String {
    if rows.is_empty() {
        return l
            .t("Noch keine Bekanntmachungen.", "No announcements yet.")
            .to_owned();
    }
    rows.iter()
        .map(|a| {
            let title = a.title.clone().unwrap_or_else(|| {
                markdown::to_plain_text(&a.body_html)
                    .chars()
                    .take(60)
                    .collect()
            });
            let retracted = if a.retracted {
                l.t(" (zurückgezogen)", " (retracted)")
            } else {
                ""
            };
            format!("• {} {} {title}{retracted}", a.id, kind_label(l, a.kind))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn network_label(n: Network) -> &'static str {
    match n {
        Network::Fediverse => "Fediverse",
        Network::Matrix => "Matrix",
    }
}

/// `!warteschlange`.
pub fn queue(held: &[ModerationComment]) -> String {
    if held.is_empty() {
        return "Keine zurückgehaltenen Kommentare. / The queue is empty.".to_owned();
    }
    held.iter()
        .map(|c| {
            format!(
                "• {} — {} ({}, {}): „{}“ — Regel {}: {}",
                c.comment.id,
                c.author_name(),
                network_label(c.comment.network),
                c.comment.author_domain,
                c.plain_text(),
                c.comment.rule_id.as_deref().unwrap_or("-"),
                c.comment.reason.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `!statistik`.
pub fn stats(l: Lang, n: &CommentCounts) -> String {
    match l {
        Lang::De => format!(
            "{} Kommentare: {} veröffentlicht, {} zurückgehalten, {} abgelehnt, {} verborgen, {} gelöscht; Fediverse {}, Matrix {}; {} nach Schluss.",
            n.total,
            n.published,
            n.pending,
            n.rejected,
            n.hidden,
            n.deleted,
            n.fediverse,
            n.matrix,
            n.late
        ),
        Lang::En => format!(
            "{} comments: {} published, {} held, {} rejected, {} hidden, {} deleted; fediverse {}, Matrix {}; {} after the close.",
            n.total,
            n.published,
            n.pending,
            n.rejected,
            n.hidden,
            n.deleted,
            n.fediverse,
            n.matrix,
            n.late
        ),
    }
}

/// `!protokoll`.
pub fn log(l: Lang, steps: &[LogStep], tz: chrono_tz::Tz) -> String {
    if steps.is_empty() {
        return l
            .t("Das Protokoll ist leer.", "The log is empty.")
            .to_owned();
    }
    steps
        .iter()
        .map(|a| {
            let (de, en) = a.action.labels();
            let who = match a.actor.as_str() {
                "policy" => l.t("Regelwerk", "policy"),
                "author" => l.t("Verfasser:in", "author"),
                "report" => l.t("Meldung", "report"),
                "cli" => l.t("Kommandozeile", "command line"),
                moderator => moderator,
            };
            format!(
                "• {} {} {} {} {who}{}{}",
                rathaus_shared::apub::local_time(a.created_at, tz, "%d.%m. %H:%M"),
                a.comment_id.map(|c| format!("#{c}")).unwrap_or_default(),
                l.t(de, en),
                l.t("durch", "by"),
                a.rule_id
                    .as_deref()
                    .map(|r| format!(", {} {r}", l.t("Regel", "rule")))
                    .unwrap_or_default(),
                a.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `!regeln`.
pub fn rules(rules: &[RuleSpec]) -> String {
    rules
        .iter()
        .map(|r| {
            format!(
                "• {} v{} ({:?}, {:?}): {}",
                r.id, r.version, r.kind, r.action, r.reason
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The notice about a held comment in the moderation room (moderators read the text; a
/// content warning is named before it).
pub fn held_notice(c: &ModerationComment) -> String {
    let warning = c
        .comment
        .content_warning
        .as_deref()
        .map(|w| format!("{CONTENT_WARNING}: {w}\n"))
        .unwrap_or_default();
    format!(
        "Zurückgehalten: Kommentar {} von {} ({}, {}) zu Bekanntmachung {}:
{warning}„{}“
Regel {}: {}
✅ freigeben · ❌ ablehnen (als Reaktion) — oder !freigeben {} / !ablehnen {}",
        c.comment.id,
        c.author_name(),
        c.comment.author_id,
        network_label(c.comment.network),
        c.comment.announcement_id,
        c.plain_text(),
        c.comment.rule_id.as_deref().unwrap_or("-"),
        c.comment.reason.as_deref().unwrap_or(""),
        c.comment.id,
        c.comment.id
    )
}

/// An author's edit, for the moderators: what it said before, what it says now, and what
/// became of it. The moderation room is private; the public log shows no texts.
pub fn edit_notice(c: &ModerationComment, before: Option<&str>) -> String {
    format!(
        "Bearbeitet: Kommentar {} von {} ({}) zu Bekanntmachung {} ist jetzt {}.
Vorher: „{}“
Jetzt: „{}“{}",
        c.comment.id,
        c.author_name(),
        network_label(c.comment.network),
        c.comment.announcement_id,
        status_word(c.comment.status),
        before.unwrap_or(""),
        c.plain_text(),
        if c.comment.status == CommentStatus::Pending {
            format!(
                "\nRegel {}: {}\n✅ freigeben · ❌ ablehnen (als Reaktion) — oder !freigeben {} / !ablehnen {}",
                c.comment.rule_id.as_deref().unwrap_or("-"),
                c.comment.reason.as_deref().unwrap_or(""),
                c.comment.id,
                c.comment.id
            )
        } else {
            String::new()
        }
    )
}

/// A report from the fediverse, for the moderators: what, from which instance, and why.
pub fn report_notice(r: &ReportView) -> String {
    let about = match (&r.about, &r.comment) {
        (Reported::Comment(_), Some(c)) => format!(
            "Kommentar {} von {} ({}) zu Bekanntmachung {}, jetzt {}:\n„{}“",
            c.comment.id,
            c.author_name(),
            network_label(c.comment.network),
            c.comment.announcement_id,
            status_word(c.comment.status),
            c.plain_text()
        ),
        (Reported::Comment(id), None) => format!("Kommentar {id}"),
        (Reported::Announcement(id), _) => format!("Bekanntmachung {id}"),
        (Reported::Account, _) => "das Rathaus-Konto selbst".to_owned(),
    };
    let actions = match &r.about {
        Reported::Comment(id) => format!(
            "\n✅ freigeben · ❌ ablehnen (als Reaktion) — oder !verbergen {id} / !ablehnen {id}"
        ),
        _ => String::new(),
    };
    format!(
        "Meldung aus dem Fediverse (Instanz {}) über {about}\nBegründung: {}{actions}",
        r.reporter_domain,
        r.content.as_deref().unwrap_or("(keine)"),
    )
}

/// A reply that was not addressed to the public, for the moderators: marked as such, never
/// relayed anywhere else.
pub fn private_notice(c: &ModerationComment) -> String {
    format!(
        "Privatnachricht (nicht öffentlich, zählt nicht in der Beteiligung): Kommentar {} von {} ({}, {}) zu Bekanntmachung {}:
„{}“
Die Person wurde informiert, dass nur öffentliche Antworten zählen.",
        c.comment.id,
        c.author_name(),
        c.comment.author_id,
        network_label(c.comment.network),
        c.comment.announcement_id,
        c.plain_text(),
    )
}

/// A published fediverse comment as posted into the announcement's thread: (plain, html).
/// With a content warning (or the sensitive flag) the text is a Matrix spoiler whose reason is
/// the warning, and the plain body says so before the text.
pub fn relayed_comment(c: &ModerationComment) -> (String, String) {
    let text = c.comment.content.clone().unwrap_or_default();
    let warning = c
        .comment
        .content_warning
        .as_deref()
        .or(c.comment.sensitive.then_some(SENSITIVE));
    let (plain_text, html_text) = match warning {
        Some(w) => (
            format!("[{CONTENT_WARNING}: {w}] {}", c.plain_text()),
            format!(
                "<strong>{CONTENT_WARNING}: {}</strong> <span data-mx-spoiler=\"{}\">{text}</span>",
                html_escape(w),
                html_escape(w)
            ),
        ),
        None => (c.plain_text(), text),
    };
    let plain = format!("{} ({}): {plain_text}", c.author_name(), c.author_handle);
    let html = format!(
        "<strong>{}</strong> ({}): {html_text}",
        html_escape(c.author_name()),
        html_escape(&c.author_handle),
    );
    (plain, html)
}

/// The marker of a content warning in the relay and the notices.
const CONTENT_WARNING: &str = "Inhaltswarnung";
/// The warning's reason when the author only marked the comment sensitive.
const SENSITIVE: &str = "heikler Inhalt";

/// An official answer as posted into the thread: (plain, html).
pub fn relayed_answer(c: &ModerationComment, answer: &AnswerView) -> (String, String) {
    let plain = format!(
        "Offizielle Antwort an {}: {}",
        c.author_name(),
        markdown::to_plain_text(&answer.body_html)
    );
    let html = format!(
        "<strong>Offizielle Antwort</strong> an {}: {}",
        html_escape(c.author_name()),
        answer.body_html
    );
    (plain, html)
}

/// An announcement as posted into the public rooms: (plain, html).
pub fn announcement(a: &RelayAnnouncement, url: &str, tz: chrono_tz::Tz) -> (String, String) {
    let mut html = String::new();
    if let Some(title) = &a.title {
        html.push_str(&format!("<p><strong>{}</strong></p>", html_escape(title)));
    }
    html.push_str(&a.body_html);
    if let Some(closed) = a.closed_at {
        html.push_str(&format!(
            "<p>Beteiligung beendet am {} — Antworten werden gespeichert, aber nicht mehr berücksichtigt. / Closed; replies are kept but no longer counted.</p>",
            local(closed, tz)
        ));
    } else if let Some(closes) = a.closes_at {
        html.push_str(&format!(
            "<p>Beteiligung bis {} — antworten Sie im Thread. / Reply in the thread.</p>",
            local(closes, tz)
        ));
    }
    if a.result_html.is_some() {
        html.push_str("<p>Das Ergebnis steht im Thread und auf der Seite. / The result is in the thread and on the page.</p>");
    }
    html.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>", html_escape(url)));
    (markdown::to_plain_text(&html), html)
}

/// Posted into the thread when the press office closes a consultation early: (plain, html).
pub fn closed_early(at: DateTime<Utc>, tz: chrono_tz::Tz) -> (String, String) {
    let html = format!(
        "<p>Die Beteiligung wurde am {} vorzeitig beendet. Antworten werden gespeichert, aber nicht mehr berücksichtigt.</p><p>This consultation closed early on {}. Replies are kept but no longer counted.</p>",
        local(at, tz),
        rathaus_shared::apub::local_time(at, tz, "%Y-%m-%d %H:%M %Z"),
    );
    (markdown::to_plain_text(&html), html)
}

/// A consultation's result, posted into its thread: (plain, html).
pub fn result_post(result_html: &str, url: &str) -> (String, String) {
    let html = format!(
        "<p><strong>Ergebnis der Beteiligung / Result of the consultation</strong></p>{result_html}<p><a href=\"{0}\">{0}</a></p>",
        html_escape(url)
    );
    (markdown::to_plain_text(&html), html)
}

use rathaus_shared::services::comments::APPEAL;
pub use rathaus_shared::services::comments::AuthorNotice;

/// The notice to a comment's author in their thread: (plain, html). `reason` is the rule's
/// or the moderator's; a published or late comment needs none.
pub fn author_notice(kind: AuthorNotice, reason: Option<&str>) -> (String, String) {
    let (de, en, appeal) = kind.words();
    // Rule reasons read `Deutsch / English`; a moderator's reason is one text for both.
    let reason = reason
        .filter(|r| {
            !r.trim().is_empty() && !matches!(kind, AuthorNotice::Approved | AuthorNotice::Late)
        })
        .map(|r| r.split_once(" / ").unwrap_or((r, r)));
    let (de, en) = match reason {
        Some((r_de, r_en)) => (
            format!("{de} Grund: {r_de}"),
            format!("{en} Reason: {r_en}"),
        ),
        None => (de.to_owned(), en.to_owned()),
    };
    let mut html = format!("<p>{}</p><p>{}</p>", html_escape(&de), html_escape(&en));
    let mut plain = format!("{de}\n{en}");
    if appeal {
        html.push_str(&format!("<p>{}</p>", html_escape(APPEAL)));
        plain.push('\n');
        plain.push_str(APPEAL);
    }
    (plain, html)
}

/// A Matrix comment published after review, posted by the bot into the thread (the author's
/// own message left the room while it was held): (plain, html), naming the author with a
/// matrix.to link.
pub fn quoted_comment(c: &ModerationComment) -> (String, String) {
    let link = format!("https://matrix.to/#/{}", c.comment.author_id);
    let plain = format!("{} schrieb: {}", c.author_name(), c.plain_text());
    let html = format!(
        "<a href=\"{}\">{}</a> schrieb:<blockquote>{}</blockquote>",
        html_escape(&link),
        html_escape(c.author_name()),
        markdown::to_html(&c.plain_text())
    );
    (plain, html)
}

/// What a citizen is told when their Matrix comment was refused (e.g. nothing to read).
pub fn comment_refused(reason: &str) -> String {
    format!("Ihr Kommentar wurde nicht angenommen: {reason}")
}

#[cfg(test)]
#[path = "replies_tests.rs"]
mod tests;
