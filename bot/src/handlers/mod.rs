//! One module per kind of Matrix event the bot handles. Every handled event is claimed in the
//! Rathaus store first (`services::matrix::claim_event`): the SDK saves its sync token before
//! handlers run, so a redelivered event must be a no-op and a command runs at most once.

mod invite;
mod message;
mod reaction;
mod redaction;

use matrix_sdk::Client;
use matrix_sdk::room::Room;
use matrix_sdk::ruma::events::room::message::{
    AddMentions, ForwardThread, OriginalSyncRoomMessageEvent, Relation, ReplyWithinThread,
    RoomMessageEventContent,
};
use rathaus_shared::services::matrix as bot_state;

use crate::Error;
use crate::rooms::BotCtx;

/// Registers the handlers with their shared context.
pub fn register(client: &Client, ctx: BotCtx) {
    client.add_event_handler_context(ctx);
    client.add_event_handler(message::on_message);
    client.add_event_handler(reaction::on_reaction);
    client.add_event_handler(redaction::on_redaction);
    client.add_event_handler(invite::on_invite);
}

/// Claims an event for handling; false if it was handled before.
async fn claim(ctx: &BotCtx, room: &Room, event_id: &str) -> Result<bool, Error> {
    Ok(bot_state::claim_event(&ctx.app, room.room_id().as_str(), event_id).await?)
}

/// Answers a message with a notice: in its thread if it is in one, else as a rich reply.
async fn reply(
    room: &Room,
    ev: &OriginalSyncRoomMessageEvent,
    markdown: &str,
) -> Result<(), Error> {
    let html = rathaus_shared::markdown::to_html(markdown);
    let content = RoomMessageEventContent::notice_html(markdown, html);
    let content = if matches!(ev.content.relates_to, Some(Relation::Thread(_))) {
        content.make_for_thread(ev, ReplyWithinThread::Yes, AddMentions::Yes)
    } else {
        content.make_reply_to(ev, ForwardThread::No, AddMentions::Yes)
    };
    room.send(content).await?;
    Ok(())
}
