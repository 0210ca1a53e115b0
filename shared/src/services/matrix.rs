//! What the Matrix bot needs from the domain, as view types: claims of handled events, the
//! relay map (which event stands for what), the two followed tables (announcements, the
//! moderation log) with their cursors, and the moderators' read-only views (queue, list,
//! statistics, log). Each relay is recorded together with its cursor in one transaction.

use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;

use crate::app::App;
use crate::entities::{ActionKind, AnnouncementKind, ChangeKind, CommentStatus, Network, comment};
use crate::error::Result;
use crate::markdown;
use crate::services::export::CommentRow;
use crate::services::transparency::AnswerView;
use crate::store::comments::CommentFilter;
use crate::store::relay::{self, RelayTarget};
pub use crate::store::reports::Reported;
use crate::store::state::{self, Cursor};
use crate::store::{actors, announcements, comments, matrix, moderation};

/// An announcement as the bot posts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayAnnouncement {
    pub id: i64,
    pub kind: AnnouncementKind,
    pub title: Option<String>,
    /// Sanitised HTML.
    pub body_html: String,
    pub closes_at: Option<DateTime<Utc>>,
    /// Set when the press office closed the consultation early.
    pub closed_at: Option<DateTime<Utc>>,
    /// The consultation's result (sanitised HTML), once published.
    pub result_html: Option<String>,
    pub retracted: bool,
}

impl RelayAnnouncement {
    fn of(v: announcements::AnnouncementView) -> Self {
        Self {
            id: v.announcement.id,
            kind: v.announcement.kind,
            title: v.announcement.title,
            body_html: v.announcement.body_html,
            closes_at: v.consultation.as_ref().map(|c| c.closes_at),
            closed_at: v.consultation.as_ref().and_then(|c| c.closed_at),
            result_html: v.consultation.and_then(|c| c.result_html),
            retracted: v.announcement.retracted_at.is_some(),
        }
    }
}

/// A change of an announcement to mirror into Matrix, with the announcement as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncementChange {
    pub id: i64,
    pub kind: ChangeKind,
    pub announcement: RelayAnnouncement,
}

/// A comment as moderators and the relay see it: the row `comments list --json` prints
/// (author and decision included; the public's view, without them, is
/// `transparency::CommentView`), and the author's handle.
#[derive(Debug, Clone)]
pub struct ModerationComment {
    pub comment: CommentRow,
    /// `@user@instance` for fediverse authors we know, else the author id.
    pub author_handle: String,
}

impl ModerationComment {
    /// The display name, else the author id.
    pub fn author_name(&self) -> &str {
        self.comment
            .author_name
            .as_deref()
            .unwrap_or(&self.comment.author_id)
    }

    /// The text without markup (empty after a deletion).
    pub fn plain_text(&self) -> String {
        self.comment
            .content
            .as_deref()
            .map(markdown::to_plain_text)
            .unwrap_or_default()
    }

    fn of(c: &comment::Model, handle: Option<String>) -> Self {
        Self {
            comment: CommentRow::from(c),
            author_handle: handle.unwrap_or_else(|| c.author_id.clone()),
        }
    }
}

/// One step of the moderation log, for the relay and `!protokoll`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStep {
    pub id: i64,
    pub comment_id: Option<i64>,
    pub action: ActionKind,
    /// A moderator's Matrix id, `cli`, `author` or `policy`.
    pub actor: String,
    pub rule_id: Option<String>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Counts for `!statistik`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommentCounts {
    pub total: usize,
    pub published: usize,
    pub pending: usize,
    pub rejected: usize,
    pub hidden: usize,
    pub deleted: usize,
    pub fediverse: usize,
    pub matrix: usize,
    pub late: usize,
}

/// A Matrix event claimed for handling: true the first time, false for a redelivery.
pub async fn claim_event(app: &App, room_id: &str, event_id: &str) -> Result<bool> {
    matrix::claim_event(app.store.db(), event_id, room_id, app.now()).await
}

/// Remembers when the bot first joined `room_id`.
pub async fn remember_join(app: &App, room_id: &str) -> Result<()> {
    state::remember_join(app.store.db(), room_id, app.now()).await
}

/// True if an event from `origin_ms` predates the bot's join of `room_id` (history).
pub async fn before_join(app: &App, room_id: &str, origin_ms: i64) -> Result<bool> {
    Ok(state::joined_at(app.store.db(), room_id)
        .await?
        .is_some_and(|joined| origin_ms < joined))
}

/// Where a follower stands; on the very first start, at the newest row (only what happens
/// from now on is relayed). A corrupt cursor is an error, never a replay from the start.
pub async fn cursor(app: &App, cursor: Cursor) -> Result<i64> {
    let db = app.store.db();
    if let Some(at) = state::cursor(db, cursor).await? {
        return Ok(at);
    }
    let start = match cursor {
        Cursor::MatrixAnnouncements => announcements::last_announcement_id(db).await?,
        Cursor::MatrixLog => moderation::last_action_id(db).await?,
        Cursor::MatrixChanges => announcements::last_change_id(db).await?,
        Cursor::MatrixReports => crate::store::reports::last_report_id(db).await?,
    };
    state::set_cursor(db, cursor, start, app.now()).await?;
    Ok(start)
}

