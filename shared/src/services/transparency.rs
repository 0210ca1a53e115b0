//! What the public sees: announcements and consultations with their published threads,
//! statistics, and the public moderation log. Only published comments carry text or an
//! author's name; everything else is counted, never shown.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use crate::app::App;
use crate::entities::{ActionKind, CommentStatus, Network, comment, official_answer};
use crate::error::{Error, Result};
use crate::store::announcements;
pub use crate::store::announcements::AnnouncementView;
use crate::store::comments::{self, CommentFacts, CommentFilter};
use crate::store::moderation;

/// Items per page on the start page and in the moderation log.
pub const PER_PAGE: u64 = 20;

/// A requested page number (from 1) kept within reach: any page past the end is the first
/// empty one, so huge numbers neither overflow nor reach the database.
pub fn page_in_range(page: u64, total: u64, per_page: u64) -> u64 {
    page.clamp(1, total.div_ceil(per_page).max(1) + 1)
}

/// One page of announcements, newest first, with the number of published comments of each.
#[derive(Debug, Clone)]
pub struct Listing {
    pub items: Vec<(AnnouncementView, u64)>,
    pub page: u64,
    pub pages: u64,
}

/// `page` counts from 1; a page past the end is empty, not an error.
pub async fn listing(app: &App, page: u64) -> Result<Listing> {
    let db = app.store.db();
    let total = announcements::count_announcements(db).await?;
    let pages = total.div_ceil(PER_PAGE).max(1);
    let page = page_in_range(page, total, PER_PAGE);
    let views = announcements::list_views(db, page - 1, PER_PAGE).await?;
    let ids: Vec<i64> = views.iter().map(|v| v.announcement.id).collect();
    let published = comments::published_counts(db, &ids).await?;
    Ok(Listing {
        items: views
            .into_iter()
            .map(|v| {
                let n = published.get(&v.announcement.id).copied().unwrap_or(0);
                (v, n)
            })
            .collect(),
        page,
        pages,
    })
}

/// A published comment with its official answers and the published replies to it.
#[derive(Debug, Clone)]
pub struct Thread {
    pub comment: CommentView,
    pub answers: Vec<AnswerView>,
    pub replies: Vec<Thread>,
}

/// A published comment as the public sees it: no author id, no link to the author's post or
/// profile (both name them), no moderation detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentView {
    pub id: i64,
    pub network: Network,
    pub author_name: Option<String>,
    /// Sanitised HTML from the fediverse, plain text from Matrix.
    pub content: Option<String>,
    /// BCP 47 language tag the author's server declared, if any.
    pub language: Option<String>,
    /// The content warning, plain text (escape it), and the sensitive flag: the text is shown
    /// only on request when either is set.
    pub content_warning: Option<String>,
    pub sensitive: bool,
    /// Arrived after the consultation closed.
    pub late: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<comment::Model> for CommentView {
    fn from(c: comment::Model) -> Self {
        Self {
            id: c.id,
            network: c.network,
            author_name: c.author_name,
            content: c.content,
            language: c.language,
            content_warning: c.content_warning,
            sensitive: c.sensitive,
            late: c.late,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// An official answer as the public sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerView {
    pub id: i64,
    pub body_html: String,
    pub created_at: DateTime<Utc>,
}

impl From<official_answer::Model> for AnswerView {
    fn from(a: official_answer::Model) -> Self {
        Self {
            id: a.id,
            body_html: a.body_html,
            created_at: a.created_at,
        }
    }
}

/// How many comments are in each state; the text of those not published is never shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub published: u64,
    pub held: u64,
    /// Rejected by policy or a moderator, or hidden later.
    pub removed: u64,
    pub deleted_by_author: u64,
    /// Arrived after the consultation closed (kept, not counted above).
    pub late: u64,
}

impl Counts {
    fn of(facts: &[CommentFacts]) -> Self {
        let mut c = Counts::default();
        for f in facts {
            if f.late {
                c.late += 1;
                continue;
            }
            match f.status {
                CommentStatus::Published => c.published += 1,
                CommentStatus::Pending => c.held += 1,
                CommentStatus::Rejected | CommentStatus::Hidden => c.removed += 1,
                CommentStatus::Deleted => c.deleted_by_author += 1,
                // Not among the facts: private replies are no part of any count.
                CommentStatus::Private => {}
            }
        }
        c
    }
}

/// Everything the page of one announcement shows.
#[derive(Debug, Clone)]
pub struct AnnouncementPage {
    pub view: AnnouncementView,
    pub threads: Vec<Thread>,
    pub counts: Counts,
    /// Which page of the threads this is (from 1), of how many.
    pub page: u64,
    pub pages: u64,
}

/// Conversations (a comment with all replies to it) per page of an announcement.
pub const THREADS_PER_PAGE: u64 = 50;

/// What the public pages show, as a short fingerprint (see `store::state::content_version`).
pub async fn content_version(app: &App) -> Result<String> {
    crate::store::state::content_version(app.store.db()).await
}

/// Page `page` (from 1, kept within range) of an announcement with its threads, oldest first,
/// [`THREADS_PER_PAGE`] a page; a thread is never split across pages. Only the page's
/// comments are loaded: finding the threads needs ids and parents alone.
pub async fn announcement_page_at(app: &App, id: i64, page: u64) -> Result<AnnouncementPage> {
    let db = app.store.db();
    let view = announcements::get_announcement(db, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("announcement {id}")))?;
    let facts = comments::comment_facts(db, Some(id)).await?;
    let skeleton = comments::published_skeleton(db, id).await?;
    let (wanted, page, pages) = page_of_threads(&skeleton, page);
    let published = comments::comments_by_ids(db, &wanted).await?;
    let answers = comments::answers_for_comments(db, &wanted).await?;
    Ok(AnnouncementPage {
        view,
        threads: threads(published, answers),
        counts: Counts::of(&facts),
        page,
        pages,
    })
}

