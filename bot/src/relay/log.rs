//! The moderation log into Matrix: a notice in the moderation room for each held comment,
//! published fediverse comments and official answers into the announcement's thread,
//! redactions of relayed copies when a comment is hidden or deleted, and for comments written
//! on Matrix every decision told to their author in their thread. A held or refused Matrix
//! comment leaves the public room (the bot redacts it after the store kept its text); once a
//! moderator publishes it, the bot posts it into the thread as a quote.

use matrix_sdk::Client;
use matrix_sdk::room::Room;
use matrix_sdk::ruma::events::room::message::{ReplacementMetadata, RoomMessageEventContent};
use matrix_sdk::ruma::{EventId, OwnedEventId, OwnedRoomId, OwnedUserId};
use rathaus_shared::domain::{ActionKind, CommentStatus, Network};
use rathaus_shared::services::matrix::{self as bot_state, LogStep, ModerationComment};
use rathaus_shared::store::relay::RelayTarget;
use rathaus_shared::store::state::Cursor;

use super::{Follower, Relayed, ReplyTo, SharedError, in_thread, into_threads, redact, room, send};
use crate::replies::AuthorNotice;
use crate::rooms::BotCtx;
use crate::{Error, replies};

/// Transaction-id slots of the events one log step can become in one room.
const SLOT_NOTICE: usize = 1;
const SLOT_LATE: usize = 2;
const SLOT_EDIT: usize = 10;

/// The moderation log, oldest first.
pub struct Log;

impl Follower for Log {
    type Row = LogStep;
    const CURSOR: Cursor = Cursor::MatrixLog;
    const WHAT: &'static str = "moderation step";

    async fn rows(ctx: &BotCtx, after: i64) -> Result<Vec<LogStep>, SharedError> {
        bot_state::log_after(&ctx.app, after).await
    }

    fn id(step: &LogStep) -> i64 {
        step.id
    }

    async fn relay(client: &Client, ctx: &BotCtx, step: &LogStep) -> Result<Vec<Relayed>, Error> {
        on_step(client, ctx, step).await
    }
}

