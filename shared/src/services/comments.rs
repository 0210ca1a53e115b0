//! Comments from either network arrive through one door, `submit_comment`: the comment policy
//! decides publish, hold or reject; the decision and its rule are stored with the comment and
//! appended to the moderation log in the same transaction. Moderators and the press office act
//! through `moderate` and `answer`.

use chrono::{DateTime, Utc};
use sea_orm::TransactionSession;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};

use super::bridge;
use super::content::{self, Warning};
use super::enqueue_activity;
use crate::app::App;
use crate::apub::{self, Addressee};
use crate::entities::{ActionKind, CommentStatus, Network, comment, official_answer};
use crate::error::{Error, Result};
use crate::markdown;
use crate::policy::{self, AuthorHistory, CommentInput, Decision, Outcome};
use crate::store::comments::{self, Inserted, NewComment};
use crate::store::moderation::{self, NewAction};
use crate::store::{actors, announcements, blocks};

/// A reply as a front saw it. Serialisable: the inbox keeps it in its durable queue.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Submission {
    pub network: Network,
    /// ActivityPub object id or Matrix event id.
    pub origin_id: String,
    pub origin_url: Option<String>,
    /// What it replies to: one of our Note URLs, a comment's origin id, an answer or a notice.
    pub in_reply_to: String,
    pub author_id: String,
    pub author_name: Option<String>,
    pub author_domain: String,
    /// HTML from the fediverse (sanitised here) or plain text from Matrix.
    pub content_html: String,
    /// The language the author's server declared (a BCP 47 tag), if any.
    pub language: Option<String>,
    /// The content warning and sensitive flag (fediverse only).
    pub warning: Warning,
    /// The time the sender claims (`published`, `origin_server_ts`): shown, never trusted.
    pub created_at: DateTime<Utc>,
    /// When Rathaus received it: rate limits and lateness are judged by this time only.
    pub received_at: DateTime<Utc>,
    /// Addressed to the public (`as:Public` in `to` or `cc`; every message in a public Matrix
    /// room). Anything else never becomes part of the public record.
    pub public: bool,
    /// Moderators and the press office are never rate-limited.
    pub privileged: bool,
}

/// What became of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    Stored(comment::Model),
    /// The same origin was submitted before; nothing changed.
    Duplicate(comment::Model),
    /// It does not reply to anything of ours.
    NotForUs,
}

/// What a batch of submissions shares, read once per batch: the inbox applies many replies
/// in one transaction, nearly all to the same announcement, and every query is a round trip.
#[derive(Debug, Default)]
pub struct Lookups {
    announcements: std::collections::HashMap<i64, Option<announcements::AnnouncementView>>,
    blocked_domains: Option<Vec<String>>,
    blocked_users: Option<std::collections::HashSet<String>>,
}

impl Lookups {
    async fn user_blocked<C: ConnectionTrait>(&mut self, db: &C, user: &str) -> Result<bool> {
        if self.blocked_users.is_none() {
            self.blocked_users = Some(blocks::blocked_users(db).await?);
        }
        Ok(self
            .blocked_users
            .as_ref()
            .is_some_and(|b| b.contains(user.trim())))
    }

    async fn announcement<C: ConnectionTrait>(
        &mut self,
        db: &C,
        id: i64,
    ) -> Result<Option<announcements::AnnouncementView>> {
        if let Some(view) = self.announcements.get(&id) {
            return Ok(view.clone());
        }
        let view = announcements::get_announcement(db, id).await?;
        self.announcements.insert(id, view.clone());
        Ok(view)
    }

    async fn domain_blocked<C: ConnectionTrait>(&mut self, db: &C, domain: &str) -> Result<bool> {
        if self.blocked_domains.is_none() {
            self.blocked_domains = Some(blocks::blocked_domains(db).await?);
        }
        Ok(self
            .blocked_domains
            .iter()
            .flatten()
            .any(|d| crate::domains::covers(d, domain)))
    }
}

/// Where a reply belongs.
struct Thread {
    announcement_id: i64,
    parent: Option<i64>,
    /// A reply to our notice: the author asks for a review.
    appeal: bool,
}

