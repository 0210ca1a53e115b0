//! What a moderator decided stands, what was private stays private, and time is ours: over a
//! real store (SQLite, and PostgreSQL when configured).

use chrono::{DateTime, Duration, Utc};
use rathaus_shared::entities::{ActionKind, CommentStatus, Network, RuleAction, comment};
use rathaus_shared::policy::{RuleKind, RuleSpec};
use rathaus_shared::services::announcements::{self, Announce};
use rathaus_shared::services::comments::{self, ModAction, Submission, SubmitOutcome};
use rathaus_shared::services::content::Warning;
use rathaus_shared::services::moderation;
use rathaus_shared::store::comments::{self as store, CommentFilter};
use rathaus_shared::store::moderation as log;
use rathaus_shared::testing::{default_config, for_each_store};
use rathaus_shared::{App, Clock};

fn reply(n: u32, author: &str, text: &str, note: &str, at: DateTime<Utc>) -> Submission {
    Submission {
        network: Network::Fediverse,
        origin_id: format!("https://one.example/notes/{n}"),
        origin_url: None,
        in_reply_to: note.to_owned(),
        author_id: format!("https://one.example/users/{author}"),
        author_name: None,
        author_domain: "one.example".into(),
        content_html: format!("<p>{text}</p>"),
        language: Some("de".into()),
        warning: Warning::default(),
        created_at: at,
        received_at: at,
        public: true,
        privileged: false,
    }
}

async fn stored(app: &App, s: Submission) -> comment::Model {
    match comments::submit_comment(app, app.store.db(), s)
        .await
        .expect("submit")
    {
        SubmitOutcome::Stored(c) => c,
        other => panic!("not stored: {other:?}"),
    }
}

async fn edit(app: &App, c: &comment::Model, text: &str) -> comment::Model {
    comments::edit_comment(
        app,
        app.store.db(),
        &c.origin_id,
        &c.author_id,
        &format!("<p>{text}</p>"),
        &Warning::default(),
    )
    .await
    .expect("edit")
    .expect("found")
}

fn rule(id: &str, word: &str, action: RuleAction) -> RuleSpec {
    RuleSpec {
        id: id.into(),
        version: 1,
        kind: RuleKind::Words,
        action,
        reason: format!("Regel {id}"),
        reason_en: None,
        words: vec![word.into()],
        whole_word: true,
        patterns: vec![],
        max: None,
        ratio: None,
        min_letters: None,
    }
}

async fn last_action(app: &App, comment_id: i64) -> ActionKind {
    log::actions_for_comments(app.store.db(), &[comment_id])
        .await
        .expect("log")
        .last()
        .expect("an entry")
        .action
}

