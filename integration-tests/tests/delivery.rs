//! The durable delivery queue under faults: a SIGKILL in the middle of a fan-out, a receiver
//! that is down and comes back, and a receiver that refuses for good.

use std::collections::HashSet;
use std::time::Duration;

use nix::sys::signal::Signal;
use rathaus_integration_tests::sink::Sink;
use rathaus_integration_tests::{Rathaus, allow_peers, eventually, free_port, run};
use rathaus_shared::Store;
use rathaus_shared::entities::JobStatus;
use rathaus_shared::store::actors::{self, RemoteActorData};
use rathaus_shared::store::delivery;

/// Environment for a fast, observable queue.
/// Fast retries and leases, and the loopback receivers on `ports` allowed.
fn queue_env(ports: &[u16]) -> Vec<(&'static str, String)> {
    vec![
        ("RATHAUS_FEDERATION__DELIVERY_LEASE_SECONDS", "2".into()),
        ("RATHAUS_FEDERATION__RETRY_MIN_SECONDS", "0".into()),
        ("RATHAUS_FEDERATION__DELIVERY_CONCURRENCY", "16".into()),
        ("RATHAUS_FEDERATION__PER_HOST_CONCURRENCY", "16".into()),
        allow_peers(ports),
    ]
}

fn as_env<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Creates the store in `dir` and adds followers with the given inboxes.
async fn prepare(dir: &std::path::Path, inboxes: &[String]) -> Store {
    let (code, _, err) = run(dir, &["migrate"], &[]).expect("migrate");
    assert_eq!(code, 0, "{err}");
    let url = format!("sqlite://{}", dir.join("data/rathaus.db").display());
    let store = Store::connect(&url, 2).await.expect("store");
    for (i, inbox) in inboxes.iter().enumerate() {
        let actor = actors::upsert_remote_actor(
            store.db(),
            RemoteActorData {
                ap_id: format!("{inbox}/actor/{i}"),
                username: format!("u{i}"),
                domain: "localhost".into(),
                display_name: None,
                inbox: inbox.clone(),
                shared_inbox: None,
                public_key_pem: None,
                key_id: None,
            },
            rathaus_shared::store::now(),
        )
        .await
        .expect("actor");
        actors::add_follower(
            store.db(),
            actor.id,
            &format!("{inbox}/follow/{i}"),
            rathaus_shared::store::now(),
        )
        .await
        .expect("follow");
    }
    store
}

async fn count(store: &Store, status: JobStatus) -> i64 {
    delivery::count_by_status(store.db())
        .await
        .expect("count")
        .into_iter()
        .find(|(s, _)| *s == status)
        .map_or(0, |(_, n)| n)
}

