//! New announcements, from the bot or the CLI, go into every public room; the posted event
//! becomes the thread root that citizens reply to.

use matrix_sdk::Client;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use rathaus_shared::services::matrix::{self as bot_state, RelayAnnouncement};
use rathaus_shared::store::relay::RelayTarget;
use rathaus_shared::store::state::Cursor;

use super::{Follower, Relayed, SharedError, room, send};
use crate::rooms::BotCtx;
use crate::{Error, replies};

/// New announcements, oldest first.
pub struct Announcements;

impl Follower for Announcements {
    type Row = RelayAnnouncement;
    const CURSOR: Cursor = Cursor::MatrixAnnouncements;
    const WHAT: &'static str = "announcement";

    async fn rows(ctx: &BotCtx, after: i64) -> Result<Vec<RelayAnnouncement>, SharedError> {
        bot_state::announcements_after(&ctx.app, after).await
    }

    fn id(a: &RelayAnnouncement) -> i64 {
        a.id
    }

    async fn relay(
        client: &Client,
        ctx: &BotCtx,
        a: &RelayAnnouncement,
    ) -> Result<Vec<Relayed>, Error> {
        // Retracted before it was relayed: nothing to post.
        if a.retracted {
            return Ok(Vec::new());
        }
        Ok(post(client, ctx, a).await)
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
