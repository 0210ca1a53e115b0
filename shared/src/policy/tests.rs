//! Per-rule tests, an evasion corpus and a false-positive corpus. Every case asserts the exact
//! outcome and rule id, against the shipped `config/policy.toml`.

use chrono::{TimeZone, Utc};

use super::*;

fn shipped() -> Policy {
    Policy::compile(parse_policy_file(DEFAULT_POLICY).expect("shipped policy parses"))
        .expect("compiles")
}

fn decide(policy: &Policy, text: &str, history: &AuthorHistory) -> (Outcome, Option<String>) {
    let now = Utc
        .with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .expect("t");
    let d = evaluate(
        policy,
        &CommentInput {
            text,
            author_id: "https://social.example/users/ursula",
            author_domain: "social.example",
            created_at: now,
        },
        history,
        now,
    );
    (d.outcome, d.rule_id)
}

fn known_author() -> AuthorHistory {
    AuthorHistory {
        published: 3,
        ..AuthorHistory::default()
    }
}

fn assert_cases(policy: &Policy, cases: &[(&str, Outcome, Option<&str>)]) {
    for (text, outcome, rule) in cases {
        let (got, got_rule) = decide(policy, text, &known_author());
        assert_eq!(
            (got, got_rule.as_deref()),
            (*outcome, *rule),
            "for {text:?}"
        );
    }
}

const PUBLISH: Outcome = Outcome::Publish;
const HOLD: Outcome = Outcome::Hold;
const REJECT: Outcome = Outcome::Reject;

#[test]
fn plain_insults_and_clean_comments() {
    assert_cases(
        &shipped(),
        &[
            ("Der Plan ist gut, danke!", PUBLISH, None),
            ("Sie sind ein Depp.", REJECT, Some("beleidigung")),
            ("DEPP", REJECT, Some("beleidigung")),
            (
                "So ein Vollidiot hat das geplant",
                REJECT,
                Some("beleidigung"),
            ),
        ],
    );
}

#[test]
fn evasion_corpus() {
    assert_cases(
        &shipped(),
        &[
            // zero-width and other invisible characters
            ("Du De\u{200B}pp", REJECT, Some("beleidigung")),
            (
                "Du D\u{00AD}e\u{2060}p\u{FEFF}p",
                REJECT,
                Some("beleidigung"),
            ),
            // homoglyphs: Cyrillic е and р, Greek ο
            ("Du Dерр", REJECT, Some("beleidigung")),
            ("Du Idiοt", REJECT, Some("beleidigung")),
            // fullwidth and mathematical letters
            ("Du ＤＥＰＰ", REJECT, Some("beleidigung")),
            ("Du 𝐃𝐞𝐩𝐩", REJECT, Some("beleidigung")),
            // combining marks on every letter
            (
                "Du D\u{0336}e\u{0336}p\u{0336}p\u{0336}",
                REJECT,
                Some("beleidigung"),
            ),
            ("Du Dëpp", REJECT, Some("beleidigung")),
            // split letters
            ("Du D.E.P.P", REJECT, Some("beleidigung")),
            ("Du d e p p", REJECT, Some("beleidigung")),
            ("Du T-r-o-t-t-e-l!", REJECT, Some("beleidigung")),
            // a regex rule sees the same normalisation (ä → ae)
            ("Man sollte sie aufhängen", HOLD, Some("hetze")),
            ("Man sollte sie AUFHÄNGEN", HOLD, Some("hetze")),
        ],
    );
}

