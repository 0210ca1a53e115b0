//! The bot at run time: log in (session and E2EE keys kept in a store under the data dir), join
//! the configured rooms, and handle messages: commands in the press and moderation rooms,
//! citizens' thread replies in the public rooms. Every handled event is claimed in the Rathaus
//! store first, so a command runs once even though the SDK saves its sync token before the
//! handlers run.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use matrix_sdk::Client;
use matrix_sdk::LoopCtrl;
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::event_handler::Ctx;
use matrix_sdk::room::Room;
use matrix_sdk::ruma::events::room::message::{
    AddMentions, ForwardThread, MessageType, OriginalSyncRoomMessageEvent, Relation,
    ReplyWithinThread, RoomMessageEventContent,
};
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, RoomOrAliasId, UserId};
use matrix_sdk::store::{RoomLoadSettings, StateStoreDataKey};
use rathaus_shared::App;
use rathaus_shared::config::MatrixConfig;
use rathaus_shared::entities::{BlockKind, CommentStatus, Network, RuleAction};
use rathaus_shared::policy::{RuleKind, RuleSpec};
use rathaus_shared::services::announcements::{self, Announce};
use rathaus_shared::services::comments::{self, ModAction, Submission, SubmitOutcome};
use rathaus_shared::services::moderation;
use rathaus_shared::store::comments::CommentFilter;
use rathaus_shared::store::{self, leader, matrix as processed, state};
use secrecy_shim::expose;
use tokio::sync::watch;

use crate::commands::{self, Command, Role};

/// Errors of the bot crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("matrix: {0}")]
    Matrix(Box<matrix_sdk::Error>),
    #[error("matrix client: {0}")]
    Build(Box<matrix_sdk::ClientBuildError>),
    #[error(transparent)]
    Shared(#[from] rathaus_shared::Error),
    #[error("{0}")]
    Other(String),
}

impl From<matrix_sdk::Error> for Error {
    fn from(e: matrix_sdk::Error) -> Self {
        Error::Matrix(Box::new(e))
    }
}

impl From<matrix_sdk::ClientBuildError> for Error {
    fn from(e: matrix_sdk::ClientBuildError) -> Self {
        Error::Build(Box::new(e))
    }
}

mod secrecy_shim {
    use secrecy::ExposeSecret;
    /// Reads a configured secret where the SDK needs it as text.
    pub fn expose(s: &secrecy::SecretString) -> &str {
        s.expose_secret()
    }
}

/// The rooms by role, resolved to ids.
#[derive(Debug, Clone)]
struct Rooms {
    press: Vec<OwnedRoomId>,
    moderation: Option<OwnedRoomId>,
    public: Vec<OwnedRoomId>,
}

#[derive(Debug, Clone)]
struct BotCtx {
    app: App,
    config: Arc<MatrixConfig>,
    rooms: Arc<Rooms>,
    me: OwnedUserId,
}

fn store_dir(app: &App) -> PathBuf {
    app.config.data_dir.join("matrix")
}

async fn login(app: &App, config: &MatrixConfig) -> Result<Client, Error> {
    let dir = store_dir(app);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Other(format!("matrix store {}: {e}", dir.display())))?;
    let session_file = dir.join("session.json");
    let client = Client::builder()
        .homeserver_url(config.homeserver_url.as_str())
        .sqlite_store(dir.join("store"), None)
        .respect_login_well_known(false)
        .build()
        .await?;
    if let Ok(text) = std::fs::read_to_string(&session_file) {
        let session: MatrixSession =
            serde_json::from_str(&text).map_err(|e| Error::Other(format!("session file: {e}")))?;
        client
            .matrix_auth()
            .restore_session(session, RoomLoadSettings::default())
            .await?;
        tracing::info!("matrix session restored");
        return Ok(client);
    }
    if let Some(token) = &config.access_token {
        // A token from the operator: ask the server which user and device it belongs to.
        let who: serde_json::Value = reqwest::Client::new()
            .get(format!(
                "{}/_matrix/client/v3/account/whoami",
                config.homeserver_url.as_str().trim_end_matches('/')
            ))
            .bearer_auth(expose(token))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| Error::Other(format!("matrix.access_token is not accepted: {e}")))?
            .json()
            .await
            .map_err(|e| Error::Other(format!("whoami: {e}")))?;
        let (Some(user), Some(device)) = (who["user_id"].as_str(), who["device_id"].as_str())
        else {
            return Err(Error::Other("whoami did not name a user and device".into()));
        };
        let session = MatrixSession {
            meta: matrix_sdk::SessionMeta {
                user_id: user
                    .try_into()
                    .map_err(|e| Error::Other(format!("whoami user: {e}")))?,
                device_id: device.into(),
            },
            tokens: matrix_sdk::SessionTokens {
                access_token: expose(token).to_owned(),
                refresh_token: None,
            },
        };
        client
            .matrix_auth()
            .restore_session(session, RoomLoadSettings::default())
            .await?;
    } else {
        let password = config.password.as_ref().ok_or_else(|| {
            Error::Other("matrix.password or matrix.access_token is needed".into())
        })?;
        client
            .matrix_auth()
            .login_username(&config.user_id, expose(password))
            .initial_device_display_name(&config.device_name)
            .await?;
    }
    let session = client
        .matrix_auth()
        .session()
        .ok_or_else(|| Error::Other("no session after login".into()))?;
    let text = serde_json::to_string(&session).map_err(|e| Error::Other(e.to_string()))?;
    write_private(&session_file, &text)?;
    tracing::info!("matrix login done; session stored");
    Ok(client)
}

