//! Erasure end to end over a real store (SQLite, and PostgreSQL when configured): a person's
//! comments keep only that they existed, what we sent that names them is withdrawn, the log
//! records it without naming them, and nobody else's data is touched.

use chrono::Utc;
use rathaus_shared::App;
use rathaus_shared::entities::{ActionKind, CommentStatus, Network, comment, outbound_activity};
use rathaus_shared::services::comments::{self, Submission, SubmitOutcome};
use rathaus_shared::services::content::Warning;
use rathaus_shared::services::erasure::{self, Target};
use rathaus_shared::store::actors::{self, RemoteActorData};
use rathaus_shared::store::comments as store;
use rathaus_shared::store::moderation as log;
use rathaus_shared::testing::{default_config, for_each_store, open_consultation};
use sea_orm::EntityTrait;

fn person(name: &str) -> RemoteActorData {
    RemoteActorData {
        ap_id: format!("https://social.example/users/{name}"),
        username: name.into(),
        domain: "social.example".into(),
        display_name: Some(format!("{name} Beispiel")),
        inbox: format!("https://social.example/users/{name}/inbox"),
        shared_inbox: None,
        public_key_pem: None,
        key_id: None,
    }
}

fn reply(n: u32, who: &RemoteActorData, text: &str, note: &str) -> Submission {
    Submission {
        network: Network::Fediverse,
        origin_id: format!("{}/statuses/{n}", who.ap_id),
        origin_url: Some(format!("https://social.example/@{}/{n}", who.username)),
        in_reply_to: note.to_owned(),
        author_id: who.ap_id.clone(),
        author_name: who.display_name.clone(),
        author_domain: who.domain.clone(),
        content_html: format!("<p>{text}</p>"),
        language: Some("de".into()),
        warning: Warning::default(),
        created_at: Utc::now(),
        received_at: Utc::now(),
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

async fn payloads(app: &App) -> Vec<String> {
    outbound_activity::Entity::find()
        .all(app.store.db())
        .await
        .expect("activities")
        .into_iter()
        .map(|a| a.payload)
        .collect()
}

#[tokio::test]
async fn erasing_a_person_withdraws_everything_that_names_them_and_nothing_else() {
    for_each_store(|store| async move {
        let app = App::with_store(default_config(), store).await.expect("app");
        let note = open_consultation(&app).await;
        let (anna, bert) = (person("anna"), person("bert"));
        for p in [&anna, &bert] {
            actors::upsert_remote_actor(app.store.db(), p.clone(), Utc::now())
                .await
                .expect("actor");
        }
        let a1 = stored(&app, reply(1, &anna, "Mehr Bäume", &note)).await;
        let a2 = stored(&app, reply(2, &anna, "Und Bänke", &note)).await;
        comments::edit_comment(
            &app,
            app.store.db(),
            &a2.origin_id,
            &anna.ap_id,
            "<p>Und viele Bänke</p>",
            &Warning::default(),
        )
        .await
        .expect("edit");
        let b1 = stored(&app, reply(3, &bert, "Weniger Autos", &note)).await;
        let answer_a = comments::answer(&app, a1.id, "Danke, Anna!", "@presse:hs")
            .await
            .expect("answer");
        let answer_b = comments::answer(&app, b1.id, "Danke, Bert!", "@presse:hs")
            .await
            .expect("answer");
        assert!(payloads(&app).await.iter().any(|p| p.contains(&anna.ap_id)));

        let erased = erasure::erase(&app, &Target::Author(anna.ap_id.clone()), "cli")
            .await
            .expect("erase");
        assert_eq!(erased.comments, 2);
        assert!(erased.activities >= 1, "{erased:?}");

        let db = app.store.db();
        for id in [a1.id, a2.id] {
            let c = store::get_comment(db, id)
                .await
                .expect("get")
                .expect("kept");
            assert_eq!(c.status, CommentStatus::Deleted);
            assert_eq!(c.content, None);
            assert_eq!(c.author_name, None);
            assert_eq!(c.origin_url, None);
            assert!(!c.author_id.contains("anna"), "{}", c.author_id);
            assert!(!c.origin_id.contains("anna"), "{}", c.origin_id);
            assert!(
                store::revisions(db, id)
                    .await
                    .expect("revisions")
                    .is_empty()
            );
        }
        // Nothing we still hold or serve names her.
        for p in payloads(&app).await {
            assert!(!p.contains("anna"), "an activity still names her: {p}");
        }
        let err = comments::answer_note(&app, answer_a.id)
            .await
            .expect_err("withdrawn");
        assert!(matches!(err, rathaus_shared::Error::Gone(_)), "{err}");
        assert!(
            actors::remote_actor_by_ap_id(db, &anna.ap_id)
                .await
                .expect("actor")
                .is_none()
        );
        let steps = log::actions_for_comments(db, &[a1.id, a2.id])
            .await
            .expect("log");
        let erasures: Vec<_> = steps
            .iter()
            .filter(|s| s.action == ActionKind::Erasure)
            .collect();
        assert_eq!(erasures.len(), 2);
        for s in &steps {
            assert!(
                !s.actor.contains("anna")
                    && s.reason.as_deref().is_none_or(|r| !r.contains("anna"))
            );
        }

        // Bert is untouched.
        let b = store::get_comment(db, b1.id)
            .await
            .expect("get")
            .expect("b");
        assert_eq!(b.status, CommentStatus::Published);
        assert_eq!(b.author_id, bert.ap_id);
        comments::answer_note(&app, answer_b.id)
            .await
            .expect("still served");
        assert!(payloads(&app).await.iter().any(|p| p.contains(&bert.ap_id)));

        // One comment alone.
        let one = erasure::erase(&app, &Target::Comment(b1.id), "@mod:hs")
            .await
            .expect("erase one");
        assert_eq!(one.comments, 1);
        assert_eq!(
            store::get_comment(db, b1.id)
                .await
                .expect("get")
                .expect("b")
                .status,
            CommentStatus::Deleted
        );
        let err = erasure::erase(&app, &Target::Comment(9999), "cli")
            .await
            .expect_err("unknown");
        assert!(err.to_string().contains("9999"), "{err}");
    })
    .await;
}
