//! The inbox's durable queue: appended commands are applied once, in order, in batches; rows
//! left by a stopped process are applied by the next one; a bad row holds up no other; Likes
//! and boosts are counted and Undo removes them. Over a real store (SQLite, and PostgreSQL
//! when configured).

use std::time::Duration;

use sea_orm::EntityTrait;

use rathaus_shared::domain::Network;
use rathaus_shared::services::comments::Submission;
use rathaus_shared::services::content::Warning;
use rathaus_shared::services::inbox::{self, Inbound, Intake, Reaction};
use rathaus_shared::store::comments::{self as stored, CommentFilter};
use rathaus_shared::store::inbox as queue;
use rathaus_shared::testing::{default_config, for_each_store, open_consultation};
use rathaus_shared::{App, Clock};

async fn app(store: rathaus_shared::Store) -> App {
    App::with_store(default_config(), store)
        .await
        .expect("app")
        .with_clock(Clock::system())
}

fn reply(app: &App, n: usize, note: &str) -> (String, Inbound) {
    let author = format!("https://one.example/users/a{}", n % 7);
    let now = app.now();
    (
        format!("https://one.example/activities/{n}"),
        Inbound::Reply(Submission {
            network: Network::Fediverse,
            origin_id: format!("https://one.example/notes/{n}"),
            origin_url: None,
            in_reply_to: note.to_owned(),
            author_id: author,
            author_name: None,
            author_domain: "one.example".into(),
            content_html: format!("<p>Vorschlag {n}: mehr Bänke am Marktplatz</p>"),
            language: None,
            warning: Warning::default(),
            created_at: now,
            received_at: now,
            public: true,
            privileged: true,
        }),
    )
}

async fn comment_count(app: &App) -> usize {
    stored::list_comments(app.store.db(), &CommentFilter::default())
        .await
        .expect("list")
        .len()
}

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn concurrent_submissions_are_applied_once_each_in_batches() {
    for_each_store(|store| async move {
        let app = app(store).await;
        let note = open_consultation(&app).await;
        let intake = Intake::start(app.clone());
        // 60 replies at once, and every tenth sent twice: the copies are answered as duplicates.
        let mut tasks = Vec::new();
        for n in 0..66 {
            let (id, command) = reply(&app, n % 60, &note);
            let intake = intake.clone();
            tasks.push(tokio::spawn(async move {
                intake.submit(&id, &command, WAIT).await
            }));
        }
        let mut stored_n = 0;
        let mut duplicates = 0;
        for t in tasks {
            match t.await.expect("join").expect("queued").expect("applied") {
                Ok("comment stored") => stored_n += 1,
                Ok("duplicate") | Ok("duplicate comment") => duplicates += 1,
                other => panic!("unexpected outcome {other:?}"),
            }
        }
        assert_eq!((stored_n, duplicates), (60, 6));
        assert_eq!(comment_count(&app).await, 60);
        assert_eq!(
            queue::backlog(app.store.db()).await.expect("backlog"),
            (0, 0)
        );
        // A redelivery after it was applied is a duplicate too, and changes nothing.
        let (id, command) = reply(&app, 3, &note);
        let again = intake.submit(&id, &command, WAIT).await.expect("queued");
        assert_eq!(again.expect("applied").expect("ok"), "duplicate");
        assert_eq!(comment_count(&app).await, 60);
    })
    .await;
}

