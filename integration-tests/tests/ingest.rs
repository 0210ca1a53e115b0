//! The inbox under a crash: a reply answered 202 is kept, whatever happens to the process
//! after the answer, and is applied exactly once (one comment, one moderation-log step) after
//! the restart. Run against the real binary with SIGABRT at the worst moment (a failpoint
//! between the durable append and the apply) and with SIGKILL in the middle of a flood.

use std::collections::HashSet;
use std::time::Duration;

use nix::sys::signal::Signal;
use rathaus_federation::signatures::Signer;
use rathaus_integration_tests::sink::Sink;
use rathaus_integration_tests::{Rathaus, allow_peers, eventually, post_signed};
use rathaus_shared::Store;
use rathaus_shared::store::comments::{self, CommentFilter};
use rathaus_shared::store::{inbox, moderation};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

struct Author {
    id: String,
    signer: Signer,
}

/// `n` people on the sink, each with a key and an actor document.
fn authors(sink: &Sink, n: usize) -> Vec<Author> {
    (0..n)
        .map(|i| {
            let id = sink.url(&format!("/users/p{i}"));
            let key_id = format!("{id}#main-key");
            let keys = rathaus_shared::keys::generate_rsa_keypair().expect("keys");
            sink.put_document(
                &format!("/users/p{i}"),
                json!({
                    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                    "id": id, "type": "Person", "preferredUsername": format!("p{i}"),
                    "inbox": format!("{id}/inbox"),
                    "publicKey": { "id": key_id, "owner": id, "publicKeyPem": keys.public_pem },
                }),
            );
            Author {
                id,
                signer: Signer::from_pem(&key_id, &keys.private_pem).expect("signer"),
            }
        })
        .collect()
}

fn reply(by: &str, n: usize, announcement: &str) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{by}/statuses/{n}/activity"), "type": "Create", "actor": by,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "object": {
            "id": format!("{by}/statuses/{n}"), "type": "Note", "attributedTo": by,
            "inReplyTo": announcement,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "content": format!("<p>Vorschlag {n}: mehr Bäume in der Lindenstraße</p>"),
        },
    })
}

struct World {
    _dir: tempfile::TempDir,
    rathaus: Rathaus,
    sink: Sink,
    store: Store,
}

async fn world(extra: &[(&str, &str)]) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start().await.expect("sink");
    let (allow, peers) = allow_peers(&[sink.port]);
    let mut env = vec![
        (allow, peers.as_str()),
        // Answer as soon as the activity is queued: the widest window for a crash.
        ("RATHAUS_FEDERATION__INBOX_APPLY_WAIT_MS", "0"),
        // Rate limits would hold some of the flood; this test is about keeping it.
        ("RATHAUS_POLICY__AUTHOR_BURST", "1000"),
        ("RATHAUS_POLICY__INSTANCE_BURST", "10000"),
    ];
    env.extend_from_slice(extra);
    let mut rathaus = Rathaus::start(dir.path(), &["serve"], &env).expect("start");
    rathaus.wait_ready().await.expect("ready");
    rathaus
        .command(&[
            "announce",
            "--consultation",
            "--closes",
            "2099-01-01T00:00:00Z",
            "--title",
            "Bäume",
            "Wo sollen Bäume stehen?",
        ])
        .expect("announce");
    let store = Store::connect(&rathaus.sqlite_url(), 1)
        .await
        .expect("store");
    World {
        _dir: dir,
        rathaus,
        sink,
        store,
    }
}

/// Sends `replies` at once over `connections` tasks; returns the note ids answered 202.
async fn flood(
    rathaus: &Rathaus,
    people: &[Author],
    range: std::ops::Range<usize>,
    connections: usize,
) -> Vec<String> {
    let inbox = rathaus.public("/inbox");
    let announcement = rathaus.public("/announcements/1");
    let work: Vec<(usize, usize)> = range.map(|n| (n, n % people.len())).collect();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(work));
    let people: std::sync::Arc<Vec<(String, Signer)>> = std::sync::Arc::new(
        people
            .iter()
            .map(|p| (p.id.clone(), p.signer.clone()))
            .collect(),
    );
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (queue, people, inbox, announcement) = (
            queue.clone(),
            people.clone(),
            inbox.clone(),
            announcement.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            loop {
                let next = queue.lock().expect("lock").pop();
                let Some((n, who)) = next else { break };
                let (id, signer) = &people[who];
                let body = reply(id, n, &announcement);
                if let Ok((202, _)) = post_signed(&inbox, &body, signer).await {
                    accepted.push(body["object"]["id"].as_str().expect("id").to_owned());
                }
            }
            accepted
        }));
    }
    let mut accepted = Vec::new();
    for t in tasks {
        accepted.extend(t.await.expect("join"));
    }
    accepted
}

