//! What flows from the store into Matrix: new announcements into the public rooms
//! (`announcements`), and the moderation log (`log`): notices about held comments, published
//! fediverse comments and official answers into the threads, redactions of hidden ones.
//!
//! Each follows its table with a cursor. The rows followed are written in the same transaction
//! as what they stand for (an announcement, its change, a moderation step), so nothing to
//! mirror is lost. The events a row was relayed as and the cursor past the row are stored in
//! one transaction, and a cursor that cannot be read stops the bot instead of replaying the
//! whole table into the rooms. Every event is sent under a transaction id derived from the row
//! (`txn_id`): if the process dies after a send but before the record, the row is handled
//! again after the restart and the homeserver answers with the event it made the first time
//! (Synapse keeps a device's transaction ids for a day), so nothing is posted twice.

mod announcements;
mod changes;
mod log;
mod reports;

use std::time::Duration;

use matrix_sdk::Client;
use matrix_sdk::room::Room;
use matrix_sdk::ruma::events::Mentions;
use matrix_sdk::ruma::events::relation::Thread;
use matrix_sdk::ruma::events::room::message::{Relation, RoomMessageEventContent};
use matrix_sdk::ruma::{
    EventId, OwnedEventId, OwnedRoomId, OwnedTransactionId, OwnedUserId, RoomId,
};
use rathaus_shared::services::matrix as bot_state;
use rathaus_shared::store::relay::RelayTarget;
use rathaus_shared::store::state::Cursor;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Error;
use crate::rooms::BotCtx;

/// How often the followers look for new rows.
const POLL: Duration = Duration::from_millis(500);

/// An event we posted, and what it stands for.
type Relayed = (String, String, RelayTarget);

/// The running relay tasks.
#[derive(Debug)]
pub struct Relays(Vec<JoinHandle<()>>);

impl Relays {
    pub fn abort(&self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Reads both cursors (failing on a corrupt one) and starts the two followers.
pub async fn spawn(
    client: &Client,
    ctx: &BotCtx,
    shutdown: &watch::Receiver<bool>,
) -> Result<Relays, Error> {
    let announced = bot_state::cursor(&ctx.app, Cursor::MatrixAnnouncements).await?;
    let logged = bot_state::cursor(&ctx.app, Cursor::MatrixLog).await?;
    let changed = bot_state::cursor(&ctx.app, Cursor::MatrixChanges).await?;
    let reported = bot_state::cursor(&ctx.app, Cursor::MatrixReports).await?;
    Ok(Relays(vec![
        tokio::spawn(follow::<reports::Reports>(
            client.clone(),
            ctx.clone(),
            reported,
            shutdown.clone(),
        )),
        tokio::spawn(follow::<changes::Changes>(
            client.clone(),
            ctx.clone(),
            changed,
            shutdown.clone(),
        )),
        tokio::spawn(follow::<announcements::Announcements>(
            client.clone(),
            ctx.clone(),
            announced,
            shutdown.clone(),
        )),
        tokio::spawn(follow::<log::Log>(
            client.clone(),
            ctx.clone(),
            logged,
            shutdown.clone(),
        )),
    ]))
}

type SharedError = rathaus_shared::Error;

/// A table the relay follows: its rows after a cursor, each relayed into Matrix.
trait Follower {
    type Row: Send + Sync;
    const CURSOR: Cursor;
    /// What a row is, for the logs.
    const WHAT: &'static str;

    fn rows(
        ctx: &BotCtx,
        after: i64,
    ) -> impl Future<Output = Result<Vec<Self::Row>, SharedError>> + Send;

    fn id(row: &Self::Row) -> i64;

    /// Relays one row; the events it became.
    fn relay(
        client: &Client,
        ctx: &BotCtx,
        row: &Self::Row,
    ) -> impl Future<Output = Result<Vec<Relayed>, Error>> + Send;
}

/// Follows `F`'s table until shutdown. A row that cannot be relayed is logged and skipped:
/// retrying it forever would hold up every later one.
async fn follow<F: Follower>(
    client: Client,
    ctx: BotCtx,
    mut cursor: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match F::rows(&ctx, cursor).await {
            Ok(rows) => {
                for row in rows {
                    let id = F::id(&row);
                    let events = F::relay(&client, &ctx, &row).await.unwrap_or_else(|e| {
                        tracing::error!(error = %e, row = id, what = F::WHAT, "relaying into Matrix failed");
                        Vec::new()
                    });
                    done(&ctx, F::CURSOR, id, &events).await;
                    cursor = id;
                }
            }
            Err(e) => tracing::error!(error = %e, what = F::WHAT, "reading rows to relay failed"),
        }
        if !pause(&mut shutdown).await {
            return;
        }
    }
}

/// Waits one poll interval; false when it is time to stop.
async fn pause(shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(POLL) => true,
        _ = shutdown.wait_for(|stop| *stop) => false,
    }
}

