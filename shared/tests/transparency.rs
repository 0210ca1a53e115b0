//! What the public pages and exports read, on every backend: listings, threads and counts,
//! statistics, the public moderation log, consultation results and early closing.

use chrono::{Duration, Utc};
use rathaus_shared::App;
use rathaus_shared::entities::Network;
use rathaus_shared::services::announcements::{self, Announce};
use rathaus_shared::services::comments::{self, ModAction, Submission, SubmitOutcome};
use rathaus_shared::services::{export, retention, transparency};
use rathaus_shared::store::comments as store_comments;
use rathaus_shared::testing::{default_config, for_each_store};
use sea_orm::{ConnectionTrait, Statement};

fn reply(n: u32, author: &str, text: &str, note: &str) -> Submission {
    Submission {
        network: Network::Fediverse,
        origin_id: format!("https://town.example/notes/{n}"),
        origin_url: Some(format!("https://town.example/@{author}/{n}")),
        in_reply_to: note.to_owned(),
        author_id: format!("https://town.example/users/{author}"),
        author_name: Some(format!("{author} Name")),
        author_domain: "town.example".to_owned(),
        content_html: format!("<p>{text}</p>"),
        language: Some("de".into()),
        warning: Default::default(),
        created_at: Utc::now(),
        received_at: Utc::now(),
        public: true,
        privileged: false,
    }
}

async fn stored(app: &App, s: Submission) -> i64 {
    match comments::submit_comment(app, app.store.db(), s)
        .await
        .expect("submit")
    {
        SubmitOutcome::Stored(c) => c.id,
        other => panic!("not stored: {other:?}"),
    }
}

/// A consultation closing in 7 days: its id and Note URL.
async fn consultation(app: &App) -> (i64, String) {
    let view = announcements::announce(
        app,
        Announce {
            title: Some("Marktplatz".into()),
            text: "Wie soll der Marktplatz aussehen?".into(),
            closes_at: Some(Utc::now() + Duration::days(7)),
            author: "cli".into(),
            ..Announce::default()
        },
    )
    .await
    .expect("consult");
    let id = view.announcement.id;
    (id, app.urls().announcement(id))
}

async fn activities(app: &App, kind: &str) -> i64 {
    let row = app
        .store
        .db()
        .query_one_raw(Statement::from_string(
            app.store.backend(),
            format!("SELECT count(*) AS n FROM outbound_activity WHERE kind = '{kind}'"),
        ))
        .await
        .expect("count")
        .expect("row");
    row.try_get::<i64>("", "n").expect("n")
}