async fn thread_of<C: ConnectionTrait>(
    app: &App,
    db: &C,
    lookups: &mut Lookups,
    in_reply_to: &str,
) -> Result<Option<Thread>> {
    let urls = app.urls();
    if let Some(id) = urls.announcement_id(in_reply_to) {
        return Ok(lookups.announcement(db, id).await?.map(|_| Thread {
            announcement_id: id,
            parent: None,
            appeal: false,
        }));
    }
    if let Some(parent) = comments::comment_by_origin(db, in_reply_to).await? {
        return Ok(Some(Thread {
            announcement_id: parent.announcement_id,
            parent: Some(parent.id),
            appeal: false,
        }));
    }
    let by_comment = |id: Option<i64>, appeal: bool| async move {
        let Some(id) = id else {
            return Ok::<_, Error>(None);
        };
        Ok(comments::get_comment(db, id).await?.map(|c| Thread {
            announcement_id: c.announcement_id,
            parent: Some(c.id),
            appeal,
        }))
    };
    // A reply to a bridged Matrix comment's Note answers that comment.
    if let Some(comment_id) = urls.comment_id(in_reply_to) {
        return by_comment(Some(comment_id), false).await;
    }
    if let Some(answer_id) = urls.answer_id(in_reply_to) {
        let comment_id = comments::get_answer(db, answer_id)
            .await?
            .map(|a| a.comment_id);
        return by_comment(comment_id, false).await;
    }
    by_comment(urls.notice_id(in_reply_to), true).await
}

/// The author's record for the policy. `except` is a comment whose own texts (current and
/// earlier) are left out: an edit is no duplicate of the text it replaces.
async fn history<C: ConnectionTrait>(
    app: &App,
    db: &C,
    lookups: &mut Lookups,
    author_id: &str,
    domain: &str,
    except: Option<i64>,
) -> Result<AuthorHistory> {
    let published = comment::Entity::find()
        .filter(comment::Column::AuthorId.eq(author_id))
        .filter(comment::Column::Status.eq(CommentStatus::Published))
        .count(db)
        .await?;
    let recent: Vec<(i64, Option<String>, Option<String>)> = comment::Entity::find()
        .select_only()
        .column(comment::Column::Id)
        .column(comment::Column::Content)
        .column(comment::Column::ContentWarning)
        .filter(comment::Column::AuthorId.eq(author_id))
        .order_by_desc(comment::Column::Id)
        .limit(20)
        .into_tuple()
        .all(db)
        .await?;
    // Texts an author edited away still count: editing a comment does not free its text for
    // a duplicate.
    let earlier = comments::recent_revisions_by_author(db, author_id, 20).await?;
    let texts = recent
        .into_iter()
        .filter_map(|(id, text, warning)| text.map(|t| (id, t, warning)))
        .chain(earlier.into_iter().map(|(id, text)| (id, text, None)));
    Ok(AuthorHistory {
        published: u32::try_from(published).unwrap_or(u32::MAX),
        recent: texts
            .filter(|(id, _, _)| Some(*id) != except)
            .map(|(_, html, warning)| {
                app.policy.fingerprints.get(&html, warning.as_deref(), || {
                    let plain = markdown::to_plain_text(&html);
                    policy::fingerprint(&content::policy_text(warning.as_deref(), &plain))
                })
            })
            .collect(),
        blocked_user: lookups.user_blocked(db, author_id).await?,
        blocked_domain: lookups.domain_blocked(db, domain).await?,
    })
}

fn status_of(outcome: Outcome) -> CommentStatus {
    match outcome {
        Outcome::Publish => CommentStatus::Published,
        Outcome::Hold => CommentStatus::Pending,
        Outcome::Reject => CommentStatus::Rejected,
    }
}

/// A plausible BCP 47 tag (`de`, `en-GB`, `zh-Hant-TW`): only such go into `lang`.
pub fn is_language_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 35
        && tag.split('-').all(|part| {
            (1..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric())
        })
        && tag
            .split('-')
            .next()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_alphabetic()))
}

/// Stores a reply as `db` sees it (the store, or the inbox's batch transaction, in which the
/// writes become a savepoint).
pub async fn submit_comment<C: ConnectionTrait + TransactionTrait>(
    app: &App,
    db: &C,
    s: Submission,
) -> Result<SubmitOutcome> {
    submit_in(app, db, &mut Lookups::default(), s).await
}