/// Stores what a row was relayed as and moves the stored cursor past it. A failure is logged
/// and the follower moves on in memory all the same, as it always did: trying the row again
/// would post it into the rooms a second time.
async fn done(ctx: &BotCtx, cursor: Cursor, row: i64, events: &[Relayed]) {
    failpoint(events);
    if let Err(e) = bot_state::relayed(&ctx.app, cursor, row, events).await {
        tracing::error!(error = %e, row, "recording a relay failed");
    }
}

/// Fault injection for the crash tests: with `RATHAUS_FAILPOINT=relay-before-record` the
/// process dies right after it posted something and before it recorded that, the worst moment
/// for a relay. Never set in production.
fn failpoint(events: &[Relayed]) {
    if !events.is_empty()
        && std::env::var("RATHAUS_FAILPOINT").is_ok_and(|f| f == "relay-before-record")
    {
        tracing::warn!("failpoint relay-before-record: aborting");
        std::process::abort();
    }
}

fn room(client: &Client, id: &OwnedRoomId) -> Option<Room> {
    client.get_room(id)
}

/// The transaction id of the `n`th event that row `row` (e.g. `log-17`) becomes in `room`:
/// the same after a restart, so a repeated send is answered with the first event.
fn txn_id(row: &str, room: &RoomId, n: usize) -> OwnedTransactionId {
    let room: String = room
        .as_str()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    OwnedTransactionId::from(format!("rathaus.{row}.{room}.{n}"))
}

/// Sends `content` under a transaction id derived from the row; the event it became.
async fn send(
    room: &Room,
    content: RoomMessageEventContent,
    row: &str,
    n: usize,
) -> Result<OwnedEventId, Error> {
    let txn = txn_id(row, room.room_id(), n);
    Ok(room
        .send(content)
        .with_transaction_id(txn)
        .await?
        .response
        .event_id)
}

/// Redacts `event` in `room` (idempotent: a repeated redaction is harmless). A failure is
/// logged: the bot may lack the power level, which must not stop the relay.
async fn redact(room: &Room, event: &str, reason: &str, row: &str, n: usize) {
    let Ok(event_id) = <&EventId>::try_from(event) else {
        return;
    };
    let txn = txn_id(&format!("{row}.redact"), room.room_id(), n);
    if let Err(e) = room.redact(event_id, Some(reason), Some(txn)).await {
        tracing::warn!(error = %e, room = %room.room_id(), "redacting failed (the bot may lack the power level)");
    }
}

/// `content` as a post in the thread of `root`: a reply to `answered` if given, mentioning
/// `mention` if given.
fn in_thread(
    mut content: RoomMessageEventContent,
    root: OwnedEventId,
    answered: Option<OwnedEventId>,
    mention: Option<OwnedUserId>,
) -> RoomMessageEventContent {
    if let Some(user) = mention {
        content = content.add_mentions(Mentions::with_user_ids([user]));
    }
    content.relates_to = Some(Relation::Thread(match answered {
        Some(event) => Thread::reply(root, event),
        None => Thread::plain(root.clone(), root),
    }));
    content
}

/// Whom a thread post answers: a message (`m.in_reply_to`) and a person to mention.
#[derive(Debug, Clone, Default)]
struct ReplyTo {
    /// Per room: the event answered.
    event: Option<(OwnedRoomId, OwnedEventId)>,
    mention: Option<OwnedUserId>,
}

/// Posts into the thread of announcement `announcement` in every public room; row `row`
/// names the transaction ids.
async fn into_threads(
    client: &Client,
    ctx: &BotCtx,
    announcement: i64,
    (plain, html): (&str, &str),
    target: RelayTarget,
    row: &str,
    reply_to: &ReplyTo,
) -> Result<Vec<Relayed>, Error> {
    let mut sent = Vec::new();
    for room_id in &ctx.rooms.public {
        let Some(root) =
            bot_state::announcement_event(&ctx.app, announcement, room_id.as_str()).await?
        else {
            tracing::warn!(announcement, room = %room_id, "the announcement was not relayed to this room; nothing to reply to");
            continue;
        };
        let (Some(room), Ok(root)) = (room(client, room_id), OwnedEventId::try_from(root)) else {
            continue;
        };
        let answered = reply_to
            .event
            .as_ref()
            .filter(|(room, _)| room == room_id)
            .map(|(_, event)| event.clone());
        let content = in_thread(
            RoomMessageEventContent::text_html(plain, html),
            root,
            answered,
            reply_to.mention.clone(),
        );
        let event = send(&room, content, row, 0).await?;
        sent.push((room_id.to_string(), event.to_string(), target));
    }
    Ok(sent)
}