/// Waits until the queue is empty: its rows leave only with the commit that applies them.
async fn drained(store: &Store, rathaus: &Rathaus) {
    eventually(WAIT, "the queue to be applied", || async {
        (inbox::backlog(store.db()).await.expect("backlog").0 == 0).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
}

/// Every accepted note is stored once, and has exactly one log step of the policy.
async fn assert_applied_once(store: &Store, accepted: &[String], log: &str) {
    let stored = comments::list_comments(store.db(), &CommentFilter::default())
        .await
        .expect("list");
    let origins: Vec<&str> = stored.iter().map(|c| c.origin_id.as_str()).collect();
    let distinct: HashSet<&str> = origins.iter().copied().collect();
    assert_eq!(distinct.len(), origins.len(), "a reply stored twice");
    for id in accepted {
        assert!(
            distinct.contains(id.as_str()),
            "{id} was answered 202 but is lost: {log}"
        );
    }
    let log = moderation::list_actions(store.db(), None, 100_000)
        .await
        .expect("log");
    let steps = log.iter().filter(|a| a.actor == "policy").count();
    assert_eq!(steps, stored.len(), "one policy step per comment");
}

#[tokio::test]
async fn replies_answered_before_a_crash_are_applied_once_after_the_restart() {
    let mut w = world(&[("RATHAUS_FAILPOINT", "inbox-after-append")]).await;
    let people = authors(&w.sink, 4);
    let accepted = flood(&w.rathaus, &people, 0..40, 8).await;
    w.rathaus
        .wait_exit(Duration::from_secs(20))
        .await
        .expect("the failpoint stopped the process");
    assert!(
        !accepted.is_empty(),
        "nothing was accepted before the crash"
    );
    // Answered and queued, not applied.
    let (waiting, stuck) = inbox::backlog(w.store.db()).await.expect("backlog");
    assert!(
        waiting as usize >= accepted.len() && stuck == 0,
        "{waiting} rows for {} answers",
        accepted.len()
    );
    assert!(
        comments::list_comments(w.store.db(), &CommentFilter::default())
            .await
            .expect("list")
            .is_empty(),
        "the failpoint fired after an apply"
    );

    w.rathaus.forget_env("RATHAUS_FAILPOINT");
    w.rathaus.restart().expect("restart");
    w.rathaus.wait_ready().await.expect("ready");
    let store = &w.store;
    drained(store, &w.rathaus).await;
    assert_applied_once(store, &accepted, &w.rathaus.log()).await;

    // The senders retry everything (Mastodon retries what got no answer): each is kept once.
    let again = flood(&w.rathaus, &people, 0..40, 8).await;
    assert_eq!(again.len(), 40, "{}", w.rathaus.log());
    drained(store, &w.rathaus).await;
    assert_applied_once(store, &again, &w.rathaus.log()).await;
    assert_eq!(
        comments::list_comments(store.db(), &CommentFilter::default())
            .await
            .expect("list")
            .len(),
        40
    );
}

#[tokio::test]
async fn a_sigkill_in_a_flood_loses_no_accepted_reply() {
    let mut w = world(&[]).await;
    let people = authors(&w.sink, 8);
    // Warm-up: first contact fetches each key.
    let first = flood(&w.rathaus, &people, 0..8, 1).await;
    assert_eq!(first.len(), 8, "{}", w.rathaus.log());

    let rathaus = &w.rathaus;
    let pid = rathaus.pid();
    let killer = tokio::spawn(async move {
        // Kill while the flood runs.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
    });
    let accepted = flood(rathaus, &people, 8..2008, 16).await;
    killer.await.expect("killer");
    w.rathaus
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("killed");
    assert!(
        accepted.len() < 2000,
        "the flood ended before the kill; nothing was tested"
    );
    w.rathaus.restart().expect("restart");
    w.rathaus.wait_ready().await.expect("ready");
    let store = &w.store;
    drained(store, &w.rathaus).await;
    let mut all = first;
    all.extend(accepted);
    assert_applied_once(store, &all, &w.rathaus.log()).await;
    eprintln!("{} replies accepted before the kill", all.len() - 8);
}

async fn get(url: &str, headers: &[(&str, &str)]) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("get");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.expect("text"))
}