/// [`submit_comment`] with the reads a batch shares.
pub async fn submit_in<C: ConnectionTrait + TransactionTrait>(
    app: &App,
    db: &C,
    lookups: &mut Lookups,
    s: Submission,
) -> Result<SubmitOutcome> {
    let Some(thread) = thread_of(app, db, lookups, &s.in_reply_to).await? else {
        return Ok(SubmitOutcome::NotForUs);
    };
    let now = app.now();
    if let Some(existing) = comments::comment_by_origin(db, &s.origin_id).await? {
        return Ok(SubmitOutcome::Duplicate(existing));
    }
    let view = lookups
        .announcement(db, thread.announcement_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("announcement {}", thread.announcement_id)))?;
    if view.announcement.retracted_at.is_some() {
        return Ok(SubmitOutcome::NotForUs);
    }
    // Our time, not the sender's: a `published` in the past neither dodges the rate limits
    // nor makes a late reply count. The claimed time is only shown (never after arrival).
    let received = s.received_at.min(now);
    let event_time = s.created_at.min(received);
    // Replies after a consultation closed are kept but not counted.
    let late = view.consultation.is_some() && !view.is_open(received);
    // Nothing to read: refused with the reason, nothing stored.
    let body = content::read(s.network, &s.content_html, &s.warning, &app.urls())?;
    if !s.public {
        return keep_private(app, db, s, body, &thread, event_time, received, late).await;
    }
    let plain = body.policy_text();

    let decision = if thread.appeal {
        Decision {
            outcome: Outcome::Hold,
            rule_id: Some("appeal".into()),
            rule_version: Some(1),
            reason: Some("Bitte um Prüfung / Request for review".into()),
        }
    } else {
        let hist = history(app, db, lookups, &s.author_id, &s.author_domain, None).await?;
        let input = CommentInput {
            text: &plain,
            author_id: &s.author_id,
            author_domain: &s.author_domain,
            created_at: received,
        };
        let mut d = policy::evaluate(&app.policy(), &input, &hist, now);
        if !s.privileged
            && let Some(limited) = app
                .policy
                .limits
                // One instance with its subdomains and ports counts as one.
                .check(
                    &s.author_id,
                    &crate::domains::registrable(&s.author_domain),
                    received,
                    received,
                )
        {
            d = d.stricter(limited);
        }
        d
    };

    let txn = db.begin().await?;
    let inserted = comments::insert_comment(
        &txn,
        NewComment {
            announcement_id: thread.announcement_id,
            parent_comment_id: thread.parent,
            network: s.network,
            origin_id: s.origin_id,
            origin_url: s.origin_url,
            author_id: s.author_id.clone(),
            author_name: s.author_name,
            author_domain: s.author_domain,
            content: body.stored,
            content_warning: body.content_warning,
            sensitive: body.sensitive,
            language: s.language.filter(|l| is_language_tag(l)),
            status: status_of(decision.outcome),
            late,
            rule_id: decision.rule_id.clone(),
            rule_version: decision.rule_version,
            reason: decision.reason.clone(),
            created_at: event_time,
        },
        received,
    )
    .await?;
    let c = match inserted {
        Inserted::New(c) => c,
        Inserted::Existing(c) => {
            txn.rollback().await?;
            return Ok(SubmitOutcome::Duplicate(c));
        }
    };
    let action = match decision.outcome {
        Outcome::Publish => ActionKind::AutoPublish,
        Outcome::Hold => ActionKind::AutoHold,
        Outcome::Reject => ActionKind::AutoReject,
    };
    moderation::log_action(
        &txn,
        NewAction {
            comment_id: Some(c.id),
            action,
            actor: "policy".into(),
            rule_id: decision.rule_id.clone(),
            rule_version: decision.rule_version,
            reason: decision.reason.clone(),
        },
        now,
    )
    .await?;
    // Tell the author why, privately, in a note they can answer to ask for a review.
    let notify = match decision.outcome {
        Outcome::Reject => app.config.policy.notify_on_reject,
        Outcome::Hold => app.config.policy.notify_on_hold && !thread.appeal,
        Outcome::Publish => false,
    };
    let mut queued = false;
    if (notify || late) && c.network == Network::Fediverse {
        let text = if notify {
            format!(
                "<p>Ihr Kommentar wurde {}: {}</p><p>Antworten Sie auf diese Nachricht, wenn Sie eine Prüfung durch die Moderation wünschen. / Reply to this message to ask for a review by a moderator.</p>",
                if decision.outcome == Outcome::Reject {
                    "nicht veröffentlicht"
                } else {
                    "zur Prüfung zurückgehalten"
                },
                apub::html_escape(decision.reason.as_deref().unwrap_or_default())
            )
        } else {
            "<p>Die Beteiligung ist bereits beendet; Ihr Kommentar wird gespeichert, aber nicht mehr berücksichtigt. / This consultation has closed; your comment is kept but no longer counted.</p>".to_owned()
        };
        queued = notify_author(app, &txn, &c, &text, now).await?;
    }
    // A published Matrix comment joins the fediverse thread through its bridge actor.
    if decision.outcome == Outcome::Publish {
        queued |= bridge::federate(app, &txn, &c, bridge::Change::Create, now).await?;
    }
    txn.commit().await?;
    if queued {
        app.wake_delivery();
    }
    app.metrics.policy(
        match decision.outcome {
            Outcome::Publish => "publish",
            Outcome::Hold => "hold",
            Outcome::Reject => "reject",
        },
        decision.rule_id.as_deref(),
    );
    tracing::info!(comment = c.id, announcement = c.announcement_id, network = ?c.network, outcome = ?decision.outcome, rule = ?decision.rule_id, late, "comment received");
    Ok(SubmitOutcome::Stored(c))
}