/// Writes a file only its owner can read (it holds the access token).
fn write_private(path: &std::path::Path, text: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::Other(format!("{}: {e}", path.display())))
}

async fn join(app: &App, client: &Client, id: &str) -> Result<OwnedRoomId, Error> {
    let target =
        <&RoomOrAliasId>::try_from(id).map_err(|e| Error::Other(format!("room `{id}`: {e}")))?;
    let room = client.join_room_by_id_or_alias(target, &[]).await?;
    remember_join(app, room.room_id().as_str()).await?;
    Ok(room.room_id().to_owned())
}

fn joined_key(room: &str) -> String {
    format!("matrix.joined.{room}")
}

/// Remembers when we first joined a room: anything older there is history, never a command.
async fn remember_join(app: &App, room: &str) -> Result<(), Error> {
    let db = app.store.db();
    if state::get(db, &joined_key(room)).await?.is_none() {
        let now = store::now();
        state::set(
            db,
            &joined_key(room),
            &now.timestamp_millis().to_string(),
            now,
        )
        .await?;
    }
    Ok(())
}

/// True if the event was sent before we joined its room (history handed to a new member).
async fn before_join(app: &App, room: &str, origin_ms: u64) -> bool {
    match state::get(app.store.db(), &joined_key(room)).await {
        Ok(Some(ms)) => ms.parse::<u64>().is_ok_and(|joined| origin_ms < joined),
        _ => false,
    }
}

