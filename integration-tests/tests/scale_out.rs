//! Two `rathaus serve` processes on one PostgreSQL: inbox requests to either, every delivery
//! made once, exactly one Matrix sync loop, and a takeover within seconds when the process
//! holding it is killed — with the command sent during the takeover run exactly once.
//! Also `/metrics`: closed without the token, and what each process reports.

use std::collections::HashMap;
use std::time::Duration;

use nix::sys::signal::Signal;
use rathaus_federation::signatures::Signer;
use rathaus_integration_tests::matrix::{BOT, Synapse, Town};
use rathaus_integration_tests::sink::Sink;
use rathaus_integration_tests::{PgSchema, Rathaus, allow_peers, eventually, post_signed_via};
use rathaus_shared::Store;
use rathaus_shared::store::announcements;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(45);
const TOKEN: &str = "metrics-token-0123456789";
const FOLLOWERS: usize = 40;

async fn metrics(rathaus: &Rathaus, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(rathaus.url("/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("metrics");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

/// Sends a press-room command and waits for the bot's confirmation.
async fn announce_by_chat(town: &Town, command: &str, confirmation: &str, rathaus: &Rathaus) {
    town.presse
        .say(&town.press_room, command)
        .await
        .expect("say");
    town.presse
        .wait_for(&town.press_room, BOT, confirmation, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
}

/// The value of one sample line, e.g. `rathaus_matrix_sync_leader`.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn two_processes_share_the_work_and_hand_over_the_matrix_loop() {
    let Some(pg) = PgSchema::create().await else {
        eprintln!("RATHAUS_TEST_DATABASE_URL not set: scale-out test skipped");
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    let synapse = Synapse::start(root.path()).expect("synapse");
    let town = Town::new(&synapse).await.expect("rooms");
    let (dir_a, dir_b) = (root.path().join("a"), root.path().join("b"));
    std::fs::create_dir_all(&dir_a).expect("dir a");
    std::fs::create_dir_all(&dir_b).expect("dir b");
    // Each process logs in with the password: its own device, its own Matrix store.
    let credential = "password = \"rathaus-password\"";
    let config_a = town
        .config(&synapse, &dir_a, credential, "")
        .expect("config");
    let config_b = town
        .config(&synapse, &dir_b, credential, "")
        .expect("config");
    // The followers' server, named as the one private host the workers may deliver to.
    let sink = Sink::start().await.expect("sink");
    let (allow, peers) = allow_peers(&[sink.port]);
    let env = [
        ("RATHAUS_DATABASE__URL", pg.url.as_str()),
        ("RATHAUS_METRICS__TOKEN", TOKEN),
        (allow, peers.as_str()),
    ];
    let mut a = Rathaus::start(&dir_a, &["--config", &config_a, "serve"], &env).expect("a");
    a.wait_ready().await.expect("a ready");
    eventually(WAIT, "A to run the sync loop", || async {
        a.log()
            .contains("this process runs the Matrix sync loop")
            .then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", a.log()));
    // B answers under the same public URL, as behind one load balancer.
    let public = a.public("");
    let env_b = [
        ("RATHAUS_DATABASE__URL", pg.url.as_str()),
        ("RATHAUS_METRICS__TOKEN", TOKEN),
        ("RATHAUS_SERVER__PUBLIC_URL", public.as_str()),
        (allow, peers.as_str()),
    ];
    let mut b = Rathaus::start(&dir_b, &["--config", &config_b, "serve"], &env_b).expect("b");
    b.wait_ready().await.expect("b ready");
    eventually(WAIT, "B to stand by", || async {
        b.log().contains("standing by to take over").then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", b.log()));

    // Metrics: closed without the token, and only one process leads.
    assert_eq!(metrics(&b, None).await.0, 401);
    assert_eq!(metrics(&b, Some("wrong-token-0123456789")).await.0, 401);
    let (status, text_a) = metrics(&a, Some(TOKEN)).await;
    assert_eq!(status, 200, "{text_a}");
    let (_, text_b) = metrics(&b, Some(TOKEN)).await;
    assert_eq!(
        sample(&text_a, "rathaus_matrix_sync_leader"),
        1.0,
        "{text_a}"
    );
    assert_eq!(
        sample(&text_b, "rathaus_matrix_sync_leader"),
        0.0,
        "{text_b}"
    );
    assert!(sample(&text_b, "rathaus_matrix_sync_lag_seconds") < 0.0);
    let lag = sample(&text_a, "rathaus_matrix_sync_lag_seconds");
    assert!((0.0..60.0).contains(&lag), "A syncs: lag {lag}");

    // Followers arrive through both inboxes (behind one public URL, as a load balancer
    // forwards them); each has its own inbox on the sink.
    for i in 0..FOLLOWERS {
        let keys = rathaus_shared::keys::generate_rsa_keypair().expect("keys");
        let actor = sink.url(&format!("/users/f{i}"));
        sink.put_document(
            &format!("/users/f{i}"),
            json!({
                "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                "id": actor, "type": "Person", "preferredUsername": format!("f{i}"),
                "inbox": sink.url(&format!("/users/f{i}/inbox")),
                "publicKey": { "id": format!("{actor}#main-key"), "owner": actor, "publicKeyPem": keys.public_pem },
            }),
        );
        let signer =
            Signer::from_pem(&format!("{actor}#main-key"), &keys.private_pem).expect("signer");
        let follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{actor}#follow"), "type": "Follow", "actor": actor,
            "object": format!("{public}/users/rathaus"),
        });
        let target = if i % 2 == 0 { &b } else { &a };
        let (status, body) = post_signed_via(
            &format!("{public}/users/rathaus/inbox"),
            &target.url("/users/rathaus/inbox"),
            &follow,
            &signer,
        )
        .await
        .expect("follow");
        assert_eq!(status, 202, "{body}\n{}", target.log());
    }

    // An announcement by chat command: A's bot runs it; both workers deliver, each inbox once.
    announce_by_chat(
        &town,
        "!bekanntmachung Erste Bekanntmachung",
        "Bekanntmachung 1 veröffentlicht",
        &a,
    )
    .await;
    let creates = eventually(WAIT, "every follower to get the announcement", || async {
        let mut per_inbox: HashMap<String, usize> = HashMap::new();
        for r in sink.received() {
            let v: Value = serde_json::from_slice(&r.body).ok()?;
            if v["type"] == "Create" {
                *per_inbox.entry(r.path.clone()).or_default() += 1;
            }
        }
        (per_inbox.len() == FOLLOWERS).then_some(per_inbox)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}\n{}", a.log(), b.log()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let duplicates: usize = creates.values().map(|n| n - 1).sum();
    assert_eq!(duplicates, 0, "a delivery claimed twice: {creates:?}");
    let done = |t: &str| sample(t, "rathaus_deliveries_total{outcome=\"done\"}");
    let (_, text_a) = metrics(&a, Some(TOKEN)).await;
    let (_, text_b) = metrics(&b, Some(TOKEN)).await;
    // Accepts (one per follower) and the announcement, all delivered once between the two.
    assert_eq!(
        done(&text_a) + done(&text_b),
        (2 * FOLLOWERS) as f64,
        "{text_a}\n{text_b}"
    );
    assert!(
        text_a.contains("rathaus_inbox_requests_total{status=\"202\"}"),
        "{text_a}"
    );
    assert!(
        text_b.contains("rathaus_delivery_queue_jobs{status=\"done\"}"),
        "{text_b}"
    );

    // A dies. A command sent at once is run by B after it takes over, exactly once.
    a.signal(Signal::SIGKILL).expect("kill a");
    town.presse
        .say(&town.press_room, "!bekanntmachung Während der Übergabe")
        .await
        .expect("say");
    eventually(
        Duration::from_secs(30),
        "B to take over the sync loop",
        || async {
            b.log()
                .contains("this process runs the Matrix sync loop")
                .then_some(())
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", b.log()));
    town.presse
        .wait_for(
            &town.press_room,
            BOT,
            "Bekanntmachung 2 veröffentlicht",
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", b.log()));
    announce_by_chat(
        &town,
        "!bekanntmachung Nach der Übergabe",
        "Bekanntmachung 3 veröffentlicht",
        &b,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let store = Store::connect(&pg.url, 1).await.expect("store");
    assert_eq!(
        announcements::count_announcements(store.db())
            .await
            .expect("count"),
        3,
        "each command ran exactly once"
    );
    assert_eq!(
        town.presse
            .find(&town.press_room, BOT, "Bekanntmachung 2 veröffentlicht")
            .await
            .len(),
        1
    );
    let (_, text_b) = metrics(&b, Some(TOKEN)).await;
    assert_eq!(
        sample(&text_b, "rathaus_matrix_sync_leader"),
        1.0,
        "{text_b}"
    );
    store.close().await.expect("close");
    drop(b);
    pg.drop_schema().await;
}
