//! Chat commands: a pure `parse(&str) -> Result<Option<Command>, ParseError>`, no I/O, so
//! every command is unit-tested. Names are German with English aliases; each command's help
//! text lives in one table, which `!hilfe` / `!help` prints for the sender's role.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

/// Who may use a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Everyone,
    Moderator,
    PressOffice,
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help,
    Announce {
        text: String,
    },
    Consult {
        title: String,
        closes: DateTime<Utc>,
        text: String,
    },
    Correct {
        id: i64,
        text: String,
    },
    Retract {
        id: i64,
    },
    Answer {
        comment: i64,
        text: String,
    },
    Close {
        id: i64,
    },
    /// A consultation's result (closing summary / reasoned response).
    Result {
        id: i64,
        text: String,
    },
    List,
    Queue,
    Approve {
        comment: i64,
    },
    Reject {
        comment: i64,
        reason: Option<String>,
    },
    Hide {
        comment: i64,
        reason: Option<String>,
    },
    Block {
        target: String,
        reason: Option<String>,
    },
    Unblock {
        target: String,
    },
    Rules,
    RuleAdd {
        id: String,
        kind: String,
        action: String,
        values: Vec<String>,
        reason: String,
    },
    RuleRemove {
        id: String,
    },
    Stats {
        id: Option<i64>,
    },
    Log {
        comment: Option<i64>,
    },
    Export {
        id: i64,
    },
}

/// One command's names, role and help.
#[derive(Debug)]
pub struct Spec {
    pub names: &'static [&'static str],
    pub role: Role,
    pub usage: &'static str,
    pub help: &'static str,
}

/// Every command. The first name is the German one shown in help.
pub const SPECS: &[Spec] = &[
    Spec {
        names: &["hilfe", "help"],
        role: Role::Everyone,
        usage: "!hilfe",
        help: "Zeigt die Befehle, die Sie nutzen dürfen. / Lists the commands you may use.",
    },
    Spec {
        names: &["bekanntmachung", "announce"],
        role: Role::PressOffice,
        usage: "!bekanntmachung TEXT",
        help: "Veröffentlicht eine Bekanntmachung (Markdown) im Fediverse und in den öffentlichen Räumen. / Publishes an announcement.",
    },
    Spec {
        names: &["beteiligung", "consult"],
        role: Role::PressOffice,
        usage: "!beteiligung TITEL --bis 2026-12-31 TEXT",
        help: "Startet eine Beteiligung, offen für Kommentare bis zum Datum (Ende des Tages) oder einer Zeit nach RFC 3339. / Opens a consultation until the date.",
    },
    Spec {
        names: &["korrigieren", "correct"],
        role: Role::PressOffice,
        usage: "!korrigieren ID TEXT",
        help: "Ersetzt den Text einer Bekanntmachung (als Bearbeitung sichtbar). / Corrects an announcement.",
    },
    Spec {
        names: &["zurueckziehen", "zurückziehen", "retract"],
        role: Role::PressOffice,
        usage: "!zurueckziehen ID",
        help: "Zieht eine Bekanntmachung zurück. / Retracts an announcement.",
    },
    Spec {
        names: &["antworten", "answer"],
        role: Role::PressOffice,
        usage: "!antworten KOMMENTAR-ID TEXT",
        help: "Antwortet offiziell auf einen Kommentar, im Thread der Person. / Answers a comment officially.",
    },
    Spec {
        names: &["schliessen", "schließen", "close"],
        role: Role::PressOffice,
        usage: "!schliessen ID",
        help: "Beendet eine Beteiligung vorzeitig. / Closes a consultation early.",
    },
    Spec {
        names: &["ergebnis", "result"],
        role: Role::PressOffice,
        usage: "!ergebnis ID TEXT",
        help: "Veröffentlicht das Ergebnis einer Beteiligung (begründete Rückmeldung, Markdown); es erscheint auf ihrer Seite, im Fediverse und im Export. / Publishes a consultation's result.",
    },
    Spec {
        names: &["liste", "list"],
        role: Role::PressOffice,
        usage: "!liste",
        help: "Zeigt die letzten Bekanntmachungen und Beteiligungen. / Lists recent announcements.",
    },
    Spec {
        names: &["warteschlange", "queue"],
        role: Role::Moderator,
        usage: "!warteschlange",
        help: "Zeigt zurückgehaltene Kommentare. / Shows held comments.",
    },
    Spec {
        names: &["freigeben", "approve"],
        role: Role::Moderator,
        usage: "!freigeben ID",
        help: "Veröffentlicht einen zurückgehaltenen Kommentar. / Approves a held comment.",
    },
    Spec {
        names: &["ablehnen", "reject"],
        role: Role::Moderator,
        usage: "!ablehnen ID [GRUND]",
        help: "Lehnt einen Kommentar ab. / Rejects a comment.",
    },
    Spec {
        names: &["verbergen", "hide"],
        role: Role::Moderator,
        usage: "!verbergen ID [GRUND]",
        help: "Verbirgt einen veröffentlichten Kommentar. / Hides a published comment.",
    },
    Spec {
        names: &["sperren", "block"],
        role: Role::Moderator,
        usage: "!sperren NUTZER|DOMAIN [GRUND]",
        help: "Sperrt eine Person (@name:server oder Actor-URL) oder einen Server. / Blocks a user or a domain.",
    },
    Spec {
        names: &["entsperren", "unblock"],
        role: Role::Moderator,
        usage: "!entsperren NUTZER|DOMAIN",
        help: "Hebt eine Sperre auf. / Removes a block.",
    },
    Spec {
        names: &["regeln", "rules"],
        role: Role::Moderator,
        usage: "!regeln",
        help: "Zeigt die Kommentar-Regeln. / Lists the comment rules.",
    },
    Spec {
        names: &["regel", "rule"],
        role: Role::Moderator,
        usage: "!regel neu ID words|regex hold|reject WERT[,WERT…] -- GRUND  |  !regel entfernen ID",
        help: "Fügt eine Regel hinzu (oder eine neue Version) oder entfernt sie. / Adds or removes a runtime rule.",
    },
    Spec {
        names: &["statistik", "stats"],
        role: Role::Moderator,
        usage: "!statistik [ID]",
        help: "Zahlen zu Kommentaren, gesamt oder für eine Beteiligung. / Comment statistics.",
    },
    Spec {
        names: &["protokoll", "log"],
        role: Role::Moderator,
        usage: "!protokoll [KOMMENTAR-ID]",
        help: "Zeigt das Moderationsprotokoll. / Shows the moderation log.",
    },
    Spec {
        names: &["exportieren", "export"],
        role: Role::Moderator,
        usage: "!exportieren ID",
        help: "Lädt den Open-Data-Export einer Beteiligung (JSON und CSV, pseudonymisiert) in den Raum. / Uploads the consultation's export.",
    },
];