/// The comment ids of page `page` of the threads that `skeleton` (id, parent; oldest first)
/// forms, as [`threads`] builds them, with the page kept in range and the number of pages.
pub fn page_of_threads(skeleton: &[(i64, Option<i64>)], page: u64) -> (Vec<i64>, u64, u64) {
    let known: std::collections::HashSet<i64> = skeleton.iter().map(|(id, _)| *id).collect();
    let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut roots = Vec::new();
    for &(id, parent) in skeleton {
        match parent {
            Some(p) if known.contains(&p) && p != id => children.entry(p).or_default().push(id),
            _ => roots.push(id),
        }
    }
    let pages = (roots.len() as u64).div_ceil(THREADS_PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let skip = usize::try_from((page - 1) * THREADS_PER_PAGE).unwrap_or(usize::MAX);
    let mut wanted = Vec::new();
    let mut todo: Vec<i64> = roots
        .into_iter()
        .skip(skip)
        .take(THREADS_PER_PAGE as usize)
        .collect();
    while let Some(id) = todo.pop() {
        wanted.push(id);
        if let Some(c) = children.remove(&id) {
            todo.extend(c);
        }
    }
    (wanted, page, pages)
}

pub async fn announcement_page(app: &App, id: i64) -> Result<AnnouncementPage> {
    let db = app.store.db();
    let view = announcements::get_announcement(db, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("announcement {id}")))?;
    let facts = comments::comment_facts(db, Some(id)).await?;
    let published = comments::list_comments(
        db,
        &CommentFilter {
            announcement_id: Some(id),
            status: Some(CommentStatus::Published),
            ..Default::default()
        },
    )
    .await?;
    let ids: Vec<i64> = published.iter().map(|c| c.id).collect();
    let answers = comments::answers_for_comments(db, &ids).await?;
    Ok(AnnouncementPage {
        view,
        threads: threads(published, answers),
        counts: Counts::of(&facts),
        page: 1,
        pages: 1,
    })
}

