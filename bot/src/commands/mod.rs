//! Chat commands, parsed without I/O so every command is unit-tested.
//!
//! One clap derive enum per role ([`PressCommand`], [`ModerationCommand`],
//! [`GeneralCommand`]): German command names with English `visible_alias`es, doc comments as the
//! help text, typed arguments. A message is split into shell-like words ([`words`]) and parsed
//! with `try_parse_from`; clap's errors are rendered in German ([`errors`]). Free text (an
//! announcement, an answer, a reason) is taken from the message as written, so Markdown keeps
//! its line breaks: clap only checks that it is there.

mod args;
mod errors;
mod words;

pub use args::{BlockTarget, Closing, EraseTarget};
use args::{parse_id, parse_rule_action, parse_rule_kind};
use clap::{Args, CommandFactory, Parser, Subcommand};
use rathaus_shared::domain::RuleAction;
use rathaus_shared::policy::RuleKind;

pub use errors::ParseError;
use words::Word;

/// Who may use a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Everyone,
    Moderator,
    PressOffice,
}

/// A parsed command, by the role it needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    General(GeneralCommand),
    Press(PressCommand),
    Moderation(ModerationCommand),
}

impl Command {
    /// The role a sender needs: the enum the command belongs to, nothing else.
    pub fn role(&self) -> Role {
        match self {
            Command::General(_) => Role::Everyone,
            Command::Press(_) => Role::PressOffice,
            Command::Moderation(_) => Role::Moderator,
        }
    }
}

/// Commands everyone may use.
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum GeneralCommand {
    /// Zeigt die Befehle, die Sie nutzen dürfen.
    #[command(name = "hilfe", visible_alias = "help")]
    Help,
}

/// Commands of the press office (in the press rooms).
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum PressCommand {
    /// Veröffentlicht eine Bekanntmachung (Markdown) im Fediverse und in den öffentlichen Räumen.
    #[command(name = "bekanntmachung", visible_alias = "announce")]
    Announce {
        #[command(flatten)]
        text: Text,
    },
    /// Startet eine Beteiligung, offen für Kommentare bis zum Datum (Ende des Tages in der
    /// Zeitzone der Stadt) oder bis zu einer Zeit nach RFC 3339. Erst der Titel, dann --bis, dann der Text.
    #[command(name = "beteiligung", visible_alias = "consult")]
    Consult {
        #[arg(value_name = "TITEL TEXT", required = true, num_args = 1..)]
        words: Vec<String>,
        #[arg(long = "bis", visible_alias = "closes", value_name = "DATUM", value_parser = Closing::parse)]
        closes: Closing,
        #[arg(skip)]
        title: String,
        #[arg(skip)]
        text: String,
    },
    /// Ersetzt den Text einer Bekanntmachung (als Bearbeitung sichtbar).
    #[command(name = "korrigieren", visible_alias = "correct")]
    Correct {
        #[arg(value_name = "ID", value_parser = parse_id)]
        id: i64,
        #[command(flatten)]
        text: Text,
    },
    /// Zieht eine Bekanntmachung zurück.
    #[command(
        name = "zurueckziehen",
        visible_alias = "retract",
        alias = "zurückziehen"
    )]
    Retract {
        #[arg(value_name = "ID", value_parser = parse_id)]
        id: i64,
    },
    /// Antwortet offiziell auf einen Kommentar, im Thread der Person.
    #[command(name = "antworten", visible_alias = "answer")]
    Answer {
        #[arg(value_name = "KOMMENTAR-ID", value_parser = parse_id)]
        comment: i64,
        #[command(flatten)]
        text: Text,
    },
    /// Beendet eine Beteiligung vorzeitig.
    #[command(name = "schliessen", visible_alias = "close", alias = "schließen")]
    Close {
        #[arg(value_name = "ID", value_parser = parse_id)]
        id: i64,
    },
    /// Veröffentlicht das Ergebnis einer Beteiligung (begründete Rückmeldung, Markdown); es
    /// erscheint auf ihrer Seite, im Fediverse und im Export.
    #[command(name = "ergebnis", visible_alias = "result")]
    Result {
        #[arg(value_name = "ID", value_parser = parse_id)]
        id: i64,
        #[command(flatten)]
        text: Text,
    },
    /// Zeigt die letzten Bekanntmachungen und Beteiligungen.
    #[command(name = "liste", visible_alias = "list")]
    List,
}

