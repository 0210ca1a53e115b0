//! Invitations from press officers and moderators are accepted; others are declined.

use matrix_sdk::event_handler::Ctx;
use matrix_sdk::room::Room;
use matrix_sdk::ruma::events::room::member::{MembershipState, StrippedRoomMemberEvent};
use rathaus_shared::services::matrix as bot_state;

use crate::rooms::BotCtx;

pub async fn on_invite(ev: StrippedRoomMemberEvent, room: Room, ctx: Ctx<BotCtx>) {
    let ctx = ctx.0;
    if ev.state_key != ctx.me || ev.content.membership != MembershipState::Invite {
        return;
    }
    let allowed = ctx.is_staff(&ev.sender);
    let result = if allowed {
        let joined = room.join().await;
        if joined.is_ok()
            && let Err(e) = bot_state::remember_join(&ctx.app, room.room_id().as_str()).await
        {
            tracing::warn!(error = %e, "remembering a join failed");
        }
        joined
    } else {
        room.leave().await
    };
    match result {
        Ok(()) => tracing::info!(room = %room.room_id(), accepted = allowed, "invitation handled"),
        Err(e) => tracing::warn!(error = %e, "handling an invitation failed"),
    }
}