/// Builds threads from published comments (oldest first). A reply whose parent is not
/// published stands on its own, so nothing published is ever lost from the page.
pub fn threads(
    published: Vec<comment::Model>,
    answers: Vec<official_answer::Model>,
) -> Vec<Thread> {
    let known: std::collections::HashSet<i64> = published.iter().map(|c| c.id).collect();
    let mut answers_of: HashMap<i64, Vec<official_answer::Model>> = HashMap::new();
    for a in answers {
        answers_of.entry(a.comment_id).or_default().push(a);
    }
    let mut children: HashMap<i64, Vec<comment::Model>> = HashMap::new();
    let mut roots = Vec::new();
    for c in published {
        match c.parent_comment_id {
            Some(p) if known.contains(&p) && p != c.id => children.entry(p).or_default().push(c),
            _ => roots.push(c),
        }
    }
    fn build(
        c: comment::Model,
        children: &mut HashMap<i64, Vec<comment::Model>>,
        answers_of: &mut HashMap<i64, Vec<official_answer::Model>>,
    ) -> Thread {
        let replies = children
            .remove(&c.id)
            .unwrap_or_default()
            .into_iter()
            .map(|r| build(r, children, answers_of))
            .collect();
        Thread {
            answers: answers_of
                .remove(&c.id)
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            comment: c.into(),
            replies,
        }
    }
    roots
        .into_iter()
        .map(|c| build(c, &mut children, &mut answers_of))
        .collect()
}

/// Counts for the statistics page and the Open Data export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statistics {
    pub total: u64,
    pub by_network: BTreeMap<&'static str, u64>,
    pub by_status: BTreeMap<&'static str, u64>,
    pub by_day: BTreeMap<NaiveDate, u64>,
    /// (action, rule id or "", count), most frequent first.
    pub actions_by_rule: Vec<(ActionKind, String, u64)>,
    /// Reach in the fediverse per announcement, newest first: counted, never who.
    pub reach: Vec<Reach>,
}

/// Likes and boosts of one announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub announcement_id: i64,
    pub title: Option<String>,
    pub likes: u64,
    pub boosts: u64,
}

fn network_name(n: Network) -> &'static str {
    match n {
        Network::Fediverse => "fediverse",
        Network::Matrix => "matrix",
    }
}

/// Comment counts by network, status and day (of the comment's own time, UTC).
pub fn comment_statistics(facts: &[CommentFacts]) -> Statistics {
    let mut s = Statistics {
        total: facts.len() as u64,
        ..Default::default()
    };
    for f in facts {
        *s.by_network.entry(network_name(f.network)).or_default() += 1;
        *s.by_status.entry(f.status.as_str()).or_default() += 1;
        *s.by_day.entry(f.created_at.date_naive()).or_default() += 1;
    }
    s
}

/// Statistics over everything, with moderation actions by rule.
pub async fn statistics(app: &App) -> Result<Statistics> {
    let db = app.store.db();
    let mut s = comment_statistics(&comments::comment_facts(db, None).await?);
    let mut by_rule: Vec<(ActionKind, String, u64)> = moderation::actions_by_rule(db)
        .await?
        .into_iter()
        .map(|(action, rule, n)| (action, rule.unwrap_or_default(), n.max(0) as u64))
        .collect();
    by_rule.sort_by(|a, b| {
        b.2.cmp(&a.2)
            .then_with(|| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)))
    });
    s.actions_by_rule = by_rule;
    let mut reach: Vec<(i64, (u64, u64))> =
        crate::store::inbox::reach(db).await?.into_iter().collect();
    reach.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (id, (likes, boosts)) in reach {
        if let Some(view) = announcements::get_announcement(db, id).await?
            && view.announcement.retracted_at.is_none()
        {
            s.reach.push(Reach {
                announcement_id: id,
                title: view.announcement.title,
                likes,
                boosts,
            });
        }
    }
    Ok(s)
}

/// Who took a step, as the public may know it: never a person's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The comment policy, automatically.
    Policy,
    /// The comment's author (an edit or deletion).
    Author,
    /// The moderation team or the press office (by bot or command line).
    Office,
    /// A report from a fediverse server (who reported is never shown).
    Report,
}

impl Actor {
    pub fn of(actor: &str) -> Self {
        match actor {
            "policy" => Actor::Policy,
            "author" => Actor::Author,
            "report" => Actor::Report,
            _ => Actor::Office,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Policy => "policy",
            Actor::Author => "author",
            Actor::Office => "moderation",
            Actor::Report => "report",
        }
    }
}

