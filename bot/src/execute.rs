//! Runs a parsed command for its role: calls a `shared` service, renders the answer with
//! `replies`. Authorisation happened before (`handlers::message`).

use matrix_sdk::room::Room;
use rathaus_shared::App;
use rathaus_shared::policy::RuleSpec;
use rathaus_shared::services::announcements::{self, Announce};
use rathaus_shared::services::comments::{self, ModAction};
use rathaus_shared::services::{erasure, export, matrix as bot_state, moderation};

use crate::commands::{
    self, Command, EraseTarget, GeneralCommand, ModerationCommand, PressCommand, Role, RuleChange,
};
use crate::replies::Lang;
use crate::{Error, replies};

/// Runs `command` for `sender`, who holds `roles`; the answer to post.
pub async fn execute(
    app: &App,
    room: &Room,
    sender: &str,
    command: Command,
    roles: &[Role],
    l: Lang,
) -> Result<String, Error> {
    match command {
        Command::General(GeneralCommand::Help) => Ok(commands::help(roles)),
        Command::Press(c) => press(app, sender, c, l).await,
        Command::Moderation(c) => moderate(app, room, sender, c, l).await,
    }
}

async fn press(app: &App, sender: &str, command: PressCommand, l: Lang) -> Result<String, Error> {
    let urls = app.urls();
    Ok(match command {
        PressCommand::Announce { text } => {
            let view = announcements::announce(
                app,
                Announce {
                    text: text.into_string(),
                    author: sender.into(),
                    ..Announce::default()
                },
            )
            .await?;
            let id = view.announcement.id;
            replies::announced(l, id, urls.announcement(id).as_str())
        }
        PressCommand::Consult {
            title,
            closes,
            text,
            ..
        } => {
            let closes = closes.resolve(app.config.site.time_zone);
            let view = announcements::announce(
                app,
                Announce {
                    title: Some(title),
                    text,
                    closes_at: Some(closes),
                    author: sender.into(),
                    ..Announce::default()
                },
            )
            .await?;
            let id = view.announcement.id;
            replies::consultation_started(
                l,
                id,
                closes,
                app.config.site.time_zone,
                urls.announcement(id).as_str(),
            )
        }
        PressCommand::Correct { id, text } => {
            announcements::correct(app, id, text.into_string()).await?;
            replies::corrected(l, id)
        }
        PressCommand::Retract { id } => {
            announcements::retract(app, id).await?;
            replies::retracted(l, id)
        }
        PressCommand::Close { id } => {
            announcements::close(app, id).await?;
            replies::closed(l, id)
        }
        PressCommand::Result { id, text } => {
            announcements::publish_result(app, id, text.into_string()).await?;
            replies::result_published(l, id, urls.announcement(id).as_str())
        }
        PressCommand::Answer { comment, text } => {
            let answer = comments::answer(app, comment, text.as_str(), sender).await?;
            replies::answered(l, answer.id, comment)
        }
        PressCommand::List => replies::list(l, &bot_state::recent_announcements(app, 10).await?),
    })
}

async fn moderate(
    app: &App,
    room: &Room,
    sender: &str,
    command: ModerationCommand,
    l: Lang,
) -> Result<String, Error> {
    Ok(match command {
        ModerationCommand::Queue => replies::queue(&bot_state::held_comments(app, 20).await?),
        ModerationCommand::Approve { comment } => {
            let c = comments::moderate(app, comment, ModAction::Approve, sender, None).await?;
            replies::comment_now(l, c.id, c.status)
        }
        ModerationCommand::Reject { comment, reason } => {
            let reason = reason.into_option();
            let c = comments::moderate(app, comment, ModAction::Reject, sender, reason).await?;
            replies::comment_now(l, c.id, c.status)
        }
        ModerationCommand::Hide { comment, reason } => {
            let reason = reason.into_option();
            let c = comments::moderate(app, comment, ModAction::Hide, sender, reason).await?;
            replies::comment_now(l, c.id, c.status)
        }
        ModerationCommand::Erase { target } => {
            let target = match target {
                EraseTarget::Comment(id) => erasure::Target::Comment(id),
                EraseTarget::Author(who) => erasure::Target::Author(who),
            };
            let erased = erasure::erase(app, &target, sender).await?;
            replies::erased(l, erased.comments, erased.activities)
        }
        ModerationCommand::Block { target, reason } => {
            let reason = reason.into_option();
            moderation::block(app, target.kind(), target.as_str(), reason, sender).await?;
            replies::blocked(l, target.as_str())
        }
        ModerationCommand::Unblock { target } => {
            let was = moderation::unblock(app, target.kind(), target.as_str(), sender).await?;
            replies::unblocked(l, target.as_str(), was)
        }
        ModerationCommand::Rules => replies::rules(app.policy().rules()),
        ModerationCommand::Rule {
            change:
                RuleChange::Add {
                    id,
                    kind,
                    action,
                    values,
                    reason,
                },
        } => {
            let is_regex = kind == rathaus_shared::policy::RuleKind::Regex;
            let spec = RuleSpec {
                id,
                version: 1,
                kind,
                action,
                reason: reason.concat(),
                reason_en: None,
                words: if is_regex { Vec::new() } else { values.clone() },
                whole_word: true,
                patterns: if is_regex { values } else { Vec::new() },
                max: None,
                ratio: None,
                min_letters: None,
            };
            let row = moderation::add_rule(app, spec, sender).await?;
            replies::rule_added(l, &row.rule_key, row.version)
        }
        ModerationCommand::Rule {
            change: RuleChange::Remove { id },
        } => {
            moderation::remove_rule(app, &id, sender).await?;
            replies::rule_removed(l, &id)
        }
        ModerationCommand::Stats { id } => {
            replies::stats(l, &bot_state::comment_counts(app, id).await?)
        }
        ModerationCommand::Log { comment } => replies::log(
            l,
            &bot_state::moderation_log(app, comment, 15).await?,
            app.config.site.time_zone,
        ),
        ModerationCommand::Export { id } => {
            upload_export(app, room, id).await?;
            replies::exported(l, id, &export::download_base(&app.urls(), id))
        }
    })
}

/// Uploads the consultation's JSON and the two main CSV tables into the room.
async fn upload_export(app: &App, room: &Room, id: i64) -> Result<(), Error> {
    let export = export::consultation(app, id).await?;
    for (name, media_type) in export.listing() {
        if !matches!(
            name,
            "consultation.json" | "comments.csv" | "moderation-log.csv"
        ) {
            continue;
        }
        let data = export.file(name)?.unwrap_or_default();
        let mime: mime::Mime = media_type.parse().unwrap_or(mime::APPLICATION_OCTET_STREAM);
        room.send_attachment(
            format!("beteiligung-{id}-{name}"),
            &mime,
            data,
            matrix_sdk::attachment::AttachmentConfig::new(),
        )
        .await?;
    }
    Ok(())
}