/// Told to the author of a reply that was not addressed to the public.
const PRIVATE_REPLY_NOTICE: &str = "<p>Ihre Antwort war nicht öffentlich adressiert. In einer Beteiligung zählen nur öffentliche Antworten: Ihre Nachricht wird nicht veröffentlicht und nicht berücksichtigt. Antworten Sie bitte öffentlich (oder „nicht gelistet“), wenn Ihr Beitrag zählen soll.</p><p>Your reply was not addressed to the public. Only public replies count in a consultation: your message is not published and not counted. Please reply publicly (or unlisted) if you want it to count.</p>";

/// A direct or followers-only reply: kept as `Private` (never public, never counted, never
/// logged in the public moderation log, no moderator can publish it), and its author is told
/// that only public replies count.
#[expect(clippy::too_many_arguments)]
async fn keep_private<C: ConnectionTrait + TransactionTrait>(
    app: &App,
    db: &C,
    s: Submission,
    body: content::Body,
    thread: &Thread,
    event_time: DateTime<Utc>,
    received: DateTime<Utc>,
    late: bool,
) -> Result<SubmitOutcome> {
    let txn = db.begin().await?;
    let inserted = comments::insert_comment(
        &txn,
        NewComment {
            announcement_id: thread.announcement_id,
            parent_comment_id: thread.parent,
            network: s.network,
            origin_id: s.origin_id,
            origin_url: s.origin_url,
            author_id: s.author_id,
            author_name: s.author_name,
            author_domain: s.author_domain,
            content: body.stored,
            content_warning: body.content_warning,
            sensitive: body.sensitive,
            language: s.language.filter(|l| is_language_tag(l)),
            status: CommentStatus::Private,
            late,
            rule_id: Some("private-reply".into()),
            rule_version: Some(1),
            reason: Some("nicht öffentlich adressiert / not addressed to the public".into()),
            created_at: event_time,
        },
        received,
    )
    .await?;
    let c = match inserted {
        Inserted::New(c) => c,
        Inserted::Existing(c) => {
            txn.rollback().await?;
            return Ok(SubmitOutcome::Duplicate(c));
        }
    };
    // For the moderation room only (the bot follows the log); the public log leaves it out.
    moderation::log_action(
        &txn,
        NewAction::plain(Some(c.id), ActionKind::PrivateReply, "policy"),
        received,
    )
    .await?;
    let queued = c.network == Network::Fediverse
        && notify_author(app, &txn, &c, PRIVATE_REPLY_NOTICE, app.now()).await?;
    txn.commit().await?;
    if queued {
        app.wake_delivery();
    }
    tracing::info!(
        comment = c.id,
        announcement = c.announcement_id,
        "private reply kept out of the public record"
    );
    Ok(SubmitOutcome::Stored(c))
}

