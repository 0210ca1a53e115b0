//! Store tests. Each runs on SQLite and, when `RATHAUS_TEST_DATABASE_URL` is set, PostgreSQL.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rathaus_shared::entities::{
    ActionKind, BlockKind, CommentStatus, JobStatus, Network, RuleAction,
};
use rathaus_shared::store::actors::{self, RemoteActorData};
use rathaus_shared::store::announcements::{self, NewAnnouncement};
use rathaus_shared::store::comments::{self, CommentFilter, Inserted, NewComment};
use rathaus_shared::store::delivery::{self, NewActivity};
use rathaus_shared::store::moderation::{self, NewAction};
use rathaus_shared::store::policy::{self, NewRule};
use rathaus_shared::store::relay::{self, RelayTarget};
use rathaus_shared::store::state::Cursor;
use rathaus_shared::store::{blocks, matrix, state};
use rathaus_shared::testing::{for_each_store, test_stores};
use sea_orm::{ConnectionTrait, TransactionTrait};

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0)
        .single()
        .expect("valid time")
}

fn remote(n: u32, shared_inbox: Option<&str>) -> RemoteActorData {
    RemoteActorData {
        ap_id: format!("https://social{n}.example/users/u{n}"),
        username: format!("u{n}"),
        domain: format!("social{n}.example"),
        display_name: Some(format!("User {n}")),
        inbox: format!("https://social{n}.example/users/u{n}/inbox"),
        shared_inbox: shared_inbox.map(str::to_owned),
        public_key_pem: None,
        key_id: None,
    }
}

fn consultation(opens: i64, closes: i64) -> NewAnnouncement {
    NewAnnouncement {
        title: Some("Radweg Hauptstraße".into()),
        body_markdown: "Wie soll der **Radweg** aussehen?".into(),
        body_html: "<p>Wie soll der <strong>Radweg</strong> aussehen?</p>".into(),
        author: "@presse:localhost".into(),
        consultation: Some((t(opens), t(closes))),
    }
}

fn comment(announcement_id: i64, origin: &str, text: &str) -> NewComment {
    NewComment {
        announcement_id,
        parent_comment_id: None,
        network: Network::Fediverse,
        origin_id: origin.into(),
        origin_url: Some(origin.into()),
        author_id: "https://social1.example/users/u1".into(),
        author_name: Some("Ursula Eins".into()),
        author_domain: "social1.example".into(),
        content: text.into(),
        content_warning: None,
        sensitive: false,
        language: Some("de".into()),
        status: CommentStatus::Published,
        late: false,
        rule_id: None,
        rule_version: None,
        reason: None,
        created_at: t(10),
    }
}

