//! Services over a real store (SQLite, and PostgreSQL when configured): the comment pipeline
//! with runtime rules, blocks, rate limits and moderation.

use chrono::{Duration, Utc};
use rathaus_shared::App;
use rathaus_shared::entities::{CommentStatus, Network, RuleAction};
use rathaus_shared::policy::{RuleKind, RuleSpec};
use rathaus_shared::services::announcements::{self, Announce};
use rathaus_shared::services::comments::{self, ModAction, Submission, SubmitOutcome};
use rathaus_shared::services::moderation;
use rathaus_shared::store::moderation as log;
use rathaus_shared::testing::{default_config, for_each_store};

fn submission(n: u32, author: &str, domain: &str, text: &str, note: &str) -> Submission {
    Submission {
        network: Network::Fediverse,
        origin_id: format!("https://{domain}/notes/{n}"),
        origin_url: None,
        in_reply_to: note.to_owned(),
        author_id: format!("https://{domain}/users/{author}"),
        author_name: None,
        author_domain: domain.to_owned(),
        content_html: format!("<p>{text}</p>"),
        language: Some("de".into()),
        warning: Default::default(),
        created_at: Utc::now(),
        received_at: Utc::now(),
        public: true,
        privileged: false,
    }
}

async fn submit(app: &App, s: Submission) -> (CommentStatus, Option<String>, Option<i32>) {
    match comments::submit_comment(app, app.store.db(), s)
        .await
        .expect("submit")
    {
        SubmitOutcome::Stored(c) => (c.status, c.rule_id, c.rule_version),
        other => panic!("not stored: {other:?}"),
    }
}

fn words_rule(words: &[&str], action: RuleAction) -> RuleSpec {
    RuleSpec {
        id: "eigene-woerter".into(),
        version: 1,
        kind: RuleKind::Words,
        action,
        reason: "Eigene Regel".into(),
        reason_en: None,
        words: words.iter().map(|w| (*w).to_owned()).collect(),
        whole_word: true,
        patterns: vec![],
        max: None,
        ratio: None,
        min_letters: None,
    }
}

#[tokio::test]
async fn runtime_rules_blocks_rate_limits_and_moderation() {
    for_each_store(|store| async move {
        let app = App::with_store(default_config(), store).await.expect("app");
        let view = announcements::announce(
            &app,
            Announce {
                text: "Wie soll der Platz aussehen?".into(),
                closes_at: Some(Utc::now() + Duration::days(7)),
                author: "cli".into(),
                ..Announce::default()
            },
        )
        .await
        .expect("announce");
        let note = app.urls().announcement(view.announcement.id);

        assert_eq!(submit(&app, submission(1, "a", "one.example", "Du Quatschkopf", &note)).await.0, CommentStatus::Published);

        // A moderator adds a rule at runtime: it applies at once, with its version.
        let row = moderation::add_rule(&app, words_rule(&["quatschkopf"], RuleAction::Reject), "@mod:localhost")
            .await
            .expect("add rule");
        assert_eq!(row.version, 1);
        assert_eq!(
            submit(&app, submission(2, "b", "two.example", "Sie Quatschkopf!", &note)).await,
            (CommentStatus::Rejected, Some("eigene-woerter".into()), Some(1))
        );
        // A new version replaces it; the old decision keeps naming version 1.
        moderation::add_rule(&app, words_rule(&["quatschkopf"], RuleAction::Hold), "@mod:localhost")
            .await
            .expect("v2");
        assert_eq!(
            submit(&app, submission(3, "c", "three.example", "Quatschkopf", &note)).await,
            (CommentStatus::Pending, Some("eigene-woerter".into()), Some(2))
        );
        // A bad rule is refused and changes nothing.
        let mut bad = words_rule(&[], RuleAction::Hold);
        bad.kind = RuleKind::Regex;
        bad.patterns = vec!["(".into()];
        assert!(moderation::add_rule(&app, bad, "@mod:localhost").await.is_err());
        moderation::remove_rule(&app, "eigene-woerter", "@mod:localhost").await.expect("remove");
        assert_eq!(submit(&app, submission(4, "d", "four.example", "Quatschkopf", &note)).await.0, CommentStatus::Published);
        assert!(moderation::remove_rule(&app, "beleidigung", "@mod:localhost").await.is_err(), "file rules are not removable");

        // A Mastodon domain-block list blocks a whole instance.
        let added = moderation::import_mastodon_domain_blocks(
            &app,
            "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\nspam.example,suspend,true,true,Spam,false\n",
            "@mod:localhost",
        )
        .await
        .expect("import");
        assert_eq!(added, 1);
        assert_eq!(
            submit(&app, submission(5, "e", "spam.example", "Hallo", &note)).await,
            (CommentStatus::Rejected, Some("blocked-domain".into()), Some(1))
        );

        // Rate limit: the sixth comment within a minute from one author is held (burst 5).
        for n in 10..15 {
            let (status, _, _) = submit(&app, submission(n, "fleissig", "busy.example", &format!("Idee Nummer {n}"), &note)).await;
            assert_eq!(status, CommentStatus::Published, "comment {n}");
        }
        assert_eq!(
            submit(&app, submission(15, "fleissig", "busy.example", "Idee Nummer 15", &note)).await,
            (CommentStatus::Pending, Some("rate-limit-author".into()), Some(1))
        );
        // Moderators and the press office are never limited.
        let mut privileged = submission(16, "fleissig", "busy.example", "Idee Nummer 16", &note);
        privileged.privileged = true;
        assert_eq!(submit(&app, privileged).await.0, CommentStatus::Published);

        // Moderation: approve the held one; hide a published one; every step is logged.
        let held = comments::list(&app, &rathaus_shared::store::comments::CommentFilter { status: Some(CommentStatus::Pending), ..Default::default() })
            .await
            .expect("pending");
        assert_eq!(held.len(), 2);
        let approved = comments::moderate(&app, held[0].id, ModAction::Approve, "@mod:localhost", None).await.expect("approve");
        assert_eq!(approved.status, CommentStatus::Published);
        let err = comments::moderate(&app, held[0].id, ModAction::Approve, "@mod:localhost", None).await.expect_err("twice");
        assert!(err.to_string().contains("already published"), "{err}");
        let hidden = comments::moderate(&app, approved.id, ModAction::Hide, "@mod:localhost", Some("off topic".into())).await.expect("hide");
        assert_eq!(hidden.status, CommentStatus::Hidden);

        // After the consultation closed, replies are kept as late (not counted).
        rathaus_shared::store::announcements::close_consultation(app.store.db(), view.announcement.id, Utc::now() - Duration::seconds(1))
            .await
            .expect("close");
        match comments::submit_comment(&app, app.store.db(), submission(20, "spaet", "late.example", "Noch eine Idee", &note)).await.expect("late") {
            SubmitOutcome::Stored(c) => assert!(c.late, "a reply after closing is late"),
            other => panic!("{other:?}"),
        }
        assert!(
            comments::list(&app, &Default::default()).await.expect("all").iter().filter(|c| c.late).count() == 1,
            "only the reply after closing is late"
        );

        let actions: Vec<String> = log::list_actions(app.store.db(), None, 100)
            .await
            .expect("log")
            .into_iter()
            .map(|a| a.action.to_string())
            .collect();
        for expected in ["rule_add", "rule_remove", "block_import", "auto_reject", "auto_hold", "auto_publish", "approve", "hide"] {
            assert!(actions.iter().any(|a| a == expected), "{expected} missing from {actions:?}");
        }
    })
    .await;
}

