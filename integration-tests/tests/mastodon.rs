//! Real Mastodon payloads (fixtures in `fixtures/mastodon`, shaped after Mastodon's own
//! serializers) signed as Mastodon signs them and sent to a running Rathaus; and every kind
//! of bad inbox request, each refused with its 4xx and leaving nothing behind.

use std::time::{Duration, SystemTime};

use rathaus_federation::signatures::{self, Signer};
use rathaus_integration_tests::sink::Sink;
use rathaus_integration_tests::{Rathaus, allow_peers, eventually, mastodon_fixture};
use rathaus_shared::Store;
use rathaus_shared::entities::CommentStatus;
use rathaus_shared::store::actors;
use rathaus_shared::store::comments::{self, CommentFilter};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

struct World {
    _dir: tempfile::TempDir,
    rathaus: Rathaus,
    sink: Sink,
    ursula: Signer,
    store: Store,
}

fn fixture(name: &str, sink: &Sink, rathaus: &Rathaus) -> Value {
    let text = mastodon_fixture(name)
        .replace("https://social.example", &sink.url(""))
        .replace("https://rathaus.example", &rathaus.public(""));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// A Rathaus with one announcement (id 1) and a "Mastodon" host serving Ursula's actor.
async fn world() -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start().await.expect("sink");
    let (allow, peers) = allow_peers(&[sink.port]);
    let mut rathaus = Rathaus::start(
        dir.path(),
        &["serve"],
        &[
            ("RATHAUS_FEDERATION__MAX_INBOX_BYTES", "65536"),
            (allow, &peers),
        ],
    )
    .expect("start");
    rathaus.wait_ready().await.expect("ready");
    let out = rathaus
        .command(&[
            "announce",
            "--title",
            "Radweg Hauptstraße",
            "Wie soll der Radweg aussehen?",
        ])
        .expect("announce");
    assert!(out.starts_with("1\t"), "{out}");

    let keys = rathaus_shared::keys::generate_rsa_keypair().expect("keys");
    let mut actor = fixture("actor.json", &sink, &rathaus);
    actor["publicKey"]["publicKeyPem"] = Value::from(keys.public_pem.clone());
    sink.put_document("/users/ursula", actor);
    let ursula =
        Signer::from_pem(&sink.url("/users/ursula#main-key"), &keys.private_pem).expect("signer");
    let store = Store::connect(&rathaus.sqlite_url(), 1)
        .await
        .expect("store");
    World {
        _dir: dir,
        rathaus,
        sink,
        ursula,
        store,
    }
}

impl World {
    /// Sends `body` to our inbox at `path`, signed by `signer` at `date`.
    async fn post_raw(
        &self,
        path: &str,
        signed_body: &[u8],
        sent_body: &[u8],
        signer: &Signer,
        date: SystemTime,
    ) -> (u16, String) {
        let url = url::Url::parse(&self.rathaus.public(path)).expect("url");
        let headers = signer
            .sign("POST", &url, Some(signed_body), date)
            .expect("sign");
        let mut req = reqwest::Client::new().post(url).body(sent_body.to_vec());
        for (name, value) in headers {
            if name != "host" {
                req = req.header(name, value);
            }
        }
        let res = req.send().await.expect("send");
        (res.status().as_u16(), res.text().await.unwrap_or_default())
    }

    async fn post(&self, path: &str, activity: &Value) -> (u16, String) {
        let body = activity.to_string();
        self.post_raw(
            path,
            body.as_bytes(),
            body.as_bytes(),
            &self.ursula,
            SystemTime::now(),
        )
        .await
    }