#[tokio::test]
async fn migrations_run_up_down_and_up_again() {
    for ts in test_stores().await {
        let store = &ts.store;
        assert!(
            store
                .pending_migrations()
                .await
                .expect("pending")
                .is_empty()
        );
        let applied = store.applied_migrations().await.expect("applied");
        assert_eq!(
            applied,
            vec![
                "m20261124_000001_initial".to_owned(),
                "m20261125_000001_comment_language".to_owned(),
                "m20261203_000001_matrix_relay".to_owned(),
                "m20261203_000002_remote_actor_key".to_owned(),
                "m20261203_000003_comment_content_warning".to_owned(),
                "m20261203_000004_comment_revision".to_owned(),
                "m20261203_000005_announcement_change".to_owned(),
                "m20261203_000006_report".to_owned(),
                "m20261203_000007_bridge_actor".to_owned(),
                "m20261203_000008_inbox_queue".to_owned(),
            ],
            "{}",
            ts.backend
        );

        // The inbox queue and reactions down: they go.
        store.migrate_down(1).await.expect("down the inbox queue");
        for table in ["inbox_queue", "reaction"] {
            assert!(
                store
                    .db()
                    .execute_unprepared(&format!("SELECT count(*) FROM {table}"))
                    .await
                    .is_err(),
                "{}: {table} still exists after down",
                ts.backend
            );
        }
        // The bridge actors, the reports and the announcement changes down: they go.
        store
            .migrate_down(3)
            .await
            .expect("down the bridge, reports and changes");
        for table in ["bridge_actor", "report", "announcement_change"] {
            assert!(
                store
                    .db()
                    .execute_unprepared(&format!("SELECT count(*) FROM {table}"))
                    .await
                    .is_err(),
                "{}: {table} still exists after down",
                ts.backend
            );
        }
        assert!(
            store
                .db()
                .execute_unprepared("SELECT signer FROM outbound_activity")
                .await
                .is_err(),
            "{}: outbound_activity.signer still exists after down",
            ts.backend
        );
        // The revisions table down: it goes.
        store.migrate_down(1).await.expect("down the revisions");
        assert!(
            store
                .db()
                .execute_unprepared("SELECT count(*) FROM comment_revision")
                .await
                .is_err(),
            "{}: comment_revision still exists after down",
            ts.backend
        );
        // The content warning columns down and up.
        store
            .migrate_down(1)
            .await
            .expect("down the content warning");
        for column in ["content_warning", "sensitive"] {
            assert!(
                store
                    .db()
                    .execute_unprepared(&format!("SELECT {column} FROM comment"))
                    .await
                    .is_err(),
                "{}: {column} still exists after down",
                ts.backend
            );
        }
        store.migrate().await.expect("up the content warning");
        // Then the inbox queue, the bridge, the reports, the changes, the revisions, the
        // warning and the key id, so that the relay table is the newest again below.
        store
            .migrate_down(7)
            .await
            .expect("down to the relay table");

        // The relay table down and up: its rows go back to the old keys and return.
        let db = store.db();
        relay::record(db, "!pub:hs", "$ann", RelayTarget::Announcement(4), t(1))
            .await
            .expect("relay");
        relay::record(db, "!pub:hs", "$copy", RelayTarget::Comment(9), t(2))
            .await
            .expect("relay");
        relay::record(db, "!mod:hs", "$notice", RelayTarget::Notice(9), t(3))
            .await
            .expect("relay");
        store.migrate_down(1).await.expect("down the relay table");
        assert!(
            db.execute_unprepared("SELECT count(*) FROM matrix_relay")
                .await
                .is_err(),
            "{}: matrix_relay still exists after down",
            ts.backend
        );
        assert_eq!(
            state::get(db, "matrix.announcement.4.!pub:hs")
                .await
                .expect("kv"),
            Some("$ann".to_owned())
        );
        assert_eq!(
            state::get(db, "matrix.relay.!pub:hs.$ann")
                .await
                .expect("kv"),
            Some("4".to_owned())
        );
        assert_eq!(
            state::get(db, "matrix.notice.$notice").await.expect("kv"),
            Some("9".to_owned())
        );
        // An installation from before the table: its keys move into it.
        state::set(db, "matrix.comment.11.!pub:example.org", "$old", t(4))
            .await
            .expect("kv");
        store.migrate().await.expect("up the relay table");
        assert_eq!(
            relay::announcement_of_event(db, "!pub:hs", "$ann")
                .await
                .expect("q"),
            Some(4)
        );
        assert_eq!(
            relay::announcement_event(db, 4, "!pub:hs")
                .await
                .expect("q"),
            Some("$ann".to_owned())
        );
        assert_eq!(
            relay::comment_events(db, 11, "!pub:example.org")
                .await
                .expect("q"),
            vec!["$old".to_owned()]
        );
        assert_eq!(
            relay::notice_comment(db, "$notice").await.expect("q"),
            Some(9)
        );
        for key in [
            "matrix.comment.11.!pub:example.org",
            "matrix.announcement.4.!pub:hs",
            "matrix.relay.!pub:hs.$ann",
        ] {
            assert_eq!(state::get(db, key).await.expect("kv"), None, "{key}");
        }

        // The language column down and up: the column goes and comes back.
        store.migrate_down(9).await.expect("down nine");
        assert!(
            store
                .db()
                .execute_unprepared("SELECT language FROM comment")
                .await
                .is_err(),
            "{}: language column still exists after down",
            ts.backend
        );
        store.migrate().await.expect("up nine");
        store
            .db()
            .execute_unprepared("SELECT language FROM comment")
            .await
            .expect("language column back");

        store.migrate_down(10).await.expect("down");
        assert_eq!(store.pending_migrations().await.expect("pending").len(), 10);
        // The tables are gone: a query against one fails.
        assert!(
            store
                .db()
                .execute_unprepared("SELECT count(*) FROM comment")
                .await
                .is_err(),
            "{}: comment table still exists after down",
            ts.backend
        );

        store.migrate().await.expect("up again");
        store
            .db()
            .execute_unprepared("SELECT count(*) FROM comment")
            .await
            .expect("comment table back");
        ts.cleanup().await;
    }
}

