//! ✅ or ❌ by a moderator on a notice about a held comment approves or rejects it.

use matrix_sdk::event_handler::Ctx;
use matrix_sdk::room::Room;
use matrix_sdk::ruma::events::reaction::OriginalSyncReactionEvent;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use rathaus_shared::services::comments::{self, ModAction};
use rathaus_shared::services::matrix as bot_state;

use super::claim;
use crate::commands::Role;
use crate::rooms::{BotCtx, roles_of};
use crate::{Error, replies};

/// The decision a reaction stands for, if any.
fn decision(key: &str) -> Option<ModAction> {
    match key.trim_end_matches('\u{fe0f}') {
        "✅" | "✔" | "👍" => Some(ModAction::Approve),
        "❌" | "👎" => Some(ModAction::Reject),
        _ => None,
    }
}

pub async fn on_reaction(ev: OriginalSyncReactionEvent, room: Room, ctx: Ctx<BotCtx>) {
    let ctx = ctx.0;
    if ev.sender == ctx.me || !ctx.rooms.is_moderation(room.room_id()) {
        return;
    }
    let Some(action) = decision(&ev.content.relates_to.key) else {
        return;
    };
    match decide(&ctx, &room, &ev, action).await {
        Ok(Some(text)) => {
            if let Err(e) = room.send(RoomMessageEventContent::notice_plain(text)).await {
                tracing::error!(error = %e, "answering a reaction failed");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "handling a reaction failed"),
    }
}

async fn decide(
    ctx: &BotCtx,
    room: &Room,
    ev: &OriginalSyncReactionEvent,
    action: ModAction,
) -> Result<Option<String>, Error> {
    let notice = ev.content.relates_to.event_id.as_str();
    let Some(comment) = bot_state::notice_comment(&ctx.app, notice).await? else {
        return Ok(None);
    };
    if !claim(ctx, room, ev.event_id.as_str()).await? {
        return Ok(None);
    }
    if !roles_of(ctx, room, &ev.sender)
        .await
        .contains(&Role::Moderator)
    {
        return Ok(Some(replies::ONLY_MODERATORS.to_owned()));
    }
    Ok(Some(
        match comments::moderate(&ctx.app, comment, action, ev.sender.as_str(), None).await {
            Ok(c) => replies::decided_by_reaction(c.id, c.status, ev.sender.as_str()),
            Err(e) => replies::failed(replies::Lang::De, &e.to_string()),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_that_decide() {
        assert_eq!(decision("✅"), Some(ModAction::Approve));
        assert_eq!(decision("✔\u{fe0f}"), Some(ModAction::Approve));
        assert_eq!(decision("👎"), Some(ModAction::Reject));
        assert_eq!(decision("🎉"), None);
    }
}
