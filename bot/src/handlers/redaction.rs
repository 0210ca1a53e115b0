//! A redaction in a public room: by the author it erases the comment; by anyone else (a room
//! moderator) it hides it.

use matrix_sdk::event_handler::Ctx;
use matrix_sdk::room::Room;
use matrix_sdk::ruma::events::room::redaction::OriginalSyncRoomRedactionEvent;
use rathaus_shared::services::comments::{self, ModAction};
use rathaus_shared::services::matrix as bot_state;

use crate::rooms::BotCtx;

pub async fn on_redaction(ev: OriginalSyncRoomRedactionEvent, room: Room, ctx: Ctx<BotCtx>) {
    let ctx = ctx.0;
    if ev.sender == ctx.me || !ctx.rooms.is_public(room.room_id()) {
        return;
    }
    let Some(target) = ev.redacts.clone().or_else(|| ev.content.redacts.clone()) else {
        return;
    };
    let Ok(Some((comment, own))) =
        bot_state::comment_of_event(&ctx.app, target.as_str(), ev.sender.as_str()).await
    else {
        return;
    };
    let result = if own {
        comments::delete_comment(
            &ctx.app,
            ctx.app.store.db(),
            target.as_str(),
            ev.sender.as_str(),
        )
        .await
        .map(|_| ())
    } else {
        comments::moderate(
            &ctx.app,
            comment,
            ModAction::Hide,
            ev.sender.as_str(),
            Some("in Matrix entfernt / redacted in Matrix".into()),
        )
        .await
        .map(|_| ())
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, comment, "applying a redaction failed");
    }
}