#[tokio::test]
async fn pages_statistics_log_and_results() {
    for_each_store(|store| async move {
        let app = App::with_store(default_config(), store).await.expect("app");
        let plain = announcements::announce(
            &app,
            Announce {
                text: "Das Bürgerbüro ist geschlossen.".into(),
                author: "cli".into(),
                ..Announce::default()
            },
        )
        .await
        .expect("announce");
        let (id, note) = consultation(&app).await;

        let first = stored(&app, reply(1, "anna", "Mehr Bäume, bitte.", &note)).await;
        let mut answer_to = reply(2, "ben", "Und Bänke im Schatten.", &note);
        answer_to.in_reply_to = "https://town.example/notes/1".into();
        let second = stored(&app, answer_to).await;
        let third = stored(&app, reply(3, "carla", "Das wird nichts.", &note)).await;
        comments::moderate(
            &app,
            third,
            ModAction::Hide,
            "@mod:x",
            Some("Off-topic".into()),
        )
        .await
        .expect("hide");
        comments::answer(&app, first, "Wir prüfen die Bäume.", "@presse:x")
            .await
            .expect("answer");

        // The page: threads nest, counts never show text of what is not published.
        let page = transparency::announcement_page(&app, id)
            .await
            .expect("page");
        assert_eq!(page.threads.len(), 1, "{:?}", page.threads);
        assert_eq!(page.threads[0].comment.id, first);
        assert_eq!(page.threads[0].answers.len(), 1);
        assert_eq!(page.threads[0].replies[0].comment.id, second);
        assert_eq!((page.counts.published, page.counts.removed), (2, 1));

        // The start page: newest first, with published counts.
        let listing = transparency::listing(&app, 1).await.expect("listing");
        let order: Vec<i64> = listing
            .items
            .iter()
            .map(|(v, _)| v.announcement.id)
            .collect();
        assert_eq!(order, vec![id, plain.announcement.id]);
        assert_eq!(listing.items[0].1, 2);
        assert!(
            transparency::listing(&app, 99)
                .await
                .expect("past the end")
                .items
                .is_empty()
        );
        assert!(
            transparency::listing(&app, u64::MAX)
                .await
                .expect("far")
                .items
                .is_empty()
        );
        assert!(
            transparency::public_log(&app, u64::MAX)
                .await
                .expect("far")
                .entries
                .is_empty()
        );

        // Statistics and the log, with grouping on the database.
        let stats = transparency::statistics(&app).await.expect("stats");
        assert_eq!(stats.total, 3);
        assert_eq!(stats.by_status.get("published"), Some(&2));
        assert_eq!(stats.by_status.get("hidden"), Some(&1));
        assert_eq!(stats.by_network.get("fediverse"), Some(&3));
        assert!(
            stats
                .actions_by_rule
                .iter()
                .any(|(a, _, n)| *a == rathaus_shared::domain::ActionKind::AutoPublish && *n == 3),
            "{:?}",
            stats.actions_by_rule
        );
        let log = transparency::public_log(&app, 1).await.expect("log");
        let hide = log
            .entries
            .iter()
            .find(|e| e.action == rathaus_shared::domain::ActionKind::Hide)
            .expect("hide logged");
        assert_eq!(hide.actor, transparency::Actor::Office);
        assert_eq!(hide.announcement_id, Some(id));
        assert_eq!(hide.reason.as_deref(), Some("Off-topic"));
        // A block's reason tends to name the person: it stays out of the public log.
        rathaus_shared::services::moderation::block(
            &app,
            rathaus_shared::entities::BlockKind::User,
            "https://town.example/users/carla",
            Some("carla schreibt nur Spam".into()),
            "@mod:x",
        )
        .await
        .expect("block");
        let log = transparency::public_log(&app, 1).await.expect("log");
        let block = log
            .entries
            .iter()
            .find(|e| e.action == rathaus_shared::domain::ActionKind::Block)
            .expect("block logged");
        assert_eq!(block.reason, None);

        // A result: stored, federated as an Update, exported. Not for plain announcements.
        let updates = activities(&app, "Update").await;
        let err = announcements::publish_result(&app, plain.announcement.id, "Ergebnis".into())
            .await
            .expect_err("not a consultation");
        assert!(err.to_string().contains("not a consultation"), "{err}");
        let err = announcements::publish_result(&app, id, "  ".into())
            .await
            .expect_err("empty");
        assert!(err.to_string().contains("empty"), "{err}");
        assert_eq!(
            activities(&app, "Update").await,
            updates,
            "nothing federated on errors"
        );
        let after = announcements::publish_result(&app, id, "Wir pflanzen **zwölf** Bäume.".into())
            .await
            .expect("result");
        let c = after.consultation.expect("consultation");
        assert_eq!(
            c.result_html.as_deref(),
            Some("<p>Wir pflanzen <strong>zwölf</strong> Bäume.</p>")
        );
        assert!(after.announcement.updated_at > after.announcement.created_at);
        assert_eq!(activities(&app, "Update").await, updates + 1);
        let data = export::consultation(&app, id).await.expect("export");
        assert_eq!(
            data.json["consultation"]["result"],
            "Wir pflanzen zwölf Bäume."
        );
        let row = &data.table("consultation.csv").expect("table").rows[0];
        assert_eq!(row[10], "Wir pflanzen zwölf Bäume.");
        // Hidden comments keep neither text nor origin in the export.
        let comments_csv = data
            .table("comments.csv")
            .expect("comments")
            .to_csv()
            .expect("csv");
        assert!(
            !comments_csv.contains("Das wird nichts") && !comments_csv.contains("notes/3"),
            "{comments_csv}"
        );
        let comments_table = data.table("comments.csv").expect("comments");
        let hidden_row = comments_table
            .rows
            .iter()
            .find(|r| r[0] == third.to_string())
            .expect("row");
        assert_eq!(hidden_row[3], "", "no pseudonym: {hidden_row:?}");
        let first_row = comments_table
            .rows
            .iter()
            .find(|r| r[0] == first.to_string())
            .expect("row");
        assert_eq!(
            first_row[3].len(),
            16,
            "published comments carry a pseudonym"
        );

        // Closing early: once federated, the second time a no-op.
        let closed = announcements::close(&app, id).await.expect("close");
        assert!(!closed.is_open(Utc::now()));
        assert!(
            closed.announcement.updated_at > after.announcement.updated_at,
            "the Note changed"
        );
        assert_eq!(activities(&app, "Update").await, updates + 2);
        announcements::close(&app, id).await.expect("close again");
        assert_eq!(activities(&app, "Update").await, updates + 2);
        let err = announcements::close(&app, plain.announcement.id)
            .await
            .expect_err("no consultation");
        assert!(err.to_string().contains("not a consultation"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn retention_pseudonymises_authors_of_ended_consultations() {
    for_each_store(|store| async move {
        let mut config = default_config();
        config.retention.pseudonymise_after_days = 30;
        let app = App::with_store(config, store).await.expect("app");
        let (_, note) = consultation(&app).await;
        let first = stored(&app, reply(1, "anna", "Mehr Bäume, bitte.", &note)).await;
        let db = app.store.db();

        // Not yet: the consultation is open, and 30 days after its end have not passed.
        let r = retention::run(&app, Utc::now()).await.expect("run");
        assert_eq!(r.comments, 0);
        let r = retention::run(&app, Utc::now() + Duration::days(36))
            .await
            .expect("run");
        assert_eq!(r.comments, 0, "ends in 7 days, so 37 days are needed");

        let later = Utc::now() + Duration::days(38);
        let r = retention::run(&app, later).await.expect("run");
        assert_eq!(r.comments, 1);
        let c = store_comments::get_comment(db, first)
            .await
            .expect("q")
            .expect("row");
        assert!(
            c.author_id.starts_with("pseudonym:") && !c.author_id.contains("anna"),
            "{}",
            c.author_id
        );
        assert!(c.origin_id.starts_with("pseudonym:") && !c.origin_id.contains("anna"));
        assert_eq!((c.author_name, c.origin_url), (None, None));
        assert_eq!(
            c.content.as_deref(),
            Some("<p>Mehr Bäume, bitte.</p>"),
            "the text stays"
        );
        // Idempotent.
        assert_eq!(
            retention::run(&app, later).await.expect("again").comments,
            0
        );
        // The author can still delete it: their origin id is found through the hash.
        let err = comments::delete_comment(
            &app,
            app.store.db(),
            "https://town.example/notes/1",
            "https://town.example/users/ben",
        )
        .await
        .expect_err("not the author");
        assert!(err.to_string().contains("only the author"), "{err}");
        assert!(
            comments::delete_comment(
                &app,
                app.store.db(),
                "https://town.example/notes/1",
                "https://town.example/users/anna"
            )
            .await
            .expect("delete"),
            "a late deletion still finds the comment"
        );
        let c = store_comments::get_comment(db, first)
            .await
            .expect("q")
            .expect("row");
        assert_eq!(c.content, None, "erased after pseudonymisation too");
    })
    .await;
}

/// The tables that grow with the comments are streamed page by page: put together, the pages
/// are the same file as the whole export's table, across page boundaries.
#[tokio::test]
async fn streamed_tables_are_the_whole_export_page_by_page() {
    for_each_store(|store| async move {
        let app = App::with_store(default_config(), store).await.expect("app");
        let (id, note) = consultation(&app).await;
        let mut first = None;
        for n in 0..1_100u32 {
            let mut s = reply(
                n,
                &format!("p{}", n % 40),
                &format!("Idee {n}: =SUMME(A1)"),
                &note,
            );
            s.privileged = true;
            let c = stored(&app, s).await;
            first.get_or_insert(c);
        }
        comments::answer(&app, first.expect("a comment"), "Danke!", "presse")
            .await
            .expect("answer");
        let whole = export::consultation(&app, id).await.expect("export");
        for file in ["comments.csv", "answers.csv", "moderation-log.csv"] {
            let mut streamed = export::stream_header(file).expect("header");
            let mut after = None;
            let mut pages = 0;
            while let Some((rows, next)) = export::stream_page(&app, id, file, after)
                .await
                .expect("page")
            {
                streamed.extend(rows);
                after = next;
                pages += 1;
            }
            assert_eq!(pages, 3, "{file}: 1,100 comments in pages of 500");
            let expected = whole.file(file).expect("file").expect("exists");
            assert_eq!(
                String::from_utf8(streamed).expect("utf-8"),
                String::from_utf8(expected).expect("utf-8"),
                "{file}"
            );
        }
        assert!(
            export::stream_page(&app, id, "consultation.json", None)
                .await
                .is_err()
        );
    })
    .await;
}

/// A page of the announcement loads only its own threads, and the pages together are the
/// whole conversation: replies stay with their thread, a reply to an unpublished comment
/// stands on its own, nothing is lost or shown twice.
#[tokio::test]
async fn pages_of_threads_are_the_whole_conversation() {
    for_each_store(|store| async move {
        let app = App::with_store(default_config(), store).await.expect("app");
        let (id, note) = consultation(&app).await;
        let mut roots = Vec::new();
        for n in 0..120u32 {
            let mut s = reply(n, &format!("p{}", n % 30), &format!("Idee {n}"), &note);
            s.privileged = true;
            roots.push(stored(&app, s).await);
        }
        // Replies to some roots, and a reply to a reply.
        for (k, n) in (1000..1012u32).enumerate() {
            let parent = format!("https://town.example/notes/{}", k * 10);
            let mut s = reply(n, "antwort", &format!("Antwort {n}"), &parent);
            s.privileged = true;
            stored(&app, s).await;
        }
        let mut s = reply(
            2000,
            "antwort",
            "Antwort auf Antwort",
            "https://town.example/notes/1000",
        );
        s.privileged = true;
        stored(&app, s).await;
        let whole = transparency::announcement_page(&app, id)
            .await
            .expect("whole");
        assert_eq!(whole.threads.len(), 120);
        fn ids(t: &transparency::Thread, out: &mut Vec<i64>) {
            out.push(t.comment.id);
            for r in &t.replies {
                ids(r, out);
            }
        }
        let mut seen = Vec::new();
        for page in 1..=3 {
            let p = transparency::announcement_page_at(&app, id, page)
                .await
                .expect("page");
            assert_eq!((p.page, p.pages), (page, 3));
            let expected: Vec<_> = whole
                .threads
                .iter()
                .skip((page as usize - 1) * 50)
                .take(50)
                .collect();
            assert_eq!(p.threads.len(), expected.len());
            for (got, want) in p.threads.iter().zip(expected) {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                ids(got, &mut a);
                ids(want, &mut b);
                assert_eq!(a, b, "page {page}");
                seen.extend(a);
            }
        }
        assert_eq!(seen.len(), 133, "every comment once");
        // Out of range: the last page.
        let last = transparency::announcement_page_at(&app, id, 99)
            .await
            .expect("page");
        assert_eq!(last.page, 3);
    })
    .await;
}
