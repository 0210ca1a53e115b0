//! Interop with an independent ActivityPub implementation: Fedify (from npm) on loopback
//! follows the town hall, receives an announcement, its correction and its retraction, and
//! its signed replies become comments — edited and erased as the author edits and deletes.

use std::time::Duration;

use rathaus_integration_tests::{FedifyPeer, Rathaus, allow_peers, eventually, free_port};
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
    let port = free_port();
    let (allow, peers) = allow_peers(&[port]);
    let mut rathaus =
        Rathaus::start(dir.path(), &["serve"], &[(allow, &peers)]).expect("start rathaus");
    rathaus.wait_ready().await.expect("rathaus ready");
    let peer = FedifyPeer::start_on("alice", dir.path(), port)
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

fn list(rathaus: &Rathaus, status: &str) -> Vec<Value> {
    let out = rathaus
        .command(&["comments", "list", "--status", status, "--json"])
        .expect("comments list");
    serde_json::from_str(&out).expect("json list")
}

/// The moderation loop end to end: a signed reply that breaks a rule is held, shows up in
/// `comments list --status pending`, is approved by the CLI and published; the press office's
/// answer reaches the citizen as a reply that mentions them; a rejected author is told why and
/// can appeal; an author's deletion erases the text from the store and every output.
#[tokio::test]
async fn held_replies_are_approved_answered_appealed_and_erased() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let (allow, peers) = allow_peers(&[port]);
    let mut rathaus =
        Rathaus::start(dir.path(), &["serve"], &[(allow, &peers)]).expect("start rathaus");
    rathaus.wait_ready().await.expect("ready");
    let peer = FedifyPeer::start_on("bea", dir.path(), port)
        .await
        .expect("fedify");
    let our_actor = rathaus.public("/users/rathaus");
    let out = rathaus
        .command(&[
            "announce",
            "--consultation",
            "--closes",
            "2099-12-31T18:00:00Z",
            "--title",
            "Spielplatz",
            "Was wünschen Sie sich?",
        ])
        .expect("announce");
    let note_id = out.trim().split('\t').nth(2).expect("url").to_owned();

    // A reply with a phone number is held for review (personal data).
    let held = peer
        .post("/_test/reply", json!({ "inReplyTo": note_id, "to": our_actor, "content": "<p>Mehr Schaukeln! Ruf mich an: 0171 1234567</p>", "mention": true }))
        .await
        .expect("reply");
    let held_id = held["noteId"].as_str().expect("id").to_owned();
    let pending = eventually(WAIT, "the held reply in the queue", || async {
        list(&rathaus, "pending")
            .into_iter()
            .find(|c| c["origin_id"] == held_id.as_str())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", rathaus.log()));
    assert_eq!(pending["rule_id"], "persoenliche-daten");
    assert!(list(&rathaus, "published").is_empty());

    // Approved by the CLI: published.
    let id = pending["id"].as_i64().expect("id").to_string();
    let out = rathaus
        .command(&["comments", "approve", &id])
        .expect("approve");
    assert_eq!(out.trim(), format!("{id}\tpublished"));
    assert_eq!(list(&rathaus, "published").len(), 1);
    let err = rathaus
        .command(&["comments", "approve", &id])
        .expect_err("twice");
    assert!(err.to_string().contains("already published"), "{err}");

    // The official answer reaches the citizen in their thread, mentioning them.
    rathaus
        .command(&[
            "comments",
            "answer",
            &id,
            "Danke! Wir prüfen mehr Schaukeln.",
        ])
        .expect("answer");
    let answer = eventually(WAIT, "the official answer", || async {
        peer.received("Create").await.into_iter().find(|a| {
            a["json"]["object"]["inReplyTo"] == held_id.as_str()
                && a["json"]["object"]["content"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("Schaukeln")
        })
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", rathaus.log()));
    let tags = answer["json"]["object"]["tag"].clone();
    let mentions: Vec<&Value> = match &tags {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    assert!(
        mentions
            .iter()
            .any(|t| t["type"] == "Mention" && t["href"] == peer.actor().as_str()),
        "{answer}"
    );

    // A rejected reply: the author is told why, privately, and can appeal by answering.
    let rejected = peer
        .post("/_test/reply", json!({ "inReplyTo": note_id, "to": our_actor, "content": "<p>Ihr Deppen!</p>", "mention": true }))
        .await
        .expect("reply");
    let rejected_id = rejected["noteId"].as_str().expect("id").to_owned();
    let notice = eventually(WAIT, "the notice to the author", || async {
        peer.received("Create")
            .await
            .into_iter()
            .find(|a| a["json"]["object"]["inReplyTo"] == rejected_id.as_str())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", rathaus.log()));
    let notice_id = notice["json"]["object"]["id"]
        .as_str()
        .expect("notice id")
        .to_owned();
    assert!(
        notice["json"]["object"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Netiquette"),
        "{notice}"
    );
    let to = notice["json"]["object"]["to"].clone();
    assert!(
        to == json!(peer.actor()) || to == json!([peer.actor()]),
        "the notice is private: {notice}"
    );
    assert_eq!(list(&rathaus, "rejected").len(), 1);
    peer.post("/_test/reply", json!({ "inReplyTo": notice_id, "to": our_actor, "content": "<p>Das war nicht beleidigend gemeint, bitte prüfen.</p>", "mention": true }))
        .await
        .expect("appeal");
    let appeal = eventually(WAIT, "the appeal in the queue", || async {
        list(&rathaus, "pending")
            .into_iter()
            .find(|c| c["rule_id"] == "appeal")
    })
    .await
    .expect("appeal queued");
    assert_eq!(
        appeal["parent_comment_id"],
        list(&rathaus, "rejected")[0]["id"]
    );

    // Erasure: the author deletes the published reply; its text is gone everywhere.
    peer.post(
        "/_test/delete",
        json!({ "noteId": held_id, "to": our_actor }),
    )
    .await
    .expect("delete");
    eventually(WAIT, "the erasure", || async {
        list(&rathaus, "deleted")
            .into_iter()
            .find(|c| c["origin_id"] == held_id.as_str())
    })
    .await
    .expect("erased");
    let all = rathaus
        .command(&["comments", "list", "--json"])
        .expect("list all");
    let table = rathaus.command(&["comments", "list"]).expect("table");
    for output in [&all, &table] {
        assert!(
            !output.contains("Schaukeln!"),
            "deleted text still shown: {output}"
        );
        assert!(
            !output.contains("0171"),
            "deleted text still shown: {output}"
        );
    }
    let db = store(&rathaus).await;
    let row = comments::comment_by_origin(db.db(), &held_id)
        .await
        .expect("q")
        .expect("row");
    assert_eq!((row.content, row.author_name), (None, None));
    db.close().await.expect("close");
}