/// A consultation open from `t0` for a day, and its Note's URL.
async fn consultation(app: &App, t0: DateTime<Utc>) -> String {
    let view = announcements::announce(
        app,
        Announce {
            text: "Wie soll der Platz aussehen?".into(),
            closes_at: Some(t0 + Duration::days(1)),
            author: "cli".into(),
            ..Announce::default()
        },
    )
    .await
    .expect("announce");
    app.urls().announcement(view.announcement.id)
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2040-07-01T10:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

#[test]
fn an_edit_keeps_or_tightens_never_loosens() {
    use CommentStatus::*;
    use rathaus_shared::policy::Outcome;
    for status in [Published, Pending, Rejected, Hidden, Deleted, Private] {
        for outcome in [Outcome::Publish, Outcome::Hold, Outcome::Reject] {
            let after = comments::status_after_edit(status, outcome);
            let rank = |s| match s {
                Published => 0,
                Pending => 1,
                _ => 2,
            };
            assert!(
                rank(after) >= rank(status) && (after == status || after == Pending),
                "{status:?} + {outcome:?} → {after:?}"
            );
        }
    }
    assert_eq!(
        comments::status_after_edit(Published, Outcome::Reject),
        Pending
    );
    assert_eq!(
        comments::status_after_edit(Rejected, Outcome::Publish),
        Rejected
    );
    assert_eq!(
        comments::status_after_edit(Pending, Outcome::Publish),
        Pending
    );
}

#[tokio::test]
async fn edits_never_overturn_a_decision_and_keep_their_history() {
    for_each_store(|store| async move {
        let clock = Clock::fixed(t0());
        let app = App::with_store(default_config(), store)
            .await
            .expect("app")
            .with_clock(clock.clone());
        let note = consultation(&app, t0()).await;
        moderation::add_rule(
            &app,
            rule("halten", "quatschkopf", RuleAction::Hold),
            "@mod:hs",
        )
        .await
        .expect("rule");
        moderation::add_rule(
            &app,
            rule("weg", "schwachkopf", RuleAction::Reject),
            "@mod:hs",
        )
        .await
        .expect("rule");
        let now = app.now();

        // Rejected or hidden by a moderator: a clean edit does not bring it back.
        for (n, action, status) in [
            (1, ModAction::Reject, CommentStatus::Rejected),
            (2, ModAction::Hide, CommentStatus::Hidden),
        ] {
            let c = stored(
                &app,
                reply(n, &format!("m{n}"), "Mehr Bäume am Platz", &note, now),
            )
            .await;
            assert_eq!(c.status, CommentStatus::Published);
            comments::moderate(&app, c.id, action, "@mod:hs", Some("Beleidigend".into()))
                .await
                .expect("moderate");
            let after = edit(&app, &c, &format!("Ganz harmlos {n}")).await;
            assert_eq!(after.status, status, "{action:?}");
            assert_eq!(
                after.content.as_deref(),
                Some(format!("<p>Ganz harmlos {n}</p>").as_str())
            );
            assert_eq!(last_action(&app, c.id).await, ActionKind::Edit);
        }
        // Held by a rule: stays held until a moderator acts.
        let held = stored(&app, reply(3, "h", "Sie Quatschkopf", &note, now)).await;
        assert_eq!(held.status, CommentStatus::Pending);
        assert_eq!(
            edit(&app, &held, "Sie Gutmensch").await.status,
            CommentStatus::Pending
        );
        // Published, then edited into breaking a reject rule: held, not rejected, not kept.
        let good = stored(&app, reply(4, "g", "Schöner Platz", &note, now)).await;
        let broken = edit(&app, &good, "Du Schwachkopf").await;
        assert_eq!(broken.status, CommentStatus::Pending);
        assert_eq!(broken.rule_id.as_deref(), Some("weg"));
        assert_eq!(last_action(&app, good.id).await, ActionKind::EditPending);
        // Published and still fine: published, with its earlier text kept.
        let fine = stored(&app, reply(5, "f", "Erster Gedanke", &note, now)).await;
        let fine = edit(&app, &fine, "Zweiter Gedanke").await;
        assert_eq!(fine.status, CommentStatus::Published);
        let history = store::revisions(app.store.db(), fine.id)
            .await
            .expect("revisions");
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].content, "<p>Erster Gedanke</p>");

        // The duplicate rule still sees a text its author edited away.
        let first = stored(&app, reply(6, "d", "Radweg bitte verbreitern", &note, now)).await;
        edit(&app, &first, "Etwas ganz anderes").await;
        let again = stored(&app, reply(7, "d", "Radweg bitte verbreitern", &note, now)).await;
        assert_eq!(again.rule_id.as_deref(), Some("doppelt"), "{again:?}");
        assert_ne!(again.status, CommentStatus::Published);

        // An edit after the consultation closed is late.
        clock.advance(Duration::days(2));
        assert!(!fine.late);
        let late = edit(&app, &fine, "Dritter Gedanke").await;
        assert!(late.late);
        assert_eq!(late.status, CommentStatus::Published);

        // Erasure takes the earlier texts too.
        comments::delete_comment(&app, app.store.db(), &late.origin_id, &late.author_id)
            .await
            .expect("delete");
        assert!(
            store::revisions(app.store.db(), late.id)
                .await
                .expect("revisions")
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn lateness_and_rate_limits_go_by_our_time_not_the_senders() {
    for_each_store(|store| async move {
        let clock = Clock::fixed(t0());
        let app = App::with_store(default_config(), store)
            .await
            .expect("app")
            .with_clock(clock.clone());
        let note = consultation(&app, t0()).await;

        // Claims to be from before the close, arrives after it: late.
        clock.advance(Duration::days(2));
        let mut claimed = reply(1, "a", "Noch rechtzeitig?", &note, app.now());
        claimed.created_at = t0() + Duration::hours(1);
        let c = stored(&app, claimed).await;
        assert!(c.late, "a claimed time must not make a late reply count");
        // The claimed time is shown, the arrival time kept.
        assert_eq!(c.created_at, t0() + Duration::hours(1));
        assert_eq!(c.received_at, app.now());

        // Claimed times spread over days do not spread the rate limit: six at once from one
        // author trip the burst of five.
        let mut statuses = Vec::new();
        for n in 0..6u32 {
            let mut s = reply(
                10 + n,
                "b",
                &format!("Vorschlag Nummer {n}"),
                &note,
                app.now(),
            );
            s.created_at = app.now() - Duration::days(i64::from(n) * 3);
            statuses.push(stored(&app, s).await.rule_id);
        }
        assert_eq!(
            statuses
                .iter()
                .filter(|r| r.as_deref() == Some("rate-limit-author"))
                .count(),
            1,
            "{statuses:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn private_replies_never_become_public() {
    for_each_store(|store| async move {
        let app = App::with_store(default_config(), store)
            .await
            .expect("app")
            .with_clock(Clock::fixed(t0()));
        let note = consultation(&app, t0()).await;
        let mut direct = reply(
            1,
            "p",
            "Nur für Sie: meine Adresse ist Hauptstr. 1",
            &note,
            t0(),
        );
        direct.public = false;
        let c = stored(&app, direct).await;
        assert_eq!(c.status, CommentStatus::Private);

        // In no listing, count or public log.
        let db = app.store.db();
        assert!(
            store::list_comments(db, &CommentFilter::default())
                .await
                .expect("list")
                .is_empty()
        );
        assert!(
            store::comment_facts(db, None)
                .await
                .expect("facts")
                .is_empty()
        );
        // The moderators' log has it (the bot shows it in the moderation room, marked); the
        // public log and its statistics do not.
        let steps = log::actions_for_comments(db, &[c.id]).await.expect("log");
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].action, ActionKind::PrivateReply);
        let public = log::list_actions_page(db, 0, 100).await.expect("page");
        assert!(
            public.iter().all(|s| s.comment_id != Some(c.id)),
            "{public:?}"
        );
        assert_eq!(
            log::count_actions(db).await.expect("count"),
            public.len() as u64
        );
        assert!(
            log::actions_by_rule(db)
                .await
                .expect("by rule")
                .iter()
                .all(|(a, _, _)| *a != ActionKind::PrivateReply)
        );
        // Only when asked for by name.
        let private = store::list_comments(
            db,
            &CommentFilter {
                status: Some(CommentStatus::Private),
                ..CommentFilter::default()
            },
        )
        .await
        .expect("list");
        assert_eq!(private.len(), 1);
        // No moderator can publish it, and it is not answered publicly.
        for action in [ModAction::Approve, ModAction::Hide] {
            let err = comments::moderate(&app, c.id, action, "@mod:hs", None)
                .await
                .expect_err("private");
            assert!(err.to_string().contains("private"), "{err}");
        }
        let err = comments::answer(&app, c.id, "Danke!", "@presse:hs")
            .await
            .expect_err("private");
        assert!(err.to_string().contains("private"), "{err}");
        // A redelivery changes nothing.
        let mut again = reply(1, "p", "Nur für Sie", &note, t0());
        again.public = false;
        assert!(matches!(
            comments::submit_comment(&app, app.store.db(), again)
                .await
                .expect("again"),
            SubmitOutcome::Duplicate(_)
        ));
    })
    .await;
}
