//! The configured rooms, joining them, and who holds which role in a room.

use std::sync::Arc;

use matrix_sdk::Client;
use matrix_sdk::room::Room;
use matrix_sdk::ruma::events::room::power_levels::UserPowerLevel;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, RoomOrAliasId, UserId};
use rathaus_shared::App;
use rathaus_shared::config::MatrixConfig;
use rathaus_shared::services::matrix as bot_state;

use crate::Error;
use crate::commands::Role;

/// The rooms by role, resolved to ids.
#[derive(Debug, Clone)]
pub struct Rooms {
    pub press: Vec<OwnedRoomId>,
    pub moderation: Option<OwnedRoomId>,
    pub public: Vec<OwnedRoomId>,
}

impl Rooms {
    pub fn is_press(&self, room: &matrix_sdk::ruma::RoomId) -> bool {
        self.press.iter().any(|r| r == room)
    }
    pub fn is_moderation(&self, room: &matrix_sdk::ruma::RoomId) -> bool {
        self.moderation.as_deref() == Some(room)
    }
    pub fn is_public(&self, room: &matrix_sdk::ruma::RoomId) -> bool {
        self.public.iter().any(|r| r == room)
    }
}

/// What every handler gets.
#[derive(Debug, Clone)]
pub struct BotCtx {
    pub app: App,
    pub config: Arc<MatrixConfig>,
    pub rooms: Arc<Rooms>,
    pub me: OwnedUserId,
    pub hints: Arc<Hints>,
}

/// Who got the hint how to take part today (in memory only, forgotten at midnight and on
/// restart: no record of who wrote when is kept).
#[derive(Debug, Default)]
pub struct Hints(std::sync::Mutex<(Option<chrono::NaiveDate>, std::collections::HashSet<String>)>);

impl Hints {
    /// The most people remembered in one day; beyond it the memory starts afresh.
    const MAX: usize = 100_000;

    /// True the first time `user` asks on the day `now` falls on.
    pub fn first_today(&self, user: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
        let today = now.date_naive();
        let mut seen = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.0 != Some(today) || seen.1.len() >= Self::MAX {
            *seen = (Some(today), std::collections::HashSet::new());
        }
        seen.1.insert(user.to_owned())
    }
}

impl BotCtx {
    /// Press officers and moderators named in the configuration.
    pub fn is_staff(&self, user: &UserId) -> bool {
        self.config
            .press_officers
            .iter()
            .chain(&self.config.moderators)
            .any(|u| u == user.as_str())
    }
}

/// Joins the configured rooms and builds the handlers' context.
pub async fn join_all(app: &App, client: &Client, config: &MatrixConfig) -> Result<BotCtx, Error> {
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
        hints: Arc::default(),
    })
}

async fn join(app: &App, client: &Client, id: &str) -> Result<OwnedRoomId, Error> {
    let target =
        <&RoomOrAliasId>::try_from(id).map_err(|e| Error::Other(format!("room `{id}`: {e}")))?;
    let room = client.join_room_by_id_or_alias(target, &[]).await?;
    bot_state::remember_join(app, room.room_id().as_str()).await?;
    Ok(room.room_id().to_owned())
}

/// The roles a sender holds in a room: from the configuration, and from power level ≥ 50 in a
/// press room (press office) or the moderation room (moderators). Room v12 creators count as
/// highest.
pub async fn roles_of(ctx: &BotCtx, room: &Room, sender: &UserId) -> Vec<Role> {
    let mut roles = Vec::new();
    if ctx
        .config
        .press_officers
        .iter()
        .any(|u| u == sender.as_str())
    {
        roles.push(Role::PressOffice);
    }
    if ctx.config.moderators.iter().any(|u| u == sender.as_str()) {
        roles.push(Role::Moderator);
    }
    let powerful = match room.get_user_power_level(sender).await {
        Ok(UserPowerLevel::Infinite) => true,
        Ok(UserPowerLevel::Int(level)) => i64::from(level) >= 50,
        Ok(_) | Err(_) => false,
    };
    if powerful && ctx.rooms.is_press(room.room_id()) && !roles.contains(&Role::PressOffice) {
        roles.push(Role::PressOffice);
    }
    if powerful && ctx.rooms.is_moderation(room.room_id()) && !roles.contains(&Role::Moderator) {
        roles.push(Role::Moderator);
    }
    roles
}
