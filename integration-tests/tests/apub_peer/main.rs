//! Interop with a second independent implementation: a peer built on `activitypub_federation`
//! (the library Lemmy uses) follows the town hall and gets the Accept and an announcement
//! through the crate's verifying inbox; its reply, sent through the crate's signing send path,
//! becomes a comment that is edited and erased as the author edits and deletes it; the
//! announcement's correction and retraction reach the peer as Update and Delete.

mod peer;

use std::time::{Duration, SystemTime};

use peer::ApubPeer;
use rathaus_federation::signatures::{Signer, digest_header};
use rathaus_integration_tests::{Rathaus, allow_peers, eventually, free_port};
use rathaus_shared::Store;
use rathaus_shared::entities::CommentStatus;
use rathaus_shared::store::{actors, comments};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// What to show when a step times out: why the peer refused requests, and Rathaus's log.
fn report(rathaus: &Rathaus, peer: &ApubPeer) -> String {
    format!(
        "peer refused: {:?}\nrathaus: {}",
        peer.refused(),
        rathaus.log()
    )
}

/// A Create of a Note as Rathaus would send it, with ids of the test's own.
fn create(rathaus: &Rathaus, name: &str, content: &str) -> Value {
    let public = "https://www.w3.org/ns/activitystreams#Public";
    let actor = rathaus.public("/users/rathaus");
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": rathaus.public(&format!("/test/{name}/activity")),
        "type": "Create",
        "actor": actor,
        "to": [public],
        "object": {
            "id": rathaus.public(&format!("/test/{name}")),
            "type": "Note",
            "attributedTo": actor,
            "content": content,
            "to": [public],
        },
    })
}

/// Posts `body` to `url` with `headers` (the `Host` reqwest derives from the URL); the status.
async fn post(url: &str, body: &Value, headers: &[(&str, String)]) -> u16 {
    let mut req = reqwest::Client::new().post(url).body(body.to_string());
    for (name, value) in headers.iter().filter(|(name, _)| *name != "host") {
        req = req.header(*name, value);
    }
    req.send()
        .await
        .expect("post to the peer")
        .status()
        .as_u16()
}

