//! Room messages: commands in the press and moderation rooms, citizens' thread replies (and
//! their edits) in the public rooms.

use chrono::{TimeZone, Utc};
use matrix_sdk::event_handler::Ctx;
use matrix_sdk::room::Room;
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, Relation,
};
use rathaus_shared::domain::Network;
use rathaus_shared::services::bridge;
use rathaus_shared::services::comments::{self, Submission};
use rathaus_shared::services::content::Warning;
use rathaus_shared::services::matrix as bot_state;

use super::{claim, reply};
use crate::commands::{self, Role};
use crate::rooms::{BotCtx, roles_of};
use crate::{Error, execute, replies};

pub async fn on_message(ev: OriginalSyncRoomMessageEvent, room: Room, ctx: Ctx<BotCtx>) {
    let ctx = ctx.0;
    tracing::debug!(event = %ev.event_id, "matrix message");
    if ev.sender == ctx.me {
        return;
    }
    // Edits are never new commands; an edited comment is evaluated again.
    if let Some(Relation::Replacement(replacement)) = &ev.content.relates_to {
        if ctx.rooms.is_public(room.room_id())
            && let MessageType::Text(text) = &replacement.new_content.msgtype
        {
            match comments::edit_comment(
                &ctx.app,
                ctx.app.store.db(),
                replacement.event_id.as_str(),
                ev.sender.as_str(),
                &text.body,
                &Warning::default(),
            )
            .await
            {
                Ok(Some(c)) => tracing::info!(comment = c.id, "comment edited"),
                Ok(None) => tracing::debug!("an edit of a message that is no comment"),
                Err(e) => tracing::warn!(error = %e, "applying an edit to a comment failed"),
            }
        }
        return;
    }
    let MessageType::Text(text) = &ev.content.msgtype else {
        return;
    };
    let room_id = room.room_id();
    let origin_ms = i64::from(ev.origin_server_ts.get());
    if bot_state::before_join(&ctx.app, room_id.as_str(), origin_ms)
        .await
        .unwrap_or(false)
    {
        return;
    }
    let staff_room = ctx.rooms.is_press(room_id) || ctx.rooms.is_moderation(room_id);
    let result = if staff_room && text.body.trim_start().starts_with('!') {
        on_command(&ctx, &room, &ev, &text.body).await
    } else if ctx.rooms.is_public(room_id)
        && let Some(out) = replies::bridge_choice(&text.body)
    {
        on_bridge_choice(&ctx, &room, &ev, out).await
    } else if ctx.rooms.is_public(room_id) {
        on_citizen_message(&ctx, &room, &ev, &text.body).await
    } else {
        Ok(())
    };
    if let Err(e) = result {
        tracing::error!(error = %e, room = %room_id, "handling a matrix message failed");
    }
}

async fn on_command(
    ctx: &BotCtx,
    room: &Room,
    ev: &OriginalSyncRoomMessageEvent,
    body: &str,
) -> Result<(), Error> {
    // Claimed before acting: a crash after this point loses at most this one command, and a
    // redelivered event is never executed twice.
    if !claim(ctx, room, ev.event_id.as_str()).await? {
        return Ok(());
    }
    let lang = commands::language(body);
    let answer = match commands::parse(body) {
        Ok(None) => return Ok(()),
        Err(e) => e.message,
        Ok(Some(command)) => {
            let needed = command.role();
            let right_room = match needed {
                Role::Everyone => true,
                Role::PressOffice => ctx.rooms.is_press(room.room_id()),
                Role::Moderator => ctx.rooms.is_moderation(room.room_id()),
            };
            let roles = roles_of(ctx, room, &ev.sender).await;
            if !right_room {
                replies::wrong_room(lang).to_owned()
            } else if needed != Role::Everyone && !roles.contains(&needed) {
                tracing::info!(command = ?needed, "command refused: missing role");
                replies::not_allowed(lang).to_owned()
            } else {
                match execute::execute(&ctx.app, room, ev.sender.as_str(), command, &roles, lang)
                    .await
                {
                    Ok(text) => text,
                    Err(Error::Shared(
                        rathaus_shared::Error::Invalid(m) | rathaus_shared::Error::NotFound(m),
                    )) => replies::failed(lang, &m),
                    Err(other) => {
                        tracing::error!(error = %other, "command failed");
                        replies::internal_error(lang).to_owned()
                    }
                }
            }
        }
    };
    reply(room, ev, &answer).await
}

