//! Reports from the fediverse into the moderation room: what was reported (with the comment's
//! text), the reporter's instance and words. The notice stands for the comment, so the usual
//! reactions (✅ publish, ❌ reject) and commands act on it.

use matrix_sdk::Client;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use rathaus_shared::services::matrix::{self as bot_state, ReportView, Reported};
use rathaus_shared::store::relay::RelayTarget;
use rathaus_shared::store::state::Cursor;
use tokio::sync::watch;

use super::{Relayed, done, pause, room, send};
use crate::rooms::BotCtx;
use crate::{Error, replies};

pub async fn follow(
    client: Client,
    ctx: BotCtx,
    mut cursor: i64,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match bot_state::reports_after(&ctx.app, cursor).await {
            Ok(reports) => {
                for report in reports {
                    let events = post(&client, &ctx, &report).await.unwrap_or_else(|e| {
                        tracing::error!(error = %e, report = report.id, "posting a report failed");
                        Vec::new()
                    });
                    done(&ctx, Cursor::MatrixReports, report.id, &events).await;
                    cursor = report.id;
                }
            }
            Err(e) => tracing::error!(error = %e, "reading reports failed"),
        }
        if !pause(&mut shutdown).await {
            return;
        }
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