/// What was wrong, and how to write it instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
}

fn error(message: impl Into<String>) -> ParseError {
    ParseError {
        message: message.into(),
    }
}

fn usage_error(spec: &Spec, what: &str) -> ParseError {
    error(format!("{what} So geht es / usage: `{}`", spec.usage))
}

/// The spec for a command name (case-insensitive).
pub fn spec(name: &str) -> Option<&'static Spec> {
    let name = name.to_lowercase();
    SPECS.iter().find(|s| s.names.contains(&name.as_str()))
}

fn id_arg(spec: &Spec, raw: Option<&str>) -> Result<i64, ParseError> {
    let raw = raw.ok_or_else(|| usage_error(spec, "Es fehlt die ID. / The ID is missing."))?;
    raw.trim_start_matches('#').parse().map_err(|_| {
        usage_error(
            spec,
            &format!("„{raw}“ ist keine ID (eine Zahl). / `{raw}` is not an ID."),
        )
    })
}

fn rest_text(spec: &Spec, rest: &str, what: &str) -> Result<String, ParseError> {
    let text = rest.trim();
    if text.is_empty() {
        return Err(usage_error(spec, &format!("Es fehlt {what}.")));
    }
    Ok(text.to_owned())
}

fn optional(rest: &str) -> Option<String> {
    let rest = rest.trim();
    (!rest.is_empty()).then(|| rest.to_owned())
}

/// Splits the first whitespace-separated word off.
fn split_word(s: &str) -> (Option<&str>, &str) {
    let s = s.trim_start();
    if s.is_empty() {
        return (None, "");
    }
    match s.find(char::is_whitespace) {
        Some(i) => (Some(&s[..i]), &s[i..]),
        None => (Some(s), ""),
    }
}

