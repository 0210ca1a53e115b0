//! The inbox's second half: a durable queue with group commit.
//!
//! The HTTP front verifies an activity and parses it into an [`Inbound`] command. [`Intake`]
//! hands it to one writer task, which appends everything that arrived meanwhile in one
//! statement (the request can now be answered: nothing is lost), then applies the appended
//! commands in one transaction per batch, through the same services as before (each
//! service's own transaction becomes a savepoint of the batch). Applying a command deletes its
//! row and records its activity id in that same transaction, so each command takes effect
//! exactly once, also across a SIGKILL: a stopped process's rows are applied at the next start,
//! and by any running process once they are older than [`ORPHAN_AGE`]. One task writes, so
//! the inbox never queues on SQLite's writer lock against itself; the batch is one commit
//! where there were two per reply.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::comments::{self, Submission, SubmitOutcome};
use super::content::Warning;
use super::{erasure, follows, reports};
use crate::app::App;
use crate::error::{Error, Result};
use crate::store::actors::RemoteActorData;
use crate::store::{announcements, inbox, state};

/// A verified activity, as the services take it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Inbound {
    /// A reply to something of ours (or not: then it is ignored).
    Reply(Submission),
    /// The author's edit of a reply.
    Edit {
        origin_id: String,
        author_id: String,
        content_html: String,
        warning: Warning,
    },
    /// The author deleted a post.
    DeleteObject {
        object_id: String,
        author_id: String,
    },
    /// The actor deleted itself: everything of theirs is erased.
    EraseAuthor { author_id: String },
    Follow {
        follower: RemoteActorData,
        /// The Follow as received; our Accept echoes it.
        activity: Value,
    },
    /// An Undo of a Follow, a Like or a boost. `follow`: the embedded object says Follow.
    Undo {
        actor_id: String,
        object_id: Option<String>,
        follow: bool,
    },
    /// A `Flag`.
    Report {
        domain: String,
        objects: Vec<String>,
        content: Option<String>,
    },
    /// A Like or a boost (`Announce`) of `object_id`.
    React {
        kind: Reaction,
        activity_id: String,
        object_id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    Like,
    Boost,
}

impl Reaction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Like => "like",
            Self::Boost => "boost",
        }
    }
}

/// Rows older than this whose writer did not apply them are applied by whoever sees them.
pub const ORPHAN_AGE: Duration = Duration::from_secs(30);
/// The most commands in one append and one transaction.
const MAX_BATCH: usize = 256;
/// How long an idle writer waits before it looks for orphaned rows.
const IDLE_CHECK: Duration = Duration::from_secs(10);

/// What a queued command came to: a short word for the sender, or why it was refused.
pub type Applied = Result<&'static str>;

struct Pending {
    activity_id: String,
    command: String,
    appended: oneshot::Sender<Result<()>>,
    applied: oneshot::Sender<Applied>,
}

/// The handle the inbox submits commands through. Cheap to clone; the writer task stops when
/// the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Intake {
    tx: mpsc::Sender<Pending>,
}

impl Intake {
    /// Starts the writer task; it first applies what a stopped process left.
    pub fn start(app: App) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer(app, rx));
        Self { tx }
    }

    /// Queues `command` durably, then waits up to `wait` for it to be applied. `Ok(None)`: it
    /// is queued and will be applied later. An error before the append means nothing was kept.
    pub async fn submit(
        &self,
        activity_id: &str,
        command: &Inbound,
        wait: Duration,
    ) -> Result<Option<Applied>> {
        let command = serde_json::to_string(command)
            .map_err(|e| Error::Invalid(format!("cannot queue the activity: {e}")))?;
        let (appended, appended_rx) = oneshot::channel();
        let (applied, applied_rx) = oneshot::channel();
        let stopped = || Error::Io(std::io::Error::other("the inbox writer has stopped"));
        self.tx
            .send(Pending {
                activity_id: activity_id.to_owned(),
                command,
                appended,
                applied,
            })
            .await
            .map_err(|_| stopped())?;
        appended_rx.await.map_err(|_| stopped())??;
        match tokio::time::timeout(wait, applied_rx).await {
            Ok(Ok(applied)) => Ok(Some(applied)),
            // The writer stopped after the append: the row waits for the next start.
            Ok(Err(_)) | Err(_) => Ok(None),
        }
    }
}