async fn on_step(client: &Client, ctx: &BotCtx, step: &LogStep) -> Result<Vec<Relayed>, Error> {
    let Some(comment_id) = step.comment_id else {
        return Ok(Vec::new());
    };
    let Some(c) = bot_state::comment(&ctx.app, comment_id).await? else {
        return Ok(Vec::new());
    };
    let row = format!("log-{}", step.id);
    let matrix = c.comment.network == Network::Matrix;
    let published = c.comment.status == CommentStatus::Published;
    let mut sent = Vec::new();
    match step.action {
        ActionKind::PrivateReply => {
            sent.extend(to_moderators(client, ctx, replies::private_notice(&c), &c, &row).await?);
        }
        ActionKind::AutoHold => {
            sent.extend(to_moderators(client, ctx, replies::held_notice(&c), &c, &row).await?);
            if matrix {
                // Held means not public on Matrix either; the store kept the text.
                redact_own(client, &c, "wird geprüft / under review", &row).await;
                // An appeal is itself the author's answer to a notice: no second notice.
                if c.comment.rule_id.as_deref() != Some("appeal") {
                    let reason = c.comment.reason.as_deref();
                    sent.extend(
                        tell_author(client, ctx, &c, AuthorNotice::Held, reason, &row).await?,
                    );
                }
            }
        }
        ActionKind::AutoReject if matrix => {
            redact_own(client, &c, "nicht veröffentlicht / not published", &row).await;
            let reason = c.comment.reason.as_deref();
            sent.extend(tell_author(client, ctx, &c, AuthorNotice::Refused, reason, &row).await?);
        }
        ActionKind::AutoPublish | ActionKind::Approve if published && !matrix => {
            let thread_post = replies::relayed_comment(&c);
            sent.extend(copy_into_threads(client, ctx, &c, thread_post, &row).await?);
        }
        ActionKind::Approve if published => {
            // The author's own message left the room while it was held: the bot posts it.
            let quote = replies::quoted_comment(&c);
            sent.extend(copy_into_threads(client, ctx, &c, quote, &row).await?);
            sent.extend(tell_author(client, ctx, &c, AuthorNotice::Approved, None, &row).await?);
        }
        ActionKind::Reject | ActionKind::Hide => {
            remove_copies(client, ctx, &c, true, &row).await?;
            if matrix {
                let kind = if step.action == ActionKind::Hide {
                    AuthorNotice::Hidden
                } else {
                    AuthorNotice::Rejected
                };
                let reason = step.reason.as_deref();
                sent.extend(tell_author(client, ctx, &c, kind, reason, &row).await?);
            }
        }
        ActionKind::OfficialAnswer => {
            let Some(answer) = bot_state::latest_answer(&ctx.app, c.comment.id).await? else {
                return Ok(Vec::new());
            };
            let target = RelayTarget::Answer {
                answer: answer.id,
                comment: c.comment.id,
            };
            // A reply to the citizen's message (their own, else the copy in the thread) that
            // mentions them, so their client notifies them.
            let reply_to = ReplyTo {
                event: answered_event(ctx, &c).await?,
                mention: matrix
                    .then(|| OwnedUserId::try_from(c.comment.author_id.as_str()).ok())
                    .flatten(),
            };
            let (plain, html) = replies::relayed_answer(&c, &answer);
            sent.extend(
                into_threads(
                    client,
                    ctx,
                    c.comment.announcement_id,
                    (&plain, &html),
                    target,
                    &row,
                    &reply_to,
                )
                .await?,
            );
        }
        ActionKind::Edit
        | ActionKind::EditPending
        | ActionKind::EditPublished
        | ActionKind::EditRejected => {
            if step.action == ActionKind::EditPending {
                // Held again after the edit: its copies and the author's message leave the
                // public rooms until a moderator decides.
                remove_copies(client, ctx, &c, matrix, &row).await?;
                if matrix {
                    let reason = c.comment.reason.as_deref();
                    sent.extend(
                        tell_author(client, ctx, &c, AuthorNotice::Held, reason, &row).await?,
                    );
                }
            } else if published {
                edit_copies(client, ctx, &c, &row).await?;
            }
            let before = bot_state::previous_text(&ctx.app, c.comment.id).await?;
            let text = replies::edit_notice(&c, before.as_deref());
            sent.extend(to_moderators(client, ctx, text, &c, &row).await?);
        }
        ActionKind::Erasure => {
            erase_events(client, ctx, &c).await;
        }
        _ => {}
    }
    if step.action == ActionKind::AuthorDelete {
        remove_copies(client, ctx, &c, false, &row).await?;
    }
    // A Matrix reply after the close is kept but does not count: its author is told.
    if matrix
        && c.comment.late
        && matches!(step.action, ActionKind::AutoPublish | ActionKind::AutoHold)
        && let Some((room, event)) = origin(&c).and_then(|(r, e)| Some((room(client, &r)?, e)))
    {
        let (plain, html) = replies::author_notice(AuthorNotice::Late, None);
        if let Some(ev) =
            notice_in_thread(ctx, &room, &c, &event, (plain, html), &row, SLOT_LATE).await?
        {
            sent.push(ev);
        }
    }
    Ok(sent)
}

/// A notice in the moderation room about comment `c`.
async fn to_moderators(
    client: &Client,
    ctx: &BotCtx,
    text: String,
    c: &ModerationComment,
    row: &str,
) -> Result<Vec<Relayed>, Error> {
    let Some(room) = ctx
        .rooms
        .moderation
        .as_ref()
        .and_then(|id| room(client, id))
    else {
        return Ok(Vec::new());
    };
    let event = send(&room, RoomMessageEventContent::notice_plain(text), row, 0).await?;
    Ok(vec![(
        room.room_id().to_string(),
        event.to_string(),
        RelayTarget::Notice(c.comment.id),
    )])
}

/// Posts a published comment into the thread in every public room, recorded as its copy (so
/// edits, hides and erasures follow it).
async fn copy_into_threads(
    client: &Client,
    ctx: &BotCtx,
    c: &ModerationComment,
    (plain, html): (String, String),
    row: &str,
) -> Result<Vec<Relayed>, Error> {
    into_threads(
        client,
        ctx,
        c.comment.announcement_id,
        (&plain, &html),
        RelayTarget::Comment(c.comment.id),
        row,
        &ReplyTo::default(),
    )
    .await
}

/// Where a Matrix comment was written: its room and event (from its matrix.to link).
fn origin(c: &ModerationComment) -> Option<(OwnedRoomId, OwnedEventId)> {
    if c.comment.network != Network::Matrix {
        return None;
    }
    let rest = c
        .comment
        .origin_url
        .as_deref()?
        .strip_prefix("https://matrix.to/#/")?;
    let (room, event) = rest.split_once('/')?;
    Some((
        OwnedRoomId::try_from(room).ok()?,
        OwnedEventId::try_from(event).ok()?,
    ))
}