#[test]
fn false_positive_corpus() {
    assert_cases(
        &shipped(),
        &[
            // inside URLs
            (
                "Details: https://stadt.example/depp-plan.pdf",
                PUBLISH,
                None,
            ),
            ("Siehe http://idiot.example/radweg", PUBLISH, None),
            // hashtags and mentions
            ("#deppenapostroph ist ein Thema", PUBLISH, None),
            ("Frag mal @idiot@social.example dazu", PUBLISH, None),
            ("Ping @trottel:matrix.org", PUBLISH, None),
            // German compound words containing a listed word
            ("Das Deppenleerzeichen stört mich", PUBLISH, None),
            ("Der Idiotentest (MPU) ist teuer", PUBLISH, None),
            ("Mein Trottelbaum im Garten", PUBLISH, None),
            // apostrophes
            ("Das war's, Rock'n'Roll!", PUBLISH, None),
            // umlauts stay umlauts: schwül is not schwul, Bär not Bar
            ("Heute ist es schwül am Bärenplatz", PUBLISH, None),
            // ordinary single letters and abbreviations do not become words
            ("Plan A, B oder C? z. B. die Variante d", PUBLISH, None),
            // a dated number is not a phone number
            ("Sitzung am 01.02.2026 um 18 Uhr", PUBLISH, None),
            // capitals in moderation
            (
                "Die B 27 und die A 81 sind gemeint, ÖPNV statt Auto!",
                PUBLISH,
                None,
            ),
        ],
    );
}

#[test]
fn limits_and_shouting() {
    let long = "Radweg ".repeat(300);
    assert_cases(
        &shipped(),
        &[
            (long.as_str(), HOLD, Some("zu-lang")),
            (
                "a https://a.example b https://b.example c https://c.example d https://d.example",
                HOLD,
                Some("viele-links"),
            ),
            (
                "@a@x.example @b@x.example @c@x.example @d@x.example @e@x.example @f@x.example hallo",
                HOLD,
                Some("viele-erwaehnungen"),
            ),
            (
                "DIESER RADWEG IST EINE KATASTROPHE FÜR ALLE",
                HOLD,
                Some("schreien"),
            ),
            // Umlauts count as capitals too.
            ("ÄÖÜ ÄÖÜ ÄÖÜ ÄÖÜ ÄÖÜ ÄÖÜ ÄÖÜ ÄÖÜ ja", HOLD, Some("schreien")),
            ("Ein kurzer Satz mit ABK und NRW.", PUBLISH, None),
        ],
    );
}

#[test]
fn personal_data_is_held() {
    assert_cases(
        &shipped(),
        &[
            (
                "Schreiben Sie mir: max.mustermann@example.org",
                HOLD,
                Some("persoenliche-daten"),
            ),
            ("Ruf an: 0171 1234567", HOLD, Some("persoenliche-daten")),
            ("Tel. +49 (0)30 1234 5678", HOLD, Some("persoenliche-daten")),
            (
                "Spenden an DE89 3704 0044 0532 0130 00 bitte",
                HOLD,
                Some("persoenliche-daten"),
            ),
        ],
    );
    // A wrong checksum is no IBAN.
    assert_eq!(
        personal_data("Konto DE88 3704 0044 0532 0130 00"),
        Some("phone")
    );
    assert_eq!(
        personal_data("Konto DE89 3704 0044 0532 0130 00"),
        Some("iban")
    );
    assert!(iban_valid("DE89370400440532013000"));
    assert!(!iban_valid("DE88370400440532013000"));
}

#[test]
fn duplicates_first_comments_and_blocks() {
    let policy = shipped();
    let history = AuthorHistory {
        published: 1,
        recent: vec![fingerprint("Mehr  Bäume bitte!")],
        ..AuthorHistory::default()
    };
    assert_eq!(
        decide(&policy, "mehr bäume BITTE!", &history),
        (REJECT, Some("doppelt".into()))
    );
    let blocked = AuthorHistory {
        blocked_domain: true,
        ..known_author()
    };
    assert_eq!(
        decide(&policy, "Hallo", &blocked),
        (REJECT, Some("blocked-domain".into()))
    );

    let first = Policy::compile(vec![RuleSpec {
        id: "erster".into(),
        version: 2,
        kind: RuleKind::FirstComment,
        action: RuleAction::Hold,
        reason: "Erste Kommentare werden geprüft.".into(),
        reason_en: None,
        words: vec![],
        whole_word: true,
        patterns: vec![],
        max: None,
        ratio: None,
        min_letters: None,
    }])
    .expect("compile");
    assert_eq!(
        decide(&first, "Hallo", &AuthorHistory::default()),
        (HOLD, Some("erster".into()))
    );
    assert_eq!(decide(&first, "Hallo", &known_author()), (PUBLISH, None));
}