/// Queues a private note to a fediverse author. False if we do not know their inbox.
async fn notify_author<C: ConnectionTrait>(
    app: &App,
    db: &C,
    c: &comment::Model,
    html: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(actor) = actors::remote_actor_by_ap_id(db, &c.author_id).await? else {
        return Ok(false);
    };
    let urls = app.urls();
    let handle = format!("@{}@{}", actor.username, actor.domain);
    let note = apub::reply_note(
        &urls,
        &urls.new_notice(c.id),
        &c.origin_id,
        &Addressee {
            actor: &actor.ap_id,
            url: &actor.ap_id,
            handle: &handle,
        },
        html,
        false,
        now,
    );
    let inbox = actor.inbox.clone();
    enqueue_activity(
        db,
        &urls,
        "Create",
        Some(c.announcement_id),
        &[inbox],
        now,
        |id| apub::create(&urls, id, note),
    )
    .await?;
    Ok(true)
}

/// A moderator's decision on one comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModAction {
    Approve,
    Reject,
    Hide,
}

impl ModAction {
    fn target(self) -> CommentStatus {
        match self {
            ModAction::Approve => CommentStatus::Published,
            ModAction::Reject => CommentStatus::Rejected,
            ModAction::Hide => CommentStatus::Hidden,
        }
    }
    fn kind(self) -> ActionKind {
        match self {
            ModAction::Approve => ActionKind::Approve,
            ModAction::Reject => ActionKind::Reject,
            ModAction::Hide => ActionKind::Hide,
        }
    }
}

/// What an author is told about their comment, in the same words on both networks (a direct
/// note on the fediverse, a notice in their thread on Matrix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorNotice {
    /// Held by a rule (or after an edit) until a moderator decides.
    Held,
    /// Refused by a rule.
    Refused,
    /// Published by a moderator after review.
    Approved,
    /// Rejected by a moderator.
    Rejected,
    /// Hidden by a moderator after it was public.
    Hidden,
    /// Arrived after the consultation closed.
    Late,
}

/// Closes a notice that may be answered to ask for a review.
pub const APPEAL: &str = "Antworten Sie auf diese Nachricht, wenn Sie eine Prüfung durch die Moderation wünschen. / Reply to this message to ask a moderator for a review.";

impl AuthorNotice {
    /// (German, English), and whether answering the notice asks for a review.
    pub fn words(self) -> (&'static str, &'static str, bool) {
        match self {
            Self::Held => (
                "Ihr Kommentar wird von der Moderation geprüft und ist bis dahin nicht öffentlich.",
                "Your comment is being reviewed by a moderator and is not public until then.",
                true,
            ),
            Self::Refused => (
                "Ihr Kommentar wurde nicht veröffentlicht.",
                "Your comment was not published.",
                true,
            ),
            Self::Approved => (
                "Ihr Kommentar wurde nach Prüfung veröffentlicht.",
                "Your comment was published after review.",
                false,
            ),
            Self::Rejected => (
                "Die Moderation hat Ihren Kommentar abgelehnt.",
                "A moderator rejected your comment.",
                true,
            ),
            Self::Hidden => (
                "Die Moderation hat Ihren Kommentar verborgen.",
                "A moderator hid your comment.",
                true,
            ),
            Self::Late => (
                "Die Beteiligung ist bereits beendet; Ihr Kommentar wird gespeichert, aber nicht mehr berücksichtigt.",
                "This consultation has closed; your comment is kept but no longer counted.",
                false,
            ),
        }
    }
}

/// What a fediverse author is told about a moderator's decision (HTML, German then English).
pub fn decision_note(action: ModAction, reason: Option<&str>) -> String {
    let kind = match action {
        ModAction::Approve => AuthorNotice::Approved,
        ModAction::Reject => AuthorNotice::Rejected,
        ModAction::Hide => AuthorNotice::Hidden,
    };
    let (de, en, appeal) = kind.words();
    let reason = reason
        .filter(|r| !r.trim().is_empty())
        .map(apub::html_escape);
    let mut html = match &reason {
        Some(r) => format!("<p>{de} Grund: {r}</p><p>{en} Reason: {r}</p>"),
        None => format!("<p>{de}</p><p>{en}</p>"),
    };
    if appeal {
        html.push_str(&format!("<p>{APPEAL}</p>"));
    }
    html
}

