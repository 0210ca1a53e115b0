use super::*;
use rathaus_shared::domain::BlockKind;

fn ok(body: &str) -> Command {
    parse(body)
        .unwrap_or_else(|e| panic!("{body}: {e}"))
        .unwrap_or_else(|| panic!("{body}: not a command"))
}

fn press(body: &str) -> PressCommand {
    match ok(body) {
        Command::Press(c) => c,
        other => panic!("{body}: {other:?}"),
    }
}

fn moderation(body: &str) -> ModerationCommand {
    match ok(body) {
        Command::Moderation(c) => c,
        other => panic!("{body}: {other:?}"),
    }
}

fn err(body: &str) -> String {
    parse(body).expect_err(body).message
}

/// The free text a press command carries.
fn text_of(c: &PressCommand) -> &str {
    match c {
        PressCommand::Announce { text }
        | PressCommand::Correct { text, .. }
        | PressCommand::Answer { text, .. }
        | PressCommand::Result { text, .. } => text.as_str(),
        PressCommand::Consult { text, .. } => text,
        _ => "",
    }
}

#[test]
fn plain_messages_are_not_commands() {
    assert_eq!(parse("Hallo zusammen").expect("ok"), None);
    assert_eq!(parse("  Frage: !hilfe?").expect("ok"), None);
}

#[test]
fn press_commands_in_german_and_english() {
    assert_eq!(ok("!hilfe"), Command::General(GeneralCommand::Help));
    assert_eq!(ok("!HELP"), Command::General(GeneralCommand::Help));
    let c = press("!bekanntmachung Die **Sprechstunde** ist am Freitag.");
    assert!(matches!(c, PressCommand::Announce { .. }));
    assert_eq!(text_of(&c), "Die **Sprechstunde** ist am Freitag.");
    assert_eq!(text_of(&press("!announce Hallo")), "Hallo");
    // Markdown keeps its line breaks, spacing, quotes and apostrophes; dashes are text.
    let md = "!bekanntmachung Liste:\n\n- eins -- zwei\n- \"drei\"  geht's";
    assert_eq!(
        text_of(&press(md)),
        "Liste:\n\n- eins -- zwei\n- \"drei\"  geht's"
    );

    let PressCommand::Consult {
        title,
        closes,
        text,
        ..
    } = press("!beteiligung Radweg Hauptstraße --bis 2026-12-31 Wie soll er aussehen?")
    else {
        panic!()
    };
    assert_eq!(title, "Radweg Hauptstraße");
    assert_eq!(text, "Wie soll er aussehen?");
    assert_eq!(
        closes.resolve(chrono_tz::Europe::Berlin).to_rfc3339(),
        "2026-12-31T22:59:59+00:00"
    );
    let PressCommand::Consult {
        title,
        closes,
        text,
        ..
    } = press("!consult \"Park\" --closes 2027-01-15T12:00:00+01:00 Ideen?")
    else {
        panic!()
    };
    assert_eq!((title.as_str(), text.as_str()), ("Park", "Ideen?"));
    assert_eq!(
        closes.resolve(chrono_tz::Europe::Berlin).to_rfc3339(),
        "2027-01-15T11:00:00+00:00"
    );

    let c = press("!korrigieren 3 Neuer Text");
    assert!(matches!(c, PressCommand::Correct { id: 3, .. }));
    assert_eq!(text_of(&c), "Neuer Text");
    assert!(matches!(
        press("!correct #3 Neuer Text"),
        PressCommand::Correct { id: 3, .. }
    ));
    assert_eq!(press("!zurückziehen 4"), PressCommand::Retract { id: 4 });
    assert_eq!(press("!zurueckziehen 4"), PressCommand::Retract { id: 4 });
    assert_eq!(press("!retract 4"), PressCommand::Retract { id: 4 });
    let c = press("!antworten 12 Danke für den Hinweis!");
    assert!(matches!(c, PressCommand::Answer { comment: 12, .. }));
    assert_eq!(text_of(&c), "Danke für den Hinweis!");
    assert_eq!(text_of(&press("!answer 12 Thanks")), "Thanks");
    assert_eq!(press("!schließen 5"), PressCommand::Close { id: 5 });
    assert_eq!(press("!close 5"), PressCommand::Close { id: 5 });
    let c = press("!ergebnis 5 Wir bauen den **Radweg**.");
    assert!(matches!(c, PressCommand::Result { id: 5, .. }));
    assert_eq!(text_of(&c), "Wir bauen den **Radweg**.");
    assert_eq!(text_of(&press("!result 5 Done")), "Done");
    assert!(parse("!ergebnis 5").is_err());
    assert!(parse("!ergebnis x Text").is_err());
    assert_eq!(press("!liste"), PressCommand::List);
    assert_eq!(press("!list"), PressCommand::List);
}