    async fn count(&self, table: &str) -> i64 {
        let row = self
            .store
            .db()
            .query_one_raw(Statement::from_string(
                self.store.backend(),
                format!("SELECT count(*) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("row");
        row.try_get::<i64>("", "n").expect("n")
    }
}

#[tokio::test]
async fn mastodon_payloads_are_understood() {
    let w = world().await;
    let db = w.store.db();

    // Follow → follower stored, and a signed Accept reaches Ursula's inbox.
    let follow = fixture("follow.json", &w.sink, &w.rathaus);
    let (status, body) = w.post("/users/rathaus/inbox", &follow).await;
    assert_eq!(status, 202, "{body}\n{}", w.rathaus.log());
    assert_eq!(actors::count_followers(db).await.expect("count"), 1);
    let accept = eventually(WAIT, "the Accept", || async {
        w.sink
            .received()
            .into_iter()
            .find(|r| r.path == "/users/ursula/inbox")
    })
    .await
    .expect("accept delivered");
    let accept_json: Value = serde_json::from_slice(&accept.body).expect("json");
    assert_eq!(accept_json["type"], "Accept");
    assert_eq!(accept_json["object"]["id"], follow["id"]);
    // Its signature verifies with the key our actor document publishes.
    let actor: Value = reqwest::Client::new()
        .get(w.rathaus.public("/users/rathaus"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .expect("actor")
        .json()
        .await
        .expect("json");
    let headers = accept.headers.clone().into_iter().collect();
    signatures::begin_verify(
        "POST",
        "/users/ursula/inbox",
        &headers,
        Some(&accept.body),
        SystemTime::now(),
    )
    .expect("signature parses")
    .verify(actor["publicKey"]["publicKeyPem"].as_str().expect("pem"))
    .expect("Accept signature verifies");

    // Create{Note}: a public reply with a mention becomes a comment on announcement 1.
    let create = fixture("create_reply.json", &w.sink, &w.rathaus);
    let note_id = create["object"]["id"].as_str().expect("id").to_owned();
    let (status, body) = w.post("/inbox", &create).await;
    assert_eq!(status, 202, "{body}");
    let comment = comments::comment_by_origin(db, &note_id)
        .await
        .expect("query")
        .expect("stored");
    assert_eq!(comment.announcement_id, 1);
    assert_eq!(comment.author_name.as_deref(), Some("Ursula Beispiel"));
    assert_eq!(comment.language.as_deref(), Some("de"), "from contentMap");
    assert_eq!(comment.author_domain, format!("localhost:{}", w.sink.port));
    assert_eq!(comment.status, CommentStatus::Published);
    let text = comment.content.clone().expect("text");
    assert!(text.contains("Radweg an der Hauptstraße"), "{text}");
    assert!(!text.contains("class="), "sanitised: {text}");
    assert_eq!(comment.created_at.to_rfc3339(), "2024-11-10T04:33:31+00:00");

    // The same activity again (a redelivery) changes nothing.
    let (status, body) = w.post("/inbox", &create).await;
    assert_eq!((status, body.contains("duplicate")), (202, true), "{body}");
    // An unlisted reply is a comment too.
    let (status, _) = w
        .post(
            "/inbox",
            &fixture("create_reply_unlisted.json", &w.sink, &w.rathaus),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(
        comments::list_comments(db, &CommentFilter::default())
            .await
            .expect("list")
            .len(),
        2
    );

    // Update: the edit replaces the text.
    let (status, _) = w
        .post("/inbox", &fixture("update_reply.json", &w.sink, &w.rathaus))
        .await;
    assert_eq!(status, 202);
    let edited = comments::comment_by_origin(db, &note_id)
        .await
        .expect("q")
        .expect("row");
    assert_ne!(edited.content, comment.content);
    assert!(edited.content.is_some());

    // Delete: erased, only the fact remains.
    let (status, _) = w
        .post("/inbox", &fixture("delete_reply.json", &w.sink, &w.rathaus))
        .await;
    assert_eq!(status, 202);
    let erased = comments::comment_by_origin(db, &note_id)
        .await
        .expect("q")
        .expect("row kept");
    assert_eq!(
        (erased.content, erased.status),
        (None, CommentStatus::Deleted)
    );

    // Undo{Follow}.
    let (status, _) = w
        .post(
            "/users/rathaus/inbox",
            &fixture("undo_follow.json", &w.sink, &w.rathaus),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(actors::count_followers(db).await.expect("count"), 0);

    // Account deletion: the origin answers 410 for the actor now; our cached key still verifies.
    w.sink.remove_document("/users/ursula");
    let (status, body) = w
        .post("/inbox", &fixture("delete_actor.json", &w.sink, &w.rathaus))
        .await;
    assert_eq!(status, 202, "{body}");
    assert!(
        actors::remote_actor_by_ap_id(db, &w.sink.url("/users/ursula"))
            .await
            .expect("q")
            .is_none()
    );
}

#[tokio::test]
async fn bad_inbox_requests_are_refused_and_store_nothing() {
    let w = world().await;
    let create = fixture("create_reply.json", &w.sink, &w.rathaus);
    let body = create.to_string();
    let now = SystemTime::now();
    let other = rathaus_shared::keys::generate_rsa_keypair().expect("keys");
    let impostor = Signer::from_pem(&w.sink.url("/users/ursula#main-key"), &other.private_pem)
        .expect("signer");

    // Unsigned: 401 before anything else happens.
    let res = reqwest::Client::new()
        .post(w.rathaus.public("/inbox"))
        .header("content-type", "application/activity+json")
        .header("digest", signatures::digest_header(body.as_bytes()))
        .header("date", httpdate::fmt_http_date(now))
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 401);
    assert!(res.text().await.expect("text").contains("signature"));

    let mut tampered = create.clone();
    tampered["object"]["content"] = Value::from("<p>Gefälscht</p>");
    let tampered = tampered.to_string();
    let mut mismatch = create.clone();
    mismatch["actor"] = Value::from(w.sink.url("/users/mallory"));
    let mismatch = mismatch.to_string();
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let oversized = format!("{{\"id\":\"x\",\"pad\":\"{}\"}}", "x".repeat(100_000));
    let hour = Duration::from_secs(3600);

    /// What, body signed, body sent, signer, Date, expected status, word in the reason.
    type Case<'a> = (
        &'a str,
        &'a [u8],
        &'a [u8],
        &'a Signer,
        SystemTime,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "wrong key",
            body.as_bytes(),
            body.as_bytes(),
            &impostor,
            now,
            401,
            "does not verify",
        ),
        (
            "tampered body",
            body.as_bytes(),
            tampered.as_bytes(),
            &w.ursula,
            now,
            401,
            "Digest",
        ),
        (
            "expired date",
            body.as_bytes(),
            body.as_bytes(),
            &w.ursula,
            now - 14 * hour,
            401,
            "window",
        ),
        (
            "future date",
            body.as_bytes(),
            body.as_bytes(),
            &w.ursula,
            now + 2 * hour,
            401,
            "window",
        ),
        (
            "oversized",
            oversized.as_bytes(),
            oversized.as_bytes(),
            &w.ursula,
            now,
            413,
            "larger than",
        ),
        (
            "malformed JSON",
            b"{\"type\": \"Create\",",
            b"{\"type\": \"Create\",",
            &w.ursula,
            now,
            400,
            "not JSON",
        ),
        (
            "deep JSON",
            deep.as_bytes(),
            deep.as_bytes(),
            &w.ursula,
            now,
            400,
            "deeper",
        ),
        (
            "actor is not the signer",
            mismatch.as_bytes(),
            mismatch.as_bytes(),
            &w.ursula,
            now,
            403,
            "owner of key",
        ),
    ];
    for (what, signed, sent, signer, date, want, reason) in cases {
        let (status, text) = w.post_raw("/inbox", signed, sent, signer, date).await;
        assert_eq!(status, want, "{what}: {text}");
        assert!(
            text.contains(reason),
            "{what}: expected a reason with `{reason}`, got {text}"
        );
    }

    assert_eq!(w.count("comment").await, 0, "no comment may be stored");
    assert_eq!(
        w.count("inbound_activity").await,
        0,
        "no activity may be recorded"
    );
    assert_eq!(w.count("follower").await, 0);
    // The server is fine afterwards: the genuine activity is accepted.
    let (status, text) = w.post("/inbox", &create).await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(w.count("comment").await, 1);
}

/// A Mastodon reply by Ursula with status number `n`, changed by `edit`.
fn variant(w: &World, kind: &str, n: u64, edit: impl FnOnce(&mut Value)) -> Value {
    let name = match kind {
        "Create" => "create_reply.json",
        _ => "update_reply.json",
    };
    let text = mastodon_fixture(name)
        .replace("https://social.example", &w.sink.url(""))
        .replace("https://rathaus.example", &w.rathaus.public(""))
        .replace("113456789012345678", &n.to_string());
    let mut activity: Value = serde_json::from_str(&text).expect("fixture is JSON");
    edit(&mut activity["object"]);
    activity
}

#[tokio::test]
async fn content_shapes_warnings_and_hollow_replies() {
    let w = world().await;
    let db = w.store.db();
    let stored = |n: u64| {
        let id = w.sink.url(&format!("/users/ursula/statuses/{n}"));
        async move { comments::comment_by_origin(db, &id).await.expect("query") }
    };

    // Only `contentMap`, in two languages: the site's language (German) is read.
    let map_only = variant(&w, "Create", 1, |o| {
        o.as_object_mut().expect("object").remove("content");
        o["contentMap"] = serde_json::json!({
            "en": "<p>More trees on the market square</p>",
            "de": "<p>Mehr Bäume auf dem Marktplatz</p>",
        });
    });
    let (status, body) = w.post("/inbox", &map_only).await;
    assert_eq!(status, 202, "{body}");
    let c = stored(1).await.expect("stored");
    assert_eq!(
        c.content.as_deref(),
        Some("<p>Mehr Bäume auf dem Marktplatz</p>")
    );
    assert_eq!(c.language.as_deref(), Some("de"));

    // A content warning and the sensitive flag are kept.
    let warned = variant(&w, "Create", 2, |o| {
        o["summary"] = Value::from("Politik <b>&amp;</b> Wahl");
        o["sensitive"] = Value::from(true);
        o["content"] = Value::from("<p>Bitte keine Wahlplakate am Radweg.</p>");
        o["contentMap"] = serde_json::json!({"de": "<p>Bitte keine Wahlplakate am Radweg.</p>"});
    });
    let (status, body) = w.post("/inbox", &warned).await;
    assert_eq!(status, 202, "{body}");
    let c = stored(2).await.expect("stored");
    assert_eq!(
        (c.content_warning.as_deref(), c.sensitive),
        (Some("Politik & Wahl"), true)
    );

    // Links that are no http(s) URLs lose their target, keep their text; so does `url`.
    let links = variant(&w, "Create", 3, |o| {
        let html = "<div>Siehe <a href=\"javascript:alert(1)\">hier</a></div><div>und \
                    <a href=\"/relativ\">da</a> <a href=\"data:text/html,x\">dort</a></div>";
        o["content"] = Value::from(html);
        o["contentMap"] = serde_json::json!({ "de": html });
        o["url"] = Value::from("javascript:alert(1)");
    });
    let (status, body) = w.post("/inbox", &links).await;
    assert_eq!(status, 202, "{body}");
    let c = stored(3).await.expect("stored");
    assert_eq!(
        c.content.as_deref(),
        Some("<p>Siehe hier</p><p>und da dort</p>")
    );
    assert_eq!(c.origin_url, None, "a javascript: url is no original");

    // Hollow replies: 422 with the reason, nothing stored, the activity not marked as handled.
    let comments_before = w.count("comment").await;
    let handled_before = w.count("inbound_activity").await;
    let mention = format!(
        "<p><span class=\"h-card\" translate=\"no\"><a href=\"{}\" class=\"u-url mention\">@<span>rathaus</span></a></span> </p>",
        w.rathaus.public("/@rathaus")
    );
    let hollow = [
        "<p></p>".to_owned(),
        "<p>&nbsp;</p><p><br></p>".to_owned(),
        "<p>\u{200B}\u{FEFF}\u{3000}</p>".to_owned(),
        mention,
    ];
    for (n, html) in (10..).zip(&hollow) {
        let create = variant(&w, "Create", n, |o| {
            o["content"] = Value::from(html.as_str());
            o["contentMap"] = serde_json::json!({ "de": html });
            o["attachment"] = serde_json::json!([{
                "type": "Document", "mediaType": "image/png",
                "url": w.sink.url("/media/radweg.png"), "name": null,
            }]);
        });
        let (status, body) = w.post("/inbox", &create).await;
        assert_eq!(status, 422, "{html}: {body}");
        assert!(body.contains("keinen lesbaren Text"), "{body}");
        assert!(stored(n).await.is_none(), "{html}");
    }
    assert_eq!(w.count("comment").await, comments_before);
    assert_eq!(w.count("inbound_activity").await, handled_before);

    // An edit: the warning changes; an edit to nothing is refused and changes nothing.
    let edit = variant(&w, "Update", 2, |o| {
        o["summary"] = Value::from("Wahlkampf");
        o["sensitive"] = Value::from(true);
        o["content"] = Value::from("<p>Bitte keine Wahlplakate am Radweg, danke.</p>");
        o["contentMap"] =
            serde_json::json!({"de": "<p>Bitte keine Wahlplakate am Radweg, danke.</p>"});
    });
    let (status, body) = w.post("/inbox", &edit).await;
    assert_eq!(status, 202, "{body}");
    let c = stored(2).await.expect("stored");
    assert_eq!(c.content_warning.as_deref(), Some("Wahlkampf"));
    let mut empty = variant(&w, "Update", 2, |o| {
        o["content"] = Value::from("<p> </p>");
        o["contentMap"] = serde_json::json!({"de": "<p> </p>"});
    });
    empty["id"] = Value::from(format!(
        "{}#updates/2",
        w.sink.url("/users/ursula/statuses/2")
    ));
    let (status, body) = w.post("/inbox", &empty).await;
    assert_eq!(status, 422, "{body}");
    let after = stored(2).await.expect("stored");
    assert_eq!(after.content, c.content, "the empty edit changed nothing");
}