/// The message an official answer replies to: the citizen's own Matrix message while it is
/// in the room, else the comment's copy the bot posted.
async fn answered_event(
    ctx: &BotCtx,
    c: &ModerationComment,
) -> Result<Option<(OwnedRoomId, OwnedEventId)>, Error> {
    for room_id in &ctx.rooms.public {
        let copies = bot_state::comment_events(&ctx.app, c.comment.id, room_id.as_str()).await?;
        if let Some(event) = copies
            .last()
            .and_then(|e| OwnedEventId::try_from(e.as_str()).ok())
        {
            return Ok(Some((room_id.clone(), event)));
        }
    }
    Ok(origin(c))
}

/// Tells a Matrix comment's author what became of it, in their thread.
async fn tell_author(
    client: &Client,
    ctx: &BotCtx,
    c: &ModerationComment,
    kind: AuthorNotice,
    reason: Option<&str>,
    row: &str,
) -> Result<Vec<Relayed>, Error> {
    let Some((room_id, event)) = origin(c) else {
        return Ok(Vec::new());
    };
    let Some(room) = room(client, &room_id) else {
        return Ok(Vec::new());
    };
    let text = replies::author_notice(kind, reason);
    Ok(
        notice_in_thread(ctx, &room, c, &event, text, row, SLOT_NOTICE)
            .await?
            .into_iter()
            .collect(),
    )
}

/// A notice in the announcement's thread that replies to `event` and mentions the author.
async fn notice_in_thread(
    ctx: &BotCtx,
    room: &Room,
    c: &ModerationComment,
    event: &EventId,
    (plain, html): (String, String),
    row: &str,
    slot: usize,
) -> Result<Option<Relayed>, Error> {
    let Some(root) =
        bot_state::announcement_event(&ctx.app, c.comment.announcement_id, room.room_id().as_str())
            .await?
            .and_then(|r| OwnedEventId::try_from(r).ok())
    else {
        return Ok(None);
    };
    let content = in_thread(
        RoomMessageEventContent::notice_html(plain, html),
        root,
        Some(event.to_owned()),
        OwnedUserId::try_from(c.comment.author_id.as_str()).ok(),
    );
    let sent = send(room, content, row, slot).await?;
    Ok(Some((
        room.room_id().to_string(),
        sent.to_string(),
        RelayTarget::AuthorNotice(c.comment.id),
    )))
}

/// Redacts a Matrix comment's own message from its public room.
async fn redact_own(client: &Client, c: &ModerationComment, reason: &str, row: &str) {
    if let Some((room_id, event)) = origin(c)
        && let Some(room) = room(client, &room_id)
    {
        redact(&room, event.as_str(), reason, row, 0).await;
    }
}

/// After an author's edit of a published comment: the bot's copies show the new text.
async fn edit_copies(
    client: &Client,
    ctx: &BotCtx,
    c: &ModerationComment,
    row: &str,
) -> Result<(), Error> {
    let (plain, html) = match c.comment.network {
        Network::Fediverse => replies::relayed_comment(c),
        Network::Matrix => replies::quoted_comment(c),
    };
    for room_id in &ctx.rooms.public {
        let Some(room) = room(client, room_id) else {
            continue;
        };
        let copies = bot_state::comment_events(&ctx.app, c.comment.id, room_id.as_str()).await?;
        for (n, copy) in copies.iter().enumerate() {
            let Ok(copy) = OwnedEventId::try_from(copy.as_str()) else {
                continue;
            };
            let edit = RoomMessageEventContent::text_html(plain.clone(), html.clone())
                .make_replacement(ReplacementMetadata::new(copy, None));
            send(&room, edit, row, SLOT_EDIT + n).await?;
        }
    }
    Ok(())
}

/// After an erasure: redacts everything the bot posted about the comment (copies, answers,
/// notices) and a Matrix comment's own message in the public rooms.
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
    for (n, (room_id, event)) in events.into_iter().enumerate() {
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
        redact(
            &room,
            &event,
            "Daten gelöscht / data erased",
            &format!("erase-{}", c.comment.id),
            n,
        )
        .await;
    }
}

/// Redacts a comment's relayed copies from the public rooms, and with `own` a Matrix
/// comment's own message too.
async fn remove_copies(
    client: &Client,
    ctx: &BotCtx,
    c: &ModerationComment,
    own: bool,
    row: &str,
) -> Result<(), Error> {
    for room_id in &ctx.rooms.public {
        let Some(room) = room(client, room_id) else {
            continue;
        };
        let relayed = bot_state::comment_events(&ctx.app, c.comment.id, room_id.as_str()).await?;
        // A hidden Matrix comment is the citizen's own message in the room.
        let own =
            (c.comment.network == Network::Matrix && own).then(|| c.comment.origin_id.clone());
        for (n, event) in relayed.into_iter().chain(own).enumerate() {
            redact(&room, &event, "Moderation", row, n).await;
        }
    }
    Ok(())
}
