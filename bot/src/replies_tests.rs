use super::*;
use rathaus_shared::domain::ActionKind;
use rathaus_shared::services::export::CommentRow;

fn comment() -> ModerationComment {
    ModerationComment {
        comment: CommentRow {
            id: 7,
            announcement_id: 2,
            parent_comment_id: None,
            network: Network::Fediverse,
            status: CommentStatus::Pending,
            late: false,
            author_id: "https://social.example/users/anna".into(),
            author_name: Some("Anna <b>".into()),
            author_domain: "social.example".into(),
            origin_id: "https://social.example/notes/1".into(),
            origin_url: None,
            content: Some("<p>Mehr <em>Bäume</em>!</p>".into()),
            content_warning: None,
            sensitive: false,
            rule_id: Some("first_comment".into()),
            rule_version: Some(1),
            reason: Some("Erster Kommentar".into()),
            created_at: "2026-12-03T10:15:00Z".parse().expect("time"),
        },
        author_handle: "@anna@social.example".into(),
    }
}

#[test]
fn a_comment_without_a_display_name_is_named_by_its_author_id() {
    let mut c = comment();
    c.comment.author_name = None;
    assert!(held_notice(&c).contains("von https://social.example/users/anna ("));
}

#[test]
fn notices_and_queue_name_comment_rule_and_text() {
    let notice = held_notice(&comment());
    assert!(notice.starts_with("Zurückgehalten: Kommentar 7 von Anna <b>"));
    assert!(notice.contains("„Mehr Bäume!“"));
    assert!(notice.contains("Regel first_comment: Erster Kommentar"));
    assert!(notice.contains("!freigeben 7 / !ablehnen 7"));
    let q = queue(&[comment()]);
    assert!(q.contains("• 7 — Anna <b> (Fediverse, social.example): „Mehr Bäume!“"));
    assert_eq!(
        queue(&[]),
        "Keine zurückgehaltenen Kommentare. / The queue is empty."
    );
}

#[test]
fn relayed_comments_escape_names_but_keep_sanitised_html() {
    let (plain, html) = relayed_comment(&comment());
    assert_eq!(plain, "Anna <b> (@anna@social.example): Mehr Bäume!");
    assert!(html.starts_with("<strong>Anna &lt;b&gt;</strong>"));
    assert!(html.ends_with("<p>Mehr <em>Bäume</em>!</p>"));
    let (plain, html) = relayed_answer(
        &comment(),
        &AnswerView {
            id: 1,
            body_html: "<p>Danke</p>".into(),
            created_at: "2026-12-03T10:15:00Z".parse().expect("time"),
        },
    );
    assert_eq!(plain, "Offizielle Antwort an Anna <b>: Danke");
    assert!(html.starts_with("<strong>Offizielle Antwort</strong> an Anna &lt;b&gt;"));
}

#[test]
fn announcements_lists_stats_and_log_in_german() {
    let a = RelayAnnouncement {
        id: 3,
        kind: AnnouncementKind::Consultation,
        title: Some("Radweg".into()),
        body_html: "<p>Wie?</p>".into(),
        closes_at: Some("2026-12-31T22:59:59Z".parse().expect("time")),
        closed_at: None,
        result_html: None,
        retracted: false,
    };
    let (plain, html) = announcement(
        &a,
        "https://rathaus.example/announcements/3",
        chrono_tz::Europe::Berlin,
    );
    assert!(html.contains("<strong>Radweg</strong>"));
    // The site's time zone, not UTC: 22:59 UTC is 23:59 in Berlin in winter.
    assert!(
        html.contains("Beteiligung bis 31.12.2026 23:59 CET"),
        "{html}"
    );
    assert!(
        consultation_started(
            Lang::De,
            3,
            "2027-07-15T21:59:59Z".parse().expect("time"),
            chrono_tz::Europe::Berlin,
            "u"
        )
        .contains("offen bis 15.07.2027 23:59 CEST")
    );
    assert!(plain.contains("https://rathaus.example/announcements/3"));
    assert_eq!(
        list(Lang::De, std::slice::from_ref(&a)),
        "• 3 Beteiligung Radweg"
    );
    let retracted = RelayAnnouncement {
        title: None,
        kind: AnnouncementKind::Announcement,
        retracted: true,
        ..a
    };
    assert_eq!(
        list(Lang::De, &[retracted]),
        "• 3 Bekanntmachung Wie? (zurückgezogen)"
    );
    assert_eq!(list(Lang::De, &[]), "Noch keine Bekanntmachungen.");
    let s = stats(
        Lang::De,
        &CommentCounts {
            total: 3,
            published: 2,
            pending: 1,
            matrix: 1,
            fediverse: 2,
            ..CommentCounts::default()
        },
    );
    assert!(s.starts_with("3 Kommentare: 2 veröffentlicht, 1 zurückgehalten"));
    let l = log(
        Lang::De,
        &[LogStep {
            id: 1,
            comment_id: Some(7),
            action: ActionKind::AutoHold,
            actor: "policy".into(),
            rule_id: Some("links".into()),
            reason: Some("Zu viele Links".into()),
            created_at: "2026-12-03T10:15:00Z".parse().expect("time"),
        }],
        chrono_tz::Europe::Berlin,
    );
    assert_eq!(
        l,
        "• 03.12. 11:15 #7 automatisch zur Prüfung zurückgehalten durch Regelwerk, Regel links: Zu viele Links"
    );
    assert_eq!(
        comment_now(Lang::De, 7, CommentStatus::Published),
        "Kommentar 7 veröffentlicht."
    );
}