/// Several threads, so the peer keeps answering Rathaus while the test waits on a command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activitypub_federation_peer_follows_and_replies() {
    // The crate logs a refused delivery only at DEBUG, and reports it as sent: shown on failure.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            "activitypub_federation=info,activitypub_federation::activity_sending=debug",
        )
        .with_ansi(false)
        .with_test_writer()
        .try_init();
    // The peer's port is fixed before Rathaus starts, so it can be allowed as a private host.
    let peer_port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let (allow, peers) = allow_peers(&[peer_port]);
    let mut rathaus =
        Rathaus::start(dir.path(), &["serve"], &[(allow, &peers)]).expect("start rathaus");
    rathaus.wait_ready().await.expect("rathaus ready");
    let peer = ApubPeer::start(peer_port, "lena")
        .await
        .expect("start the peer");
    let our_actor = rathaus.public("/users/rathaus");

    // Follow → a signed Accept, verified by the crate.
    let follow = peer.follow(&our_actor).await.expect("follow");
    eventually(WAIT, "the Accept in the peer's inbox", || async {
        peer.accepted().contains(&follow).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", report(&rathaus, &peer)));
    let db = Store::connect(&rathaus.sqlite_url(), 1)
        .await
        .expect("open the store");
    assert_eq!(actors::count_followers(db.db()).await.expect("count"), 1);

    // An announcement reaches the peer as Create{Note}, verified by the crate.
    let out = rathaus
        .command(&[
            "announce",
            "--title",
            "Spielstraße Lindenweg",
            "Der Lindenweg wird **Spielstraße**.",
        ])
        .expect("announce");
    let mut fields = out.trim().split('\t');
    let id = fields.next().expect("id").to_owned();
    let note_id = rathaus.public(&format!("/announcements/{id}"));
    assert_eq!(fields.nth(1), Some(note_id.as_str()), "{out}");
    let note = eventually(WAIT, "the Create in the peer's inbox", || async {
        peer.note(&note_id)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", report(&rathaus, &peer)));
    assert!(
        note.content.contains("<strong>Spielstraße</strong>"),
        "{note:?}"
    );
    assert_eq!(note.attributed_to.inner().as_str(), our_actor);

    // The crate's inbox really checks. Control: signed with Rathaus's own key, accepted. The
    // same signature over a swapped body (which the axum inbox took up to beta.11) and a body
    // with its right Digest but no signature are refused with 401 and leave nothing behind.
    let key = actors::local_actor(db.db(), "rathaus")
        .await
        .expect("query")
        .expect("our actor");
    let signer =
        Signer::from_pem(&format!("{our_actor}#main-key"), &key.private_key_pem).expect("signer");
    let inbox = peer.inbox().clone();
    let sign = |body: &Value| {
        signer
            .sign(
                "POST",
                &inbox,
                Some(body.to_string().as_bytes()),
                SystemTime::now(),
            )
            .expect("sign")
    };
    let control = create(&rathaus, "control", "<p>echt</p>");
    assert_eq!(post(inbox.as_str(), &control, &sign(&control)).await, 202);
    let control_id = control["object"]["id"].as_str().expect("id");
    assert_eq!(
        peer.note(control_id).map(|n| n.content).as_deref(),
        Some("<p>echt</p>")
    );
    let swapped = create(&rathaus, "swapped", "<p>gefälscht</p>");
    assert_eq!(post(inbox.as_str(), &swapped, &sign(&control)).await, 401);
    let unsigned = create(&rathaus, "unsigned", "<p>unsigniert</p>");
    let digest = vec![
        ("digest", digest_header(unsigned.to_string().as_bytes())),
        ("content-type", "application/activity+json".to_owned()),
    ];
    assert_eq!(post(inbox.as_str(), &unsigned, &digest).await, 401);
    for forged in [&swapped, &unsigned] {
        let id = forged["object"]["id"].as_str().expect("id");
        assert!(peer.note(id).is_none(), "{id} was taken");
    }
    let refused = peer.refused();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused[0].contains("invalid digest"), "{refused:?}");
    assert!(refused[1].contains("Signature is missing"), "{refused:?}");

    // The peer replies; the crate signs it; Rathaus stores it as a comment.
    let reply = peer
        .reply(&note_id, "<p>Bitte mit Sitzbänken!</p>")
        .await
        .expect("reply");
    let comment = eventually(WAIT, "the reply to be stored", || async {
        comments::comment_by_origin(db.db(), reply.as_str())
            .await
            .ok()
            .flatten()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", report(&rathaus, &peer)));
    assert_eq!(comment.announcement_id.to_string(), id);
    assert_eq!(
        comment.content.as_deref(),
        Some("<p>Bitte mit Sitzbänken!</p>")
    );
    assert_eq!(comment.author_id, peer.actor_id().as_str());
    assert_eq!(comment.author_domain, format!("localhost:{peer_port}"));
    assert_eq!(comment.status, CommentStatus::Published);

    // The author edits, then deletes: the text follows, then is erased.
    peer.edit(&reply, "<p>Bitte mit Sitzbänken und Schatten!</p>")
        .await
        .expect("edit");
    eventually(WAIT, "the edit to be stored", || async {
        let c = comments::comment_by_origin(db.db(), reply.as_str())
            .await
            .ok()
            .flatten()?;
        (c.content.as_deref() == Some("<p>Bitte mit Sitzbänken und Schatten!</p>")).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", report(&rathaus, &peer)));
    peer.delete(&reply).await.expect("delete");
    let erased = eventually(WAIT, "the deletion to erase the text", || async {
        let c = comments::comment_by_origin(db.db(), reply.as_str())
            .await
            .ok()
            .flatten()?;
        (c.status == CommentStatus::Deleted).then_some(c)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", report(&rathaus, &peer)));
    assert_eq!((erased.content, erased.author_name), (None, None));

    // A correction and a retraction reach the peer as Update and Delete, verified by the crate.
    rathaus
        .command(&[
            "announce",
            "--correct",
            &id,
            "Der Lindenweg wird **verkehrsberuhigt**.",
        ])
        .expect("correct");
    eventually(WAIT, "the Update in the peer's inbox", || async {
        let note = peer.note(&note_id)?;
        (note.content.contains("verkehrsberuhigt") && note.updated.is_some()).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", report(&rathaus, &peer)));
    rathaus
        .command(&["announce", "--retract", &id])
        .expect("retract");
    eventually(WAIT, "the Delete in the peer's inbox", || async {
        peer.note(&note_id).is_none().then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", report(&rathaus, &peer)));
    assert_eq!(peer.refused().len(), 2, "{}", report(&rathaus, &peer));
    db.close().await.expect("close");
}
