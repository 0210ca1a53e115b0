//! Reports from the fediverse into the moderation room: what was reported (with the comment's
//! text), the reporter's instance and words. The notice stands for the comment, so the usual
//! reactions (✅ publish, ❌ reject) and commands act on it.

use matrix_sdk::Client;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use rathaus_shared::services::matrix::{self as bot_state, ReportView, Reported};
use rathaus_shared::store::relay::RelayTarget;
use rathaus_shared::store::state::Cursor;

use super::{Follower, Relayed, SharedError, room, send};
use crate::rooms::BotCtx;
use crate::{Error, replies};

/// Reports from the fediverse, oldest first.
pub struct Reports;

impl Follower for Reports {
    type Row = ReportView;
    const CURSOR: Cursor = Cursor::MatrixReports;
    const WHAT: &'static str = "report";

    async fn rows(ctx: &BotCtx, after: i64) -> Result<Vec<ReportView>, SharedError> {
        bot_state::reports_after(&ctx.app, after).await
    }

    fn id(r: &ReportView) -> i64 {
        r.id
    }

    async fn relay(client: &Client, ctx: &BotCtx, r: &ReportView) -> Result<Vec<Relayed>, Error> {
        post(client, ctx, r).await
    }
}

async fn post(client: &Client, ctx: &BotCtx, r: &ReportView) -> Result<Vec<Relayed>, Error> {
    let Some(room) = ctx
        .rooms
        .moderation
        .as_ref()
        .and_then(|id| room(client, id))
    else {
        return Ok(Vec::new());
    };
    let text = replies::report_notice(r);
    let event = send(
        &room,
        RoomMessageEventContent::notice_plain(text),
        &format!("report-{}", r.id),
        0,
    )
    .await?;
    Ok(match r.about {
        Reported::Comment(c) => vec![(
            room.room_id().to_string(),
            event.to_string(),
            RelayTarget::Notice(c),
        )],
        _ => Vec::new(),
    })
}