/// Announcements after `after`, oldest first.
pub async fn announcements_after(app: &App, after: i64) -> Result<Vec<RelayAnnouncement>> {
    Ok(
        announcements::announcements_after(app.store.db(), after, 20)
            .await?
            .into_iter()
            .map(RelayAnnouncement::of)
            .collect(),
    )
}

/// Changes of announcements after row `after`, oldest first, each with the announcement as
/// it is now (a change of an announcement that no longer exists is skipped).
pub async fn changes_after(app: &App, after: i64) -> Result<Vec<AnnouncementChange>> {
    let db = app.store.db();
    let mut out = Vec::new();
    for change in announcements::changes_after(db, after, 20).await? {
        if let Some(view) = announcements::get_announcement(db, change.announcement_id).await? {
            out.push(AnnouncementChange {
                id: change.id,
                kind: change.kind,
                announcement: RelayAnnouncement::of(view),
            });
        }
    }
    Ok(out)
}

/// A report from the fediverse, for the moderation room.
#[derive(Debug, Clone)]
pub struct ReportView {
    pub id: i64,
    /// The reporter's instance (never the person).
    pub reporter_domain: String,
    pub about: Reported,
    /// The reporter's words, plain text.
    pub content: Option<String>,
    /// The reported comment, if it is one.
    pub comment: Option<ModerationComment>,
}

/// Reports after row `after`, oldest first.
pub async fn reports_after(app: &App, after: i64) -> Result<Vec<ReportView>> {
    let mut out = Vec::new();
    for r in crate::store::reports::reports_after(app.store.db(), after, 20).await? {
        let about = match (r.comment_id, r.announcement_id) {
            (Some(c), _) => Reported::Comment(c),
            (None, Some(a)) => Reported::Announcement(a),
            (None, None) => Reported::Account,
        };
        let comment = match r.comment_id {
            Some(c) => comment(app, c).await?,
            None => None,
        };
        out.push(ReportView {
            id: r.id,
            reporter_domain: r.reporter_domain,
            about,
            content: r.content,
            comment,
        });
    }
    Ok(out)
}

/// Every event the bot posted in announcement `id`'s thread in `room_id` (relayed comments,
/// answers, notices to authors, its own posts): what a retraction redacts with the root.
pub async fn thread_events(app: &App, id: i64, room_id: &str) -> Result<Vec<String>> {
    relay::thread_events(app.store.db(), id, room_id).await
}

/// Log steps after `after`, oldest first.
pub async fn log_after(app: &App, after: i64) -> Result<Vec<LogStep>> {
    Ok(moderation::actions_after(app.store.db(), after, 50)
        .await?
        .into_iter()
        .map(log_step)
        .collect())
}

fn log_step(a: crate::entities::moderation_action::Model) -> LogStep {
    LogStep {
        id: a.id,
        comment_id: a.comment_id,
        action: a.action,
        actor: a.actor,
        rule_id: a.rule_id,
        reason: a.reason,
        created_at: a.created_at,
    }
}

/// Records the events a handled row was relayed as, and moves the follower's cursor past the
/// row, in one transaction: a crash leaves either both or neither.
pub async fn relayed(
    app: &App,
    cursor: Cursor,
    row: i64,
    events: &[(String, String, RelayTarget)],
) -> Result<()> {
    let now = app.now();
    let txn = app.store.db().begin().await?;
    for (room, event, target) in events {
        relay::record(&txn, room, event, *target, now).await?;
    }
    state::set_cursor(&txn, cursor, row, now).await?;
    txn.commit().await?;
    Ok(())
}

/// The announcement whose message in `room_id` is `event_id`.
pub async fn announcement_of_event(
    app: &App,
    room_id: &str,
    event_id: &str,
) -> Result<Option<i64>> {
    relay::announcement_of_event(app.store.db(), room_id, event_id).await
}

/// The thread root of announcement `id` in `room_id`.
pub async fn announcement_event(app: &App, id: i64, room_id: &str) -> Result<Option<String>> {
    relay::announcement_event(app.store.db(), id, room_id).await
}

/// Copies of comment `id` relayed into `room_id`.
pub async fn comment_events(app: &App, id: i64, room_id: &str) -> Result<Vec<String>> {
    relay::comment_events(app.store.db(), id, room_id).await
}

/// Every event posted about a comment, as (room, event): what an erasure redacts.
pub async fn events_about_comment(app: &App, id: i64) -> Result<Vec<(String, String)>> {
    relay::events_about_comment(app.store.db(), id).await
}