/// A required free text at the end of a command. clap checks that it is there; its value is
/// the message from there on as written ([`parse`] fills it), so Markdown keeps its lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct Text {
    #[arg(value_name = "TEXT", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    words: Vec<String>,
    #[arg(skip)]
    value: String,
}

impl Text {
    pub fn as_str(&self) -> &str {
        &self.value
    }
    pub fn into_string(self) -> String {
        self.value
    }
}

/// An optional reason at the end of a command, taken as written like [`Text`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct Reason {
    #[arg(value_name = "GRUND", num_args = 0.., trailing_var_arg = true, allow_hyphen_values = true)]
    words: Vec<String>,
    #[arg(skip)]
    value: Option<String>,
}

impl Reason {
    pub fn as_deref(&self) -> Option<&str> {
        self.value.as_deref()
    }
    pub fn into_option(self) -> Option<String> {
        self.value
    }
}

/// Commands of the moderators (in the moderation room).
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum ModerationCommand {
    /// Zeigt zurückgehaltene Kommentare.
    #[command(name = "warteschlange", visible_alias = "queue")]
    Queue,
    /// Veröffentlicht einen zurückgehaltenen Kommentar.
    #[command(name = "freigeben", visible_alias = "approve")]
    Approve {
        #[arg(value_name = "ID", value_parser = parse_id)]
        comment: i64,
    },
    /// Lehnt einen Kommentar ab.
    #[command(name = "ablehnen", visible_alias = "reject")]
    Reject {
        #[arg(value_name = "ID", value_parser = parse_id)]
        comment: i64,
        #[command(flatten)]
        reason: Reason,
    },
    /// Verbirgt einen veröffentlichten Kommentar.
    #[command(name = "verbergen", visible_alias = "hide")]
    Hide {
        #[arg(value_name = "ID", value_parser = parse_id)]
        comment: i64,
        #[command(flatten)]
        reason: Reason,
    },
    /// Löscht die Daten einer Person (alle ihre Kommentare) oder eines Kommentars endgültig,
    /// etwa auf einen Antrag nach Art. 17 DSGVO.
    #[command(name = "tilgen", visible_alias = "erase")]
    Erase {
        #[arg(value_name = "ID|NUTZER", value_parser = EraseTarget::parse)]
        target: EraseTarget,
    },
    /// Sperrt eine Person (@name:server oder Actor-URL) oder einen Server.
    #[command(name = "sperren", visible_alias = "block")]
    Block {
        #[arg(value_name = "NUTZER|DOMAIN", value_parser = BlockTarget::parse)]
        target: BlockTarget,
        #[command(flatten)]
        reason: Reason,
    },
    /// Hebt eine Sperre auf.
    #[command(name = "entsperren", visible_alias = "unblock")]
    Unblock {
        #[arg(value_name = "NUTZER|DOMAIN", value_parser = BlockTarget::parse)]
        target: BlockTarget,
    },
    /// Zeigt die Kommentar-Regeln.
    #[command(name = "regeln", visible_alias = "rules")]
    Rules,
    /// Fügt eine Regel hinzu (oder eine neue Version) oder entfernt sie.
    #[command(
        name = "regel",
        visible_alias = "rule",
        subcommand_value_name = "neu|entfernen"
    )]
    Rule {
        #[command(subcommand)]
        change: RuleChange,
    },
    /// Zahlen zu Kommentaren, gesamt oder für eine Beteiligung.
    #[command(name = "statistik", visible_alias = "stats")]
    Stats {
        #[arg(value_name = "ID", value_parser = parse_id)]
        id: Option<i64>,
    },
    /// Zeigt das Moderationsprotokoll.
    #[command(name = "protokoll", visible_alias = "log")]
    Log {
        #[arg(value_name = "KOMMENTAR-ID", value_parser = parse_id)]
        comment: Option<i64>,
    },
    /// Lädt den Open-Data-Export einer Beteiligung (JSON und CSV, pseudonymisiert) in den Raum.
    #[command(name = "exportieren", visible_alias = "export")]
    Export {
        #[arg(value_name = "ID", value_parser = parse_id)]
        id: i64,
    },
}