/// Applies a moderator's decision and logs it; says clearly when it does not apply.
pub async fn moderate(
    app: &App,
    comment_id: i64,
    action: ModAction,
    moderator: &str,
    reason: Option<String>,
) -> Result<comment::Model> {
    let db = app.store.db();
    let c = comments::get_comment(db, comment_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("comment {comment_id}")))?;
    let target = action.target();
    if c.status == CommentStatus::Deleted {
        return Err(Error::Invalid(format!(
            "comment {comment_id} was deleted by its author"
        )));
    }
    if c.status == CommentStatus::Private {
        return Err(Error::Invalid(format!(
            "comment {comment_id} is a private message, not a public reply: it cannot be published or moderated"
        )));
    }
    if c.status == target {
        return Err(Error::Invalid(format!(
            "comment {comment_id} is already {}",
            target.as_str()
        )));
    }
    let now = app.now();
    let txn = db.begin().await?;
    let keep_rule = (action != ModAction::Approve)
        .then(|| c.rule_id.clone().zip(c.rule_version))
        .flatten();
    let updated =
        comments::set_comment_status(&txn, comment_id, target, keep_rule, reason.clone(), now)
            .await?;
    moderation::log_action(
        &txn,
        NewAction {
            comment_id: Some(comment_id),
            action: action.kind(),
            actor: moderator.to_owned(),
            rule_id: c.rule_id.clone(),
            rule_version: c.rule_version,
            reason: reason.clone(),
        },
        now,
    )
    .await?;
    // The author hears the decision on the network they wrote from: fediverse authors by a
    // direct note here, Matrix authors from the bot, which follows the log.
    let mut queued = c.network == Network::Fediverse
        && notify_author(
            app,
            &txn,
            &c,
            &decision_note(action, reason.as_deref()),
            now,
        )
        .await?;
    // A Matrix comment's bridged Note appears with the approval and goes with a hide.
    let change = match action {
        ModAction::Approve => Some(bridge::Change::Create),
        _ if c.status == CommentStatus::Published => Some(bridge::Change::Delete),
        _ => None,
    };
    if let Some(change) = change {
        queued |= bridge::federate(app, &txn, &updated, change, now).await?;
    }
    txn.commit().await?;
    if queued {
        app.wake_delivery();
    }
    tracing::info!(
        comment = comment_id,
        action = action.kind().as_str(),
        "comment moderated"
    );
    Ok(updated)
}

/// The press office answers a comment: stored, and federated into the citizen's own thread
/// as a public reply that mentions them.
pub async fn answer(
    app: &App,
    comment_id: i64,
    text: &str,
    author: &str,
) -> Result<official_answer::Model> {
    if text.trim().is_empty() {
        return Err(Error::Invalid("the answer is empty".into()));
    }
    let db = app.store.db();
    let c = comments::get_comment(db, comment_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("comment {comment_id}")))?;
    if c.status == CommentStatus::Deleted {
        return Err(Error::Invalid(format!(
            "comment {comment_id} was deleted by its author"
        )));
    }
    if c.status == CommentStatus::Private {
        // A public answer would make public that this person wrote to us.
        return Err(Error::Invalid(format!(
            "comment {comment_id} is a private message: it cannot be answered publicly"
        )));
    }
    let now = app.now();
    let urls = app.urls();
    let html = markdown::to_html(text);
    let txn = db.begin().await?;
    let answer =
        comments::insert_answer(&txn, comment_id, author, text.to_owned(), html.clone(), now)
            .await?;
    let mut queued = false;
    if c.network == Network::Fediverse
        && let Some(actor) = actors::remote_actor_by_ap_id(&txn, &c.author_id).await?
    {
        let handle = format!("@{}@{}", actor.username, actor.domain);
        let note = apub::reply_note(
            &urls,
            &urls.answer(answer.id),
            &c.origin_id,
            &Addressee {
                actor: &actor.ap_id,
                url: &actor.ap_id,
                handle: &handle,
            },
            &html,
            true,
            now,
        );
        let mut inboxes = actors::follower_inboxes(&txn).await?;
        let theirs = actor.shared_inbox.clone().unwrap_or(actor.inbox.clone());
        if !inboxes.contains(&theirs) {
            inboxes.push(theirs);
        }
        enqueue_activity(
            &txn,
            &urls,
            "Create",
            Some(c.announcement_id),
            &inboxes,
            now,
            |id| apub::create(&urls, id, note),
        )
        .await?;
        queued = true;
    }
    moderation::log_action(
        &txn,
        NewAction::plain(Some(comment_id), ActionKind::OfficialAnswer, author),
        now,
    )
    .await?;
    txn.commit().await?;
    if queued {
        app.wake_delivery();
    }
    tracing::info!(
        comment = comment_id,
        answer = answer.id,
        "official answer published"
    );
    Ok(answer)
}

