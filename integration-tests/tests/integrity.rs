//! Comment integrity against the running binary: a reply that was not addressed to the
//! public never reaches a page or export (its author is told why), and an author's edit never
//! overturns a moderator's decision.

use std::time::{Duration, SystemTime};

use rathaus_federation::signatures::Signer;
use rathaus_integration_tests::sink::Sink;
use rathaus_integration_tests::{Rathaus, allow_peers, eventually};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

async fn post(rathaus: &Rathaus, activity: &Value, signer: &Signer) -> (u16, String) {
    let url = url::Url::parse(&rathaus.public("/inbox")).expect("url");
    let body = activity.to_string();
    let mut req = reqwest::Client::new().post(url.clone()).body(body.clone());
    for (name, value) in signer
        .sign("POST", &url, Some(body.as_bytes()), SystemTime::now())
        .expect("sign")
    {
        req = req.header(name, value);
    }
    let res = req.send().await.expect("send");
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

/// A Mastodon-shaped person served by the sink at `/users/{name}`, and a signer for them.
fn person(sink: &Sink, name: &str) -> (String, Signer) {
    let keys = rathaus_shared::keys::generate_rsa_keypair().expect("keys");
    let id = sink.url(&format!("/users/{name}"));
    sink.put_document(
        &format!("/users/{name}"),
        json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": id, "type": "Person", "preferredUsername": name, "name": format!("{name} Muster"),
            "inbox": format!("{id}/inbox"), "followers": format!("{id}/followers"),
            "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": keys.public_pem},
        }),
    );
    let signer = Signer::from_pem(&format!("{id}#main-key"), &keys.private_pem).expect("signer");
    (id, signer)
}

