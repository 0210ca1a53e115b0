//! What flows from the store into Matrix: new announcements into the public rooms
//! (`announcements`), and the moderation log (`log`): notices about held comments, published
//! fediverse comments and official answers into the threads, redactions of hidden ones.
//!
//! Each follows its table with a cursor. The events a row was relayed as and the cursor past
//! the row are stored in one transaction, and a cursor that cannot be read stops the bot
//! instead of replaying the whole table into the rooms.

mod announcements;
mod log;

use std::time::Duration;

use matrix_sdk::Client;
use matrix_sdk::room::Room;
use matrix_sdk::ruma::events::relation::Thread;
use matrix_sdk::ruma::events::room::message::{Relation, RoomMessageEventContent};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId};
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
    Ok(Relays(vec![
        tokio::spawn(announcements::follow(
            client.clone(),
            ctx.clone(),
            announced,
            shutdown.clone(),
        )),
        tokio::spawn(log::follow(
            client.clone(),
            ctx.clone(),
            logged,
            shutdown.clone(),
        )),
    ]))
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
    if let Err(e) = bot_state::relayed(&ctx.app, cursor, row, events).await {
        tracing::error!(error = %e, row, "recording a relay failed");
    }
}

fn room(client: &Client, id: &OwnedRoomId) -> Option<Room> {
    client.get_room(id)
}

/// Posts into the thread of announcement `announcement` in every public room.
async fn into_threads(
    client: &Client,
    ctx: &BotCtx,
    announcement: i64,
    plain: &str,
    html: &str,
    target: RelayTarget,
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
        let mut content = RoomMessageEventContent::text_html(plain, html);
        content.relates_to = Some(Relation::Thread(Thread::plain(root.clone(), root)));
        let response = room.send(content).await?;
        sent.push((
            room_id.to_string(),
            response.response.event_id.to_string(),
            target,
        ));
    }
    Ok(sent)
}