/// `!regel neu …` / `!regel entfernen …`.
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum RuleChange {
    /// Wörter (durch Komma getrennt) oder ein regulärer Ausdruck; nach „--“ der öffentliche Grund.
    #[command(name = "neu", visible_alias = "add")]
    Add {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(value_name = "words|regex", value_parser = parse_rule_kind)]
        kind: RuleKind,
        #[arg(value_name = "hold|reject", value_parser = parse_rule_action)]
        action: RuleAction,
        #[arg(value_name = "WERT,WERT", required = true, num_args = 1..)]
        values: Vec<String>,
        #[arg(value_name = "GRUND", last = true, required = true, num_args = 1..)]
        reason: Vec<String>,
    },
    /// Entfernt eine Regel, die die Moderation hinzugefügt hat.
    #[command(name = "entfernen", visible_alias = "remove")]
    Remove {
        #[arg(value_name = "ID")]
        id: String,
    },
}

/// The parser for one role's enum.
#[derive(Debug, Parser)]
#[command(
    name = "!",
    no_binary_name = true,
    disable_help_subcommand = true,
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Cli<T: Subcommand> {
    #[command(subcommand)]
    command: T,
}

/// Parses a message body. `Ok(None)`: not a command (does not start with `!`).
/// The language a command was written in: its English alias (`!announce`) answers in
/// English, its German name or anything else in German.
pub fn language(body: &str) -> crate::replies::Lang {
    use crate::replies::Lang;
    let Some(name) = body
        .trim()
        .strip_prefix('!')
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_lowercase)
    else {
        return Lang::De;
    };
    for cli in [
        Cli::<GeneralCommand>::command(),
        Cli::<PressCommand>::command(),
        Cli::<ModerationCommand>::command(),
    ] {
        for sub in cli.get_subcommands() {
            if sub.get_name() == name {
                return Lang::De;
            }
            if sub.get_visible_aliases().any(|a| a == name) {
                return Lang::En;
            }
        }
    }
    Lang::De
}

pub fn parse(body: &str) -> Result<Option<Command>, ParseError> {
    let body = body.trim();
    let Some(rest) = body.strip_prefix('!') else {
        return Ok(None);
    };
    let words = words::split(rest);
    let Some(first) = words.first() else {
        return Err(ParseError::new(
            "Nach dem Ausrufezeichen fehlt der Befehl. Schreiben Sie !hilfe.",
        ));
    };
    let name = first.text.to_lowercase();
    let args = std::iter::once(name.clone()).chain(words[1..].iter().map(|w| w.text.clone()));
    let command = if has(&Cli::<GeneralCommand>::command(), &name) {
        Command::General(try_parse::<GeneralCommand>(args, &name)?)
    } else if has(&Cli::<PressCommand>::command(), &name) {
        let mut c = try_parse::<PressCommand>(args, &name)?;
        c.take_text(rest, &words)?;
        Command::Press(c)
    } else if has(&Cli::<ModerationCommand>::command(), &name) {
        let mut c = try_parse::<ModerationCommand>(args, &name)?;
        c.take_text(rest, &words)?;
        Command::Moderation(c)
    } else {
        return Err(ParseError::new(format!(
            "Unbekannter Befehl „!{}“. Schreiben Sie !hilfe für eine Übersicht.",
            first.text
        )));
    };
    Ok(Some(command))
}

/// A role's command definition, built so that argument counts are known (for usages).
fn built<T: Subcommand>() -> clap::Command {
    let mut cli = Cli::<T>::command();
    cli.build();
    cli
}

fn has(cli: &clap::Command, name: &str) -> bool {
    cli.find_subcommand(name).is_some()
}

fn try_parse<T: Subcommand>(
    args: impl Iterator<Item = String>,
    name: &str,
) -> Result<T, ParseError> {
    Cli::<T>::try_parse_from(args)
        .map(|cli| cli.command)
        .map_err(|e| errors::german(&e, &built::<T>(), name))
}