async fn page(rathaus: &Rathaus, path: &str) -> String {
    reqwest::get(rathaus.url(path))
        .await
        .expect("get")
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn direct_and_followers_only_replies_stay_private_and_edits_do_not_overturn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start().await.expect("sink");
    let (allow, peers) = allow_peers(&[sink.port]);
    let mut rathaus = Rathaus::start(dir.path(), &["serve"], &[(allow, &peers)]).expect("start");
    rathaus.wait_ready().await.expect("ready");
    rathaus
        .command(&[
            "announce",
            "--consultation",
            "--closes",
            "2099-12-31T18:00:00+01:00",
            "Wie soll der Platz aussehen?",
        ])
        .expect("announce");
    let (ursula, signer) = person(&sink, "ursula");
    let our_actor = rathaus.public("/users/rathaus");
    let note = rathaus.public("/announcements/1");
    let reply = |n: u32, text: &str, to: Value, cc: Value| {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{ursula}/statuses/{n}/activity"), "type": "Create", "actor": ursula,
            "to": to, "cc": cc,
            "object": {
                "id": format!("{ursula}/statuses/{n}"), "type": "Note", "attributedTo": ursula,
                "inReplyTo": note, "to": to, "cc": cc,
                "content": format!("<p>{text}</p>"),
                "tag": [{"type": "Mention", "href": our_actor, "name": "@rathaus"}],
            },
        })
    };

    // Direct (only the mentioned actor) and followers-only: accepted, kept private.
    let followers = sink.url("/users/ursula/followers");
    for (n, text, to, cc) in [
        (
            1,
            "Geheimtipp Direktnachricht",
            json!([our_actor]),
            json!([]),
        ),
        (
            2,
            "Geheimtipp Nur-Folgende",
            json!([followers]),
            json!([our_actor]),
        ),
    ] {
        let (status, text) = post(&rathaus, &reply(n, text, to, cc), &signer).await;
        assert_eq!(status, 202, "{text}");
    }
    // Unlisted (public in cc) counts like public.
    let (status, text) = post(
        &rathaus,
        &reply(
            3,
            "Öffentlich nicht gelistet",
            json!([our_actor]),
            json!([PUBLIC]),
        ),
        &signer,
    )
    .await;
    assert_eq!(status, 202, "{text}");

    let listed = rathaus.command(&["comments", "list"]).expect("list");
    assert!(!listed.contains("Geheimtipp"), "{listed}");
    assert!(listed.contains("Öffentlich nicht gelistet"), "{listed}");
    let private = rathaus
        .command(&["comments", "list", "--status", "private"])
        .expect("list private");
    assert_eq!(private.matches("Geheimtipp").count(), 2, "{private}");
    for path in [
        "/announcements/1",
        "/statistics",
        "/moderation-log",
        "/announcements/1/comments.atom",
        "/open-data/1/comments.csv",
        "/open-data/1/consultation.json",
        "/open-data/1/moderation-log.csv",
    ] {
        let res = reqwest::get(rathaus.url(path)).await.expect("get");
        assert_eq!(res.status(), 200, "{path}");
        let body = res.text().await.expect("text");
        assert!(!body.contains("Geheimtipp"), "{path} shows a private reply");
    }
    // The author is told, in German and English, that only public replies count.
    eventually(WAIT, "the private-reply notice", || async {
        sink.received()
            .iter()
            .filter(|r| r.path == "/users/ursula/inbox")
            .filter(|r| {
                let body = String::from_utf8_lossy(&r.body);
                body.contains("nur öffentliche Antworten") && body.contains("Only public replies")
            })
            .count()
            .eq(&2)
            .then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let private_id = private
        .lines()
        .find(|l| l.contains("Direktnachricht"))
        .and_then(|l| l.split('\t').next())
        .expect("id")
        .to_owned();
    let err = rathaus
        .command(&["comments", "approve", &private_id])
        .expect_err("a private reply cannot be published");
    assert!(err.to_string().contains("private"), "{err}");

    // A moderator hides the public one; the author's edit does not bring it back.
    let public_id = listed
        .lines()
        .find(|l| l.contains("nicht gelistet"))
        .and_then(|l| l.split('\t').next())
        .expect("id")
        .to_owned();
    rathaus
        .command(&["comments", "hide", &public_id, "--reason", "Beleidigung"])
        .expect("hide");
    let update = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{ursula}/statuses/3#updates/1"), "type": "Update", "actor": ursula,
        "to": [our_actor], "cc": [PUBLIC],
        "object": {
            "id": format!("{ursula}/statuses/3"), "type": "Note", "attributedTo": ursula,
            "inReplyTo": note, "to": [our_actor], "cc": [PUBLIC],
            "content": "<p>Jetzt ganz freundlich</p>", "updated": "2026-12-03T12:00:00Z",
        },
    });
    let (status, text) = post(&rathaus, &update, &signer).await;
    assert_eq!(status, 202, "{text}");
    let hidden = rathaus
        .command(&["comments", "list", "--status", "hidden"])
        .expect("list hidden");
    assert!(hidden.contains("Jetzt ganz freundlich"), "{hidden}");
    assert!(
        !page(&rathaus, "/announcements/1")
            .await
            .contains("Jetzt ganz freundlich")
    );
    // The public log shows that it was edited, not what it says.
    let log = page(&rathaus, "/moderation-log").await;
    assert!(log.contains("bearbeitet"), "{log}");
    assert!(!log.contains("freundlich"));
}