/// A citizen's reply (in a thread, or a rich reply) to a relayed announcement is a comment:
/// a reply to a comment in the thread answers that comment, a reply to the bot's notice about
/// the citizen's own comment is an appeal. A top-level message gets a hint how to take part.
async fn on_citizen_message(
    ctx: &BotCtx,
    room: &Room,
    ev: &OriginalSyncRoomMessageEvent,
    body: &str,
) -> Result<(), Error> {
    let (root, answered) = match &ev.content.relates_to {
        Some(Relation::Thread(thread)) => (
            thread.event_id.clone(),
            thread
                .in_reply_to
                .as_ref()
                .filter(|_| !thread.is_falling_back)
                .map(|r| r.event_id.clone()),
        ),
        Some(Relation::Reply(reply)) => (reply.in_reply_to.event_id.clone(), None),
        _ => return hint_once(ctx, room, ev).await,
    };
    let Some(announcement) =
        bot_state::announcement_of_event(&ctx.app, room.room_id().as_str(), root.as_str()).await?
    else {
        return Ok(());
    };
    let in_reply_to = match answered {
        Some(event) => bot_state::reply_target(&ctx.app, event.as_str())
            .await?
            .unwrap_or_else(|| ctx.app.urls().announcement(announcement)),
        None => ctx.app.urls().announcement(announcement),
    };
    if !claim(ctx, room, ev.event_id.as_str()).await? {
        return Ok(());
    }
    let name = room
        .get_member_no_sync(&ev.sender)
        .await
        .ok()
        .flatten()
        .and_then(|m| m.display_name().map(str::to_owned));
    let created = Utc
        .timestamp_millis_opt(i64::from(ev.origin_server_ts.get()))
        .single()
        .unwrap_or_else(|| ctx.app.now());
    let submitted = comments::submit_comment(
        &ctx.app,
        ctx.app.store.db(),
        Submission {
            network: Network::Matrix,
            origin_id: ev.event_id.to_string(),
            origin_url: Some(format!(
                "https://matrix.to/#/{}/{}",
                room.room_id(),
                ev.event_id
            )),
            in_reply_to,
            author_id: ev.sender.to_string(),
            author_name: name,
            author_domain: ev.sender.server_name().to_string(),
            content_html: body.to_owned(),
            // Matrix messages do not declare their language, nor a content warning.
            language: None,
            warning: Warning::default(),
            created_at: created,
            received_at: ctx.app.now(),
            // Public rooms only: every message there is public.
            public: true,
            privileged: ctx.is_staff(&ev.sender),
        },
    )
    .await;
    match submitted {
        // What became of it (held, refused, late) the citizen hears from the relay, which
        // follows the moderation log: once, also after a crash.
        Ok(_) => Ok(()),
        // Refused (e.g. nothing to read): the citizen is told why; nothing was stored.
        Err(rathaus_shared::Error::Invalid(reason)) => {
            reply(room, ev, &replies::comment_refused(&reason)).await
        }
        Err(other) => Err(other.into()),
    }
}

/// `!fediverse aus|an` in a public room: whether the citizen's comments are bridged into the
/// fediverse (`None`: not understood, they are told how to write it).
async fn on_bridge_choice(
    ctx: &BotCtx,
    room: &Room,
    ev: &OriginalSyncRoomMessageEvent,
    out: Option<bool>,
) -> Result<(), Error> {
    if !claim(ctx, room, ev.event_id.as_str()).await? {
        return Ok(());
    }
    let answer = match out {
        Some(out) => {
            bridge::opt_out(&ctx.app, ev.sender.as_str(), out).await?;
            replies::bridge_changed(out)
        }
        None => replies::BRIDGE_USAGE.to_owned(),
    };
    reply(room, ev, &answer).await
}

/// A top-level message in a public room: a short hint how to take part, at most once per
/// person and day (remembered in memory only: no record of who wrote when).
async fn hint_once(
    ctx: &BotCtx,
    room: &Room,
    ev: &OriginalSyncRoomMessageEvent,
) -> Result<(), Error> {
    if ctx.is_staff(&ev.sender) || !ctx.hints.first_today(ev.sender.as_str(), ctx.app.now()) {
        return Ok(());
    }
    if !claim(ctx, room, ev.event_id.as_str()).await? {
        return Ok(());
    }
    reply(room, ev, replies::HOW_TO_TAKE_PART).await
}