async fn writer(app: App, mut rx: mpsc::Receiver<Pending>) {
    apply_orphans(&app, true).await;
    loop {
        let first = match tokio::time::timeout(IDLE_CHECK, rx.recv()).await {
            Ok(Some(p)) => p,
            Ok(None) => return,
            Err(_) => {
                apply_orphans(&app, false).await;
                continue;
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let items: Vec<(String, String)> = batch
            .iter_mut()
            .map(|p| (p.activity_id.clone(), std::mem::take(&mut p.command)))
            .collect();
        let ids = match inbox::append(app.store.db(), &items, app.now()).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::error!(error = %e, commands = batch.len(), "inbox: cannot queue");
                let e = e.to_string();
                for p in batch {
                    let _ = p
                        .appended
                        .send(Err(Error::Io(std::io::Error::other(e.clone()))));
                }
                continue;
            }
        };
        let mut waiting = HashMap::new();
        for (p, id) in batch.into_iter().zip(ids) {
            let _ = p.appended.send(Ok(()));
            match id {
                Some(id) => {
                    waiting.insert(id, p.applied);
                }
                // The same activity already waits in the queue: it is applied once, there.
                None => {
                    let _ = p.applied.send(Ok("duplicate"));
                }
            }
        }
        failpoint().await;
        let mut ids: Vec<i64> = waiting.keys().copied().collect();
        ids.sort_unstable();
        for (id, result) in apply(&app, &ids).await {
            if let Some(tx) = waiting.remove(&id) {
                let _ = tx.send(result);
            }
        }
    }
}

/// Fault injection for the crash tests: with `RATHAUS_FAILPOINT=inbox-after-append` the
/// process dies after a batch was appended (and its requests answered) and before it was
/// applied, the moment the queue exists for. Never set in production.
async fn failpoint() {
    if std::env::var("RATHAUS_FAILPOINT").is_ok_and(|f| f == "inbox-after-append") {
        // Let the answers leave first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        tracing::warn!("failpoint inbox-after-append: aborting");
        std::process::abort();
    }
}

/// Applies rows left behind: all of them at start (`all`), else those older than
/// [`ORPHAN_AGE`].
async fn apply_orphans(app: &App, all: bool) {
    let age = if all {
        chrono::Duration::zero()
    } else {
        chrono::Duration::from_std(ORPHAN_AGE).unwrap_or_default()
    };
    let mut last = None;
    loop {
        let ids = match inbox::waiting(app.store.db(), app.now() - age, MAX_BATCH as u64).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "inbox: cannot look for queued activities");
                return;
            }
        };
        // Rows that failed again stay for the next round.
        if ids.is_empty() || last.as_ref() == Some(&ids) {
            return;
        }
        tracing::info!(count = ids.len(), "inbox: applying queued activities");
        apply(app, &ids).await;
        last = Some(ids);
    }
}

/// Applies rows `ids` in one transaction. If that fails (a database error in one of them),
/// each is applied alone, so one bad row holds up no other; a row that fails alone keeps its
/// place and is tried again later, at most [`inbox::MAX_ATTEMPTS`] times.
pub async fn apply(app: &App, ids: &[i64]) -> Vec<(i64, Applied)> {
    if ids.is_empty() {
        return Vec::new();
    }
    match apply_batch(app, ids).await {
        Ok(done) => done,
        Err(e) => {
            tracing::warn!(error = %e, rows = ids.len(), "inbox: batch failed, applying one by one");
            let mut done = Vec::new();
            for &id in ids {
                match apply_batch(app, &[id]).await {
                    Ok(one) => done.extend(one),
                    Err(e) => {
                        tracing::error!(row = id, error = %e, "inbox: cannot apply");
                        if let Err(e) = inbox::failed(app.store.db(), id, &e.to_string()).await {
                            tracing::error!(row = id, error = %e, "inbox: cannot record a failure");
                        }
                        done.push((id, Err(e)));
                    }
                }
            }
            done
        }
    }
}