#[tokio::test]
async fn an_erased_person_leaves_no_trace_in_pages_answers_or_open_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start().await.expect("sink");
    let (allow, peers) = allow_peers(&[sink.port]);
    let mut rathaus = Rathaus::start(dir.path(), &["serve"], &[(allow, &peers)]).expect("start");
    rathaus.wait_ready().await.expect("ready");
    rathaus
        .command(&[
            "announce",
            "--consultation",
            "--closes",
            "2099-12-31T18:00:00+01:00",
            "Wie soll der Platz aussehen?",
        ])
        .expect("announce");
    let note = rathaus.public("/announcements/1");
    let mut people = Vec::new();
    for name in ["annegret", "bertram"] {
        let (id, signer) = person(&sink, name);
        let create = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{id}/statuses/1/activity"), "type": "Create", "actor": id,
            "to": [PUBLIC],
            "object": {
                "id": format!("{id}/statuses/1"), "type": "Note", "attributedTo": id,
                "inReplyTo": note, "to": [PUBLIC],
                "content": format!("<p>Vorschlag von {name}: mehr Schatten</p>"),
            },
        });
        let (status, text) = post(&rathaus, &create, &signer).await;
        assert_eq!(status, 202, "{text}");
        people.push((name, id, signer));
    }
    rathaus
        .command(&["comments", "answer", "1", "Danke für den Vorschlag!"])
        .expect("answer");
    assert_eq!(
        reqwest::get(rathaus.url("/answers/1"))
            .await
            .expect("get")
            .status(),
        200
    );
    assert!(
        page(&rathaus, "/announcements/1")
            .await
            .contains("annegret Muster")
    );

    // Annegret's account is deleted: her server sends Delete{actor}.
    let (name, id, signer) = &people[0];
    let delete = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{id}#delete"), "type": "Delete", "actor": id, "object": id,
        "to": [PUBLIC],
    });
    let (status, text) = post(&rathaus, &delete, signer).await;
    assert_eq!(status, 202, "{text}");
    for path in [
        "/announcements/1",
        "/announcements/1/comments.atom",
        "/open-data/1/comments.csv",
        "/open-data/1/consultation.json",
        "/open-data/1/moderation-log.csv",
        "/moderation-log",
    ] {
        let body = page(&rathaus, path).await;
        assert!(!body.contains(name), "{path} still names {name}");
        assert!(!body.contains(id.as_str()), "{path} still links {id}");
    }
    // The answer that mentioned her is withdrawn, as is the activity that carried it.
    assert_eq!(
        reqwest::get(rathaus.url("/answers/1"))
            .await
            .expect("get")
            .status(),
        410
    );
    // Bertram is still there; a request by mail erases his one comment by id.
    assert!(
        page(&rathaus, "/announcements/1")
            .await
            .contains("bertram Muster")
    );
    let out = rathaus
        .command(&["erase", "--comment", "2"])
        .expect("erase");
    assert!(out.contains("comments erased: 1"), "{out}");
    assert!(!page(&rathaus, "/announcements/1").await.contains("bertram"));
    // Bad input: a clear error, nothing changed.
    let err = rathaus
        .command(&["erase", "--comment", "99"])
        .expect_err("unknown comment");
    assert!(err.to_string().contains("99"), "{err}");
    rathaus.command(&["erase"]).expect_err("whose data?");
}

#[tokio::test]
async fn blocks_from_the_command_line_cover_subdomains_and_stop_follows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start().await.expect("sink");
    let (allow, peers) = allow_peers(&[sink.port]);
    let mut rathaus = Rathaus::start(dir.path(), &["serve"], &[(allow, &peers)]).expect("start");
    rathaus.wait_ready().await.expect("ready");
    let csv = dir.path().join("blocks.csv");
    std::fs::write(
        &csv,
        "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n\
         spam.example,suspend,true,true,Spam,false\n\
         noise.example,noop,false,false,,false\n\
         localhost,suspend,false,false,Testnetz,false\n",
    )
    .expect("write");
    let out = rathaus
        .command(&["blocks", "import", csv.to_str().expect("path")])
        .expect("import");
    assert!(out.contains("domains blocked: 2"), "{out}");
    rathaus
        .command(&[
            "blocks",
            "add",
            "@troll:matrix.example",
            "--reason",
            "Trolling",
        ])
        .expect("add user");
    let list = rathaus.command(&["blocks", "list"]).expect("list");
    for line in [
        "domain\tspam.example\tSpam",
        "domain\tlocalhost",
        "user\t@troll:matrix.example\tTrolling",
    ] {
        assert!(list.contains(line), "{line} missing in {list}");
    }
    assert!(!list.contains("noise.example"), "{list}");
    let err = rathaus
        .command(&["blocks", "add", "not a target"])
        .expect_err("bad target");
    assert!(err.to_string().contains("neither a person"), "{err}");

    // The sink's host (localhost, any port) is blocked: its Follow is refused, nothing stored.
    let (id, signer) = person(&sink, "fritz");
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{id}#follow"), "type": "Follow", "actor": id,
        "object": rathaus.public("/users/rathaus"),
    });
    let (status, text) = post(&rathaus, &follow, &signer).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("blocked"), "{text}");
    let out = rathaus
        .command(&["blocks", "remove", "localhost"])
        .expect("remove");
    assert!(out.contains("unblocked"), "{out}");
    let (status, text) = post(&rathaus, &follow, &signer).await;
    assert_eq!(status, 202, "{text}");
}