#[test]
fn authors_hear_each_decision_in_german_and_english() {
    let (plain, html) = author_notice(AuthorNotice::Held, Some("Zu viele Links"));
    assert!(
        plain.starts_with("Ihr Kommentar wird von der Moderation geprüft"),
        "{plain}"
    );
    assert!(plain.contains("Grund: Zu viele Links"), "{plain}");
    assert!(plain.contains("Reason: Zu viele Links"), "{plain}");
    // Held and refused comments can be appealed by replying; a published one needs not.
    assert!(plain.contains("Reply to this message"), "{plain}");
    assert!(html.contains("<p>"), "{html}");
    let (approved, _) = author_notice(AuthorNotice::Approved, None);
    assert!(
        approved.contains("nach Prüfung veröffentlicht"),
        "{approved}"
    );
    assert!(!approved.contains("Reply to this message"), "{approved}");
    // A moderator's reason is passed on; an empty one is left out.
    let (hidden, _) = author_notice(AuthorNotice::Hidden, Some("Beleidigung"));
    assert!(hidden.contains("verborgen. Grund: Beleidigung"), "{hidden}");
    let (rejected, _) = author_notice(AuthorNotice::Rejected, Some("  "));
    assert!(!rejected.contains("Grund"), "{rejected}");
    // A rule's reason in both languages goes to the matching line.
    let (both, _) = author_notice(
        AuthorNotice::Held,
        Some("Persönliche Daten. / Personal data."),
    );
    assert!(both.contains("Grund: Persönliche Daten.\n"), "{both}");
    assert!(both.contains("Reason: Personal data."), "{both}");
    let (late, _) = author_notice(AuthorNotice::Late, None);
    assert!(
        late.contains("bereits beendet") && late.contains("has closed"),
        "{late}"
    );
    // Markup in a reason is text, never HTML.
    let (_, html) = author_notice(AuthorNotice::Refused, Some("<b>x</b>"));
    assert!(html.contains("&lt;b&gt;x&lt;/b&gt;"), "{html}");
}

#[test]
fn a_published_matrix_comment_is_quoted_with_its_author() {
    let mut c = comment();
    c.comment.network = Network::Matrix;
    c.comment.author_id = "@anna:example.org".into();
    c.comment.author_name = Some("Anna <Bürgerin>".into());
    c.comment.content = Some("Mehr *Bänke* bitte".into());
    let (plain, html) = quoted_comment(&c);
    assert!(
        plain.starts_with("Anna <Bürgerin> schrieb: Mehr"),
        "{plain}"
    );
    assert!(
        html.starts_with("<a href=\"https://matrix.to/#/@anna:example.org\">Anna &lt;Bürgerin&gt;</a> schrieb:<blockquote>"),
        "{html}"
    );
    assert!(html.contains("<em>Bänke</em>"), "{html}");
}

#[test]
fn closing_and_result_in_local_time() {
    let at = "2026-12-10T15:30:00Z".parse().expect("time");
    let (plain, _) = closed_early(at, chrono_tz::Europe::Berlin);
    assert!(
        plain.contains("am 10.12.2026 16:30 CET vorzeitig beendet"),
        "{plain}"
    );
    assert!(
        plain.contains("closed early on 2026-12-10 16:30 CET"),
        "{plain}"
    );
    let (_, html) = result_post("<p>Wir bauen.</p>", "https://r.example/announcements/3");
    assert!(html.contains("Ergebnis der Beteiligung"), "{html}");
    assert!(html.contains("<p>Wir bauen.</p>"), "{html}");
    let a = RelayAnnouncement {
        id: 3,
        kind: AnnouncementKind::Consultation,
        title: None,
        body_html: "<p>Radweg</p>".into(),
        closes_at: Some("2026-12-31T22:59:59Z".parse().expect("time")),
        closed_at: Some(at),
        result_html: Some("<p>Wir bauen.</p>".into()),
        retracted: false,
    };
    let (_, html) = announcement(&a, "u", chrono_tz::Europe::Berlin);
    assert!(
        html.contains("Beteiligung beendet am 10.12.2026 16:30 CET"),
        "{html}"
    );
    assert!(!html.contains("Beteiligung bis"), "{html}");
    assert!(html.contains("Das Ergebnis steht im Thread"), "{html}");
}

