//! The moderation log into Matrix: a notice in the moderation room for each held comment,
//! published fediverse comments and official answers into the announcement's thread, and
//! redactions of relayed copies when a comment is hidden or deleted.

use matrix_sdk::Client;
use matrix_sdk::ruma::EventId;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use rathaus_shared::domain::{ActionKind, CommentStatus, Network};
use rathaus_shared::services::matrix::{self as bot_state, LogStep, ModerationComment};
use rathaus_shared::store::relay::RelayTarget;
use rathaus_shared::store::state::Cursor;
use tokio::sync::watch;

use super::{Relayed, done, into_threads, pause, room};
use crate::rooms::BotCtx;
use crate::{Error, replies};

pub async fn follow(
    client: Client,
    ctx: BotCtx,
    mut cursor: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match bot_state::log_after(&ctx.app, cursor).await {
            Ok(steps) => {
                for step in steps {
                    // A step that cannot be relayed is logged and skipped: retrying it forever
                    // would hold up every later one.
                    let events = on_step(&client, &ctx, &step).await.unwrap_or_else(|e| {
                        tracing::error!(error = %e, entry = step.id, "relaying a moderation step failed");
                        Vec::new()
                    });
                    done(&ctx, Cursor::MatrixLog, step.id, &events).await;
                    cursor = step.id;
                }
            }
            Err(e) => tracing::error!(error = %e, "reading the moderation log failed"),
        }
        if !pause(&mut shutdown).await {
            return;
        }
    }
}

async fn on_step(client: &Client, ctx: &BotCtx, step: &LogStep) -> Result<Vec<Relayed>, Error> {
    let Some(comment_id) = step.comment_id else {
        return Ok(Vec::new());
    };
    let Some(c) = bot_state::comment(&ctx.app, comment_id).await? else {
        return Ok(Vec::new());
    };
    match step.action {
        ActionKind::AutoHold | ActionKind::PrivateReply => {
            let Some(room) = ctx
                .rooms
                .moderation
                .as_ref()
                .and_then(|id| room(client, id))
            else {
                return Ok(Vec::new());
            };
            let text = if step.action == ActionKind::PrivateReply {
                replies::private_notice(&c)
            } else {
                replies::held_notice(&c)
            };
            let sent = room
                .send(RoomMessageEventContent::notice_plain(text))
                .await?;
            Ok(vec![(
                room.room_id().to_string(),
                sent.response.event_id.to_string(),
                RelayTarget::Notice(c.comment.id),
            )])
        }
        ActionKind::AutoPublish | ActionKind::Approve
            if c.comment.network == Network::Fediverse
                && c.comment.status == CommentStatus::Published =>
        {
            let (plain, html) = replies::relayed_comment(&c);
            into_threads(
                client,
                ctx,
                c.comment.announcement_id,
                &plain,
                &html,
                RelayTarget::Comment(c.comment.id),
            )
            .await
        }
        ActionKind::OfficialAnswer => {
            let Some(answer) = bot_state::latest_answer(&ctx.app, c.comment.id).await? else {
                return Ok(Vec::new());
            };
            let (plain, html) = replies::relayed_answer(&c, &answer);
            let target = RelayTarget::Answer {
                answer: answer.id,
                comment: c.comment.id,
            };
            into_threads(
                client,
                ctx,
                c.comment.announcement_id,
                &plain,
                &html,
                target,
            )
            .await
        }
        ActionKind::Edit
        | ActionKind::EditPending
        | ActionKind::EditPublished
        | ActionKind::EditRejected => {
            if step.action == ActionKind::EditPending {
                // Held again after the edit: its copies leave the public rooms.
                remove_copies(client, ctx, &c, false).await?;
            }
            let Some(room) = ctx
                .rooms
                .moderation
                .as_ref()
                .and_then(|id| room(client, id))
            else {
                return Ok(Vec::new());
            };
            let before = bot_state::previous_text(&ctx.app, c.comment.id).await?;
            let sent = room
                .send(RoomMessageEventContent::notice_plain(replies::edit_notice(
                    &c,
                    before.as_deref(),
                )))
                .await?;
            Ok(vec![(
                room.room_id().to_string(),
                sent.response.event_id.to_string(),
                RelayTarget::Notice(c.comment.id),
            )])
        }
        ActionKind::Erasure => {
            erase_events(client, ctx, &c).await;
            Ok(Vec::new())
        }
        ActionKind::Hide | ActionKind::AuthorDelete => {
            remove_copies(client, ctx, &c, step.action == ActionKind::Hide).await?;
            Ok(Vec::new())
        }
        _ => Ok(Vec::new()),
    }
}

/// After an erasure: redacts everything the bot posted about the comment (copies, answers,
/// moderation-room notices) and a Matrix comment's own message in the public rooms.
async fn erase_events(client: &Client, ctx: &BotCtx, c: &ModerationComment) {
    let mut events = match bot_state::events_about_comment(&ctx.app, c.comment.id).await {
        Ok(events) => events,
        Err(e) => {
            tracing::error!(error = %e, comment = c.comment.id, "events to erase not readable");
            Vec::new()
        }
    };
    // The comment's own Matrix message: its origin id is a hash now, so it is found through
    // the relay rows only if the bot recorded it; the public rooms are tried by event id.
    if c.comment.network == Network::Matrix && c.comment.origin_id.starts_with('$') {
        for room_id in &ctx.rooms.public {
            events.push((room_id.to_string(), c.comment.origin_id.clone()));
        }
    }
    for (room_id, event) in events {
        let room_id = if room_id.is_empty() {
            match &ctx.rooms.moderation {
                Some(id) => id.to_string(),
                None => continue,
            }
        } else {
            room_id
        };
        let Ok(room_id) = <&matrix_sdk::ruma::RoomId>::try_from(room_id.as_str()) else {
            continue;
        };
        let Some(room) = client.get_room(room_id) else {
            continue;
        };
        if let Ok(event_id) = <&EventId>::try_from(event.as_str())
            && let Err(e) = room
                .redact(event_id, Some("Daten gelöscht / data erased"), None)
                .await
        {
            tracing::warn!(error = %e, "redacting after an erasure failed (the bot may lack the power level)");
        }
    }
}

/// Redacts a comment's relayed copies from the public rooms, and with `own` a Matrix
/// comment's own message too.
async fn remove_copies(
    client: &Client,
    ctx: &BotCtx,
    c: &ModerationComment,
    own: bool,
) -> Result<(), Error> {
    for room_id in &ctx.rooms.public {
        let Some(room) = room(client, room_id) else {
            continue;
        };
        let relayed = bot_state::comment_events(&ctx.app, c.comment.id, room_id.as_str()).await?;
        // A hidden Matrix comment is the citizen's own message in the room.
        let own =
            (c.comment.network == Network::Matrix && own).then(|| c.comment.origin_id.clone());
        for event in relayed.into_iter().chain(own) {
            if let Ok(event_id) = <&EventId>::try_from(event.as_str())
                && let Err(e) = room.redact(event_id, Some("Moderation"), None).await
            {
                tracing::warn!(error = %e, "removing a relayed comment failed (the bot may lack the power level)");
            }
        }
    }
    Ok(())
}