/// The status after an author's edit: an edit can keep or tighten, never loosen. What a
/// moderator decided (rejected, hidden) stands; a held comment stays held until a moderator
/// acts; a published comment whose new text breaks a rule is held for review.
pub fn status_after_edit(current: CommentStatus, decision: Outcome) -> CommentStatus {
    match (current, decision) {
        (CommentStatus::Published, Outcome::Publish) => CommentStatus::Published,
        (CommentStatus::Published, Outcome::Hold | Outcome::Reject) => CommentStatus::Pending,
        (other, _) => other,
    }
}

/// An author's edit: the policy runs again on the new text (and warning), the old text is
/// kept for the moderators, and the result can only keep or tighten the comment's status. An
/// edit that leaves nothing to read is refused like such a comment.
pub async fn edit_comment<C: ConnectionTrait + TransactionTrait>(
    app: &App,
    db: &C,
    origin_id: &str,
    author_id: &str,
    content_html: &str,
    warning: &Warning,
) -> Result<Option<comment::Model>> {
    let Some(c) = comments::comment_by_origin(db, origin_id).await? else {
        return Ok(None);
    };
    if !comments::written_by(db, &c, author_id).await? {
        return Err(Error::Invalid("only the author may edit a comment".into()));
    }
    if c.status == CommentStatus::Deleted {
        return Ok(Some(c));
    }
    let body = content::read(c.network, content_html, warning, &app.urls())?;
    let plain = body.policy_text();
    if c.content.as_deref() == Some(body.stored.as_str())
        && c.content_warning == body.content_warning
        && c.sensitive == body.sensitive
    {
        return Ok(Some(c));
    }
    let now = app.now();
    let mut hist = history(
        app,
        db,
        &mut Lookups::default(),
        &c.author_id,
        &c.author_domain,
        Some(c.id),
    )
    .await?;
    if c.status == CommentStatus::Published {
        hist.published = hist.published.saturating_sub(1);
    }
    let decision = policy::evaluate(
        &app.policy(),
        &CommentInput {
            text: &plain,
            author_id: &c.author_id,
            author_domain: &c.author_domain,
            created_at: now,
        },
        &hist,
        now,
    );
    let status = status_after_edit(c.status, decision.outcome);
    // An edit after the consultation closed is late, like a reply would be.
    let closed = match announcements::get_announcement(db, c.announcement_id).await? {
        Some(view) => view.consultation.is_some() && !view.is_open(now),
        None => false,
    };
    let txn = db.begin().await?;
    if let Some(old) = c.content.clone() {
        comments::insert_revision(&txn, c.id, old, now).await?;
    }
    comments::update_comment_content(&txn, c.id, body.stored, now).await?;
    comments::set_content_warning(&txn, c.id, body.content_warning, body.sensitive).await?;
    if closed && !c.late {
        comments::mark_late(&txn, c.id, now).await?;
    }
    let tightened = status != c.status;
    if tightened {
        let rule = decision.rule_id.clone().zip(decision.rule_version);
        comments::set_comment_status(&txn, c.id, status, rule, decision.reason.clone(), now)
            .await?;
    }
    // Private replies stay out of the public log, edits included.
    if c.status != CommentStatus::Private {
        moderation::log_action(
            &txn,
            NewAction {
                comment_id: Some(c.id),
                action: if tightened {
                    ActionKind::edit(status)
                } else {
                    ActionKind::Edit
                },
                actor: "author".into(),
                rule_id: tightened.then(|| decision.rule_id.clone()).flatten(),
                rule_version: tightened.then_some(decision.rule_version).flatten(),
                reason: tightened.then(|| decision.reason.clone()).flatten(),
            },
            now,
        )
        .await?;
    }
    let updated = comments::get_comment(&txn, c.id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("comment {}", c.id)))?;
    // The bridged Note follows the edit, or leaves when the edit is held.
    let change = match (c.status, status) {
        (CommentStatus::Published, CommentStatus::Published) => Some(bridge::Change::Update),
        (CommentStatus::Published, _) => Some(bridge::Change::Delete),
        _ => None,
    };
    let queued = match change {
        Some(change) => bridge::federate(app, &txn, &updated, change, now).await?,
        None => false,
    };
    txn.commit().await?;
    if queued {
        app.wake_delivery();
    }
    tracing::info!(
        comment = c.id,
        status = status.as_str(),
        late = updated.late,
        "comment edited by its author"
    );
    Ok(Some(updated))
}