#[tokio::test]
async fn relay_rows_answer_both_ways_and_cursors_refuse_corrupt_values() {
    for_each_store(|store| async move {
        let db = store.db().clone();
        relay::record(&db, "!a:hs", "$root", RelayTarget::Announcement(1), t(0))
            .await
            .expect("record");
        // The same event again is a no-op, not a second row or an error.
        relay::record(&db, "!a:hs", "$root", RelayTarget::Announcement(1), t(1))
            .await
            .expect("record again");
        relay::record(&db, "!b:hs", "$root-b", RelayTarget::Announcement(1), t(0))
            .await
            .expect("record");
        relay::record(&db, "!a:hs", "$c1", RelayTarget::Comment(5), t(2))
            .await
            .expect("record");
        relay::record(
            &db,
            "!a:hs",
            "$ans",
            RelayTarget::Answer {
                answer: 2,
                comment: 5,
            },
            t(3),
        )
        .await
        .expect("record");
        assert_eq!(
            relay::announcement_of_event(&db, "!a:hs", "$root")
                .await
                .expect("q"),
            Some(1)
        );
        assert_eq!(
            relay::announcement_of_event(&db, "!b:hs", "$root")
                .await
                .expect("q"),
            None
        );
        assert_eq!(
            relay::announcement_of_event(&db, "!a:hs", "$c1")
                .await
                .expect("q"),
            None
        );
        assert_eq!(
            relay::announcement_event(&db, 1, "!b:hs").await.expect("q"),
            Some("$root-b".to_owned())
        );
        // An answer's copy is not a copy of the comment.
        assert_eq!(
            relay::comment_events(&db, 5, "!a:hs").await.expect("q"),
            vec!["$c1".to_owned()]
        );
        assert_eq!(relay::notice_comment(&db, "$c1").await.expect("q"), None);

        assert_eq!(
            state::cursor(&db, Cursor::MatrixLog).await.expect("cursor"),
            None
        );
        state::set_cursor(&db, Cursor::MatrixLog, 42, t(0))
            .await
            .expect("set");
        assert_eq!(
            state::cursor(&db, Cursor::MatrixLog).await.expect("cursor"),
            Some(42)
        );
        state::set(&db, "matrix.log_cursor", "4x2", t(1))
            .await
            .expect("corrupt it");
        let err = state::cursor(&db, Cursor::MatrixLog)
            .await
            .expect_err("corrupt");
        assert!(err.to_string().contains("matrix.log_cursor"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn local_actor_key_is_generated_once() {
    for_each_store(|store| async move {
        let (first, created) = actors::ensure_local_actor(store.db(), "rathaus", t(0))
            .await
            .expect("create");
        assert!(created);
        assert!(first.public_key_pem.contains("BEGIN PUBLIC KEY"));
        let (again, created) = actors::ensure_local_actor(store.db(), "rathaus", t(5))
            .await
            .expect("reuse");
        assert!(!created);
        assert_eq!(first, again);
        rathaus_shared::keys::load_private_key(&again.private_key_pem).expect("usable key");
    })
    .await;
}

#[tokio::test]
async fn followers_deduplicate_shared_inboxes_and_cascade_on_actor_delete() {
    for_each_store(|store| async move {
        let db = store.db();
        let shared = "https://social1.example/inbox";
        let a = actors::upsert_remote_actor(db, remote(1, Some(shared)), t(0))
            .await
            .expect("a");
        let mut b_data = remote(2, Some(shared));
        b_data.domain = "social1.example".into();
        let b = actors::upsert_remote_actor(db, b_data, t(0))
            .await
            .expect("b");
        let c = actors::upsert_remote_actor(db, remote(3, None), t(0))
            .await
            .expect("c");
        for (actor, n) in [(&a, 1), (&b, 2), (&c, 3)] {
            actors::add_follower(db, actor.id, &format!("https://x/follow/{n}"), t(1))
                .await
                .expect("follow");
        }
        // A repeated Follow does not add a second row.
        actors::add_follower(db, a.id, "https://x/follow/1b", t(2))
            .await
            .expect("refollow");
        assert_eq!(actors::count_followers(db).await.expect("count"), 3);
        assert_eq!(
            actors::follower_inboxes(db).await.expect("inboxes"),
            vec![
                shared.to_owned(),
                "https://social3.example/users/u3/inbox".to_owned()
            ]
        );
        let page = actors::follower_ids(db, 1, 1).await.expect("page");
        assert_eq!(page, vec![b.ap_id.clone()]);

        // Refreshing an actor updates it in place.
        let mut changed = remote(3, Some("https://social3.example/inbox"));
        changed.display_name = Some("Neu".into());
        let c2 = actors::upsert_remote_actor(db, changed, t(9))
            .await
            .expect("refresh");
        assert_eq!(c2.id, c.id);
        assert_eq!(c2.display_name.as_deref(), Some("Neu"));
        assert_eq!(c2.fetched_at, t(9));

        assert!(actors::remove_follower(db, b.id).await.expect("undo"));
        assert!(!actors::remove_follower(db, b.id).await.expect("undo twice"));
        assert!(
            actors::delete_remote_actor(db, &a.ap_id)
                .await
                .expect("delete")
        );
        assert_eq!(actors::count_followers(db).await.expect("count"), 1);
        assert!(
            actors::remote_actor_by_ap_id(db, &a.ap_id)
                .await
                .expect("get")
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn announcements_consultations_corrections_and_retractions() {
    for_each_store(|store| async move {
        let db = store.db();
        let plain = announcements::insert_announcement(
            db,
            NewAnnouncement {
                consultation: None,
                ..consultation(0, 1)
            },
            t(0),
        )
        .await
        .expect("plain");
        assert!(plain.consultation.is_none());
        assert!(!plain.is_open(t(0)));

        let c = announcements::insert_announcement(db, consultation(100, 200), t(1))
            .await
            .expect("consultation");
        let id = c.announcement.id;
        assert!(!c.is_open(t(99)));
        assert!(c.is_open(t(100)));
        assert!(!c.is_open(t(200)));

        let err = announcements::insert_announcement(db, consultation(200, 100), t(2))
            .await
            .expect_err("closes before opening");
        assert!(err.to_string().contains("close after it opens"), "{err}");

        let listed = announcements::list_announcements(db, 0, 10)
            .await
            .expect("list");
        assert_eq!(
            listed.iter().map(|a| a.id).collect::<Vec<_>>(),
            vec![id, plain.announcement.id]
        );
        assert_eq!(
            announcements::count_announcements(db).await.expect("count"),
            2
        );

        let corrected =
            announcements::correct_announcement(db, id, "neu".into(), "<p>neu</p>".into(), t(150))
                .await
                .expect("correct");
        assert_eq!(corrected.updated_at, t(150));
        assert_eq!(corrected.created_at, t(1));

        announcements::close_consultation(db, id, t(160))
            .await
            .expect("close");
        let closed_again = announcements::close_consultation(db, id, t(170))
            .await
            .expect("close twice");
        assert_eq!(closed_again.closed_at, Some(t(160)));
        let view = announcements::get_announcement(db, id)
            .await
            .expect("get")
            .expect("exists");
        assert!(!view.is_open(t(165)));

        announcements::retract_announcement(db, id, t(180))
            .await
            .expect("retract");
        let view = announcements::get_announcement(db, id)
            .await
            .expect("get")
            .expect("kept");
        assert_eq!(view.announcement.retracted_at, Some(t(180)));
        assert!(view.announcement.body_markdown.is_empty());
        let err = announcements::correct_announcement(db, id, "x".into(), "x".into(), t(190))
            .await
            .expect_err("retracted");
        assert!(err.to_string().contains("retracted"), "{err}");
        let err = announcements::retract_announcement(db, 9999, t(190))
            .await
            .expect_err("missing");
        assert!(matches!(err, rathaus_shared::Error::NotFound(_)), "{err}");
    })
    .await;
}

#[tokio::test]
async fn comments_are_unique_by_origin_filterable_and_erasable() {
    for_each_store(|store| async move {
        let db = store.db();
        let a = announcements::insert_announcement(db, consultation(0, 1000), t(0))
            .await
            .expect("announcement")
            .announcement;
        let first =
            match comments::insert_comment(db, comment(a.id, "https://s/1", "Gute Idee"), t(11))
                .await
                .expect("insert")
            {
                Inserted::New(c) => c,
                Inserted::Existing(_) => panic!("first insert must be new"),
            };
        assert_eq!(first.created_at, t(10));
        assert_eq!(first.received_at, t(11));
        // Redelivery of the same object: no second row.
        let again = comments::insert_comment(db, comment(a.id, "https://s/1", "Gute Idee"), t(12))
            .await
            .expect("again");
        assert_eq!(again, Inserted::Existing(first.clone()));

        let mut held = comment(a.id, "$event:localhost", "Ruf mich an: 0171 1234567");
        held.network = Network::Matrix;
        held.status = CommentStatus::Pending;
        held.rule_id = Some("personal-data".into());
        held.rule_version = Some(1);
        held.reason = Some("Telefonnummer".into());
        held.parent_comment_id = Some(first.id);
        let Inserted::New(held) = comments::insert_comment(db, held, t(13))
            .await
            .expect("held")
        else {
            panic!("new");
        };

        let pending = comments::list_comments(
            db,
            &CommentFilter {
                status: Some(CommentStatus::Pending),
                ..Default::default()
            },
        )
        .await
        .expect("pending");
        assert_eq!(
            pending.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![held.id]
        );
        assert_eq!(pending[0].rule_id.as_deref(), Some("personal-data"));

        let approved = comments::set_comment_status(
            db,
            held.id,
            CommentStatus::Published,
            None,
            Some("ok".into()),
            t(20),
        )
        .await
        .expect("approve");
        assert_eq!(approved.status, CommentStatus::Published);
        assert_eq!(approved.rule_id, None);

        let answer = comments::insert_answer(
            db,
            first.id,
            "@presse:localhost",
            "Danke".into(),
            "<p>Danke</p>".into(),
            t(21),
        )
        .await
        .expect("answer");
        assert_eq!(
            comments::answers_for_comment(db, first.id)
                .await
                .expect("answers"),
            vec![answer]
        );
        assert!(
            comments::insert_answer(db, 9999, "x", "x".into(), "x".into(), t(21))
                .await
                .is_err()
        );

        let edited = comments::update_comment_content(db, first.id, "Sehr gute Idee".into(), t(22))
            .await
            .expect("edit");
        assert_eq!(edited.content.as_deref(), Some("Sehr gute Idee"));

        let erased = comments::erase_comment(db, first.id, t(30))
            .await
            .expect("erase");
        assert_eq!(erased.content, None);
        assert_eq!(erased.author_name, None);
        assert_eq!(erased.status, CommentStatus::Deleted);
        let stored = comments::get_comment(db, first.id)
            .await
            .expect("get")
            .expect("row kept");
        assert_eq!(stored.content, None);
        let err =
            comments::set_comment_status(db, first.id, CommentStatus::Published, None, None, t(31))
                .await
                .expect_err("deleted stays deleted");
        assert!(err.to_string().contains("deleted"), "{err}");
        let all = comments::list_comments(
            db,
            &CommentFilter {
                announcement_id: Some(a.id),
                ..Default::default()
            },
        )
        .await
        .expect("all");
        assert_eq!(all.len(), 2);
    })
    .await;
}

#[tokio::test]
async fn moderation_log_is_append_only() {
    for_each_store(|store| async move {
        let db = store.db();
        for (i, action) in [ActionKind::AutoHold, ActionKind::Approve]
            .into_iter()
            .enumerate()
        {
            moderation::log_action(
                db,
                NewAction {
                    comment_id: Some(7),
                    action,
                    actor: if i == 0 {
                        "policy".into()
                    } else {
                        "@mod:localhost".into()
                    },
                    rule_id: Some("links".into()),
                    rule_version: Some(2),
                    reason: Some("zu viele Links".into()),
                },
                t(i as i64),
            )
            .await
            .expect("log");
        }
        let log = moderation::list_actions(db, Some(7), 10)
            .await
            .expect("list");
        assert_eq!(
            log.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
            ["approve", "auto_hold"]
        );
        assert!(
            moderation::list_actions(db, Some(8), 10)
                .await
                .expect("other")
                .is_empty()
        );

        // The database itself refuses to rewrite history.
        assert!(
            db.execute_unprepared("UPDATE moderation_action SET reason = 'x'")
                .await
                .is_err()
        );
        assert!(
            db.execute_unprepared("DELETE FROM moderation_action")
                .await
                .is_err()
        );
        assert_eq!(
            moderation::list_actions(db, None, 10)
                .await
                .expect("still there")
                .len(),
            2
        );
    })
    .await;
}

#[tokio::test]
async fn policy_rules_are_versioned() {
    for_each_store(|store| async move {
        let db = store.db();
        let rule = |pattern: &str| NewRule {
            rule_key: "insults".into(),
            kind: "words".into(),
            definition: serde_json::json!({ "words": [pattern] }),
            action: RuleAction::Reject,
            public_reason: "Beleidigung".into(),
            created_by: "@mod:localhost".into(),
        };
        let v1 = policy::add_rule(db, rule("depp"), t(0)).await.expect("v1");
        let v2 = policy::add_rule(db, rule("trottel"), t(1))
            .await
            .expect("v2");
        assert_eq!((v1.version, v2.version), (1, 2));
        let active = policy::active_rules(db).await.expect("active");
        assert_eq!(active, vec![v2.clone()]);
        let old = policy::rule_version(db, "insults", 1)
            .await
            .expect("v1")
            .expect("kept");
        assert_eq!(old.retired_at, Some(t(1)));
        assert!(old.definition.contains("depp"));
        assert!(
            policy::retire_rule(db, "insults", t(2))
                .await
                .expect("retire")
        );
        assert!(policy::active_rules(db).await.expect("none").is_empty());
        let v3 = policy::add_rule(db, rule("x"), t(3)).await.expect("v3");
        assert_eq!(v3.version, 3);
        assert!(
            policy::add_rule(
                db,
                NewRule {
                    rule_key: " ".into(),
                    ..rule("y")
                },
                t(4)
            )
            .await
            .is_err()
        );
    })
    .await;
}

#[tokio::test]
async fn blocks_normalise_domains() {
    for_each_store(|store| async move {
        let db = store.db();
        assert!(
            blocks::add_block(
                db,
                BlockKind::Domain,
                "Spam.Example.",
                Some("Spam".into()),
                "@mod:localhost",
                t(0)
            )
            .await
            .expect("block")
        );
        assert!(
            !blocks::add_block(
                db,
                BlockKind::Domain,
                "spam.example",
                None,
                "@mod:localhost",
                t(1)
            )
            .await
            .expect("again")
        );
        assert!(
            blocks::is_blocked(db, BlockKind::Domain, "SPAM.example")
                .await
                .expect("check")
        );
        assert!(
            !blocks::is_blocked(db, BlockKind::User, "spam.example")
                .await
                .expect("kind matters")
        );
        assert_eq!(blocks::list_blocks(db).await.expect("list").len(), 1);
        assert!(
            blocks::add_block(db, BlockKind::User, "  ", None, "x", t(2))
                .await
                .is_err()
        );
        assert!(
            blocks::remove_block(db, BlockKind::Domain, "spam.example")
                .await
                .expect("unblock")
        );
        assert!(
            !blocks::is_blocked(db, BlockKind::Domain, "spam.example")
                .await
                .expect("gone")
        );
    })
    .await;
}

#[tokio::test]
async fn matrix_events_and_inbound_activities_are_handled_once() {
    for_each_store(|store| async move {
        let db = store.db();
        assert!(
            matrix::claim_event(db, "$a", "!room", t(0))
                .await
                .expect("first")
        );
        assert!(
            !matrix::claim_event(db, "$a", "!room", t(1))
                .await
                .expect("second")
        );
        assert!(matrix::is_processed(db, "$a").await.expect("processed"));
        assert!(!matrix::is_processed(db, "$b").await.expect("not processed"));
        assert!(
            state::record_inbound(db, "https://s/activities/1", t(0))
                .await
                .expect("first")
        );
        assert!(
            !state::record_inbound(db, "https://s/activities/1", t(1))
                .await
                .expect("dup")
        );

        assert_eq!(state::get(db, "cursor").await.expect("get"), None);
        state::set(db, "cursor", "1", t(0)).await.expect("set");
        state::set(db, "cursor", "2", t(1))
            .await
            .expect("overwrite");
        assert_eq!(
            state::get(db, "cursor").await.expect("get").as_deref(),
            Some("2")
        );
    })
    .await;
}

#[tokio::test]
async fn a_row_and_its_jobs_commit_or_roll_back_together() {
    for_each_store(|store| async move {
        let inboxes: Vec<String> = (0..3)
            .map(|i| format!("https://h{i}.example/inbox"))
            .collect();
        // Rolled back: neither the activity nor its jobs remain.
        let txn = store.db().begin().await.expect("begin");
        let act = delivery::insert_activity(&txn, activity("https://r/a/1"), t(0))
            .await
            .expect("activity");
        delivery::enqueue(&txn, act.id, &inboxes, t(0))
            .await
            .expect("enqueue");
        txn.rollback().await.expect("rollback");
        assert!(
            delivery::get_activity(store.db(), act.id)
                .await
                .expect("get")
                .is_none()
        );
        assert!(
            delivery::count_by_status(store.db())
                .await
                .expect("count")
                .is_empty()
        );

        let txn = store.db().begin().await.expect("begin");
        let act = delivery::insert_activity(&txn, activity("https://r/a/1"), t(0))
            .await
            .expect("activity");
        assert_eq!(
            delivery::enqueue(&txn, act.id, &inboxes, t(0))
                .await
                .expect("enqueue"),
            3
        );
        txn.commit().await.expect("commit");
        assert_eq!(
            delivery::count_by_status(store.db()).await.expect("count"),
            vec![(JobStatus::Pending, 3)]
        );
    })
    .await;
}

fn activity(id: &str) -> NewActivity {
    NewActivity {
        ap_id: id.into(),
        kind: "Create".into(),
        announcement_id: None,
        payload: serde_json::json!({ "id": id, "type": "Create" }),
        signer: None,
    }
}

#[tokio::test]
async fn delivery_jobs_are_claimed_once_retried_and_reclaimed_after_a_lease_expires() {
    for_each_store(|store| async move {
        let db = store.db();
        let act = delivery::insert_activity(db, activity("https://r/a/1"), t(0))
            .await
            .expect("activity");
        // Storing the same activity id again keeps one row: retries never mint a new id.
        let same = delivery::insert_activity(db, activity("https://r/a/1"), t(5))
            .await
            .expect("again");
        assert_eq!(same, act);

        let inboxes: Vec<String> = (0..5)
            .map(|i| format!("https://h{i}.example:8443/inbox"))
            .collect();
        assert_eq!(
            delivery::enqueue(db, act.id, &inboxes, t(0))
                .await
                .expect("enqueue"),
            5
        );
        assert_eq!(
            delivery::enqueue(db, act.id, &inboxes[..2], t(0))
                .await
                .expect("dedup"),
            0
        );
        assert!(
            delivery::enqueue(db, act.id, &["not a url".into()], t(0))
                .await
                .is_err()
        );

        let lease = Duration::from_secs(60);
        let first = delivery::claim_due(db, t(1), 3, lease)
            .await
            .expect("claim");
        assert_eq!(first.len(), 3);
        assert!(
            first
                .iter()
                .all(|j| j.status == JobStatus::InFlight && j.attempts == 1)
        );
        assert_eq!(first[0].host, "h0.example:8443");
        let second = delivery::claim_due(db, t(1), 10, lease)
            .await
            .expect("claim rest");
        assert_eq!(second.len(), 2);
        assert!(
            delivery::claim_due(db, t(2), 10, lease)
                .await
                .expect("nothing")
                .is_empty()
        );

        delivery::mark_done(db, first[0].id, t(3))
            .await
            .expect("done");
        delivery::mark_failed(db, first[1].id, "410 Gone", t(3))
            .await
            .expect("failed");
        delivery::mark_retry(db, first[2].id, t(100), "503", t(3))
            .await
            .expect("retry");
        // Not due yet.
        assert!(
            delivery::claim_due(db, t(50), 10, lease)
                .await
                .expect("early")
                .is_empty()
        );
        // The second batch's worker "crashed": its lease ends at t(61).
        let reclaimed = delivery::claim_due(db, t(62), 10, lease)
            .await
            .expect("reclaim");
        assert_eq!(
            reclaimed.iter().map(|j| j.id).collect::<Vec<_>>(),
            second.iter().map(|j| j.id).collect::<Vec<_>>()
        );
        assert!(reclaimed.iter().all(|j| j.attempts == 2));
        let retried = delivery::claim_due(db, t(100), 10, lease)
            .await
            .expect("due retry");
        assert_eq!(retried.len(), 1);
        assert_eq!(retried[0].id, first[2].id);
        assert_eq!(retried[0].last_error.as_deref(), Some("503"));
        assert_eq!(retried[0].attempts, 2);
        assert!(delivery::mark_done(db, 99_999, t(101)).await.is_err());

        let mut counts = delivery::count_by_status(db).await.expect("count");
        counts.sort_by_key(|(s, _)| format!("{s:?}"));
        assert_eq!(
            counts,
            vec![
                (JobStatus::Done, 1),
                (JobStatus::Failed, 1),
                (JobStatus::InFlight, 3)
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_claimers_never_share_a_job() {
    for ts in test_stores().await {
        let store = ts.store.clone();
        let act = delivery::insert_activity(store.db(), activity("https://r/a/c"), t(0))
            .await
            .expect("activity");
        let inboxes: Vec<String> = (0..200)
            .map(|i| format!("https://h{i}.example/inbox"))
            .collect();
        delivery::enqueue(store.db(), act.id, &inboxes, t(0))
            .await
            .expect("enqueue");
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = delivery::claim_due(store.db(), t(1), 7, Duration::from_secs(600))
                        .await
                        .expect("claim");
                    if batch.is_empty() {
                        break mine;
                    }
                    mine.extend(batch.into_iter().map(|j| j.id));
                }
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.expect("task"));
        }
        let claimed = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all.len(),
            claimed,
            "{}: a job was claimed twice",
            ts.backend
        );
        assert_eq!(claimed, 200, "{}", ts.backend);
        ts.cleanup().await;
    }
}

#[tokio::test]
async fn postgres_is_tested_when_configured() {
    // Guards against a CI that sets the variable but whose tests silently ran on SQLite only.
    let stores = test_stores().await;
    let configured = std::env::var(rathaus_shared::testing::PG_ENV).is_ok_and(|v| !v.is_empty());
    assert_eq!(stores.iter().any(|s| s.backend == "postgres"), configured);
    for ts in stores {
        ts.cleanup().await;
    }
}