async fn apply_batch(app: &App, ids: &[i64]) -> Result<Vec<(i64, Applied)>> {
    use sea_orm::TransactionTrait;
    let now = app.now();
    let txn = app.store.db().begin().await?;
    let rows = inbox::claim(&txn, ids).await?;
    let names: Vec<&str> = rows.iter().map(|r| r.activity_id.as_str()).collect();
    let seen = inbox::handled_among(&txn, &names).await?;
    let mut done = Vec::with_capacity(rows.len());
    let mut lookups = comments::Lookups::default();
    for row in &rows {
        if seen.contains(&row.activity_id) {
            done.push((row.id, Ok("duplicate")));
            continue;
        }
        let result = match serde_json::from_str::<Inbound>(&row.command) {
            Ok(command) => execute(app, &txn, &mut lookups, command).await,
            Err(e) => Err(Error::Corrupt(format!("inbox row {}: {e}", row.id))),
        };
        match result {
            // The transaction may be unusable now (PostgreSQL): give the batch up.
            Err(Error::Database(e)) => return Err(Error::Database(e)),
            Ok(note) => {
                state::record_inbound(&txn, &row.activity_id, now).await?;
                done.push((row.id, Ok(note)));
            }
            // Refused by the service: final, and its savepoint left nothing behind.
            Err(e) => done.push((row.id, Err(e))),
        }
    }
    txn.commit().await?;
    if !done.is_empty() {
        app.wake_delivery();
    }
    Ok(done)
}

/// Runs one command inside the batch's transaction. Returns a short word for the log.
async fn execute<C>(app: &App, db: &C, lookups: &mut comments::Lookups, command: Inbound) -> Applied
where
    C: sea_orm::ConnectionTrait + sea_orm::TransactionTrait,
{
    match command {
        Inbound::Reply(submission) => Ok(
            match comments::submit_in(app, db, lookups, submission).await? {
                SubmitOutcome::Stored(_) => "comment stored",
                SubmitOutcome::Duplicate(_) => "duplicate comment",
                SubmitOutcome::NotForUs => "ignored: not a reply to us",
            },
        ),
        Inbound::Edit {
            origin_id,
            author_id,
            content_html,
            warning,
        } => Ok(
            match comments::edit_comment(app, db, &origin_id, &author_id, &content_html, &warning)
                .await?
            {
                Some(_) => "comment edited",
                None => "ignored update",
            },
        ),
        Inbound::DeleteObject {
            object_id,
            author_id,
        } => Ok(
            if comments::delete_comment(app, db, &object_id, &author_id).await? {
                "comment erased"
            } else {
                "ignored delete"
            },
        ),
        Inbound::EraseAuthor { author_id } => {
            erasure::erase_in(app, db, &erasure::Target::Author(author_id), "author").await?;
            Ok("actor forgotten and erased")
        }
        Inbound::Follow { follower, activity } => {
            follows::follow(app, db, follower, activity).await?;
            Ok("follow accepted")
        }
        Inbound::Undo {
            actor_id,
            object_id,
            follow,
        } => {
            if !follow && let Some(object_id) = &object_id {
                let salt = state::pseudonym_salt(db).await?;
                if inbox::remove_reaction(db, &state::salted_hash(&salt, object_id)).await? {
                    return Ok("reaction removed");
                }
            }
            let is_follow = follow
                || match &object_id {
                    Some(id) => follows::is_follow(db, &actor_id, id).await?,
                    None => false,
                };
            if is_follow {
                follows::unfollow(db, &actor_id).await?;
                return Ok("unfollowed");
            }
            Ok("ignored undo")
        }
        Inbound::Report {
            domain,
            objects,
            content,
        } => {
            let objects: Vec<&str> = objects.iter().map(String::as_str).collect();
            Ok(
                match reports::report(app, db, &domain, &objects, content.as_deref()).await? {
                    0 => "ignored: report about nothing of ours",
                    _ => "report stored",
                },
            )
        }
        Inbound::React {
            kind,
            activity_id,
            object_id,
        } => {
            let Some(id) = app.urls().announcement_id(&object_id) else {
                return Ok("ignored: not about an announcement of ours");
            };
            match announcements::get_announcement(db, id).await? {
                Some(view) if view.announcement.retracted_at.is_none() => {}
                _ => return Ok("ignored: not about an announcement of ours"),
            }
            let salt = state::pseudonym_salt(db).await?;
            let hash = state::salted_hash(&salt, &activity_id);
            inbox::add_reaction(db, id, kind.as_str(), &hash, app.now()).await?;
            Ok(match kind {
                Reaction::Like => "like counted",
                Reaction::Boost => "boost counted",
            })
        }
    }
}

/// How many commands wait in the queue, and how many of them gave up (for operators).
pub async fn backlog(app: &App) -> Result<(u64, u64)> {
    inbox::backlog(app.store.db()).await
}
