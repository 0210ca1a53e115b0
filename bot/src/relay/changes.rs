//! Changes of announcements into Matrix: a correction, an early close or a result edits the
//! relayed message (`m.replace`); a close and a result are also posted into its thread; a
//! retraction redacts the message and everything the bot posted in its thread.

use matrix_sdk::Client;
use matrix_sdk::ruma::OwnedEventId;
use matrix_sdk::ruma::events::room::message::{ReplacementMetadata, RoomMessageEventContent};
use rathaus_shared::domain::ChangeKind;
use rathaus_shared::services::matrix::{self as bot_state, AnnouncementChange};
use rathaus_shared::store::relay::RelayTarget;
use rathaus_shared::store::state::Cursor;

use super::{Follower, Relayed, SharedError, in_thread, redact, room, send};
use crate::rooms::BotCtx;
use crate::{Error, replies};

/// Changes of announcements, oldest first.
pub struct Changes;

impl Follower for Changes {
    type Row = AnnouncementChange;
    const CURSOR: Cursor = Cursor::MatrixChanges;
    const WHAT: &'static str = "announcement change";

    async fn rows(ctx: &BotCtx, after: i64) -> Result<Vec<AnnouncementChange>, SharedError> {
        bot_state::changes_after(&ctx.app, after).await
    }

    fn id(change: &AnnouncementChange) -> i64 {
        change.id
    }

    async fn relay(
        client: &Client,
        ctx: &BotCtx,
        change: &AnnouncementChange,
    ) -> Result<Vec<Relayed>, Error> {
        mirror(client, ctx, change).await
    }
}

/// Mirrors one change into every public room the announcement was relayed to.
async fn mirror(
    client: &Client,
    ctx: &BotCtx,
    change: &AnnouncementChange,
) -> Result<Vec<Relayed>, Error> {
    let a = &change.announcement;
    let tz = ctx.app.config.site.time_zone;
    let url = ctx.app.urls().announcement(a.id);
    let row = format!("change-{}", change.id);
    let mut sent = Vec::new();
    for room_id in &ctx.rooms.public {
        let Some(root) = bot_state::announcement_event(&ctx.app, a.id, room_id.as_str()).await?
        else {
            continue;
        };
        let (Some(room), Ok(root)) = (room(client, room_id), OwnedEventId::try_from(root)) else {
            continue;
        };
        if change.kind == ChangeKind::Retracted || a.retracted {
            let reason = "Zurückgezogen / retracted";
            let thread = bot_state::thread_events(&ctx.app, a.id, room_id.as_str()).await?;
            for (n, event) in thread.iter().enumerate() {
                redact(&room, event, reason, &row, n + 1).await;
            }
            redact(&room, root.as_str(), reason, &row, 0).await;
            continue;
        }
        // The relayed message shows the announcement as it is now.
        let (plain, html) = replies::announcement(a, url.as_str(), tz);
        let edit = RoomMessageEventContent::text_html(plain, html)
            .make_replacement(ReplacementMetadata::new(root.clone(), None));
        send(&room, edit, &row, 0).await?;
        let post = match change.kind {
            ChangeKind::Closed => a.closed_at.map(|at| replies::closed_early(at, tz)),
            ChangeKind::Result => a
                .result_html
                .as_deref()
                .map(|r| replies::result_post(r, url.as_str())),
            _ => None,
        };
        if let Some((plain, html)) = post {
            let content = in_thread(
                RoomMessageEventContent::text_html(plain, html),
                root,
                None,
                None,
            );
            let event = send(&room, content, &row, 1).await?;
            sent.push((
                room_id.to_string(),
                event.to_string(),
                RelayTarget::ThreadPost(a.id),
            ));
        }
    }
    Ok(sent)
}
