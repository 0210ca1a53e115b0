//! Matrix comments in the fediverse thread, through bridge actors: what is queued for whom
//! and signed by whom, over a real store (SQLite, and PostgreSQL when configured).

use rathaus_shared::entities::{CommentStatus, Network, comment, outbound_activity};
use rathaus_shared::services::bridge;
use rathaus_shared::services::comments::{self, ModAction, Submission, SubmitOutcome};
use rathaus_shared::services::content::Warning;
use rathaus_shared::services::erasure::{self, Target};
use rathaus_shared::store::actors::{self, RemoteActorData};
use rathaus_shared::testing::{default_config, for_each_store, open_consultation};
use rathaus_shared::{App, Clock, Error};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::Value;

async fn app(store: rathaus_shared::Store) -> App {
    App::with_store(default_config(), store)
        .await
        .expect("app")
        .with_clock(Clock::system())
}

fn submission(
    network: Network,
    n: u32,
    author: &str,
    note: &str,
    text: &str,
    app: &App,
) -> Submission {
    let now = app.now();
    let (origin, domain) = match network {
        Network::Matrix => (format!("$event{n}"), "example.org".to_owned()),
        Network::Fediverse => (
            format!("https://one.example/notes/{n}"),
            "one.example".to_owned(),
        ),
    };
    Submission {
        network,
        origin_id: origin,
        origin_url: None,
        in_reply_to: note.to_owned(),
        author_id: author.to_owned(),
        author_name: Some("Anna Bürgerin".into()),
        author_domain: domain,
        content_html: text.to_owned(),
        language: None,
        warning: Warning::default(),
        created_at: now,
        received_at: now,
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

/// Activities queued so far, oldest first: (kind, signer, payload).
async fn activities(app: &App) -> Vec<(String, Option<String>, Value)> {
    outbound_activity::Entity::find()
        .order_by_asc(outbound_activity::Column::Id)
        .all(app.store.db())
        .await
        .expect("activities")
        .into_iter()
        .map(|a| {
            let payload = serde_json::from_str(&a.payload).expect("json");
            (a.kind, a.signer, payload)
        })
        .collect()
}

async fn inboxes_of(app: &App, ap_id: &str) -> Vec<String> {
    let a = rathaus_shared::store::delivery::activity_by_ap_id(app.store.db(), ap_id)
        .await
        .expect("q")
        .expect("activity");
    let mut inboxes: Vec<String> =
        rathaus_shared::store::delivery::jobs_for_activity(app.store.db(), a.id)
            .await
            .expect("jobs")
            .into_iter()
            .map(|j| j.inbox)
            .collect();
    inboxes.sort();
    inboxes
}

#[tokio::test]
async fn a_published_matrix_comment_joins_the_fediverse_thread_by_its_own_actor() {
    for_each_store(|store| async move {
        let app = app(store).await;
        let db = app.store.db();
        let urls = app.urls();
        let note = open_consultation(&app).await;
        let now = app.now();
        // A follower, and a fediverse citizen who takes part in the thread.
        let follower = actors::upsert_remote_actor(
            db,
            RemoteActorData {
                ap_id: "https://two.example/users/f".into(),
                username: "f".into(),
                domain: "two.example".into(),
                display_name: None,
                inbox: "https://two.example/users/f/inbox".into(),
                shared_inbox: Some("https://two.example/inbox".into()),
                public_key_pem: None,
                key_id: None,
            },
            now,
        )
        .await
        .expect("follower");
        actors::add_follower(db, follower.id, "https://two.example/follows/1", now)
            .await
            .expect("follow");
        actors::upsert_remote_actor(
            db,
            RemoteActorData {
                ap_id: "https://one.example/users/bert".into(),
                username: "bert".into(),
                domain: "one.example".into(),
                display_name: None,
                inbox: "https://one.example/users/bert/inbox".into(),
                shared_inbox: None,
                public_key_pem: None,
                key_id: None,
            },
            now,
        )
        .await
        .expect("participant");
        let fedi = stored(
            &app,
            submission(
                Network::Fediverse,
                1,
                "https://one.example/users/bert",
                &note,
                "<p>Mehr Bäume</p>",
                &app,
            ),
        )
        .await;
        assert_eq!(fedi.status, CommentStatus::Published);
        let before = activities(&app).await.len();

        let m = stored(
            &app,
            submission(
                Network::Matrix,
                2,
                "@anna:example.org",
                &fedi.origin_id,
                "Ja, am *Fluss*!",
                &app,
            ),
        )
        .await;
        assert_eq!(m.status, CommentStatus::Published);
        let queued = activities(&app).await;
        assert_eq!(queued.len(), before + 1, "one Create");
        let (kind, signer, create) = queued.last().expect("create").clone();
        assert_eq!(kind, "Create");
        let signer = signer.expect("signed by a bridge actor, never by the town hall");
        let handle = signer
            .strip_prefix("bridge:")
            .expect("a bridge key")
            .to_owned();
        let actor_url = urls.bridge_actor(&handle);
        assert_eq!(create["actor"], actor_url.as_str());
        // The handle is a hash: the URL does not spell out the Matrix id.
        assert!(!actor_url.contains("anna"), "{actor_url}");
        let object = &create["object"];
        assert_eq!(object["id"], urls.comment(m.id).as_str());
        assert_eq!(object["attributedTo"], actor_url.as_str());
        // A reply to the fediverse comment it answers, public.
        assert_eq!(object["inReplyTo"], fedi.origin_id.as_str());
        assert_eq!(
            object["to"][0],
            "https://www.w3.org/ns/activitystreams#Public"
        );
        assert!(
            object["content"]
                .as_str()
                .unwrap_or_default()
                .contains("<em>Fluss</em>")
        );
        // To our followers (shared inbox) and the thread's fediverse people.
        assert_eq!(
            inboxes_of(&app, create["id"].as_str().expect("id")).await,
            vec![
                "https://one.example/users/bert/inbox".to_owned(),
                "https://two.example/inbox".to_owned()
            ]
        );
        // The bridge actor: a Person of its own, with its own key, marked as bridged.
        let doc = bridge::actor_document(&app, &handle).await.expect("actor");
        assert_eq!(doc["type"], "Person");
        assert_eq!(doc["name"], "Anna Bürgerin");
        assert_eq!(doc["url"], "https://matrix.to/#/@anna:example.org");
        assert!(
            doc["summary"]
                .as_str()
                .unwrap_or_default()
                .contains("bridged")
        );
        let ours = app.ensure_local_actor().await.expect("ours").0;
        assert_ne!(
            doc["publicKey"]["publicKeyPem"],
            ours.public_key_pem.as_str()
        );
        assert_eq!(doc["publicKey"]["id"], urls.bridge_key_id(&handle).as_str());
        // The Note is served under its id, and listed in the announcement's replies.
        let served = bridge::comment_note(&app, m.id).await.expect("note");
        assert_eq!(served["id"], urls.comment(m.id).as_str());
        let id = urls.announcement_id(&note).expect("id");
        let (total, items) = bridge::replies(&app, id, 1, 20).await.expect("replies");
        assert_eq!(total, 2);
        assert_eq!(items, vec![fedi.origin_id.clone(), urls.comment(m.id)]);

        // An edit is an Update; a hide a Delete, and the Note answers 410.
        comments::edit_comment(
            &app,
            app.store.db(),
            &m.origin_id,
            &m.author_id,
            "Ja, am Fluss und am Markt!",
            &Warning::default(),
        )
        .await
        .expect("edit")
        .expect("found");
        comments::moderate(&app, m.id, ModAction::Hide, "@mod:example.org", None)
            .await
            .expect("hide");
        let kinds: Vec<String> = activities(&app)
            .await
            .into_iter()
            .skip(before)
            .map(|a| a.0)
            .collect();
        assert_eq!(kinds, ["Create", "Update", "Delete"]);
        let (_, signer, delete) = activities(&app).await.last().expect("delete").clone();
        assert_eq!(signer.as_deref(), Some(format!("bridge:{handle}").as_str()));
        assert_eq!(delete["object"]["type"], "Tombstone");
        assert!(matches!(
            bridge::comment_note(&app, m.id).await,
            Err(Error::Gone(_))
        ));
        let (total, _) = bridge::replies(&app, id, 1, 20).await.expect("replies");
        assert_eq!(total, 1);
        // Approved again: a Create again.
        comments::moderate(&app, m.id, ModAction::Approve, "@mod:example.org", None)
            .await
            .expect("approve");
        assert_eq!(activities(&app).await.last().expect("create").0, "Create");
    })
    .await;
}

#[tokio::test]
async fn an_opt_out_withdraws_and_an_erasure_forgets() {
    for_each_store(|store| async move {
        let app = app(store).await;
        let urls = app.urls();
        let note = open_consultation(&app).await;
        let m = stored(
            &app,
            submission(
                Network::Matrix,
                1,
                "@anna:example.org",
                &note,
                "Mehr Bänke",
                &app,
            ),
        )
        .await;
        let (_, signer, _) = activities(&app).await.last().expect("create").clone();
        let handle = signer
            .expect("bridged")
            .strip_prefix("bridge:")
            .expect("handle")
            .to_owned();
        // Opting out withdraws what was bridged, and later comments stay on Matrix.
        assert!(
            bridge::opt_out(&app, "@anna:example.org", true)
                .await
                .expect("opt out")
        );
        assert!(
            !bridge::opt_out(&app, "@anna:example.org", true)
                .await
                .expect("again")
        );
        assert_eq!(activities(&app).await.last().expect("delete").0, "Delete");
        let count = activities(&app).await.len();
        stored(
            &app,
            submission(
                Network::Matrix,
                2,
                "@anna:example.org",
                &note,
                "Und Tische",
                &app,
            ),
        )
        .await;
        assert_eq!(
            activities(&app).await.len(),
            count,
            "nothing bridged after the opt-out"
        );
        assert!(matches!(
            bridge::actor_document(&app, &handle).await,
            Err(Error::Gone(_))
        ));
        assert!(matches!(
            bridge::comment_note(&app, m.id).await,
            Err(Error::Gone(_))
        ));
        // Opted in again, a new comment is bridged again.
        assert!(
            bridge::opt_out(&app, "@anna:example.org", false)
                .await
                .expect("opt in")
        );
        stored(
            &app,
            submission(
                Network::Matrix,
                3,
                "@anna:example.org",
                &note,
                "Und Schatten",
                &app,
            ),
        )
        .await;
        let (kind, _, create) = activities(&app).await.last().expect("create").clone();
        assert_eq!(kind, "Create");
        let create_id = create["id"].as_str().expect("id").to_owned();

        // An erasure: the Create that carried the text becomes a Tombstone, a Delete is
        // queued (and stays one), and the actor no longer names the citizen.
        erasure::erase(&app, &Target::Author("@anna:example.org".into()), "cli")
            .await
            .expect("erase");
        let all = activities(&app).await;
        let old = all
            .iter()
            .find(|a| a.2["id"] == create_id.as_str())
            .expect("the create");
        assert_eq!(old.2["type"], "Tombstone", "{:?}", old.2);
        let (kind, signer, delete) = all.last().expect("delete").clone();
        assert_eq!(
            (kind.as_str(), delete["type"].as_str()),
            ("Delete", Some("Delete"))
        );
        assert!(signer.is_some());
        assert!(!delete.to_string().contains("Schatten"));
        assert!(matches!(
            bridge::actor_document(&app, &handle).await,
            Err(Error::Gone(_))
        ));
        assert!(
            rathaus_shared::store::bridge::by_user(app.store.db(), "@anna:example.org")
                .await
                .expect("q")
                .is_none(),
            "the Matrix id is gone from the bridge table"
        );
        let _ = urls;
    })
    .await;
}