#[test]
fn moderation_commands_in_german_and_english() {
    assert_eq!(moderation("!warteschlange"), ModerationCommand::Queue);
    assert_eq!(moderation("!queue"), ModerationCommand::Queue);
    assert_eq!(
        moderation("!tilgen 7"),
        ModerationCommand::Erase {
            target: EraseTarget::Comment(7)
        }
    );
    assert_eq!(
        moderation("!erase @anna:example.org"),
        ModerationCommand::Erase {
            target: EraseTarget::Author("@anna:example.org".into())
        }
    );
    assert_eq!(
        moderation("!freigeben 7"),
        ModerationCommand::Approve { comment: 7 }
    );
    assert_eq!(
        moderation("!approve 7"),
        ModerationCommand::Approve { comment: 7 }
    );
    let ModerationCommand::Reject {
        comment, reason, ..
    } = moderation("!ablehnen 8 Beleidigung, klar")
    else {
        panic!()
    };
    assert_eq!((comment, reason.as_deref()), (8, Some("Beleidigung, klar")));
    let ModerationCommand::Reject { reason, .. } = moderation("!reject 8") else {
        panic!()
    };
    assert_eq!(reason.as_deref(), None);
    let ModerationCommand::Hide {
        comment, reason, ..
    } = moderation("!verbergen 9 Off topic")
    else {
        panic!()
    };
    assert_eq!((comment, reason.as_deref()), (9, Some("Off topic")));
    let ModerationCommand::Block { target, reason, .. } =
        moderation("!sperren spam.example Werbung")
    else {
        panic!()
    };
    assert_eq!(target, BlockTarget::Domain("spam.example".into()));
    assert_eq!(target.kind(), BlockKind::Domain);
    assert_eq!(reason.as_deref(), Some("Werbung"));
    let ModerationCommand::Block { target, .. } = moderation("!block @troll:example.org") else {
        panic!()
    };
    assert_eq!(target, BlockTarget::User("@troll:example.org".into()));
    let ModerationCommand::Block { target, .. } =
        moderation("!block https://social.example/users/troll")
    else {
        panic!()
    };
    assert_eq!(target.kind(), BlockKind::User);
    assert_eq!(
        moderation("!entsperren spam.example"),
        ModerationCommand::Unblock {
            target: BlockTarget::Domain("spam.example".into())
        }
    );
    assert_eq!(moderation("!regeln"), ModerationCommand::Rules);
    assert_eq!(moderation("!rules"), ModerationCommand::Rules);
    assert_eq!(
        moderation("!regel neu werbung words hold jetzt kaufen, rabattcode -- Keine Werbung"),
        ModerationCommand::Rule {
            change: RuleChange::Add {
                id: "werbung".into(),
                kind: RuleKind::Words,
                action: RuleAction::Hold,
                values: vec!["jetzt kaufen".into(), "rabattcode".into()],
                reason: vec!["Keine Werbung".into()],
            }
        }
    );
    assert_eq!(
        moderation("!rule add links regex reject https?://[a-z]+\\.xyz -- No .xyz links"),
        ModerationCommand::Rule {
            change: RuleChange::Add {
                id: "links".into(),
                kind: RuleKind::Regex,
                action: RuleAction::Reject,
                values: vec!["https?://[a-z]+\\.xyz".into()],
                reason: vec!["No .xyz links".into()],
            }
        }
    );
    assert_eq!(
        moderation("!regel neu w wörter prüfen a -- r"),
        ModerationCommand::Rule {
            change: RuleChange::Add {
                id: "w".into(),
                kind: RuleKind::Words,
                action: RuleAction::Hold,
                values: vec!["a".into()],
                reason: vec!["r".into()],
            }
        }
    );
    for body in ["!regel entfernen werbung", "!rule remove werbung"] {
        assert_eq!(
            moderation(body),
            ModerationCommand::Rule {
                change: RuleChange::Remove {
                    id: "werbung".into()
                }
            }
        );
    }
    assert_eq!(
        moderation("!statistik"),
        ModerationCommand::Stats { id: None }
    );
    assert_eq!(
        moderation("!stats 2"),
        ModerationCommand::Stats { id: Some(2) }
    );
    assert_eq!(
        moderation("!protokoll"),
        ModerationCommand::Log { comment: None }
    );
    assert_eq!(
        moderation("!log 12"),
        ModerationCommand::Log { comment: Some(12) }
    );
    assert_eq!(
        moderation("!exportieren 2"),
        ModerationCommand::Export { id: 2 }
    );
    assert_eq!(moderation("!export 2"), ModerationCommand::Export { id: 2 });
}