#[tokio::test]
async fn rows_left_by_a_stopped_process_are_applied_once_by_the_next() {
    for_each_store(|store| async move {
        let app = app(store).await;
        let note = open_consultation(&app).await;
        // A process appended these and died before applying them.
        let items: Vec<(String, String)> = (0..20)
            .map(|n| {
                let (id, command) = reply(&app, n, &note);
                (id, serde_json::to_string(&command).expect("json"))
            })
            .collect();
        let ids = queue::append(app.store.db(), &items, app.now())
            .await
            .expect("append");
        assert!(ids.iter().all(Option::is_some));
        // Appending the same again keeps one row each.
        let again = queue::append(app.store.db(), &items, app.now())
            .await
            .expect("append");
        assert!(again.iter().all(Option::is_none), "{again:?}");
        assert_eq!(comment_count(&app).await, 0);
        // Two processes start at once: each row is applied by exactly one of them.
        let first = Intake::start(app.clone());
        let second = Intake::start(app.clone());
        let mut tries = 0;
        while queue::backlog(app.store.db()).await.expect("backlog").0 > 0 {
            tries += 1;
            assert!(tries < 200, "the queue was not drained");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(comment_count(&app).await, 20);
        drop((first, second));
        // Applying the same row ids again finds nothing to do.
        let ids: Vec<i64> = ids.into_iter().flatten().collect();
        assert!(inbox::apply(&app, &ids).await.is_empty());
        assert_eq!(comment_count(&app).await, 20);
    })
    .await;
}

#[tokio::test]
async fn a_bad_row_holds_up_no_other() {
    for_each_store(|store| async move {
        let app = app(store).await;
        let note = open_consultation(&app).await;
        let (a, first) = reply(&app, 1, &note);
        let (b, second) = reply(&app, 2, &note);
        let items = vec![
            (a, serde_json::to_string(&first).expect("json")),
            (
                "https://one.example/activities/broken".into(),
                "{not json".into(),
            ),
            (b, serde_json::to_string(&second).expect("json")),
        ];
        let ids: Vec<i64> = queue::append(app.store.db(), &items, app.now())
            .await
            .expect("append")
            .into_iter()
            .flatten()
            .collect();
        let done = inbox::apply(&app, &ids).await;
        let outcomes: Vec<String> = done
            .iter()
            .map(|(_, r)| match r {
                Ok(note) => (*note).to_owned(),
                Err(e) => format!("error: {e}"),
            })
            .collect();
        assert_eq!(outcomes.len(), 3, "{outcomes:?}");
        assert_eq!(outcomes[0], "comment stored");
        assert!(
            outcomes[1].starts_with("error: corrupt state"),
            "{outcomes:?}"
        );
        assert_eq!(outcomes[2], "comment stored");
        assert_eq!(comment_count(&app).await, 2);
        // A refused command (an edit by someone else) is refused with a reason, others go on.
        let intake = Intake::start(app.clone());
        let edit = Inbound::Edit {
            origin_id: "https://one.example/notes/1".into(),
            author_id: "https://two.example/users/mallory".into(),
            content_html: "<p>übernommen</p>".into(),
            warning: Warning::default(),
        };
        let refused = intake
            .submit("https://two.example/activities/e1", &edit, WAIT)
            .await
            .expect("queued")
            .expect("applied");
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.to_string().contains("only the author")),
            "{refused:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn likes_and_boosts_are_counted_without_who_and_undo_removes_them() {
    for_each_store(|store| async move {
        let app = app(store).await;
        let note = open_consultation(&app).await;
        let id = app.urls().announcement_id(&note).expect("id");
        let intake = Intake::start(app.clone());
        let react = |n: usize, kind: Reaction, object: &str| {
            (
                format!("https://one.example/users/u{n}#likes/{n}"),
                Inbound::React {
                    kind,
                    activity_id: format!("https://one.example/users/u{n}#likes/{n}"),
                    object_id: object.to_owned(),
                },
            )
        };
        let mut outcomes = Vec::new();
        for (n, kind, object) in [
            (1, Reaction::Like, note.as_str()),
            (2, Reaction::Like, note.as_str()),
            (3, Reaction::Boost, note.as_str()),
            (4, Reaction::Like, "https://elsewhere.example/notes/9"),
        ] {
            let (activity, command) = react(n, kind, object);
            outcomes.push(
                intake
                    .submit(&activity, &command, WAIT)
                    .await
                    .expect("queued")
                    .expect("applied")
                    .expect("ok"),
            );
        }
        assert_eq!(
            outcomes,
            [
                "like counted",
                "like counted",
                "boost counted",
                "ignored: not about an announcement of ours"
            ]
        );
        let reach = queue::reach(app.store.db()).await.expect("reach");
        assert_eq!(reach.get(&id), Some(&(2, 1)));
        // Nothing stored names who liked.
        let dump = format!(
            "{:?}",
            rathaus_shared::entities::reaction::Entity::find()
                .all(app.store.db())
                .await
                .expect("rows")
        );
        assert!(!dump.contains("one.example"), "{dump}");
        // Undo of the first Like (by id) removes it; an Undo of something unknown changes nothing.
        let undo = |object: &str| Inbound::Undo {
            actor_id: "https://one.example/users/u1".into(),
            object_id: Some(object.to_owned()),
            follow: false,
        };
        let removed = intake
            .submit(
                "https://one.example/undo/1",
                &undo("https://one.example/users/u1#likes/1"),
                WAIT,
            )
            .await
            .expect("queued")
            .expect("applied")
            .expect("ok");
        assert_eq!(removed, "reaction removed");
        let ignored = intake
            .submit(
                "https://one.example/undo/2",
                &undo("https://one.example/users/u1#likes/77"),
                WAIT,
            )
            .await
            .expect("queued")
            .expect("applied")
            .expect("ok");
        assert_eq!(ignored, "ignored undo");
        let reach = queue::reach(app.store.db()).await.expect("reach");
        assert_eq!(reach.get(&id), Some(&(1, 1)));
    })
    .await;
}