/// Runs the bot until `shutdown` turns true.
pub async fn run(app: App, mut shutdown: watch::Receiver<bool>) -> Result<(), Error> {
    let Some(config) = app.config.matrix.clone() else {
        return Ok(());
    };
    let client = login(&app, &config).await?;
    let fresh = client
        .state_store()
        .get_kv_data(StateStoreDataKey::SyncToken)
        .await
        .map_err(|e| Error::Other(e.to_string()))?
        .is_none();
    if fresh {
        // First start: take in the rooms' current state, never their history, as commands.
        client.sync_once(SyncSettings::default()).await?;
    }
    let mut handlers_added = false;
    let mut waiting_logged = false;
    loop {
        // Several `rathaus serve` processes may share one PostgreSQL: exactly one syncs.
        let mut lead = loop {
            match leader::try_lead(&app.store, MATRIX_SYNC_LOCK).await {
                Ok(Some(lead)) => break lead,
                Ok(None) => {
                    if !waiting_logged {
                        tracing::info!(
                            "another process runs the Matrix sync loop; standing by to take over"
                        );
                        waiting_logged = true;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot ask the store who runs the Matrix sync loop")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(LEADER_POLL) => {}
                _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
            }
        };
        waiting_logged = false;
        app.metrics.matrix_leader(true);
        let ctx = match start_leading(&app, &client, &config).await {
            Ok(ctx) => ctx,
            Err(e) => {
                // E.g. the homeserver is briefly unreachable: let go, and try again (another
                // process may do better meanwhile).
                tracing::warn!(error = %e, "cannot join the configured rooms; retrying");
                app.metrics.matrix_leader(false);
                lead.release().await;
                tokio::select! {
                    _ = tokio::time::sleep(LEADER_POLL * 5) => continue,
                    _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
                }
            }
        };
        if !handlers_added {
            client.add_event_handler_context(ctx.clone());
            client.add_event_handler(on_message);
            client.add_event_handler(on_reaction);
            client.add_event_handler(on_redaction);
            client.add_event_handler(on_invite);
            handlers_added = true;
        }
        let follower = tokio::spawn(follow_log(client.clone(), ctx, shutdown.clone()));
        tracing::info!("matrix bot running: this process runs the Matrix sync loop");
        let metrics = app.metrics.clone();
        let sync = client.sync_with_callback(SyncSettings::default(), |_| {
            let metrics = metrics.clone();
            async move {
                metrics.matrix_synced();
                LoopCtrl::Continue
            }
        });
        let outcome = tokio::select! {
            result = sync => Some(result),
            _ = shutdown.wait_for(|stop| *stop) => None,
            _ = lost(&mut lead) => {
                tracing::warn!("lost the Matrix sync lock (database connection gone); standing by");
                follower.abort();
                app.metrics.matrix_leader(false);
                continue;
            }
        };
        follower.abort();
        app.metrics.matrix_leader(false);
        lead.release().await;
        tracing::info!("matrix bot stopped");
        return match outcome {
            Some(result) => result.map_err(Error::from),
            None => Ok(()),
        };
    }
}

/// The advisory lock's name: one Matrix sync loop per database.
const MATRIX_SYNC_LOCK: &str = "rathaus.matrix-sync";
/// How often a standby process asks whether it can take over.
const LEADER_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Resolves when the leadership is gone (checked every few seconds).
async fn lost(lead: &mut leader::Leadership) {
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        if !lead.still_held().await {
            return;
        }
    }
}

/// Joins the configured rooms and builds the handlers' context.
async fn start_leading(app: &App, client: &Client, config: &MatrixConfig) -> Result<BotCtx, Error> {
    let mut rooms = Rooms {
        press: Vec::new(),
        moderation: None,
        public: Vec::new(),
    };
    for id in &config.press_rooms {
        rooms.press.push(join(app, client, id).await?);
    }
    if let Some(id) = &config.moderation_room {
        rooms.moderation = Some(join(app, client, id).await?);
    }
    for id in &config.public_rooms {
        rooms.public.push(join(app, client, id).await?);
    }
    let me = client
        .user_id()
        .ok_or_else(|| Error::Other("not logged in".into()))?
        .to_owned();
    Ok(BotCtx {
        app: app.clone(),
        config: Arc::new(config.clone()),
        rooms: Arc::new(rooms),
        me,
    })
}

async fn on_message(ev: OriginalSyncRoomMessageEvent, room: Room, ctx: Ctx<BotCtx>) {
    let ctx = ctx.0;
    tracing::debug!(event = %ev.event_id, "matrix message");
    if ev.sender == ctx.me {
        return;
    }
    // Edits are never new commands; an edited comment is evaluated again.
    if let Some(Relation::Replacement(replacement)) = &ev.content.relates_to {
        if ctx.rooms.public.contains(&room.room_id().to_owned())
            && let MessageType::Text(text) = &replacement.new_content.msgtype
        {
            match comments::edit_comment(
                &ctx.app,
                replacement.event_id.as_str(),
                ev.sender.as_str(),
                &text.body,
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
    let body = text.body.clone();
    let room_id = room.room_id().to_owned();
    if before_join(
        &ctx.app,
        room_id.as_str(),
        u64::from(ev.origin_server_ts.get()),
    )
    .await
    {
        return;
    }
    let is_press = ctx.rooms.press.contains(&room_id);
    let is_moderation = ctx.rooms.moderation.as_ref() == Some(&room_id);
    let result = if (is_press || is_moderation) && body.trim_start().starts_with('!') {
        on_command(&ctx, &room, &ev, &body, is_press, is_moderation).await
    } else if ctx.rooms.public.contains(&room_id) {
        on_citizen_message(&ctx, &room, &ev, &body).await
    } else {
        Ok(())
    };
    if let Err(e) = result {
        tracing::error!(error = %e, room = %room_id, "handling a matrix message failed");
    }
}

/// The roles a sender holds in a room: from the configuration and from power level ≥ 50.
async fn roles_of(
    ctx: &BotCtx,
    room: &Room,
    sender: &UserId,
    is_press: bool,
    is_moderation: bool,
) -> Vec<Role> {
    let mut roles = Vec::new();
    let sender_str = sender.as_str();
    if ctx.config.press_officers.iter().any(|u| u == sender_str) {
        roles.push(Role::PressOffice);
    }
    if ctx.config.moderators.iter().any(|u| u == sender_str) {
        roles.push(Role::Moderator);
    }
    let powerful = match room.get_user_power_level(sender).await {
        Ok(matrix_sdk::ruma::events::room::power_levels::UserPowerLevel::Infinite) => true,
        Ok(matrix_sdk::ruma::events::room::power_levels::UserPowerLevel::Int(level)) => {
            i64::from(level) >= 50
        }
        Ok(_) | Err(_) => false,
    };
    if powerful && is_press && !roles.contains(&Role::PressOffice) {
        roles.push(Role::PressOffice);
    }
    if powerful && is_moderation && !roles.contains(&Role::Moderator) {
        roles.push(Role::Moderator);
    }
    roles
}

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

async fn on_command(
    ctx: &BotCtx,
    room: &Room,
    ev: &OriginalSyncRoomMessageEvent,
    body: &str,
    is_press: bool,
    is_moderation: bool,
) -> Result<(), Error> {
    // Claimed before acting: a crash after this point loses at most this one command,
    // and a redelivered event is never executed twice.
    if !claim(&ctx.app, room, ev.event_id.as_str()).await? {
        return Ok(());
    }
    let answer = match commands::parse(body) {
        Ok(None) => return Ok(()),
        Err(e) => e.message,
        Ok(Some(command)) => {
            let roles = roles_of(ctx, room, &ev.sender, is_press, is_moderation).await;
            let needed = command.role();
            let right_room = match needed {
                Role::Everyone => true,
                Role::PressOffice => is_press,
                Role::Moderator => is_moderation,
            };
            if !right_room {
                "Dieser Befehl gehört in den Presse- bzw. Moderationsraum. / This command belongs in the press or moderation room.".to_owned()
            } else if needed != Role::Everyone && !roles.contains(&needed) {
                tracing::info!(command = ?needed, "command refused: missing role");
                "Entschuldigung, diesen Befehl dürfen Sie hier nicht nutzen. / Sorry, you may not use this command here.".to_owned()
            } else {
                match execute(ctx, room, ev, command, &roles).await {
                    Ok(text) => text,
                    Err(e) => match e {
                        Error::Shared(
                            rathaus_shared::Error::Invalid(m) | rathaus_shared::Error::NotFound(m),
                        ) => {
                            format!("Das ging nicht: {m}")
                        }
                        other => {
                            tracing::error!(error = %other, "command failed");
                            "Ein interner Fehler ist aufgetreten; bitte später erneut versuchen. / An internal error occurred.".to_owned()
                        }
                    },
                }
            }
        }
    };
    reply(room, ev, &answer).await
}

/// Claims an event for handling in the Rathaus store; false if it was handled before.
async fn claim(app: &App, room: &Room, event_id: &str) -> Result<bool, Error> {
    Ok(processed::claim_event(
        app.store.db(),
        event_id,
        room.room_id().as_str(),
        store::now(),
    )
    .await?)
}

fn status_word(status: CommentStatus) -> &'static str {
    match status {
        CommentStatus::Pending => "zurückgehalten",
        CommentStatus::Published => "veröffentlicht",
        CommentStatus::Rejected => "abgelehnt",
        CommentStatus::Hidden => "verborgen",
        CommentStatus::Deleted => "gelöscht",
    }
}

async fn execute(
    ctx: &BotCtx,
    room: &Room,
    ev: &OriginalSyncRoomMessageEvent,
    command: Command,
    roles: &[Role],
) -> Result<String, Error> {
    let app = &ctx.app;
    let urls = app.urls();
    let sender = ev.sender.as_str();
    Ok(match command {
        Command::Help => commands::help(roles),
        Command::Announce { text } => {
            let view = announcements::announce(
                app,
                Announce {
                    text,
                    author: sender.into(),
                    ..Announce::default()
                },
            )
            .await?;
            format!(
                "Bekanntmachung {} veröffentlicht: {}",
                view.announcement.id,
                urls.announcement(view.announcement.id)
            )
        }
        Command::Consult {
            title,
            closes,
            text,
        } => {
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
            format!(
                "Beteiligung {} gestartet, offen bis {}: {}",
                view.announcement.id,
                closes.format("%d.%m.%Y %H:%M UTC"),
                urls.announcement(view.announcement.id)
            )
        }
        Command::Correct { id, text } => {
            announcements::correct(app, id, text).await?;
            format!("Bekanntmachung {id} korrigiert.")
        }
        Command::Retract { id } => {
            announcements::retract(app, id).await?;
            format!("Bekanntmachung {id} zurückgezogen.")
        }
        Command::Close { id } => {
            announcements::close(app, id).await?;
            format!("Beteiligung {id} beendet.")
        }
        Command::Result { id, text } => {
            announcements::publish_result(app, id, text).await?;
            format!(
                "Ergebnis der Beteiligung {id} veröffentlicht: {}",
                app.urls().announcement(id)
            )
        }
        Command::Answer { comment, text } => {
            let answer = comments::answer(app, comment, &text, sender).await?;
            format!(
                "Antwort {} auf Kommentar {comment} veröffentlicht.",
                answer.id
            )
        }
        Command::List => {
            let rows =
                rathaus_shared::store::announcements::list_announcements(app.store.db(), 0, 10)
                    .await?;
            if rows.is_empty() {
                "Noch keine Bekanntmachungen.".to_owned()
            } else {
                rows.iter()
                    .map(|a| {
                        format!(
                            "• {} {:?} {}{}",
                            a.id,
                            a.kind,
                            a.title.clone().unwrap_or_else(|| {
                                rathaus_shared::markdown::to_plain_text(&a.body_html)
                                    .chars()
                                    .take(60)
                                    .collect()
                            }),
                            if a.retracted_at.is_some() {
                                " (zurückgezogen)"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
        Command::Queue => {
            let held = comments::list(
                app,
                &CommentFilter {
                    status: Some(CommentStatus::Pending),
                    limit: Some(20),
                    ..Default::default()
                },
            )
            .await?;
            if held.is_empty() {
                "Keine zurückgehaltenen Kommentare. / The queue is empty.".to_owned()
            } else {
                held.iter()
                    .map(|c| {
                        format!(
                            "• {} — {} ({:?}, {}): „{}“ — Regel {}: {}",
                            c.id,
                            c.author_name.as_deref().unwrap_or(&c.author_id),
                            c.network,
                            c.author_domain,
                            c.content
                                .as_deref()
                                .map(rathaus_shared::markdown::to_plain_text)
                                .unwrap_or_default(),
                            c.rule_id.as_deref().unwrap_or("-"),
                            c.reason.as_deref().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
        Command::Approve { comment } => {
            let c = comments::moderate(app, comment, ModAction::Approve, sender, None).await?;
            format!("Kommentar {} {}.", c.id, status_word(c.status))
        }
        Command::Reject { comment, reason } => {
            let c = comments::moderate(app, comment, ModAction::Reject, sender, reason).await?;
            format!("Kommentar {} {}.", c.id, status_word(c.status))
        }
        Command::Hide { comment, reason } => {
            let c = comments::moderate(app, comment, ModAction::Hide, sender, reason).await?;
            format!("Kommentar {} {}.", c.id, status_word(c.status))
        }
        Command::Block { target, reason } => {
            let kind = block_kind(&target);
            moderation::block(app, kind, &target, reason, sender).await?;
            format!("{target} gesperrt.")
        }
        Command::Unblock { target } => {
            if moderation::unblock(app, block_kind(&target), &target, sender).await? {
                format!("Sperre für {target} aufgehoben.")
            } else {
                format!("{target} war nicht gesperrt.")
            }
        }
        Command::Rules => app
            .policy()
            .rules()
            .iter()
            .map(|r| {
                format!(
                    "• {} v{} ({:?}, {:?}): {}",
                    r.id, r.version, r.kind, r.action, r.reason
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Command::RuleAdd {
            id,
            kind,
            action,
            values,
            reason,
        } => {
            let is_regex = kind == "regex";
            let spec = RuleSpec {
                id,
                version: 1,
                kind: if is_regex {
                    RuleKind::Regex
                } else {
                    RuleKind::Words
                },
                action: if action == "reject" {
                    RuleAction::Reject
                } else {
                    RuleAction::Hold
                },
                reason,
                words: if is_regex { Vec::new() } else { values.clone() },
                whole_word: true,
                patterns: if is_regex { values } else { Vec::new() },
                max: None,
                ratio: None,
                min_letters: None,
            };
            let row = moderation::add_rule(app, spec, sender).await?;
            format!(
                "Regel {} Version {} gilt ab sofort.",
                row.rule_key, row.version
            )
        }
        Command::RuleRemove { id } => {
            moderation::remove_rule(app, &id, sender).await?;
            format!("Regel {id} entfernt.")
        }
        Command::Stats { id } => {
            let rows = comments::list(
                app,
                &CommentFilter {
                    announcement_id: id,
                    ..Default::default()
                },
            )
            .await?;
            let count = |s: CommentStatus| rows.iter().filter(|c| c.status == s).count();
            let by_network = |n: Network| rows.iter().filter(|c| c.network == n).count();
            format!(
                "{} Kommentare: {} veröffentlicht, {} zurückgehalten, {} abgelehnt, {} verborgen, {} gelöscht; Fediverse {}, Matrix {}; {} nach Schluss.",
                rows.len(),
                count(CommentStatus::Published),
                count(CommentStatus::Pending),
                count(CommentStatus::Rejected),
                count(CommentStatus::Hidden),
                count(CommentStatus::Deleted),
                by_network(Network::Fediverse),
                by_network(Network::Matrix),
                rows.iter().filter(|c| c.late).count()
            )
        }
        Command::Export { id } => {
            let export = rathaus_shared::services::export::consultation(app, id).await?;
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
            format!(
                "Export der Beteiligung {id} hochgeladen (JSON und CSV, Autorinnen und Autoren pseudonymisiert). Alle Dateien mit CSVW- und DCAT-AP.de-Beschreibung: {}",
                rathaus_shared::services::export::download_base(&app.urls(), id)
            )
        }
        Command::Log { comment } => {
            let rows = rathaus_shared::store::moderation::list_actions(app.store.db(), comment, 15)
                .await?;
            if rows.is_empty() {
                "Das Protokoll ist leer.".to_owned()
            } else {
                rows.iter()
                    .map(|a| {
                        format!(
                            "• {} {} {} durch {}{}{}",
                            a.created_at.format("%d.%m. %H:%M"),
                            a.comment_id.map(|c| format!("#{c}")).unwrap_or_default(),
                            a.action,
                            a.actor,
                            a.rule_id
                                .as_deref()
                                .map(|r| format!(", Regel {r}"))
                                .unwrap_or_default(),
                            a.reason
                                .as_deref()
                                .map(|r| format!(": {r}"))
                                .unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    })
}

fn block_kind(target: &str) -> BlockKind {
    if target.starts_with('@') || target.starts_with("http://") || target.starts_with("https://") {
        BlockKind::User
    } else {
        BlockKind::Domain
    }
}

fn announcement_key(id: i64, room: &str) -> String {
    format!("matrix.announcement.{id}.{room}")
}

fn comment_relay_key(comment: i64, room: &str) -> String {
    format!("matrix.comment.{comment}.{room}")
}

fn notice_key(event: &str) -> String {
    format!("matrix.notice.{event}")
}

const LOG_CURSOR: &str = "matrix.log_cursor";
const ANNOUNCEMENT_CURSOR: &str = "matrix.announcement_cursor";

/// Posts new announcements (from the bot or the CLI) into the public rooms, and follows the
/// moderation log: tells moderators about held comments, relays published
/// fediverse comments and official answers into the announcement's Matrix thread, and removes
/// relayed messages when a comment is hidden or deleted. The cursor is saved after each entry,
/// so nothing is skipped across restarts (an entry may be handled twice after a crash).
async fn follow_log(client: Client, ctx: BotCtx, mut shutdown: watch::Receiver<bool>) {
    let db = ctx.app.store.db();
    let mut cursor = match state::get(db, LOG_CURSOR).await {
        Ok(Some(c)) => c.parse().unwrap_or(0),
        // First start: only what happens from now on.
        _ => rathaus_shared::store::moderation::last_action_id(db)
            .await
            .unwrap_or(0),
    };
    let mut announced = match state::get(db, ANNOUNCEMENT_CURSOR).await {
        Ok(Some(c)) => c.parse().unwrap_or(0),
        _ => rathaus_shared::store::announcements::list_announcements(db, 0, 1)
            .await
            .ok()
            .and_then(|rows| rows.first().map(|a| a.id))
            .unwrap_or(0),
    };
    loop {
        // New announcements, from the bot or the CLI, go to the public rooms.
        if let Ok(rows) = rathaus_shared::store::announcements::list_announcements(db, 0, 20).await
        {
            let mut fresh: Vec<_> = rows.into_iter().filter(|a| a.id > announced).collect();
            fresh.sort_by_key(|a| a.id);
            for a in fresh {
                if a.retracted_at.is_none()
                    && let Ok(Some(view)) =
                        rathaus_shared::store::announcements::get_announcement(db, a.id).await
                {
                    relay_announcement(&client, &ctx, &view).await;
                }
                announced = a.id;
                let _ = state::set(
                    db,
                    ANNOUNCEMENT_CURSOR,
                    &announced.to_string(),
                    store::now(),
                )
                .await;
            }
        }
        match rathaus_shared::store::moderation::actions_after(db, cursor, 50).await {
            Ok(actions) => {
                for action in actions {
                    if let Err(e) = on_log_entry(&client, &ctx, &action).await {
                        tracing::error!(error = %e, entry = action.id, "relaying a moderation step failed");
                    }
                    cursor = action.id;
                    let _ = state::set(db, LOG_CURSOR, &cursor.to_string(), store::now()).await;
                }
            }
            Err(e) => tracing::error!(error = %e, "reading the moderation log failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

async fn on_log_entry(
    client: &Client,
    ctx: &BotCtx,
    action: &rathaus_shared::entities::moderation_action::Model,
) -> Result<(), Error> {
    let Some(comment_id) = action.comment_id else {
        return Ok(());
    };
    let db = ctx.app.store.db();
    let Some(c) = rathaus_shared::store::comments::get_comment(db, comment_id).await? else {
        return Ok(());
    };
    let text = c
        .content
        .as_deref()
        .map(rathaus_shared::markdown::to_plain_text)
        .unwrap_or_default();
    let name = c.author_name.clone().unwrap_or_else(|| c.author_id.clone());
    match action.action.as_str() {
        "auto_hold" => {
            let Some(room_id) = &ctx.rooms.moderation else {
                return Ok(());
            };
            let Some(room) = client.get_room(room_id) else {
                return Ok(());
            };
            let body = format!(
                "Zurückgehalten: Kommentar {} von {} ({}, {:?}) zu Bekanntmachung {}:
„{}“
Regel {}: {}
✅ freigeben · ❌ ablehnen (als Reaktion) — oder !freigeben {} / !ablehnen {}",
                c.id,
                name,
                c.author_id,
                c.network,
                c.announcement_id,
                text,
                c.rule_id.as_deref().unwrap_or("-"),
                c.reason.as_deref().unwrap_or(""),
                c.id,
                c.id
            );
            let sent = room
                .send(RoomMessageEventContent::notice_plain(body))
                .await?;
            state::set(
                db,
                &notice_key(sent.response.event_id.as_str()),
                &c.id.to_string(),
                store::now(),
            )
            .await?;
        }
        "auto_publish" | "approve"
            if c.network == Network::Fediverse && c.status == CommentStatus::Published =>
        {
            let handle =
                match rathaus_shared::store::actors::remote_actor_by_ap_id(db, &c.author_id).await?
                {
                    Some(a) => format!("@{}@{}", a.username, a.domain),
                    None => c.author_id.clone(),
                };
            let plain = format!("{name} ({handle}): {text}");
            let html = format!(
                "<strong>{}</strong> ({}): {}",
                rathaus_shared::apub::html_escape(&name),
                rathaus_shared::apub::html_escape(&handle),
                c.content.clone().unwrap_or_default()
            );
            relay_into_threads(client, ctx, &c, plain, html, true).await?;
        }
        "official_answer" => {
            let answers = rathaus_shared::store::comments::answers_for_comment(db, c.id).await?;
            let Some(answer) = answers.last() else {
                return Ok(());
            };
            let plain = format!(
                "Offizielle Antwort an {name}: {}",
                rathaus_shared::markdown::to_plain_text(&answer.body_html)
            );
            let html = format!(
                "<strong>Offizielle Antwort</strong> an {}: {}",
                rathaus_shared::apub::html_escape(&name),
                answer.body_html
            );
            relay_into_threads(client, ctx, &c, plain, html, false).await?;
        }
        "hide" | "author_delete" => {
            for room_id in &ctx.rooms.public {
                let Some(room) = client.get_room(room_id) else {
                    continue;
                };
                let relayed = state::get(db, &comment_relay_key(c.id, room_id.as_str())).await?;
                let own = (c.network == Network::Matrix && action.action == "hide")
                    .then(|| c.origin_id.clone());
                for event in relayed.into_iter().chain(own) {
                    if let Ok(event_id) = <&matrix_sdk::ruma::EventId>::try_from(event.as_str())
                        && let Err(e) = room.redact(event_id, Some("Moderation"), None).await
                    {
                        tracing::warn!(error = %e, "removing a relayed comment failed (the bot may lack the power level)");
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Posts into the thread of the comment's announcement in every public room.
async fn relay_into_threads(
    client: &Client,
    ctx: &BotCtx,
    c: &rathaus_shared::entities::comment::Model,
    plain: String,
    html: String,
    remember: bool,
) -> Result<(), Error> {
    let db = ctx.app.store.db();
    for room_id in &ctx.rooms.public {
        let Some(root) =
            state::get(db, &announcement_key(c.announcement_id, room_id.as_str())).await?
        else {
            tracing::warn!(announcement = c.announcement_id, room = %room_id, "the announcement was not relayed to this room; nothing to reply to");
            continue;
        };
        let Some(room) = client.get_room(room_id) else {
            continue;
        };
        let Ok(root) = matrix_sdk::ruma::OwnedEventId::try_from(root) else {
            continue;
        };
        let mut content = RoomMessageEventContent::text_html(plain.clone(), html.clone());
        content.relates_to = Some(Relation::Thread(
            matrix_sdk::ruma::events::relation::Thread::plain(root.clone(), root),
        ));
        let sent = room.send(content).await?;
        if remember {
            state::set(
                db,
                &comment_relay_key(c.id, room_id.as_str()),
                sent.response.event_id.as_str(),
                store::now(),
            )
            .await?;
        }
    }
    Ok(())
}

/// A redaction in a public room: by the author it erases the comment; by anyone else
/// (a room moderator) it hides it.
async fn on_redaction(
    ev: matrix_sdk::ruma::events::room::redaction::OriginalSyncRoomRedactionEvent,
    room: Room,
    ctx: Ctx<BotCtx>,
) {
    let ctx = ctx.0;
    if ev.sender == ctx.me || !ctx.rooms.public.contains(&room.room_id().to_owned()) {
        return;
    }
    let Some(target) = ev.redacts.clone().or_else(|| ev.content.redacts.clone()) else {
        return;
    };
    let db = ctx.app.store.db();
    let Ok(Some(c)) = rathaus_shared::store::comments::comment_by_origin(db, target.as_str()).await
    else {
        return;
    };
    let own = rathaus_shared::store::comments::written_by(db, &c, ev.sender.as_str())
        .await
        .unwrap_or(false);
    let result = if own {
        comments::delete_comment(&ctx.app, target.as_str(), ev.sender.as_str())
            .await
            .map(|_| ())
    } else {
        comments::moderate(
            &ctx.app,
            c.id,
            ModAction::Hide,
            ev.sender.as_str(),
            Some("in Matrix entfernt / redacted in Matrix".into()),
        )
        .await
        .map(|_| ())
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, comment = c.id, "applying a redaction failed");
    }
}

/// Invitations from press officers and moderators are accepted; others are declined.
async fn on_invite(
    ev: matrix_sdk::ruma::events::room::member::StrippedRoomMemberEvent,
    room: Room,
    ctx: Ctx<BotCtx>,
) {
    let ctx = ctx.0;
    if ev.state_key != ctx.me
        || ev.content.membership != matrix_sdk::ruma::events::room::member::MembershipState::Invite
    {
        return;
    }
    let allowed = ctx
        .config
        .press_officers
        .iter()
        .chain(&ctx.config.moderators)
        .any(|u| u == ev.sender.as_str());
    let result = if allowed {
        let joined = room.join().await;
        if joined.is_ok()
            && let Err(e) = remember_join(&ctx.app, room.room_id().as_str()).await
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

/// ✅ or ❌ by a moderator on a notice about a held comment approves or rejects it.
async fn on_reaction(
    ev: matrix_sdk::ruma::events::reaction::OriginalSyncReactionEvent,
    room: Room,
    ctx: Ctx<BotCtx>,
) {
    let ctx = ctx.0;
    if ev.sender == ctx.me || ctx.rooms.moderation.as_deref() != Some(room.room_id()) {
        return;
    }
    let action = match ev.content.relates_to.key.trim_end_matches('\u{fe0f}') {
        "✅" | "✔" | "👍" => ModAction::Approve,
        "❌" | "👎" => ModAction::Reject,
        _ => return,
    };
    let result = async {
        let db = ctx.app.store.db();
        let Some(comment) = state::get(db, &notice_key(ev.content.relates_to.event_id.as_str())).await? else {
            return Ok::<_, Error>(None);
        };
        if !claim(&ctx.app, &room, ev.event_id.as_str()).await? {
            return Ok(None);
        }
        let roles = roles_of(&ctx, &room, &ev.sender, false, true).await;
        if !roles.contains(&Role::Moderator) {
            return Ok(Some("Entschuldigung, nur die Moderation kann so entscheiden. / Only moderators can decide this.".to_owned()));
        }
        let Ok(comment) = comment.parse::<i64>() else { return Ok(None) };
        Ok(Some(match comments::moderate(&ctx.app, comment, action, ev.sender.as_str(), None).await {
            Ok(c) => format!("Kommentar {} {} (Reaktion von {}).", c.id, status_word(c.status), ev.sender),
            Err(e) => format!("Das ging nicht: {e}"),
        }))
    }
    .await;
    match result {
        Ok(Some(text)) => {
            if let Err(e) = room.send(RoomMessageEventContent::notice_plain(text)).await {
                tracing::error!(error = %e, "answering a reaction failed");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "handling a reaction failed"),
    }
}

fn relay_key(room: &str, event: &str) -> String {
    format!("matrix.relay.{room}.{event}")
}

/// Posts an announcement into every public room and remembers which event stands for it, so
/// citizens' thread replies there become comments on it.
async fn relay_announcement(
    client: &Client,
    ctx: &BotCtx,
    view: &rathaus_shared::store::announcements::AnnouncementView,
) {
    let a = &view.announcement;
    let urls = ctx.app.urls();
    let mut html = String::new();
    if let Some(title) = &a.title {
        html.push_str(&format!(
            "<p><strong>{}</strong></p>",
            rathaus_shared::apub::html_escape(title)
        ));
    }
    html.push_str(&a.body_html);
    if let Some(c) = &view.consultation {
        html.push_str(&format!(
            "<p>Beteiligung bis {} — antworten Sie im Thread. / Reply in the thread.</p>",
            c.closes_at.format("%d.%m.%Y %H:%M UTC")
        ));
    }
    html.push_str(&format!(
        "<p><a href=\"{0}\">{0}</a></p>",
        urls.announcement(a.id)
    ));
    let plain = rathaus_shared::markdown::to_plain_text(&html);
    for room_id in &ctx.rooms.public {
        let Some(room) = client.get_room(room_id) else {
            continue;
        };
        match room
            .send(RoomMessageEventContent::text_html(
                plain.clone(),
                html.clone(),
            ))
            .await
        {
            Ok(sent) => {
                let db = ctx.app.store.db();
                let event = sent.response.event_id.to_string();
                let key = relay_key(room_id.as_str(), &event);
                let back = announcement_key(a.id, room_id.as_str());
                let saved = async {
                    state::set(db, &key, &a.id.to_string(), store::now()).await?;
                    state::set(db, &back, &event, store::now()).await
                };
                if let Err(e) = saved.await {
                    tracing::error!(error = %e, "remembering a relayed announcement failed");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, room = %room_id, "relaying an announcement failed")
            }
        }
    }
}

/// A citizen's reply (in a thread, or a rich reply) to a relayed announcement is a comment.
async fn on_citizen_message(
    ctx: &BotCtx,
    room: &Room,
    ev: &OriginalSyncRoomMessageEvent,
    body: &str,
) -> Result<(), Error> {
    let root = match &ev.content.relates_to {
        Some(Relation::Thread(thread)) => thread.event_id.clone(),
        Some(Relation::Reply(reply)) => reply.in_reply_to.event_id.clone(),
        _ => return Ok(()),
    };
    let db = ctx.app.store.db();
    let Some(announcement) =
        state::get(db, &relay_key(room.room_id().as_str(), root.as_str())).await?
    else {
        return Ok(());
    };
    let Ok(announcement) = announcement.parse::<i64>() else {
        return Ok(());
    };
    if !claim(&ctx.app, room, ev.event_id.as_str()).await? {
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
        .unwrap_or_else(store::now);
    let outcome = comments::submit_comment(
        &ctx.app,
        Submission {
            network: Network::Matrix,
            origin_id: ev.event_id.to_string(),
            origin_url: Some(format!(
                "https://matrix.to/#/{}/{}",
                room.room_id(),
                ev.event_id
            )),
            in_reply_to: ctx.app.urls().announcement(announcement),
            author_id: ev.sender.to_string(),
            author_name: name,
            author_domain: ev.sender.server_name().to_string(),
            content_html: body.to_owned(),
            // Matrix messages do not declare their language.
            language: None,
            created_at: created,
            privileged: ctx
                .config
                .press_officers
                .iter()
                .chain(&ctx.config.moderators)
                .any(|u| u == ev.sender.as_str()),
        },
    )
    .await?;
    if let SubmitOutcome::Stored(c) = outcome {
        let note = match c.status {
            CommentStatus::Pending => Some(format!(
                "Ihr Kommentar wird geprüft: {}",
                c.reason.as_deref().unwrap_or("")
            )),
            CommentStatus::Rejected => Some(format!(
                "Ihr Kommentar wurde nicht veröffentlicht: {}",
                c.reason.as_deref().unwrap_or("")
            )),
            _ => None,
        };
        if let Some(note) = note {
            reply(room, ev, &note).await?;
        }
    }
    Ok(())
}
