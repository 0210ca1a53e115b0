//! The Matrix bot: press office and moderators by chat command, citizens in threads.
//!
//! The bot is optional: it runs only when the configuration has a `[matrix]` section. The sync
//! loop, the command parser and relaying arrive with the Matrix issue; until then this crate
//! decides only whether the bot is configured, so `rathaus serve` can say so at start-up.

use rathaus_shared::config::{Config, MatrixConfig};

/// The Matrix part of the configuration, if the operator wants the bot.
pub fn configured(config: &Config) -> Option<&MatrixConfig> {
    config.matrix.as_ref()
}