/// What a Matrix reply to `event_id` answers, as `Submission::in_reply_to`: the bot's notice
/// to an author (an appeal), a comment (its own message or the bot's copy of it), an official
/// answer. `None` for anything else (the announcement itself, say).
pub async fn reply_target(app: &App, event_id: &str) -> Result<Option<String>> {
    let db = app.store.db();
    let urls = app.urls();
    if let Some(c) = comments::comment_by_origin(db, event_id).await? {
        return Ok(Some(c.origin_id));
    }
    Ok(match relay::target_of_event(db, event_id).await? {
        Some(RelayTarget::AuthorNotice(comment)) => Some(urls.notice(comment)),
        Some(RelayTarget::Comment(id)) => comments::get_comment(db, id).await?.map(|c| c.origin_id),
        Some(RelayTarget::Answer { answer, .. }) => Some(urls.answer(answer)),
        _ => None,
    })
}

/// The held comment a moderation-room notice is about.
pub async fn notice_comment(app: &App, event_id: &str) -> Result<Option<i64>> {
    relay::notice_comment(app.store.db(), event_id).await
}

/// A comment by id, with its author's handle.
/// A comment's text before its latest edit, without markup (for the moderation room).
pub async fn previous_text(app: &App, comment_id: i64) -> Result<Option<String>> {
    Ok(comments::revisions(app.store.db(), comment_id)
        .await?
        .pop()
        .map(|r| markdown::to_plain_text(&r.content)))
}

pub async fn comment(app: &App, id: i64) -> Result<Option<ModerationComment>> {
    let db = app.store.db();
    let Some(c) = comments::get_comment(db, id).await? else {
        return Ok(None);
    };
    let handle = match c.network {
        Network::Fediverse => actors::remote_actor_by_ap_id(db, &c.author_id)
            .await?
            .map(|a| format!("@{}@{}", a.username, a.domain)),
        Network::Matrix => None,
    };
    Ok(Some(ModerationComment::of(&c, handle)))
}

/// The comment a Matrix event is, and whether `sender` wrote it.
pub async fn comment_of_event(
    app: &App,
    event_id: &str,
    sender: &str,
) -> Result<Option<(i64, bool)>> {
    let db = app.store.db();
    let Some(c) = comments::comment_by_origin(db, event_id).await? else {
        return Ok(None);
    };
    let own = comments::written_by(db, &c, sender).await?;
    Ok(Some((c.id, own)))
}

/// The newest official answer to comment `id`.
pub async fn latest_answer(app: &App, comment_id: i64) -> Result<Option<AnswerView>> {
    Ok(comments::answers_for_comment(app.store.db(), comment_id)
        .await?
        .pop()
        .map(AnswerView::from))
}

/// Held comments, oldest first.
pub async fn held_comments(app: &App, limit: u64) -> Result<Vec<ModerationComment>> {
    let rows = comments::list_comments(
        app.store.db(),
        &CommentFilter {
            status: Some(CommentStatus::Pending),
            limit: Some(limit),
            ..Default::default()
        },
    )
    .await?;
    Ok(rows
        .iter()
        .map(|c| ModerationComment::of(c, None))
        .collect())
}

/// The newest announcements, for `!liste`.
pub async fn recent_announcements(app: &App, limit: u64) -> Result<Vec<RelayAnnouncement>> {
    Ok(announcements::list_announcements(app.store.db(), 0, limit)
        .await?
        .into_iter()
        .map(|a| RelayAnnouncement {
            id: a.id,
            kind: a.kind,
            title: a.title,
            body_html: a.body_html,
            closes_at: None,
            closed_at: None,
            result_html: None,
            retracted: a.retracted_at.is_some(),
        })
        .collect())
}

/// Comment counts, overall or for one announcement (from the same column-only query as the
/// public statistics, not the comments' texts).
pub async fn comment_counts(app: &App, announcement: Option<i64>) -> Result<CommentCounts> {
    let facts = comments::comment_facts(app.store.db(), announcement).await?;
    let mut n = CommentCounts {
        total: facts.len(),
        ..CommentCounts::default()
    };
    for c in &facts {
        match c.status {
            CommentStatus::Published => n.published += 1,
            CommentStatus::Pending => n.pending += 1,
            CommentStatus::Rejected => n.rejected += 1,
            CommentStatus::Hidden => n.hidden += 1,
            CommentStatus::Deleted => n.deleted += 1,
            // Not among the facts: private replies are no part of any count.
            CommentStatus::Private => {}
        }
        match c.network {
            Network::Fediverse => n.fediverse += 1,
            Network::Matrix => n.matrix += 1,
        }
        n.late += usize::from(c.late);
    }
    Ok(n)
}

/// The newest log steps, overall or about one comment.
pub async fn moderation_log(
    app: &App,
    comment_id: Option<i64>,
    limit: u64,
) -> Result<Vec<LogStep>> {
    Ok(moderation::list_actions(app.store.db(), comment_id, limit)
        .await?
        .into_iter()
        .map(log_step)
        .collect())
}
