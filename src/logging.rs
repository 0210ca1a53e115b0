//! The logger. The Matrix library logs at `warn` unless the operator's filter names it (its
//! `info` spans would prefix every Rathaus line with a long context), and its ERROR line for
//! each failed request is dropped when the failure is a routine "not found" (an unencrypted
//! room's missing encryption state, no key backup, no account data): the library handles those
//! itself, and real failures reach Rathaus as errors, which it logs.

use anyhow::Context as _;
use rathaus_shared::config::LogFormat;
use tracing::field::{Field, Visit};
use tracing::{Event, Metadata};
use tracing_subscriber::layer::{Context, Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The Matrix library's crates, quiet unless the operator's filter names them.
const MATRIX_TARGETS: &[&str] = &[
    "matrix_sdk",
    "matrix_sdk_base",
    "matrix_sdk_common",
    "matrix_sdk_crypto",
    "matrix_sdk_sqlite",
];

/// The operator's filter with `=warn` for each Matrix crate it does not mention.
pub fn effective_filter(user: &str) -> String {
    let mut filter = user.trim().to_owned();
    for target in MATRIX_TARGETS {
        let named = user.split(',').any(|d| {
            d.trim()
                .split(['=', '[', ':'])
                .next()
                .is_some_and(|t| t == *target)
        });
        if !named {
            if !filter.is_empty() {
                filter.push(',');
            }
            filter.push_str(target);
            filter.push_str("=warn");
        }
    }
    filter
}

/// A Matrix library message about a routine state: a response that only says "not found",
/// or no key backup set up (the bot keeps no server-side key backup; the library repeats
/// this warning every few seconds).
pub fn is_benign(target: &str, message: &str) -> bool {
    target.starts_with("matrix_sdk")
        && (message.contains("M_NOT_FOUND")
            || message.contains("kind: NotFound")
            || message.contains("status_code: 404")
            || message.contains("no backup key was found"))
}

/// Drops the library's routine "not found" lines (see the module doc).
struct DropBenign;

impl<S> Filter<S> for DropBenign {
    fn enabled(&self, _: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _: &Context<'_, S>) -> bool {
        let target = event.metadata().target();
        if !target.starts_with("matrix_sdk") {
            return true;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        !is_benign(target, &message.0)
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

pub fn init(user_filter: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(effective_filter(user_filter)).context("log.filter")?;
    // Colours only for people at a terminal, never into log files or journald.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let layer = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(layer.with_filter(DropBenign).with_filter(filter))
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_crates_are_quiet_unless_named() {
        assert_eq!(
            effective_filter("info"),
            "info,matrix_sdk=warn,matrix_sdk_base=warn,matrix_sdk_common=warn,matrix_sdk_crypto=warn,matrix_sdk_sqlite=warn"
        );
        let f = effective_filter("info,matrix_sdk=debug");
        assert!(f.starts_with("info,matrix_sdk=debug,"), "{f}");
        assert!(!f.contains("matrix_sdk=warn"), "{f}");
        assert!(f.contains("matrix_sdk_base=warn"), "{f}");
        assert!(EnvFilter::try_new(effective_filter("")).is_ok());
        assert!(EnvFilter::try_new(effective_filter("rathaus=debug,info")).is_ok());
    }

    #[test]
    fn only_not_found_from_the_library_is_benign() {
        let not_found = "Error while sending request: Api(Server(ClientApi(Error { status_code: 404, body: Standard { kind: NotFound, message: \"Event not found.\" } })))";
        assert!(is_benign("matrix_sdk::http_client", not_found));
        assert!(!is_benign("rathaus_bot::relay", not_found));
        assert!(is_benign(
            "matrix_sdk_crypto::backups",
            "Trying to backup room keys but no backup key was found"
        ));
        assert!(!is_benign(
            "matrix_sdk::http_client",
            "Error while sending request: Api(Server(ClientApi(Error { status_code: 403, body: Standard { kind: Forbidden } })))"
        ));
    }
}