#[test]
fn reject_beats_hold_and_decisions_name_version_and_reason() {
    let policy = shipped();
    let now = Utc::now();
    let d = evaluate(
        &policy,
        &CommentInput {
            text: "DU BIST EIN DEPP UND ALLE ANDEREN AUCH, ruf an 0171 1234567",
            author_id: "a",
            author_domain: "x",
            created_at: now,
        },
        &known_author(),
        now,
    );
    assert_eq!(d.outcome, REJECT);
    assert_eq!(d.rule_id.as_deref(), Some("beleidigung"));
    assert_eq!(d.rule_version, Some(1));
    // In both languages: the German reason, then the English one.
    assert_eq!(
        d.reason.as_deref(),
        Some("Beleidigungen verstoßen gegen die Netiquette. / Insults break the netiquette.")
    );
}

#[test]
fn every_shipped_rule_gives_its_reason_in_german_and_english() {
    let file: toml::Value = toml::from_str(super::DEFAULT_POLICY).expect("policy.toml");
    let rules = file["rule"].as_array().expect("rules");
    assert!(!rules.is_empty());
    for rule in rules {
        let (de, en) = (rule.get("reason_de"), rule.get("reason_en"));
        assert!(
            de.and_then(|v| v.as_str())
                .is_some_and(|t| !t.contains(" / "))
                && en.and_then(|v| v.as_str()).is_some_and(|t| !t.is_empty()),
            "{rule:?}"
        );
    }
}

#[test]
fn bad_rules_are_refused_with_their_id() {
    let bad = parse_policy_file("[[rule]]\nid = \"x\"\nkind = \"regex\"\naction = \"hold\"\nreason = \"r\"\npatterns = [\"(\"]\n")
        .expect("parses");
    let err = Policy::compile(bad).expect_err("bad regex");
    assert!(err.to_string().contains("rule `x`"), "{err}");
    let err = parse_policy_file(
        "[[rule]]\nid = \"x\"\nkind = \"wordz\"\naction = \"hold\"\nreason = \"r\"\n",
    )
    .expect_err("unknown kind");
    assert!(err.to_string().contains("wordz"), "{err}");
    let err = Policy::compile(
        parse_policy_file(
            "[[rule]]\nid = \"x\"\nkind = \"max_length\"\naction = \"hold\"\nreason = \"r\"\n",
        )
        .expect("parses"),
    )
    .expect_err("no max");
    assert!(err.to_string().contains("needs `max`"), "{err}");
}

#[test]
fn a_word_after_an_apostrophe_is_not_matched() {
    let policy = Policy::compile(
        parse_policy_file("[[rule]]\nid = \"r\"\nkind = \"words\"\naction = \"hold\"\nreason = \"r\"\nwords = [\"roll\", \"s\"]\n")
            .expect("parses"),
    )
    .expect("compiles");
    assert_eq!(
        decide(&policy, "Rock'n'Roll und geht's", &known_author()),
        (PUBLISH, None)
    );
    assert_eq!(
        decide(&policy, "Eine Roll-Treppe", &known_author()),
        (HOLD, Some("r".into()))
    );
}

#[test]
fn whole_word_can_be_switched_off() {
    let policy = Policy::compile(
        parse_policy_file("[[rule]]\nid = \"teil\"\nkind = \"words\"\naction = \"hold\"\nreason = \"r\"\nwhole_word = false\nwords = [\"mist\"]\n")
            .expect("parses"),
    )
    .expect("compiles");
    assert_eq!(
        decide(&policy, "Das ist Riesenmist", &known_author()),
        (HOLD, Some("teil".into()))
    );
}