#[test]
fn relayed_comments_with_a_warning_are_spoilers() {
    let mut c = comment();
    c.comment.content_warning = Some("Politik \"<b>\"".into());
    let (plain, html) = relayed_comment(&c);
    assert_eq!(
        plain,
        "Anna <b> (@anna@social.example): [Inhaltswarnung: Politik \"<b>\"] Mehr Bäume!"
    );
    assert!(
        html.ends_with(
            "<strong>Inhaltswarnung: Politik &quot;&lt;b&gt;&quot;</strong> <span data-mx-spoiler=\"Politik &quot;&lt;b&gt;&quot;\"><p>Mehr <em>Bäume</em>!</p></span>"
        ),
        "{html}"
    );
    assert!(held_notice(&c).contains("Inhaltswarnung: Politik \"<b>\"\n„Mehr Bäume!“"));
    // Only marked sensitive: a spoiler all the same, with a generic reason.
    let mut flagged = comment();
    flagged.comment.sensitive = true;
    let (plain, html) = relayed_comment(&flagged);
    assert!(
        plain.contains("[Inhaltswarnung: heikler Inhalt] Mehr Bäume!"),
        "{plain}"
    );
    assert!(
        html.contains("<span data-mx-spoiler=\"heikler Inhalt\"><p>"),
        "{html}"
    );
    // Without either: unchanged.
    let (_, html) = relayed_comment(&comment());
    assert!(!html.contains("data-mx-spoiler"), "{html}");
}

#[test]
fn a_refused_matrix_comment_is_told_why() {
    assert_eq!(
        comment_refused("Der Kommentar hat keinen lesbaren Text."),
        "Ihr Kommentar wurde nicht angenommen: Der Kommentar hat keinen lesbaren Text."
    );
}

#[test]
fn private_replies_and_edits_are_marked_for_the_moderators() {
    let notice = private_notice(&comment());
    assert!(
        notice.starts_with("Privatnachricht (nicht öffentlich"),
        "{notice}"
    );
    assert!(notice.contains("„Mehr Bäume!“"));
    // No approve hint: a private reply cannot be published.
    assert!(!notice.contains("!freigeben"));
    let edited = edit_notice(&comment(), Some("Weniger Bäume"));
    assert!(edited.contains("Vorher: „Weniger Bäume“"), "{edited}");
    assert!(edited.contains("Jetzt: „Mehr Bäume!“"), "{edited}");
}

#[test]
fn the_bridge_choice_is_read_in_both_languages() {
    assert_eq!(bridge_choice("!fediverse aus"), Some(Some(true)));
    assert_eq!(bridge_choice("!Fediverse OFF"), Some(Some(true)));
    assert_eq!(bridge_choice("!fediverse an"), Some(Some(false)));
    assert_eq!(bridge_choice("!fediverse vielleicht"), Some(None));
    assert_eq!(bridge_choice("!fediverse aus bitte"), Some(None));
    assert_eq!(bridge_choice("Was ist das Fediverse?"), None);
    assert!(bridge_changed(true).contains("zurückgezogen"));
}

#[test]
fn english_aliases_get_english_answers() {
    use crate::commands::language;
    assert_eq!(language("!announce Hallo"), Lang::En);
    assert_eq!(language("!bekanntmachung Hallo"), Lang::De);
    assert_eq!(language("!queue"), Lang::En);
    assert_eq!(language("!correct 1 Wo fehlen Bänke am Fluss?"), Lang::En);
    assert_eq!(language("!Warteschlange"), Lang::De);
    // Unknown or German-only words answer in German, the site's first language.
    assert_eq!(language("!unbekannt"), Lang::De);
    assert_eq!(language("!schließen 3"), Lang::De);
    assert_eq!(
        comment_now(Lang::En, 7, CommentStatus::Hidden),
        "Comment 7 hidden."
    );
    assert_eq!(
        announced(Lang::En, 3, "https://r.example/announcements/3"),
        "Announcement 3 published: https://r.example/announcements/3"
    );
    assert!(
        consultation_started(
            Lang::En,
            3,
            "2027-07-15T21:59:59Z".parse().expect("time"),
            chrono_tz::Europe::Berlin,
            "u"
        )
        .contains("open until 2027-07-15 23:59 CEST")
    );
    assert_eq!(
        failed(Lang::En, "no such comment"),
        "That did not work: no such comment"
    );
    assert_eq!(
        not_allowed(Lang::En),
        "Sorry, you may not use this command here."
    );
    assert!(stats(Lang::En, &CommentCounts::default()).starts_with("0 comments: 0 published"));
    assert_eq!(list(Lang::En, &[]), "No announcements yet.");
}
