//! New announcements, from the bot or the CLI, go into every public room; the posted event
//! becomes the thread root that citizens reply to.

use matrix_sdk::Client;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use rathaus_shared::services::matrix::{self as bot_state, RelayAnnouncement};
use rathaus_shared::store::relay::RelayTarget;
use rathaus_shared::store::state::Cursor;
use tokio::sync::watch;

use super::{Relayed, done, pause, room, send};
use crate::replies;
use crate::rooms::BotCtx;

pub async fn follow(
    client: Client,
    ctx: BotCtx,
    mut cursor: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match bot_state::announcements_after(&ctx.app, cursor).await {
            Ok(rows) => {
                for a in rows {
                    let events = if a.retracted {
                        Vec::new()
                    } else {
                        post(&client, &ctx, &a).await
                    };
                    done(&ctx, Cursor::MatrixAnnouncements, a.id, &events).await;
                    cursor = a.id;
                }
            }
            Err(e) => tracing::error!(error = %e, "reading new announcements failed"),
        }
        if !pause(&mut shutdown).await {
            return;
        }
    }
}

/// Posts one announcement into every public room; the events it became.
async fn post(client: &Client, ctx: &BotCtx, a: &RelayAnnouncement) -> Vec<Relayed> {
    let url = ctx.app.urls().announcement(a.id);
    let (plain, html) = replies::announcement(a, url.as_str(), ctx.app.config.site.time_zone);
    let mut sent = Vec::new();
    for room_id in &ctx.rooms.public {
        let Some(room) = room(client, room_id) else {
            continue;
        };
        let content = RoomMessageEventContent::text_html(plain.clone(), html.clone());
        match send(&room, content, &format!("announcement-{}", a.id), 0).await {
            Ok(event) => sent.push((
                room_id.to_string(),
                event.to_string(),
                RelayTarget::Announcement(a.id),
            )),
            Err(e) => {
                tracing::error!(error = %e, room = %room_id, "relaying an announcement failed")
            }
        }
    }
    sent
}
