//! Interop with an independent ActivityPub implementation: Fedify (from npm) on loopback
//! follows the town hall, receives an announcement, its correction and its retraction, and
//! its signed replies become comments — edited and erased as the author edits and deletes.

use std::time::Duration;

use rathaus_integration_tests::{FedifyPeer, Rathaus, eventually};
use rathaus_shared::Store;
use rathaus_shared::entities::CommentStatus;
use rathaus_shared::store::{actors, comments};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

async fn store(rathaus: &Rathaus) -> Store {
    Store::connect(&rathaus.sqlite_url(), 1)
        .await
        .expect("open the store")
}

/// The activity of `kind` whose object id (or the object itself) is `object_id`.
async fn received(peer: &FedifyPeer, kind: &str, object_id: &str) -> Option<Value> {
    peer.received(kind).await.into_iter().find(|a| {
        let object = &a["json"]["object"];
        object["id"].as_str() == Some(object_id) || object.as_str() == Some(object_id)
    })
}

#[tokio::test]
async fn fedify_follows_receives_announcements_and_replies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rathaus = Rathaus::start(dir.path(), &["serve"], &[]).expect("start rathaus");
    rathaus.wait_ready().await.expect("rathaus ready");
    let peer = FedifyPeer::start("alice", dir.path())
        .await
        .expect("start fedify");
    let our_actor = rathaus.public("/users/rathaus");

    // Follow → signed Accept. (Fedify knocks with RFC 9421 first; our 401 makes it fall back.)
    peer.post("/_test/follow", json!({ "actor": our_actor }))
        .await
        .expect("follow");
    eventually(WAIT, "the follow to be accepted", || async {
        let following = peer.get("/_test/following").await.ok()?;
        (following[&our_actor] == "accepted").then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\nrathaus: {}\nfedify: {}", rathaus.log(), peer.log()));
    let db = store(&rathaus).await;
    assert_eq!(actors::count_followers(db.db()).await.expect("count"), 1);

    // An announcement reaches the follower as Create{Note}.
    let out = rathaus
        .command(&[
            "announce",
            "--title",
            "Radweg Hauptstraße",
            "Wir planen einen **Radweg**.",
        ])
        .expect("announce");
    let mut fields = out.trim().split('\t');
    let id = fields.next().expect("id").to_owned();
    let note_id = rathaus.public(&format!("/announcements/{id}"));
    assert_eq!(fields.nth(1), Some(note_id.as_str()), "{out}");
    let create = eventually(WAIT, "the Create to arrive", || {
        received(&peer, "Create", &note_id)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\nrathaus: {}", rathaus.log()));
    let content = create["json"]["object"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(content.contains("<strong>Radweg</strong>"), "{create}");
    assert_eq!(create["json"]["actor"], our_actor);

    // A correction arrives as Update with `updated`.
    rathaus
        .command(&[
            "announce",
            "--correct",
            &id,
            "Wir planen einen **breiten** Radweg.",
        ])
        .expect("correct");
    let update = eventually(WAIT, "the Update to arrive", || {
        received(&peer, "Update", &note_id)
    })
    .await
    .expect("update");
    assert!(
        update["json"]["object"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("breiten"),
        "{update}"
    );
    assert!(update["json"]["object"]["updated"].is_string(), "{update}");

    // The follower replies; the signed reply is stored as a comment on the announcement.
    let reply = peer
        .post(
            "/_test/reply",
            json!({ "inReplyTo": note_id, "to": our_actor, "content": "<p>Bitte mit Bäumen!</p>", "mention": true }),
        )
        .await
        .expect("reply");
    let reply_id = reply["noteId"].as_str().expect("note id").to_owned();
    let comment = eventually(WAIT, "the reply to be stored", || async {
        comments::comment_by_origin(db.db(), &reply_id)
            .await
            .ok()
            .flatten()
    })
    .await
    .expect("comment stored");
    assert_eq!(comment.announcement_id.to_string(), id);
    assert_eq!(comment.content.as_deref(), Some("<p>Bitte mit Bäumen!</p>"));
    assert_eq!(comment.author_id, peer.actor());
    assert_eq!(comment.author_domain, format!("localhost:{}", peer.port));
    assert_eq!(comment.status, CommentStatus::Published);

    // The author edits, then deletes: the text follows, then is erased.
    peer.post("/_test/update", json!({ "noteId": reply_id, "content": "<p>Bitte mit vielen Bäumen!</p>", "to": our_actor }))
        .await
        .expect("update reply");
    eventually(WAIT, "the edit to be stored", || async {
        let c = comments::comment_by_origin(db.db(), &reply_id)
            .await
            .ok()
            .flatten()?;
        (c.content.as_deref() == Some("<p>Bitte mit vielen Bäumen!</p>")).then_some(())
    })
    .await
    .expect("edited");
    peer.post(
        "/_test/delete",
        json!({ "noteId": reply_id, "to": our_actor }),
    )
    .await
    .expect("delete reply");
    let erased = eventually(WAIT, "the deletion to erase the text", || async {
        let c = comments::comment_by_origin(db.db(), &reply_id)
            .await
            .ok()
            .flatten()?;
        (c.status == CommentStatus::Deleted).then_some(c)
    })
    .await
    .expect("erased");
    assert_eq!(erased.content, None);

    // A retraction reaches the follower as Delete; the Note's id now answers 410.
    rathaus
        .command(&["announce", "--retract", &id])
        .expect("retract");
    eventually(WAIT, "the Delete to arrive", || {
        received(&peer, "Delete", &note_id)
    })
    .await
    .expect("delete");
    let gone = reqwest::Client::new()
        .get(&note_id)
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("get note");
    assert_eq!(gone.status(), 410);

    // Undo{Follow} ends the follow.
    peer.post("/_test/unfollow", json!({ "actor": our_actor }))
        .await
        .expect("unfollow");
    eventually(WAIT, "the follow to end", || async {
        (actors::count_followers(db.db()).await.ok()? == 0).then_some(())
    })
    .await
    .expect("unfollowed");
    db.close().await.expect("close");
}