/// The bot's followers start at the newest row, record what a row was relayed as together
/// with the cursor past it, and never read a corrupt cursor as 0.
#[tokio::test]
async fn matrix_followers_record_relays_with_their_cursor() {
    use rathaus_shared::services::matrix;
    use rathaus_shared::store::relay::RelayTarget;
    use rathaus_shared::store::state::{self, Cursor};
    for_each_store(|store| async move {
        let app = App::with_store(default_config(), store).await.expect("app");
        let first = announcements::announce(
            &app,
            Announce {
                text: "Erste".into(),
                author: "cli".into(),
                ..Announce::default()
            },
        )
        .await
        .expect("announce")
        .announcement
        .id;
        // First start: only what happens from now on.
        let at = matrix::cursor(&app, Cursor::MatrixAnnouncements)
            .await
            .expect("cursor");
        assert_eq!(at, first);
        assert!(
            matrix::announcements_after(&app, at)
                .await
                .expect("after")
                .is_empty()
        );
        let second = announcements::announce(
            &app,
            Announce {
                text: "Zweite".into(),
                author: "cli".into(),
                ..Announce::default()
            },
        )
        .await
        .expect("announce")
        .announcement
        .id;
        let fresh = matrix::announcements_after(&app, at).await.expect("after");
        assert_eq!(fresh.iter().map(|a| a.id).collect::<Vec<_>>(), [second]);

        let events = [
            (
                "!a:hs".to_owned(),
                "$a".to_owned(),
                RelayTarget::Announcement(second),
            ),
            (
                "!b:hs".to_owned(),
                "$b".to_owned(),
                RelayTarget::Announcement(second),
            ),
        ];
        matrix::relayed(&app, Cursor::MatrixAnnouncements, second, &events)
            .await
            .expect("relayed");
        assert_eq!(
            matrix::cursor(&app, Cursor::MatrixAnnouncements)
                .await
                .expect("cursor"),
            second
        );
        assert_eq!(
            matrix::announcement_of_event(&app, "!b:hs", "$b")
                .await
                .expect("lookup"),
            Some(second)
        );
        assert_eq!(
            matrix::announcement_event(&app, second, "!a:hs")
                .await
                .expect("lookup"),
            Some("$a".to_owned())
        );

        // A corrupt cursor stops the follower instead of starting over.
        state::set(app.store.db(), "matrix.announcement_cursor", "", app.now())
            .await
            .expect("corrupt");
        let err = matrix::cursor(&app, Cursor::MatrixAnnouncements)
            .await
            .expect_err("corrupt cursor");
        assert!(matches!(err, rathaus_shared::Error::Corrupt(_)), "{err}");
    })
    .await;
}
