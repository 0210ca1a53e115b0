#![recursion_limit = "256"]
//! The Matrix bot: press office and moderators by chat command, citizens in threads.
//!
//! The bot is optional: it runs only when the configuration has a `[matrix]` section.
//! - `commands`: the pure chat-command parser (clap derive enums per role) and `!hilfe`;
//! - `session`: login and the persistent session; `sync`: the sync loop and its leadership;
//! - `rooms`: the configured rooms and roles; `handlers`: one module per event kind;
//! - `execute`: commands run for their role; `replies`: what the bot says (pure);
//! - `relay`: announcements and the moderation log out into Matrix.

pub mod commands;
mod error;
mod execute;
mod handlers;
mod relay;
mod replies;
mod rooms;
mod session;
mod sync;

pub use error::Error;
pub use sync::run;

use rathaus_shared::config::{Config, MatrixConfig};

/// The Matrix part of the configuration, if the operator wants the bot.
pub fn configured(config: &Config) -> Option<&MatrixConfig> {
    config.matrix.as_ref()
}