/// A closing time: a date (the end of that day, German time) or an RFC 3339 time.
pub fn parse_closing(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%d.%m.%Y"))
        .ok()?;
    // Central European Time; a consultation closing "on the 31st" is open all that day.
    let cet = FixedOffset::east_opt(3600)?;
    cet.from_local_datetime(&date.and_hms_opt(23, 59, 59)?)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Parses a message body. `Ok(None)`: not a command (does not start with `!`).
pub fn parse(body: &str) -> Result<Option<Command>, ParseError> {
    let body = body.trim();
    let Some(rest) = body.strip_prefix('!') else {
        return Ok(None);
    };
    let (name, rest) = split_word(rest);
    let Some(name) = name else {
        return Err(error(
            "Nach dem Ausrufezeichen fehlt der Befehl. Schreiben Sie !hilfe. / Write !help.",
        ));
    };
    let Some(spec) = spec(name) else {
        return Err(error(format!(
            "Unbekannter Befehl „!{name}“. Schreiben Sie !hilfe für eine Übersicht. / Unknown command; write !help."
        )));
    };
    let first = spec.names[0];
    let command = match first {
        "hilfe" => Command::Help,
        "bekanntmachung" => Command::Announce {
            text: rest_text(spec, rest, "der Text / the text is missing")?,
        },
        "beteiligung" => {
            let marker = [" --bis ", " --closes "]
                .iter()
                .filter_map(|m| rest.find(m).map(|i| (i, m.len())))
                .min();
            let Some((at, len)) = marker else {
                return Err(usage_error(
                    spec,
                    "Es fehlt das Enddatum mit --bis. / The closing date (--closes) is missing.",
                ));
            };
            let title = rest[..at].trim().trim_matches('"').trim().to_owned();
            if title.is_empty() {
                return Err(usage_error(
                    spec,
                    "Es fehlt der Titel. / The title is missing.",
                ));
            }
            let (date, text) = split_word(&rest[at + len - 1..]);
            let date = date.unwrap_or_default();
            let closes = parse_closing(date).ok_or_else(|| {
                usage_error(
                    spec,
                    &format!("„{date}“ ist kein Datum wie 2026-12-31. / `{date}` is not a date."),
                )
            })?;
            Command::Consult {
                title,
                closes,
                text: rest_text(spec, text, "der Text / the text is missing")?,
            }
        }
        "korrigieren" => {
            let (id, text) = split_word(rest);
            Command::Correct {
                id: id_arg(spec, id)?,
                text: rest_text(spec, text, "der neue Text / the new text is missing")?,
            }
        }
        "zurueckziehen" => Command::Retract {
            id: id_arg(spec, split_word(rest).0)?,
        },
        "antworten" => {
            let (id, text) = split_word(rest);
            Command::Answer {
                comment: id_arg(spec, id)?,
                text: rest_text(spec, text, "die Antwort / the answer is missing")?,
            }
        }
        "schliessen" => Command::Close {
            id: id_arg(spec, split_word(rest).0)?,
        },
        "ergebnis" => {
            let (id, text) = split_word(rest);
            Command::Result {
                id: id_arg(spec, id)?,
                text: rest_text(spec, text, "das Ergebnis / the result is missing")?,
            }
        }
        "liste" => Command::List,
        "warteschlange" => Command::Queue,
        "freigeben" => Command::Approve {
            comment: id_arg(spec, split_word(rest).0)?,
        },
        "ablehnen" | "verbergen" => {
            let (id, reason) = split_word(rest);
            let comment = id_arg(spec, id)?;
            if first == "ablehnen" {
                Command::Reject {
                    comment,
                    reason: optional(reason),
                }
            } else {
                Command::Hide {
                    comment,
                    reason: optional(reason),
                }
            }
        }
        "sperren" => {
            let (target, reason) = split_word(rest);
            let target = target.ok_or_else(|| {
                usage_error(spec, "Wen oder welchen Server? / Whom or which server?")
            })?;
            Command::Block {
                target: target.to_owned(),
                reason: optional(reason),
            }
        }
        "entsperren" => {
            let target = split_word(rest).0.ok_or_else(|| {
                usage_error(spec, "Wen oder welchen Server? / Whom or which server?")
            })?;
            Command::Unblock {
                target: target.to_owned(),
            }
        }
        "regeln" => Command::Rules,
        "regel" => {
            let (sub, rest) = split_word(rest);
            match sub.map(str::to_lowercase).as_deref() {
                Some("neu" | "add") => {
                    let (id, rest) = split_word(rest);
                    let (kind, rest) = split_word(rest);
                    let (action, rest) = split_word(rest);
                    let (Some(id), Some(kind), Some(action)) = (id, kind, action) else {
                        return Err(usage_error(
                            spec,
                            "Es fehlen Angaben. / Something is missing.",
                        ));
                    };
                    let kind = kind.to_lowercase();
                    if !matches!(kind.as_str(), "words" | "regex" | "woerter" | "wörter") {
                        return Err(usage_error(
                            spec,
                            &format!(
                                "„{kind}“: erlaubt sind words oder regex. / Kind must be words or regex."
                            ),
                        ));
                    }
                    let action = match action.to_lowercase().as_str() {
                        "hold" | "pruefen" | "prüfen" => "hold",
                        "reject" | "ablehnen" => "reject",
                        other => {
                            return Err(usage_error(
                                spec,
                                &format!(
                                    "„{other}“: erlaubt sind hold oder reject. / Action must be hold or reject."
                                ),
                            ));
                        }
                    };
                    let Some((values, reason)) = rest.split_once(" -- ") else {
                        return Err(usage_error(
                            spec,
                            "Es fehlt der öffentliche Grund nach „--“. / The public reason after `--` is missing.",
                        ));
                    };
                    let kind = if kind == "regex" { "regex" } else { "words" };
                    let values: Vec<String> = if kind == "regex" {
                        vec![values.trim().to_owned()]
                    } else {
                        values
                            .split(',')
                            .map(|v| v.trim().to_owned())
                            .filter(|v| !v.is_empty())
                            .collect()
                    };
                    if values.iter().all(String::is_empty) {
                        return Err(usage_error(
                            spec,
                            "Es fehlen Wörter oder das Muster. / Words or pattern missing.",
                        ));
                    }
                    Command::RuleAdd {
                        id: id.to_owned(),
                        kind: kind.to_owned(),
                        action: action.to_owned(),
                        values,
                        reason: rest_text(spec, reason, "der Grund / the reason is missing")?,
                    }
                }
                Some("entfernen" | "remove") => {
                    let id = split_word(rest)
                        .0
                        .ok_or_else(|| usage_error(spec, "Welche Regel? / Which rule?"))?;
                    Command::RuleRemove { id: id.to_owned() }
                }
                _ => {
                    return Err(usage_error(
                        spec,
                        "„neu“ oder „entfernen“? / `add` or `remove`?",
                    ));
                }
            }
        }
        "statistik" => Command::Stats {
            id: split_word(rest)
                .0
                .map(|_| id_arg(spec, split_word(rest).0))
                .transpose()?,
        },
        "exportieren" => Command::Export {
            id: id_arg(spec, split_word(rest).0)?,
        },
        "protokoll" => Command::Log {
            comment: split_word(rest)
                .0
                .map(|_| id_arg(spec, split_word(rest).0))
                .transpose()?,
        },
        _ => {
            return Err(error(
                "Dieser Befehl ist noch nicht verfügbar. / Not available yet.",
            ));
        }
    };
    Ok(Some(command))
}

impl Command {
    /// The role a sender needs.
    pub fn role(&self) -> Role {
        let name = match self {
            Command::Help => "hilfe",
            Command::Announce { .. } => "bekanntmachung",
            Command::Consult { .. } => "beteiligung",
            Command::Correct { .. } => "korrigieren",
            Command::Retract { .. } => "zurueckziehen",
            Command::Answer { .. } => "antworten",
            Command::Close { .. } => "schliessen",
            Command::Result { .. } => "ergebnis",
            Command::List => "liste",
            Command::Queue => "warteschlange",
            Command::Approve { .. } => "freigeben",
            Command::Reject { .. } => "ablehnen",
            Command::Hide { .. } => "verbergen",
            Command::Block { .. } => "sperren",
            Command::Unblock { .. } => "entsperren",
            Command::Rules => "regeln",
            Command::RuleAdd { .. } | Command::RuleRemove { .. } => "regel",
            Command::Stats { .. } => "statistik",
            Command::Log { .. } => "protokoll",
            Command::Export { .. } => "exportieren",
        };
        spec(name).map_or(Role::PressOffice, |s| s.role)
    }
}

/// The help text for someone holding `roles`.
pub fn help(roles: &[Role]) -> String {
    let mut out = String::from("Befehle / commands:\n");
    for s in SPECS {
        if s.role == Role::Everyone || roles.contains(&s.role) {
            let aliases = s.names[1..]
                .iter()
                .map(|n| format!("!{n}"))
                .collect::<Vec<_>>()
                .join(", ");
            out.push_str(&format!("• {} — {} ({aliases})\n", s.usage, s.help));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Command {
        parse(body)
            .unwrap_or_else(|e| panic!("{body}: {e}"))
            .unwrap_or_else(|| panic!("{body}: not a command"))
    }

    fn err(body: &str) -> String {
        parse(body).expect_err(body).message
    }

    #[test]
    fn plain_messages_are_not_commands() {
        assert_eq!(parse("Hallo zusammen").expect("ok"), None);
        assert_eq!(parse("  Frage: !hilfe?").expect("ok"), None);
    }

    #[test]
    fn every_command_in_german_and_english() {
        assert_eq!(ok("!hilfe"), Command::Help);
        assert_eq!(ok("!HELP"), Command::Help);
        assert_eq!(
            ok("!bekanntmachung Die **Sprechstunde** ist am Freitag."),
            Command::Announce {
                text: "Die **Sprechstunde** ist am Freitag.".into()
            }
        );
        assert_eq!(
            ok("!announce Hallo"),
            Command::Announce {
                text: "Hallo".into()
            }
        );
        let consult = ok("!beteiligung Radweg Hauptstraße --bis 2026-12-31 Wie soll er aussehen?");
        let Command::Consult {
            title,
            closes,
            text,
        } = consult
        else {
            panic!("{consult:?}")
        };
        assert_eq!(title, "Radweg Hauptstraße");
        assert_eq!(closes.to_rfc3339(), "2026-12-31T22:59:59+00:00");
        assert_eq!(text, "Wie soll er aussehen?");
        let Command::Consult { title, closes, .. } =
            ok("!consult \"Park\" --closes 2027-01-15T12:00:00+01:00 Ideen?")
        else {
            panic!()
        };
        assert_eq!(
            (title.as_str(), closes.to_rfc3339().as_str()),
            ("Park", "2027-01-15T11:00:00+00:00")
        );
        assert_eq!(
            ok("!korrigieren 3 Neuer Text"),
            Command::Correct {
                id: 3,
                text: "Neuer Text".into()
            }
        );
        assert_eq!(
            ok("!correct #3 Neuer Text"),
            Command::Correct {
                id: 3,
                text: "Neuer Text".into()
            }
        );
        assert_eq!(ok("!zurückziehen 4"), Command::Retract { id: 4 });
        assert_eq!(ok("!retract 4"), Command::Retract { id: 4 });
        assert_eq!(
            ok("!antworten 12 Danke für den Hinweis!"),
            Command::Answer {
                comment: 12,
                text: "Danke für den Hinweis!".into()
            }
        );
        assert_eq!(
            ok("!answer 12 Thanks"),
            Command::Answer {
                comment: 12,
                text: "Thanks".into()
            }
        );
        assert_eq!(ok("!schließen 5"), Command::Close { id: 5 });
        assert_eq!(ok("!close 5"), Command::Close { id: 5 });
        assert_eq!(
            ok("!ergebnis 5 Wir bauen den **Radweg**."),
            Command::Result {
                id: 5,
                text: "Wir bauen den **Radweg**.".into()
            }
        );
        assert_eq!(
            ok("!result 5 Done"),
            Command::Result {
                id: 5,
                text: "Done".into()
            }
        );
        assert!(parse("!ergebnis 5").is_err());
        assert!(parse("!ergebnis x Text").is_err());
        assert_eq!(ok("!liste"), Command::List);
        assert_eq!(ok("!list"), Command::List);
        assert_eq!(ok("!warteschlange"), Command::Queue);
        assert_eq!(ok("!queue"), Command::Queue);
        assert_eq!(ok("!freigeben 7"), Command::Approve { comment: 7 });
        assert_eq!(ok("!approve 7"), Command::Approve { comment: 7 });
        assert_eq!(
            ok("!ablehnen 8 Beleidigung"),
            Command::Reject {
                comment: 8,
                reason: Some("Beleidigung".into())
            }
        );
        assert_eq!(
            ok("!reject 8"),
            Command::Reject {
                comment: 8,
                reason: None
            }
        );
        assert_eq!(
            ok("!verbergen 9 Off topic"),
            Command::Hide {
                comment: 9,
                reason: Some("Off topic".into())
            }
        );
        assert_eq!(
            ok("!hide 9"),
            Command::Hide {
                comment: 9,
                reason: None
            }
        );
        assert_eq!(
            ok("!sperren spam.example Werbung"),
            Command::Block {
                target: "spam.example".into(),
                reason: Some("Werbung".into())
            }
        );
        assert_eq!(
            ok("!block @troll:example.org"),
            Command::Block {
                target: "@troll:example.org".into(),
                reason: None
            }
        );
        assert_eq!(
            ok("!entsperren spam.example"),
            Command::Unblock {
                target: "spam.example".into()
            }
        );
        assert_eq!(
            ok("!unblock spam.example"),
            Command::Unblock {
                target: "spam.example".into()
            }
        );
        assert_eq!(ok("!regeln"), Command::Rules);
        assert_eq!(ok("!rules"), Command::Rules);
        assert_eq!(
            ok("!regel neu werbung words hold jetzt kaufen, rabattcode -- Keine Werbung"),
            Command::RuleAdd {
                id: "werbung".into(),
                kind: "words".into(),
                action: "hold".into(),
                values: vec!["jetzt kaufen".into(), "rabattcode".into()],
                reason: "Keine Werbung".into()
            }
        );
        assert_eq!(
            ok("!rule add links regex reject https?://[a-z]+\\.xyz -- No .xyz links"),
            Command::RuleAdd {
                id: "links".into(),
                kind: "regex".into(),
                action: "reject".into(),
                values: vec!["https?://[a-z]+\\.xyz".into()],
                reason: "No .xyz links".into()
            }
        );
        assert_eq!(
            ok("!regel entfernen werbung"),
            Command::RuleRemove {
                id: "werbung".into()
            }
        );
        assert_eq!(
            ok("!rule remove werbung"),
            Command::RuleRemove {
                id: "werbung".into()
            }
        );
        assert_eq!(ok("!statistik"), Command::Stats { id: None });
        assert_eq!(ok("!stats 2"), Command::Stats { id: Some(2) });
        assert_eq!(ok("!protokoll"), Command::Log { comment: None });
        assert_eq!(ok("!log 12"), Command::Log { comment: Some(12) });
        assert_eq!(ok("!exportieren 2"), Command::Export { id: 2 });
        assert_eq!(ok("!export 2"), Command::Export { id: 2 });
    }

    #[test]
    fn malformed_commands_say_what_was_wrong_and_how_to_write_it() {
        assert!(err("!foo").contains("Unbekannter Befehl „!foo“"));
        assert!(err("!").contains("!hilfe"));
        assert!(err("!bekanntmachung").contains("!bekanntmachung TEXT"));
        assert!(err("!beteiligung Radweg Text ohne Datum").contains("--bis"));
        assert!(err("!beteiligung Radweg --bis morgen Text").contains("„morgen“ ist kein Datum"));
        assert!(err("!beteiligung Radweg --bis 2026-12-31").contains("Text"));
        assert!(err("!korrigieren drei Text").contains("„drei“ ist keine ID"));
        assert!(err("!korrigieren 3").contains("!korrigieren ID TEXT"));
        assert!(err("!freigeben").contains("Es fehlt die ID"));
        assert!(err("!sperren").contains("!sperren NUTZER|DOMAIN"));
        assert!(err("!regel neu x words hold a,b").contains("--"));
        assert!(err("!regel neu x sounds hold a -- r").contains("words oder regex"));
        assert!(err("!regel neu x words maybe a -- r").contains("hold oder reject"));
        assert!(err("!regel zeigen").contains("neu"));
    }

    #[test]
    fn roles_and_help() {
        assert_eq!(ok("!announce x").role(), Role::PressOffice);
        assert_eq!(ok("!queue").role(), Role::Moderator);
        assert_eq!(ok("!help").role(), Role::Everyone);
        let moderator_help = help(&[Role::Moderator]);
        assert!(moderator_help.contains("!warteschlange"));
        assert!(!moderator_help.contains("!bekanntmachung"));
        let press_help = help(&[Role::PressOffice]);
        assert!(press_help.contains("!bekanntmachung TEXT"));
        assert!(press_help.contains("!announce"));
        assert!(!press_help.contains("!freigeben"));
        // Every spec has a unique set of names.
        let mut names: Vec<&str> = SPECS.iter().flat_map(|s| s.names.iter().copied()).collect();
        let before = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), before);
    }
}