/// The message from word `from` on, as written (line breaks and spacing kept).
fn tail(rest: &str, words: &[Word], from: usize) -> String {
    words
        .get(from)
        .map(|w| rest[w.start..].trim().to_owned())
        .unwrap_or_default()
}

/// The message between words `from` and `to` (exclusive), as written.
fn between(rest: &str, words: &[Word], from: usize, to: usize) -> String {
    match (words.get(from), words.get(to)) {
        (Some(a), Some(b)) if from < to => rest[a.start..b.start].trim().to_owned(),
        _ => String::new(),
    }
}

/// An optional free text after `head` words.
fn optional_tail(rest: &str, words: &[Word], head: usize) -> Option<String> {
    Some(tail(rest, words, head)).filter(|t| !t.is_empty())
}

impl PressCommand {
    /// Fills the free-text fields from the message as written.
    fn take_text(&mut self, rest: &str, words: &[Word]) -> Result<(), ParseError> {
        match self {
            Self::Announce { text } => text.value = tail(rest, words, 1),
            Self::Correct { text, .. } | Self::Answer { text, .. } | Self::Result { text, .. } => {
                text.value = tail(rest, words, 2);
            }
            Self::Consult { title, text, .. } => {
                // TITEL --bis DATUM TEXT: the title ends at the option, the text follows its value.
                let option = words
                    .iter()
                    .position(|w| {
                        let t = w.text.to_lowercase();
                        t == "--bis"
                            || t == "--closes"
                            || t.starts_with("--bis=")
                            || t.starts_with("--closes=")
                    })
                    .unwrap_or(words.len());
                let value_inline = words.get(option).is_some_and(|w| w.text.contains('='));
                *title = between(rest, words, 1, option)
                    .trim_matches('"')
                    .trim()
                    .to_owned();
                *text = tail(rest, words, option + if value_inline { 1 } else { 2 });
                let usage = errors::usage_of(&built::<PressCommand>(), "beteiligung");
                if title.is_empty() {
                    return Err(ParseError::with_usage(
                        "Es fehlt der Titel vor --bis.",
                        &usage,
                    ));
                }
                if text.is_empty() {
                    return Err(ParseError::with_usage(
                        "Es fehlt der Text nach dem Datum.",
                        &usage,
                    ));
                }
            }
            Self::Retract { .. } | Self::Close { .. } | Self::List => {}
        }
        Ok(())
    }
}

impl ModerationCommand {
    /// Fills the free-text fields from the message as written.
    fn take_text(&mut self, rest: &str, words: &[Word]) -> Result<(), ParseError> {
        match self {
            Self::Reject { reason, .. }
            | Self::Hide { reason, .. }
            | Self::Block { reason, .. } => {
                reason.value = optional_tail(rest, words, 2);
            }
            Self::Rule {
                change:
                    RuleChange::Add {
                        kind,
                        values,
                        reason,
                        ..
                    },
            } => {
                // Values and reason as written: commas and spaces inside them matter.
                let dashes = words
                    .iter()
                    .position(|w| w.text == "--")
                    .unwrap_or(words.len());
                let raw_values = between(rest, words, 5, dashes);
                *values = match kind {
                    RuleKind::Regex => vec![raw_values],
                    _ => raw_values
                        .split(',')
                        .map(|v| v.trim().to_owned())
                        .filter(|v| !v.is_empty())
                        .collect(),
                };
                *reason = vec![tail(rest, words, dashes + 1)];
                if values.is_empty() {
                    return Err(ParseError::with_usage(
                        "Es fehlen Wörter oder das Muster.",
                        &errors::usage_of(&built::<ModerationCommand>(), "regel"),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The help text for someone holding `roles`, generated from the command enums.
pub fn help(roles: &[Role]) -> String {
    let mut out = String::from("Befehle:\n");
    let mut add = |cli: clap::Command| {
        for sub in cli.get_subcommands() {
            out.push_str(&errors::describe(sub));
        }
    };
    add(built::<GeneralCommand>());
    if roles.contains(&Role::PressOffice) {
        add(built::<PressCommand>());
    }
    if roles.contains(&Role::Moderator) {
        add(built::<ModerationCommand>());
    }
    out
}

#[cfg(test)]
mod tests;
