#![recursion_limit = "256"]
//! The Matrix bot: press office and moderators by chat command, citizens in threads.
//!
//! The bot is optional: it runs only when the configuration has a `[matrix]` section.
//! `commands` is the pure parser; the sync loop and relaying build on it.

pub mod commands;
pub mod runtime;

pub use runtime::{Error, run};

use rathaus_shared::config::{Config, MatrixConfig};

/// The Matrix part of the configuration, if the operator wants the bot.
pub fn configured(config: &Config) -> Option<&MatrixConfig> {
    config.matrix.as_ref()
}