#[tokio::test]
async fn a_killed_fan_out_completes_after_restart_with_bounded_duplicates() {
    const FOLLOWERS: usize = 600;
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start().await.expect("sink");
    sink.set_delay(Duration::from_millis(100));
    let inboxes: Vec<String> = (0..FOLLOWERS)
        .map(|i| sink.url(&format!("/inbox/{i}")))
        .collect();
    let store = prepare(dir.path(), &inboxes).await;

    let env = queue_env(&[sink.port]);
    let mut first = Rathaus::start(dir.path(), &["serve"], &as_env(&env)).expect("start");
    first.wait_ready().await.expect("ready");
    first
        .command(&["announce", "An alle: Probealarm am Mittwoch."])
        .expect("announce");
    eventually(
        Duration::from_secs(60),
        "a third of the fan-out",
        || async { (sink.received().len() >= FOLLOWERS / 3).then_some(()) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", first.log()));
    first.signal(Signal::SIGKILL).expect("kill");
    first
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("dead");
    let in_flight_at_kill = count(&store, JobStatus::InFlight).await;
    let done_at_kill = count(&store, JobStatus::Done).await;
    assert!(
        done_at_kill < FOLLOWERS as i64,
        "the fan-out finished before the kill; nothing was tested"
    );

    let mut second = Rathaus::start(dir.path(), &["serve"], &as_env(&env)).expect("restart");
    second.wait_ready().await.expect("ready again");
    eventually(Duration::from_secs(120), "every job to be done", || async {
        (count(&store, JobStatus::Done).await == FOLLOWERS as i64).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", second.log()));

    let received = sink.received();
    let distinct: HashSet<&str> = received.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        distinct.len(),
        FOLLOWERS,
        "every inbox received the activity"
    );
    let duplicates = received.len() - distinct.len();
    eprintln!(
        "killed with {in_flight_at_kill} jobs in flight and {done_at_kill} done; {duplicates} duplicate deliveries"
    );
    assert!(
        duplicates as i64 <= in_flight_at_kill,
        "{duplicates} duplicates, but only {in_flight_at_kill} jobs were in flight at the kill"
    );
    // Every delivery carried the same activity id: retries never mint a new one.
    let ids: HashSet<String> = received
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
            v["id"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_activity_when_it_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let down_port = free_port();
    let refusing = Sink::start().await.expect("sink");
    refusing.set_status(410);
    let inboxes = vec![
        format!("http://localhost:{down_port}/inbox"),
        refusing.url("/inbox"),
    ];
    let store = prepare(dir.path(), &inboxes).await;
    let env = queue_env(&[down_port, refusing.port]);
    let mut rathaus = Rathaus::start(dir.path(), &["serve"], &as_env(&env)).expect("start");
    rathaus.wait_ready().await.expect("ready");
    rathaus
        .command(&["announce", "Bürgersprechstunde am Freitag."])
        .expect("announce");

    // The first attempt fails (nothing listens) and is scheduled again; the 410 is final.
    let jobs = || async {
        delivery::jobs_for_activity(store.db(), 1)
            .await
            .expect("jobs")
    };
    eventually(
        Duration::from_secs(30),
        "a failed first attempt and a final refusal",
        || async {
            let jobs = jobs().await;
            let down = jobs.iter().find(|j| j.inbox == inboxes[0])?;
            let refused = jobs.iter().find(|j| j.inbox == inboxes[1])?;
            (down.status == JobStatus::Pending
                && down.attempts >= 1
                && down.last_error.is_some()
                && refused.status == JobStatus::Failed)
                .then_some(())
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));

    // The receiver comes back where it was.
    let back = Sink::start_on(down_port).await.expect("receiver returns");
    eventually(
        Duration::from_secs(30),
        "delivery after the receiver returned",
        || async { (count(&store, JobStatus::Done).await == 1).then_some(()) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert_eq!(back.received().len(), 1);
    // The refusal was final: asked once, never again.
    let refused = jobs()
        .await
        .into_iter()
        .find(|j| j.inbox == inboxes[1])
        .expect("job");
    assert_eq!((refused.status, refused.attempts), (JobStatus::Failed, 1));
    assert_eq!(refused.last_error.as_deref(), Some("HTTP 410"));
}

/// Established TCP connections whose local end is `port` (the server side on loopback).
fn open_connections(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields
                .get(1)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            local_port == Some(port) && fields.get(3) == Some(&"01")
        })
        .count()
}

#[tokio::test]
async fn personal_inboxes_on_one_host_share_connections_closed_after_the_fan_out() {
    const PERSONAL: usize = 120;
    let dir = tempfile::tempdir().expect("tempdir");
    let busy = Sink::start().await.expect("sink");
    let mut singles = Vec::new();
    for _ in 0..4 {
        singles.push(Sink::start().await.expect("sink"));
    }
    let mut inboxes: Vec<String> = (0..PERSONAL)
        .map(|i| busy.url(&format!("/users/u{i}/inbox")))
        .collect();
    inboxes.extend(singles.iter().map(|s| s.url("/inbox")));
    let store = prepare(dir.path(), &inboxes).await;
    let mut ports = vec![busy.port];
    ports.extend(singles.iter().map(|s| s.port));
    let mut env = queue_env(&ports);
    env.retain(|(k, _)| *k != "RATHAUS_FEDERATION__PER_HOST_CONCURRENCY");
    env.push(("RATHAUS_FEDERATION__PER_HOST_CONCURRENCY", "4".into()));
    let mut rathaus = Rathaus::start(dir.path(), &["serve"], &as_env(&env)).expect("start");
    rathaus.wait_ready().await.expect("ready");
    rathaus
        .command(&["announce", "Straßenfest am Samstag"])
        .expect("announce");
    eventually(Duration::from_secs(60), "every delivery", || async {
        (count(&store, JobStatus::Done).await == inboxes.len() as i64).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let received = busy.received();
    assert_eq!(received.len(), PERSONAL);
    let connections = busy.connections();
    assert!(
        connections <= PERSONAL as u64 / 4,
        "{connections} connections for {PERSONAL} deliveries to one host"
    );
    for s in &singles {
        assert_eq!(s.received().len(), 1);
    }
    // After the fan-out no connection stays open.
    eventually(
        Duration::from_secs(10),
        "the connections to close",
        || async { (open_connections(busy.port) == 0).then_some(()) },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {} still open", open_connections(busy.port)));
    eprintln!("{PERSONAL} deliveries to one host over {connections} connections");
    rathaus.signal(Signal::SIGTERM).expect("stop");
}
