//! Blocks and per-instance limits by registrable domain, over a real store (SQLite, and
//! PostgreSQL when configured): a blocked domain covers its subdomains and ports, for
//! comments, follows and deliveries alike.

use chrono::Utc;
use rathaus_shared::App;
use rathaus_shared::entities::{BlockKind, CommentStatus, Network, delivery_job};
use rathaus_shared::services::announcements::{self, Announce};
use rathaus_shared::services::comments::{self, Submission, SubmitOutcome};
use rathaus_shared::services::content::Warning;
use rathaus_shared::services::{follows, moderation};
use rathaus_shared::store::actors::{self, RemoteActorData};
use rathaus_shared::testing::{default_config, for_each_store, open_consultation};
use sea_orm::EntityTrait;

fn actor(name: &str, host: &str) -> RemoteActorData {
    RemoteActorData {
        ap_id: format!("https://{host}/users/{name}"),
        username: name.into(),
        domain: host.into(),
        display_name: None,
        inbox: format!("https://{host}/users/{name}/inbox"),
        shared_inbox: None,
        public_key_pem: None,
        key_id: None,
    }
}

fn reply(n: u32, who: &RemoteActorData, note: &str) -> Submission {
    Submission {
        network: Network::Fediverse,
        origin_id: format!("{}/statuses/{n}", who.ap_id),
        origin_url: None,
        in_reply_to: note.to_owned(),
        author_id: who.ap_id.clone(),
        author_name: None,
        author_domain: who.domain.clone(),
        content_html: format!("<p>Vorschlag {n} für den Platz</p>"),
        language: Some("de".into()),
        warning: Warning::default(),
        created_at: Utc::now(),
        received_at: Utc::now(),
        public: true,
        privileged: false,
    }
}

async fn status(app: &App, s: Submission) -> (CommentStatus, Option<String>) {
    match comments::submit_comment(app, app.store.db(), s)
        .await
        .expect("submit")
    {
        SubmitOutcome::Stored(c) => (c.status, c.rule_id),
        other => panic!("not stored: {other:?}"),
    }
}

async fn inboxes_queued(app: &App) -> Vec<String> {
    delivery_job::Entity::find()
        .all(app.store.db())
        .await
        .expect("jobs")
        .into_iter()
        .map(|j| j.inbox)
        .collect()
}

#[tokio::test]
async fn a_domain_block_covers_subdomains_ports_follows_and_deliveries() {
    for_each_store(|store| async move {
        let mut config = default_config();
        config.policy.instance_burst = 2;
        let app = App::with_store(config, store).await.expect("app");
        let note = open_consultation(&app).await;

        // One instance under many names counts once: its subdomains share the limit.
        let mut rules = Vec::new();
        for (n, host) in ["a.inst.example", "b.inst.example:8443", "inst.example"]
            .into_iter()
            .enumerate()
        {
            let who = actor(&format!("u{n}"), host);
            rules.push(status(&app, reply(n as u32, &who, &note)).await.1);
        }
        assert_eq!(
            rules
                .iter()
                .filter(|r| r.as_deref() == Some("rate-limit-instance"))
                .count(),
            1,
            "{rules:?}"
        );

        // A follower on a subdomain of what is blocked next, and one elsewhere.
        let (follower, other) = (
            actor("f", "social.evil.example:8443"),
            actor("g", "good.example"),
        );
        for f in [&follower, &other] {
            follows::follow(
                &app,
                app.store.db(),
                f.clone(),
                serde_json::json!({"id": format!("{}#follow", f.ap_id)}),
            )
            .await
            .expect("follow");
        }
        assert_eq!(
            actors::count_followers(app.store.db())
                .await
                .expect("count"),
            2
        );
        assert!(
            inboxes_queued(&app).await.contains(&follower.inbox),
            "the Accept is queued"
        );

        let new = moderation::block(&app, BlockKind::Domain, "Evil.Example", None, "cli")
            .await
            .expect("block");
        assert!(new);
        // Its followers are gone, and so are the deliveries not yet made to it.
        assert_eq!(
            actors::count_followers(app.store.db())
                .await
                .expect("count"),
            1
        );
        assert!(!inboxes_queued(&app).await.contains(&follower.inbox));
        // New follows are refused, from any subdomain or port.
        let err = follows::follow(
            &app,
            app.store.db(),
            actor("h", "x.evil.example"),
            serde_json::json!({"id": "https://x.evil.example/users/h#follow"}),
        )
        .await
        .expect_err("blocked");
        assert!(err.to_string().contains("blocked"), "{err}");
        // Comments from its subdomains and ports are refused.
        for (n, host) in ["evil.example", "deep.social.evil.example:443"]
            .into_iter()
            .enumerate()
        {
            let who = actor("e", host);
            assert_eq!(
                status(&app, reply(10 + n as u32, &who, &note)).await,
                (CommentStatus::Rejected, Some("blocked-domain".into())),
                "{host}"
            );
        }
        // A lookalike is not covered.
        let fine = actor("n", "notevil.example");
        assert_eq!(
            status(&app, reply(20, &fine, &note)).await.0,
            CommentStatus::Published
        );
        // Nothing is delivered there any more: the next fan-out skips it.
        announcements::announce(
            &app,
            Announce {
                text: "Zweite Bekanntmachung".into(),
                author: "cli".into(),
                ..Announce::default()
            },
        )
        .await
        .expect("announce");
        let queued = inboxes_queued(&app).await;
        assert!(queued.contains(&other.inbox));
        assert!(
            !queued.iter().any(|i| i.contains("evil.example")),
            "{queued:?}"
        );

        // Unblocking lets them in again.
        assert!(
            moderation::unblock(&app, BlockKind::Domain, "evil.example", "cli")
                .await
                .expect("unblock")
        );
        follows::follow(
            &app,
            app.store.db(),
            follower.clone(),
            serde_json::json!({"id": "again"}),
        )
        .await
        .expect("follow after unblock");
    })
    .await;
}