/// The author deleted it: erase the text everywhere, keep that it existed.
pub async fn delete_comment<C: ConnectionTrait + TransactionTrait>(
    app: &App,
    db: &C,
    origin_id: &str,
    author_id: &str,
) -> Result<bool> {
    let Some(c) = comments::comment_by_origin(db, origin_id).await? else {
        return Ok(false);
    };
    if !comments::written_by(db, &c, author_id).await? {
        return Err(Error::Invalid(
            "only the author may delete a comment".into(),
        ));
    }
    let now = app.now();
    let txn = db.begin().await?;
    let queued = c.status == CommentStatus::Published
        && bridge::federate(app, &txn, &c, bridge::Change::Delete, now).await?;
    comments::erase_comment(&txn, c.id, now).await?;
    moderation::log_action(
        &txn,
        NewAction::plain(Some(c.id), ActionKind::AuthorDelete, "author"),
        now,
    )
    .await?;
    txn.commit().await?;
    if queued {
        app.wake_delivery();
    }
    tracing::info!(comment = c.id, "comment erased at the author's request");
    Ok(true)
}

/// The ActivityPub Note of an official answer, for serving it under its id.
pub async fn answer_note(app: &App, answer_id: i64) -> Result<serde_json::Value> {
    let db = app.store.db();
    let answer = comments::get_answer(db, answer_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("answer {answer_id}")))?;
    let c = comments::get_comment(db, answer.comment_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("comment {}", answer.comment_id)))?;
    if c.status == CommentStatus::Deleted {
        // It replied to, and named, a person whose comment is erased.
        return Err(Error::Gone(format!("answer {answer_id} was withdrawn")));
    }
    let urls = app.urls();
    let actor = actors::remote_actor_by_ap_id(db, &c.author_id).await?;
    let (actor_id, handle) = match &actor {
        Some(a) => (a.ap_id.clone(), format!("@{}@{}", a.username, a.domain)),
        None => (c.author_id.clone(), c.author_id.clone()),
    };
    let in_reply_to = match c.network {
        Network::Fediverse => c.origin_id.clone(),
        Network::Matrix => urls.announcement(c.announcement_id),
    };
    let pseudonymised = c.author_id.starts_with(comments::PSEUDONYM_PREFIX);
    let in_reply_to = if pseudonymised {
        urls.announcement(c.announcement_id)
    } else {
        in_reply_to
    };
    let mut note = apub::with_context(apub::reply_note(
        &urls,
        &urls.answer(answer.id),
        &in_reply_to,
        &Addressee {
            actor: &actor_id,
            url: &actor_id,
            handle: &handle,
        },
        &answer.body_html,
        true,
        answer.created_at,
    ));
    if pseudonymised {
        // Retention removed who it answered: no mention, a plain public reply to the post.
        note["tag"] = serde_json::json!([]);
        note["cc"] = serde_json::json!([urls.followers()]);
        note["content"] = serde_json::Value::from(answer.body_html.clone());
        note["contentMap"] = serde_json::json!({ "de": answer.body_html });
    }
    Ok(note)
}

/// Comments for the CLI and the bot, oldest first.
pub async fn list(app: &App, filter: &comments::CommentFilter) -> Result<Vec<comment::Model>> {
    comments::list_comments(app.store.db(), filter).await
}

#[cfg(test)]
mod tests {
    use super::is_language_tag;

    #[test]
    fn only_plausible_language_tags_are_kept() {
        for ok in ["de", "en-GB", "zh-Hant-TW", "de-CH-1996"] {
            assert!(is_language_tag(ok), "{ok}");
        }
        for bad in [
            "",
            "de\"><script>",
            "-de",
            "de--x",
            "1de",
            "toolongsubtag123",
            "de_DE",
            "d e",
        ] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }
}
