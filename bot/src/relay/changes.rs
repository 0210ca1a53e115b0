//! Changes of announcements into Matrix: a correction, an early close or a result edits the
//! relayed message (`m.replace`); a close and a result are also posted into its thread; a
//! retraction redacts the message and everything the bot posted in its thread.

use matrix_sdk::Client;
use matrix_sdk::ruma::OwnedEventId;
use matrix_sdk::ruma::events::relation::Thread;
use matrix_sdk::ruma::events::room::message::{
    Relation, ReplacementMetadata, RoomMessageEventContent,
};
use rathaus_shared::domain::ChangeKind;
use rathaus_shared::services::matrix::{self as bot_state, AnnouncementChange};
use rathaus_shared::store::relay::RelayTarget;
use rathaus_shared::store::state::Cursor;
use tokio::sync::watch;

use super::{Relayed, done, pause, redact, room, send};
use crate::rooms::BotCtx;
use crate::{Error, replies};

pub async fn follow(
    client: Client,
    ctx: BotCtx,
    mut cursor: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match bot_state::changes_after(&ctx.app, cursor).await {
            Ok(changes) => {
                for change in changes {
                    let events = mirror(&client, &ctx, &change).await.unwrap_or_else(|e| {
                        tracing::error!(error = %e, change = change.id, "mirroring an announcement change failed");
                        Vec::new()
                    });
                    done(&ctx, Cursor::MatrixChanges, change.id, &events).await;
                    cursor = change.id;
                }
            }
            Err(e) => tracing::error!(error = %e, "reading announcement changes failed"),
        }
        if !pause(&mut shutdown).await {
            return;
        }
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
            let mut content = RoomMessageEventContent::text_html(plain, html);
            content.relates_to = Some(Relation::Thread(Thread::plain(root.clone(), root)));
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
