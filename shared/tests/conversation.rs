//! What the Matrix side mirrors is recorded with the change itself: announcement changes and
//! reports from the fediverse, over a real store (SQLite, and PostgreSQL when configured).

use rathaus_shared::domain::{ActionKind, ChangeKind, Network};
use rathaus_shared::services::announcements;
use rathaus_shared::services::comments::{self, Submission, SubmitOutcome};
use rathaus_shared::services::content::Warning;
use rathaus_shared::services::matrix::{self as bot_state, Reported};
use rathaus_shared::services::{reports, transparency};
use rathaus_shared::store::moderation as log;
use rathaus_shared::testing::{default_config, for_each_store, open_consultation};
use rathaus_shared::{App, Clock};

async fn app(store: rathaus_shared::Store) -> App {
    App::with_store(default_config(), store)
        .await
        .expect("app")
        .with_clock(Clock::system())
}

#[tokio::test]
async fn every_change_of_an_announcement_is_recorded_in_order() {
    for_each_store(|store| async move {
        let app = app(store).await;
        let note = open_consultation(&app).await;
        let id = app.urls().announcement_id(&note).expect("id");
        announcements::correct(&app, id, "Neuer Text".into())
            .await
            .expect("correct");
        announcements::close(&app, id).await.expect("close");
        announcements::publish_result(&app, id, "Wir bauen.".into())
            .await
            .expect("result");
        // Closing twice changes nothing and records nothing.
        announcements::close(&app, id).await.expect("close again");
        let changes = bot_state::changes_after(&app, 0).await.expect("changes");
        let kinds: Vec<ChangeKind> = changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                ChangeKind::Corrected,
                ChangeKind::Closed,
                ChangeKind::Result
            ]
        );
        // Each comes with the announcement as it is now, for the edit of the relayed message.
        let now = &changes[0].announcement;
        assert!(now.body_html.contains("Neuer Text"));
        assert!(now.closed_at.is_some());
        assert!(
            now.result_html
                .as_deref()
                .is_some_and(|r| r.contains("Wir bauen"))
        );
        announcements::retract(&app, id).await.expect("retract");
        let after = bot_state::changes_after(&app, changes[2].id)
            .await
            .expect("changes");
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].kind, ChangeKind::Retracted);
        assert!(after[0].announcement.retracted);
        // A failed change records nothing: retracting again is refused.
        assert!(announcements::retract(&app, id).await.is_err());
        assert!(
            bot_state::changes_after(&app, after[0].id)
                .await
                .expect("changes")
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn reports_name_only_what_is_ours_and_never_the_reporter() {
    for_each_store(|store| async move {
        let app = app(store).await;
        let note = open_consultation(&app).await;
        let now = app.now();
        let SubmitOutcome::Stored(c) = comments::submit_comment(
            &app,
            app.store.db(),
            Submission {
                network: Network::Fediverse,
                origin_id: "https://one.example/notes/1".into(),
                origin_url: None,
                in_reply_to: note.clone(),
                author_id: "https://one.example/users/anna".into(),
                author_name: None,
                author_domain: "one.example".into(),
                content_html: "<p>Mehr Bänke</p>".into(),
                language: None,
                warning: Warning::default(),
                created_at: now,
                received_at: now,
                public: true,
                privileged: false,
            },
        )
        .await
        .expect("submit") else {
            panic!("not stored")
        };
        let urls = app.urls();
        // Other people's things are not ours to moderate: nothing is stored.
        assert_eq!(
            reports::report(
                &app,
                app.store.db(),
                "two.example",
                &["https://one.example/users/x"],
                None
            )
            .await
            .expect("report"),
            0
        );
        // The comment by its page URL and by its origin id is one report; the account named
        // beside it adds nothing.
        let page = urls.comment(c.id);
        let n = reports::report(
            &app,
            app.store.db(),
            "two.example",
            &[urls.actor().as_str(), page.as_str(), c.origin_id.as_str()],
            Some("<p>Werbung!</p>"),
        )
        .await
        .expect("report");
        assert_eq!(n, 1);
        let account = reports::report(
            &app,
            app.store.db(),
            "three.example",
            &[urls.actor().as_str()],
            None,
        )
        .await
        .expect("report");
        assert_eq!(account, 1);
        let seen = bot_state::reports_after(&app, 0).await.expect("reports");
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].about, Reported::Comment(c.id));
        assert_eq!(seen[0].reporter_domain, "two.example");
        assert_eq!(seen[0].content.as_deref(), Some("Werbung!"));
        assert!(seen[0].comment.is_some());
        assert_eq!(seen[1].about, Reported::Account);
        // The log records the report about the comment, by "report", never by whom.
        let steps = log::actions_for_comments(app.store.db(), &[c.id])
            .await
            .expect("log");
        let step = steps.last().expect("a step");
        assert_eq!(
            (step.action, step.actor.as_str()),
            (ActionKind::Report, "report")
        );
        let public = transparency::public_log(&app, 1).await.expect("log");
        let entry = public
            .entries
            .iter()
            .find(|e| e.action == ActionKind::Report)
            .expect("in the public log");
        assert_eq!(entry.actor, transparency::Actor::Report);
        assert_eq!(entry.reason, None);
    })
    .await;
}