#[test]
fn malformed_commands_say_in_german_what_was_wrong_and_how_to_write_it() {
    assert!(err("!foo").contains("Unbekannter Befehl „!foo“"));
    assert!(err("!").contains("!hilfe"));
    assert!(err("!bekanntmachung").contains("!bekanntmachung TEXT"));
    assert!(err("!bekanntmachung").contains("Es fehlt"));
    assert!(err("!beteiligung Radweg Text ohne Datum").contains("--bis"));
    assert!(err("!beteiligung Radweg --bis morgen Text").contains("„morgen“ ist kein Datum"));
    assert!(err("!beteiligung Radweg --bis 2026-12-31").contains("Text"));
    assert!(err("!beteiligung --bis 2026-12-31 Text").contains("Titel"));
    assert!(err("!korrigieren drei Text").contains("„drei“ ist keine ID"));
    assert!(err("!korrigieren 3").contains("!korrigieren ID TEXT"));
    assert!(err("!freigeben").contains("Es fehlt: ID"));
    assert!(err("!freigeben 1 2").contains("zu viel"));
    assert!(err("!sperren").contains("!sperren NUTZER|DOMAIN"));
    assert!(err("!sperren niemand").contains("weder eine Person"));
    assert!(err("!regel neu x words hold a,b").contains("--"));
    assert!(err("!regel neu x sounds hold a -- r").contains("words oder regex"));
    assert!(err("!regel neu x words maybe a -- r").contains("hold oder reject"));
    assert!(err("!regel zeigen").contains("neu"));
    assert!(err("!regel").contains("!regel entfernen ID"));
    // Never clap's English.
    for body in [
        "!bekanntmachung",
        "!freigeben x",
        "!freigeben 1 2",
        "!regel zeigen",
        "!sperren",
        "!beteiligung x",
        "!liste --help",
        "!warteschlange -h",
    ] {
        let e = err(body);
        for english in [
            "error:",
            "Usage",
            "required",
            "unexpected",
            "For more information",
        ] {
            assert!(!e.contains(english), "{body}: {e}");
        }
    }
}

#[test]
fn a_date_only_closing_is_the_end_of_that_day_in_the_site_time_zone() {
    let PressCommand::Consult { closes, .. } =
        press("!beteiligung Sommerfest --bis 2027-07-15 Ideen?")
    else {
        panic!()
    };
    // Summer time in Berlin is UTC+2: 23:59:59 local is 21:59:59 UTC.
    assert_eq!(
        closes.resolve(chrono_tz::Europe::Berlin).to_rfc3339(),
        "2027-07-15T21:59:59+00:00"
    );
    // Winter, and another zone.
    assert_eq!(
        Closing::parse("15.01.2027")
            .expect("date")
            .resolve(chrono_tz::Europe::Berlin)
            .to_rfc3339(),
        "2027-01-15T22:59:59+00:00"
    );
    assert_eq!(
        Closing::parse("2027-07-15")
            .expect("date")
            .resolve(chrono_tz::America::New_York)
            .to_rfc3339(),
        "2027-07-16T03:59:59+00:00"
    );
}

#[test]
fn roles_and_help_come_from_the_enums() {
    assert_eq!(ok("!announce x").role(), Role::PressOffice);
    assert_eq!(ok("!queue").role(), Role::Moderator);
    assert_eq!(ok("!help").role(), Role::Everyone);
    let everyone = help(&[]);
    assert!(everyone.starts_with("Befehle:"));
    assert!(everyone.contains("`!hilfe` — Zeigt die Befehle, die Sie nutzen dürfen. (auch !help)"));
    assert!(!everyone.contains("!bekanntmachung"));
    let moderator_help = help(&[Role::Moderator]);
    assert!(moderator_help.contains("!warteschlange"));
    assert!(moderator_help.contains("!regel neu ID words|regex hold|reject WERT,WERT… -- GRUND…"));
    assert!(moderator_help.contains("!ablehnen ID [GRUND…]"));
    assert!(!moderator_help.contains("!bekanntmachung"));
    let press_help = help(&[Role::PressOffice]);
    assert!(press_help.contains("`!bekanntmachung TEXT…` — Veröffentlicht eine Bekanntmachung"));
    assert!(press_help.contains("!beteiligung TITEL TEXT… --bis DATUM"));
    assert!(press_help.contains("(auch !announce)"));
    assert!(!press_help.contains("!freigeben"));
    // Every command of every role is in some help, and names are unique across roles.
    let all = help(&[Role::PressOffice, Role::Moderator]);
    let mut names = Vec::new();
    for cli in [
        built::<GeneralCommand>(),
        built::<PressCommand>(),
        built::<ModerationCommand>(),
    ] {
        for sub in cli.get_subcommands() {
            assert!(
                all.contains(&format!("`!{}", sub.get_name())),
                "{}",
                sub.get_name()
            );
            names.extend(sub.get_all_aliases().map(str::to_owned));
            names.push(sub.get_name().to_owned());
        }
    }
    let before = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), before, "a command name is used twice");
}
