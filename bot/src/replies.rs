//! What the bot says, as pure functions of view types: unit-tested without a homeserver, the
//! way `pages/views.rs` renders pages. German first; the press office and moderators read it.

use chrono::{DateTime, Utc};
use rathaus_shared::apub::html_escape;
use rathaus_shared::domain::{AnnouncementKind, CommentStatus, Network};
use rathaus_shared::markdown;
use rathaus_shared::policy::RuleSpec;
use rathaus_shared::services::matrix::{
    CommentCounts, LogStep, ModerationComment, RelayAnnouncement,
};
use rathaus_shared::services::transparency::AnswerView;

pub const WRONG_ROOM: &str = "Dieser Befehl gehört in den Presse- bzw. Moderationsraum. / This command belongs in the press or moderation room.";
pub const NOT_ALLOWED: &str = "Entschuldigung, diesen Befehl dürfen Sie hier nicht nutzen. / Sorry, you may not use this command here.";
pub const INTERNAL_ERROR: &str = "Ein interner Fehler ist aufgetreten; bitte später erneut versuchen. / An internal error occurred.";
pub const ONLY_MODERATORS: &str =
    "Entschuldigung, nur die Moderation kann so entscheiden. / Only moderators can decide this.";

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
pub fn erased(comments: usize, activities: usize) -> String {
    format!(
        "Gelöscht: {comments} Kommentar(e); {activities} Antwort(en)/Hinweis(e) zurückgezogen. Kopien in den Räumen werden entfernt. / Erased: {comments} comment(s), {activities} answer(s)/notice(s) withdrawn."
    )
}

/// A refusal by the domain (not found, not allowed in this state).
pub fn failed(reason: &str) -> String {
    format!("Das ging nicht: {reason}")
}

pub fn comment_now(id: i64, status: CommentStatus) -> String {
    format!("Kommentar {id} {}.", status_word(status))
}

pub fn decided_by_reaction(id: i64, status: CommentStatus, who: &str) -> String {
    format!(
        "Kommentar {id} {} (Reaktion von {who}).",
        status_word(status)
    )
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%d.%m.%Y %H:%M UTC").to_string()
}

pub fn announced(id: i64, url: &str) -> String {
    format!("Bekanntmachung {id} veröffentlicht: {url}")
}

pub fn consultation_started(id: i64, closes: DateTime<Utc>, url: &str) -> String {
    format!(
        "Beteiligung {id} gestartet, offen bis {}: {url}",
        utc(closes)
    )
}

pub fn corrected(id: i64) -> String {
    format!("Bekanntmachung {id} korrigiert.")
}

pub fn retracted(id: i64) -> String {
    format!("Bekanntmachung {id} zurückgezogen.")
}

pub fn closed(id: i64) -> String {
    format!("Beteiligung {id} beendet.")
}

pub fn result_published(id: i64, url: &str) -> String {
    format!("Ergebnis der Beteiligung {id} veröffentlicht: {url}")
}

pub fn answered(answer: i64, comment: i64) -> String {
    format!("Antwort {answer} auf Kommentar {comment} veröffentlicht.")
}

pub fn blocked(target: &str) -> String {
    format!("{target} gesperrt.")
}

pub fn unblocked(target: &str, was_blocked: bool) -> String {
    if was_blocked {
        format!("Sperre für {target} aufgehoben.")
    } else {
        format!("{target} war nicht gesperrt.")
    }
}

pub fn rule_added(id: &str, version: i32) -> String {
    format!("Regel {id} Version {version} gilt ab sofort.")
}

pub fn rule_removed(id: &str) -> String {
    format!("Regel {id} entfernt.")
}

pub fn exported(id: i64, base: &str) -> String {
    format!(
        "Export der Beteiligung {id} hochgeladen (JSON und CSV, Autorinnen und Autoren pseudonymisiert). Alle Dateien mit CSVW- und DCAT-AP.de-Beschreibung: {base}"
    )
}

fn kind_label(kind: AnnouncementKind) -> &'static str {
    match kind {
        AnnouncementKind::Announcement => "Bekanntmachung",
        AnnouncementKind::Consultation => "Beteiligung",
    }
}

/// `!liste`.
pub fn list(rows: &[RelayAnnouncement]) -> String {
    if rows.is_empty() {
        return "Noch keine Bekanntmachungen.".to_owned();
    }
    rows.iter()
        .map(|a| {
            let title = a.title.clone().unwrap_or_else(|| {
                markdown::to_plain_text(&a.body_html)
                    .chars()
                    .take(60)
                    .collect()
            });
            let retracted = if a.retracted { " (zurückgezogen)" } else { "" };
            format!("• {} {} {title}{retracted}", a.id, kind_label(a.kind))
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
pub fn stats(n: &CommentCounts) -> String {
    format!(
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
    )
}

/// `!protokoll`.
pub fn log(steps: &[LogStep]) -> String {
    if steps.is_empty() {
        return "Das Protokoll ist leer.".to_owned();
    }
    steps
        .iter()
        .map(|a| {
            format!(
                "• {} {} {} durch {}{}{}",
                a.created_at.format("%d.%m. %H:%M"),
                a.comment_id.map(|c| format!("#{c}")).unwrap_or_default(),
                a.action,
                a.actor,
                a.rule_id
                    .as_deref()
                    .map(|r| format!(", Regel {r}"))
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
pub fn announcement(a: &RelayAnnouncement, url: &str) -> (String, String) {
    let mut html = String::new();
    if let Some(title) = &a.title {
        html.push_str(&format!("<p><strong>{}</strong></p>", html_escape(title)));
    }
    html.push_str(&a.body_html);
    if let Some(closes) = a.closes_at {
        html.push_str(&format!(
            "<p>Beteiligung bis {} — antworten Sie im Thread. / Reply in the thread.</p>",
            utc(closes)
        ));
    }
    html.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>", html_escape(url)));
    (markdown::to_plain_text(&html), html)
}

/// What a citizen is told when their Matrix comment was refused (e.g. nothing to read).
pub fn comment_refused(reason: &str) -> String {
    format!("Ihr Kommentar wurde nicht angenommen: {reason}")
}

/// What a citizen is told after their Matrix comment, if anything.
pub fn citizen_note(status: CommentStatus, reason: Option<&str>) -> Option<String> {
    let reason = reason.unwrap_or("");
    match status {
        CommentStatus::Pending => Some(format!("Ihr Kommentar wird geprüft: {reason}")),
        CommentStatus::Rejected => Some(format!(
            "Ihr Kommentar wurde nicht veröffentlicht: {reason}"
        )),
        _ => None,
    }
}

#[cfg(test)]
#[path = "replies_tests.rs"]
mod tests;