#[tokio::test]
async fn likes_and_boosts_are_counted_and_pages_revalidate_and_page() {
    let w = world(&[]).await;
    let people = authors(&w.sink, 6);
    let announcement = w.rathaus.public("/announcements/1");
    let inbox = w.rathaus.public("/inbox");
    let p = &people[0];
    let like = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}#likes/1", p.id), "type": "Like", "actor": p.id, "object": announcement,
    });
    let boost = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/statuses/9/activity", p.id), "type": "Announce", "actor": p.id,
        "object": announcement, "to": ["https://www.w3.org/ns/activitystreams#Public"],
    });
    for body in [&like, &boost] {
        let (status, text) = post_signed(&inbox, body, &p.signer).await.expect("post");
        assert_eq!(status, 202, "{text}");
    }
    drained(&w.store, &w.rathaus).await;
    let reach = |html: &str| {
        let row = html
            .split("<tr>")
            .find(|r| r.contains("href=\"/announcements/1\""))
            .unwrap_or_default()
            .to_owned();
        if row.matches("class=\"num\">").count() == 2 {
            row.split("class=\"num\">")
                .skip(1)
                .map(|c| c.split('<').next().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        } else {
            Vec::new()
        }
    };
    let (_, _, stats) = get(&w.rathaus.url("/statistics"), &[]).await;
    assert!(stats.contains("Reichweite"), "{stats}");
    assert_eq!(reach(&stats), ["1", "1"], "{stats}");
    // Undo of the Like, naming it by id as Mastodon does: one boost stays.
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}#likes/1/undo", p.id), "type": "Undo", "actor": p.id,
        "object": {"id": format!("{}#likes/1", p.id), "type": "Like", "actor": p.id, "object": announcement},
    });
    let (status, _) = post_signed(&inbox, &undo, &p.signer).await.expect("undo");
    assert_eq!(status, 202);
    drained(&w.store, &w.rathaus).await;
    let (_, _, stats) = get(&w.rathaus.url("/statistics"), &[]).await;
    assert_eq!(reach(&stats), ["0", "1"], "{stats}");
    // The export counts them too.
    let (_, _, export) = get(&w.rathaus.url("/open-data/1/consultation.json"), &[]).await;
    let export: Value = serde_json::from_str(&export).unwrap_or_default();
    assert_eq!(export["statistics"]["boosts"], 1, "{export}");
    assert_eq!(export["statistics"]["likes"], 0, "{export}");

    // The page carries validators and a short public cache life; a revalidation is a 304.
    let page = w.rathaus.url("/announcements/1");
    let (status, headers, _) = get(&page, &[]).await;
    assert_eq!(status, 200);
    let etag = headers["etag"].to_str().expect("etag").to_owned();
    assert!(
        headers["cache-control"]
            .to_str()
            .expect("cc")
            .starts_with("public")
    );
    let modified = headers["last-modified"].to_str().expect("lm").to_owned();
    let (status, _, body) = get(&page, &[("if-none-match", &etag)]).await;
    assert_eq!((status, body.as_str()), (304, ""));
    let (status, _, _) = get(&page, &[("if-modified-since", &modified)]).await;
    assert_eq!(status, 304);
    // English is another page with another tag.
    let (_, en, _) = get(&page, &[("accept-language", "en")]).await;
    assert_ne!(en["etag"], etag.as_str());

    // 60 comments: a new comment changes the tag; the page shows 50 threads, the rest on page 2.
    let accepted = flood(&w.rathaus, &people, 0..60, 6).await;
    assert_eq!(accepted.len(), 60, "{}", w.rathaus.log());
    drained(&w.store, &w.rathaus).await;
    let (status, headers, first) = get(&page, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 200, "a changed page is sent again");
    assert_ne!(headers["etag"], etag.as_str());
    let shown = |html: &str| {
        (0..60)
            .filter(|n| html.contains(&format!("Vorschlag {n}:")))
            .count()
    };
    assert_eq!(shown(&first), 50);
    assert!(
        first.contains("?page=2#comments"),
        "a link to the next page"
    );
    let (_, _, second) = get(&w.rathaus.url("/announcements/1?page=2"), &[]).await;
    assert_eq!(shown(&second), 10);
    assert!(second.contains("rel=\"prev\""));
}
