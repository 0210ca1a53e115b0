//! clap's errors and help, in German: a press officer never sees clap's English output.

use clap::ArgAction;
use clap::error::{ContextKind, ContextValue, ErrorKind};

/// What was wrong, and how to write it instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
}

impl ParseError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    pub fn with_usage(what: &str, usage: &str) -> Self {
        Self::new(format!("{what} So geht es: `{usage}`"))
    }
}

/// Renders clap's error for command `name` of `cli` in German, with the command's usage.
pub fn german(e: &clap::Error, cli: &clap::Command, name: &str) -> ParseError {
    let usage = usage_of(cli, name);
    let arg = || match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => plain(s),
        Some(ContextValue::Strings(v)) => v.iter().map(|s| plain(s)).collect::<Vec<_>>().join(", "),
        _ => String::new(),
    };
    let what = match e.kind() {
        ErrorKind::MissingRequiredArgument => format!("Es fehlt: {}.", arg()),
        ErrorKind::MissingSubcommand | ErrorKind::InvalidSubcommand => {
            let given = match e.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(s)) => format!("„{s}“ kenne ich hier nicht. "),
                _ => String::new(),
            };
            format!("{given}Es fehlt, was geschehen soll.")
        }
        // Our value parsers word their reason in German; clap keeps it as the error's source.
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            match std::error::Error::source(e) {
                Some(reason) => reason.to_string(),
                None => format!("Ungültige Angabe bei {}.", arg()),
            }
        }
        ErrorKind::UnknownArgument | ErrorKind::TooManyValues => {
            let given = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => format!(" („{s}“)"),
                _ => String::new(),
            };
            format!("Das ist eine Angabe zu viel{given}.")
        }
        ErrorKind::ArgumentConflict => "Diese Angaben passen nicht zusammen.".to_owned(),
        _ => "Der Befehl ist so nicht vollständig.".to_owned(),
    };
    ParseError::with_usage(&what, &usage)
}

/// `<TEXT>...` → `TEXT…`: the usage style of our help.
fn plain(s: &str) -> String {
    s.replace(['<', '>'], "").replace("...", "…")
}

/// How command `name` (or its alias) of `cli` is written, e.g. `!korrigieren ID TEXT…`;
/// commands with sub-commands list each.
pub fn usage_of(cli: &clap::Command, name: &str) -> String {
    let Some(sub) = cli.find_subcommand(name) else {
        return "!hilfe".to_owned();
    };
    usages(sub, &format!("!{}", sub.get_name())).join("  |  ")
}

fn usages(cmd: &clap::Command, path: &str) -> Vec<String> {
    if cmd.has_subcommands() {
        return cmd
            .get_subcommands()
            .flat_map(|s| usages(s, &format!("{path} {}", s.get_name())))
            .collect();
    }
    let mut out = path.to_owned();
    let shown = |a: &&clap::Arg| {
        !a.is_hide_set()
            && !matches!(
                a.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
            )
    };
    for arg in cmd.get_arguments().filter(shown) {
        let name = arg.get_value_names().and_then(|v| v.first()).map_or_else(
            || arg.get_id().to_string().to_uppercase(),
            ToString::to_string,
        );
        let many = arg
            .get_num_args()
            .is_some_and(|n| n.max_values() > 1 && n.takes_values());
        let mut part = match arg.get_long() {
            Some(long) => format!("--{long} {name}"),
            None => name,
        };
        if many {
            part.push('…');
        }
        if arg.is_last_set() {
            part = format!("-- {part}");
        }
        if !arg.is_required_set() && arg.get_long().is_none() {
            part = format!("[{part}]");
        }
        out.push(' ');
        out.push_str(&part);
    }
    vec![out]
}

/// One help line: usage, what it does, and the other names.
pub fn describe(sub: &clap::Command) -> String {
    let about = sub
        .get_about()
        .map(|a| a.to_string())
        .unwrap_or_default()
        .replace('\n', " ");
    // clap drops the full stop of a one-sentence doc comment; help reads as sentences.
    let about = format!("{}.", about.trim_end_matches('.'));
    let aliases: Vec<String> = sub.get_visible_aliases().map(|a| format!("!{a}")).collect();
    let usage = usages(sub, &format!("!{}", sub.get_name())).join("  |  ");
    let also = if aliases.is_empty() {
        String::new()
    } else {
        format!(" (auch {})", aliases.join(", "))
    };
    format!("• `{usage}` — {about}{also}\n")
}