/// One line of the public moderation log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub action: ActionKind,
    pub actor: Actor,
    pub rule_id: Option<String>,
    pub rule_version: Option<i32>,
    pub reason: Option<String>,
    pub comment_id: Option<i64>,
    pub announcement_id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    pub page: u64,
    pub pages: u64,
}

/// The moderation log, newest first, `page` from 1.
pub async fn public_log(app: &App, page: u64) -> Result<LogPage> {
    let db = app.store.db();
    let total = moderation::count_actions(db).await?;
    let page = page_in_range(page, total, PER_PAGE);
    let rows = moderation::list_actions_page(db, (page - 1) * PER_PAGE, PER_PAGE).await?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.comment_id).collect();
    let announcement_of = comments::announcement_ids(db, &ids).await?;
    Ok(LogPage {
        entries: rows
            .into_iter()
            .map(|r| LogEntry {
                id: r.id,
                created_at: r.created_at,
                actor: Actor::of(&r.actor),
                announcement_id: r.comment_id.and_then(|c| announcement_of.get(&c).copied()),
                // A block's reason tends to name whom it blocks: it stays internal.
                reason: r.reason.filter(|_| !r.action.is_block()),
                action: r.action,
                rule_id: r.rule_id,
                rule_version: r.rule_version,
                comment_id: r.comment_id,
            })
            .collect(),
        page,
        pages: total.div_ceil(PER_PAGE).max(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn comment(id: i64, parent: Option<i64>) -> comment::Model {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 1, 10, 0, 0)
            .single()
            .expect("time");
        comment::Model {
            id,
            announcement_id: 1,
            parent_comment_id: parent,
            network: Network::Fediverse,
            origin_id: format!("https://x.example/{id}"),
            origin_url: None,
            author_id: "https://x.example/users/a".into(),
            author_name: None,
            author_domain: "x.example".into(),
            content: Some("text".into()),
            content_warning: None,
            sensitive: false,
            language: None,
            status: CommentStatus::Published,
            late: false,
            rule_id: None,
            rule_version: None,
            reason: None,
            created_at: t,
            received_at: t,
            updated_at: t,
            deleted_at: None,
        }
    }

    #[test]
    fn replies_nest_under_published_parents_and_orphans_stand_alone() {
        let t = Utc::now();
        let answer = official_answer::Model {
            id: 7,
            comment_id: 2,
            author: "@presse:x".into(),
            body_markdown: "a".into(),
            body_html: "<p>a</p>".into(),
            created_at: t,
        };
        // 2 replies to 1; 3 replies to 99, which is not published; 4 replies to 2.
        let out = threads(
            vec![
                comment(1, None),
                comment(2, Some(1)),
                comment(3, Some(99)),
                comment(4, Some(2)),
            ],
            vec![answer],
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].comment.id, 1);
        assert_eq!(out[0].replies[0].comment.id, 2);
        assert_eq!(out[0].replies[0].answers[0].id, 7);
        assert_eq!(out[0].replies[0].replies[0].comment.id, 4);
        assert_eq!(out[1].comment.id, 3);
    }

    #[test]
    fn counts_never_mix_late_comments_in() {
        let t = Utc::now();
        let f = |status, late| CommentFacts {
            announcement_id: 1,
            network: Network::Matrix,
            status,
            late,
            created_at: t,
        };
        let c = Counts::of(&[
            f(CommentStatus::Published, false),
            f(CommentStatus::Pending, false),
            f(CommentStatus::Rejected, false),
            f(CommentStatus::Hidden, false),
            f(CommentStatus::Deleted, false),
            f(CommentStatus::Published, true),
        ]);
        assert_eq!(
            c,
            Counts {
                published: 1,
                held: 1,
                removed: 2,
                deleted_by_author: 1,
                late: 1
            }
        );
        let s = comment_statistics(&[
            f(CommentStatus::Published, false),
            f(CommentStatus::Pending, false),
        ]);
        assert_eq!(s.by_network.get("matrix"), Some(&2));
        assert_eq!(s.by_status.get("pending"), Some(&1));
        assert_eq!(s.by_day.values().sum::<u64>(), 2);
    }
}
