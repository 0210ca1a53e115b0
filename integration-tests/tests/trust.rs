//! Federation trust, tried against the running binary as an attacker would: keys that are
//! not the actor's, signatures made for other servers, fetches on a stranger's behalf, delete
//! storms, private addresses and oversized or mislabelled requests. Every refusal is a 4xx
//! with a reason and leaves the store as it was.

use std::time::{Duration, SystemTime};

use rathaus_federation::signatures::{self, Signer};
use rathaus_integration_tests::sink::Sink;
use rathaus_integration_tests::{Rathaus, allow_peers, eventually, free_port};
use rathaus_shared::Store;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

struct World {
    _dir: tempfile::TempDir,
    rathaus: Rathaus,
    /// A fediverse server Rathaus may reach (named in `allowed_private_hosts`).
    sink: Sink,
    /// Another loopback server, which Rathaus must never reach.
    forbidden: Sink,
    store: Store,
}

/// A remote person with a key pair.
struct Person {
    id: String,
    signer: Signer,
    public_pem: String,
}

fn actor_doc(id: &str, key_id: &str, pem: &str, inbox: &str) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id, "type": "Person", "preferredUsername": id.rsplit('/').next(),
        "inbox": inbox,
        "publicKey": { "id": key_id, "owner": id, "publicKeyPem": pem },
    })
}

async fn world() -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start().await.expect("sink");
    let forbidden = Sink::start().await.expect("sink");
    let (allow, peers) = allow_peers(&[sink.port]);
    let mut rathaus = Rathaus::start(dir.path(), &["serve"], &[(allow, &peers)]).expect("start");
    rathaus.wait_ready().await.expect("ready");
    let out = rathaus
        .command(&[
            "announce",
            "--title",
            "Radweg",
            "Wie soll der Radweg aussehen?",
        ])
        .expect("announce");
    assert!(out.starts_with("1\t"), "{out}");
    let store = Store::connect(&rathaus.sqlite_url(), 1)
        .await
        .expect("store");
    World {
        _dir: dir,
        rathaus,
        sink,
        forbidden,
        store,
    }
}

impl World {
    /// A person served by the sink at `/users/{name}` with key `#main-key`.
    fn person(&self, name: &str) -> Person {
        let id = self.sink.url(&format!("/users/{name}"));
        let key_id = format!("{id}#main-key");
        let person = self.keyed(&id, &key_id);
        self.sink.put_document(
            &format!("/users/{name}"),
            actor_doc(&id, &key_id, &person.public_pem, &format!("{id}/inbox")),
        );
        person
    }

    /// Someone claiming to be `id`, signing with a fresh key named `key_id` (served nowhere).
    fn keyed(&self, id: &str, key_id: &str) -> Person {
        let keys = rathaus_shared::keys::generate_rsa_keypair().expect("keys");
        Person {
            id: id.to_owned(),
            signer: Signer::from_pem(key_id, &keys.private_pem).expect("signer"),
            public_pem: keys.public_pem,
        }
    }

    fn reply(&self, by: &str, n: u32, text: &str) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{by}/statuses/{n}/activity"), "type": "Create", "actor": by,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "object": {
                "id": format!("{by}/statuses/{n}"), "type": "Note", "attributedTo": by,
                "inReplyTo": self.rathaus.public("/announcements/1"),
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "content": format!("<p>{text}</p>"),
            },
        })
    }

    /// POSTs `body` to our `path`, signed by `signer` for `signed_url` with these headers.
    async fn send(&self, path: &str, body: &[u8], headers: Vec<(String, String)>) -> (u16, String) {
        let mut req = reqwest::Client::new()
            .post(self.rathaus.public(path))
            .body(body.to_vec());
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let res = req.send().await.expect("send");
        (res.status().as_u16(), res.text().await.unwrap_or_default())
    }

    /// Signed as a Mastodon server signs, for our host and `path`.
    async fn post(&self, path: &str, activity: &Value, signer: &Signer) -> (u16, String) {
        let url = url::Url::parse(&self.rathaus.public(path)).expect("url");
        let body = activity.to_string();
        let headers = signer
            .sign("POST", &url, Some(body.as_bytes()), SystemTime::now())
            .expect("sign")
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        self.send(path, body.as_bytes(), headers).await
    }

    async fn count(&self, sql: &str) -> i64 {
        let row = self
            .store
            .db()
            .query_one_raw(Statement::from_string(
                self.store.backend(),
                format!("SELECT count(*) AS n FROM {sql}"),
            ))
            .await
            .expect("count")
            .expect("row");
        row.try_get::<i64>("", "n").expect("n")
    }

    async fn execute(&self, sql: &str) {
        self.store
            .db()
            .execute_unprepared(sql)
            .await
            .expect("execute");
    }
}

fn refused(what: &str, (status, text): (u16, String), want: u16, reason: &str) {
    assert_eq!(status, want, "{what}: {text}");
    assert!(
        text.contains(reason),
        "{what}: expected `{reason}` in {text}"
    );
}

#[tokio::test]
async fn a_key_counts_only_if_the_actors_own_document_lists_it() {
    let w = world().await;
    let ursula = w.person("ursula");
    let mallory = w.keyed(&ursula.id, "unused");

    let signed_as = |key: &str| {
        let keys = rathaus_shared::keys::generate_rsa_keypair().expect("keys");
        (
            Signer::from_pem(key, &keys.private_pem).expect("signer"),
            keys.public_pem,
        )
    };
    // An "avatar" uploaded to the shared host, shaped as an actor with the uploader's key,
    // served as something other than ActivityPub JSON.
    for (n, content_type) in ["application/json", "text/plain", "application/ld+json"]
        .into_iter()
        .enumerate()
    {
        let path = format!("/media/avatar{n}.json");
        let upload_id = w.sink.url(&path);
        let upload_key = format!("{upload_id}#main-key");
        let (signer, pem) = signed_as(&upload_key);
        let doc = actor_doc(&upload_id, &upload_key, &pem, &w.sink.url("/media/inbox"));
        w.sink.put_raw(&path, content_type, doc.to_string());
        refused(
            content_type,
            w.post("/inbox", &w.reply(&upload_id, 1, "Hallo"), &signer)
                .await,
            401,
            "cannot verify the sender",
        );
        assert_eq!(w.sink.gets(&path), 1);
    }

    // A document on the victim's host that claims to be Ursula and carries the attacker's
    // key: fetched from another URL than its id, it is refetched from that id, which does
    // not list the key.
    let evil_key = w.sink.url("/media/evil.json#main-key");
    let (evil_signer, evil_pem) = signed_as(&evil_key);
    let mut evil = actor_doc(&ursula.id, &evil_key, &evil_pem, &ursula.id);
    evil["inbox"] = json!(w.sink.url("/media/inbox"));
    w.sink.put_document("/media/evil.json", evil);
    refused(
        "a document claiming another id",
        w.post("/inbox", &w.reply(&ursula.id, 2, "Gefälscht"), &evil_signer)
            .await,
        401,
        "cannot verify the sender",
    );
    // A key document naming Ursula as owner, which Ursula does not list.
    let (key_signer, key_pem) = signed_as(&w.sink.url("/keys/1"));
    w.sink.put_document(
        "/keys/1",
        json!({"id": w.sink.url("/keys/1"), "type": "CryptographicKey",
               "owner": ursula.id, "publicKeyPem": key_pem}),
    );
    refused(
        "a key whose owner does not list it",
        w.post("/inbox", &w.reply(&ursula.id, 3, "Gefälscht"), &key_signer)
            .await,
        401,
        "cannot verify the sender",
    );
    assert_eq!(w.count("comment").await, 0);
    assert_eq!(w.count("remote_actor").await, 0);

    // Ursula herself is believed; her key is stored under its key id.
    let (status, text) = w
        .post("/inbox", &w.reply(&ursula.id, 4, "Echt"), &ursula.signer)
        .await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(w.count("comment").await, 1);
    // An Update of her actor that embeds another key and inbox changes neither: only her
    // own document, fetched from her id, speaks for them.
    let mut update_doc = actor_doc(
        &ursula.id,
        &format!("{}#main-key", ursula.id),
        &mallory.public_pem,
        &w.sink.url("/media/inbox"),
    );
    update_doc["name"] = json!("Ursula U.");
    let update = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}#updates/1", ursula.id), "type": "Update", "actor": ursula.id,
        "object": update_doc,
    });
    let (status, text) = w.post("/inbox", &update, &ursula.signer).await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(
        w.count(&format!(
            "remote_actor WHERE ap_id = '{}' AND inbox = '{}/inbox' AND public_key_pem = '{}'",
            ursula.id, ursula.id, ursula.public_pem
        ))
        .await,
        1,
        "the stored key and inbox are still Ursula's"
    );
    let (status, _) = w
        .post(
            "/inbox",
            &w.reply(&ursula.id, 5, "Doch gefälscht"),
            &Signer::from_pem(
                &format!("{}#main-key", ursula.id),
                &rathaus_shared::keys::generate_rsa_keypair()
                    .expect("keys")
                    .private_pem,
            )
            .expect("signer"),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(w.count("comment").await, 1);

    // GoToSocial's shape: a key id without a fragment, whose URL serves a stub of the actor
    // under the actor's id. Believed, and cached by the key id: one fetch of each URL.
    let gts_id = w.sink.url("/users/gts");
    let gts_key = format!("{gts_id}/main-key");
    let (gts_signer, gts_pem) = signed_as(&gts_key);
    let gts_doc = actor_doc(&gts_id, &gts_key, &gts_pem, &format!("{gts_id}/inbox"));
    w.sink.put_document("/users/gts", gts_doc.clone());
    w.sink.put_document("/users/gts/main-key", gts_doc);
    for n in 1..=3 {
        let (status, text) = w
            .post(
                "/inbox",
                &w.reply(&gts_id, n, &format!("GTS {n}")),
                &gts_signer,
            )
            .await;
        assert_eq!(status, 202, "GoToSocial reply {n}: {text}");
    }
    assert_eq!(w.sink.gets("/users/gts/main-key"), 1);
    assert_eq!(w.sink.gets("/users/gts"), 1);
    // A key served as a document of its own, which its owner lists.
    let kd_id = w.sink.url("/users/kd");
    let kd_key = w.sink.url("/keys/kd");
    let (kd_signer, kd_pem) = signed_as(&kd_key);
    w.sink.put_document(
        "/users/kd",
        actor_doc(&kd_id, &kd_key, &kd_pem, &format!("{kd_id}/inbox")),
    );
    w.sink.put_document(
        "/keys/kd",
        json!({"id": kd_key, "type": "CryptographicKey", "owner": kd_id, "publicKeyPem": kd_pem}),
    );
    let (status, text) = w
        .post("/inbox", &w.reply(&kd_id, 1, "Schlüssel"), &kd_signer)
        .await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(w.count("comment").await, 5);
}

#[tokio::test]
async fn a_signature_is_good_only_for_the_request_it_was_made_for() {
    let w = world().await;
    let ursula = w.person("ursula");
    let reply = w.reply(&ursula.id, 1, "Hallo");
    let body = reply.to_string();
    let now = SystemTime::now();

    // Made for another server (or for our address under another name), replayed to us.
    for other in [
        "https://other.example/inbox".to_owned(),
        w.rathaus.url("/inbox"),
    ] {
        let url = url::Url::parse(&other).expect("url");
        let headers = ursula
            .signer
            .sign("POST", &url, Some(body.as_bytes()), now)
            .expect("sign")
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        refused(
            &other,
            w.send("/inbox", body.as_bytes(), headers).await,
            401,
            "was made for host",
        );
    }
    // Made for our actor's inbox, sent to the shared inbox.
    let url = url::Url::parse(&w.rathaus.public("/users/rathaus/inbox")).expect("url");
    let headers: Vec<(String, String)> = ursula
        .signer
        .sign("POST", &url, Some(body.as_bytes()), now)
        .expect("sign")
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    refused(
        "another path",
        w.send("/inbox", body.as_bytes(), headers).await,
        401,
        "does not verify",
    );
    // An inbox that does not exist.
    refused(
        "unknown actor's inbox",
        w.post("/users/nobody/inbox", &reply, &ursula.signer).await,
        404,
        "nobody",
    );
    assert_eq!(w.count("comment").await, 0);
    assert_eq!(w.count("inbound_activity").await, 0);

    // Media types: ActivityPub JSON or plain JSON only.
    let host = w
        .rathaus
        .public("")
        .trim_start_matches("http://")
        .to_owned();
    let signed_with = |digest: String, content_type: Option<&str>| {
        let mut headers: Vec<(&'static str, String)> = vec![
            ("host", host.clone()),
            ("date", httpdate::fmt_http_date(SystemTime::now())),
            ("digest", digest),
        ];
        if let Some(t) = content_type {
            headers.push(("content-type", t.to_owned()));
        }
        let signature = ursula
            .signer
            .signature_header("POST", "/inbox", &headers)
            .expect("sign");
        headers.push(("signature", signature));
        headers
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<Vec<_>>()
    };
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        refused(
            &format!("{content_type:?}"),
            w.send(
                "/inbox",
                body.as_bytes(),
                signed_with(signatures::digest_header(body.as_bytes()), content_type),
            )
            .await,
            415,
            "application/activity+json",
        );
    }
    assert_eq!(w.count("comment").await, 0);
    // A SHA-512 digest alone is verified, and plain JSON is fine.
    let (status, text) = w
        .send(
            "/inbox",
            body.as_bytes(),
            signed_with(
                signatures::digest_header_sha512(body.as_bytes()),
                Some("application/json"),
            ),
        )
        .await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(w.count("comment").await, 1);
    let tampered = w.reply(&ursula.id, 2, "Anders").to_string();
    refused(
        "SHA-512 of another body",
        w.send(
            "/inbox",
            tampered.as_bytes(),
            signed_with(
                signatures::digest_header_sha512(body.as_bytes()),
                Some("application/activity+json"),
            ),
        )
        .await,
        401,
        "Digest",
    );

    // Oversized headers: 431 before any work, on the inbox and on pages alike.
    let big = "x".repeat(9 * 1024);
    let many: Vec<(String, String)> = (0..10)
        .map(|i| (format!("x-pad-{i}"), "y".repeat(7 * 1024)))
        .collect();
    for path in ["/inbox", "/"] {
        let res = reqwest::Client::new()
            .post(w.rathaus.public(path))
            .header("x-big", &big)
            .body("{}")
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 431, "{path}");
        let mut req = reqwest::Client::new().get(w.rathaus.public(path));
        for (k, v) in &many {
            req = req.header(k, v);
        }
        let res = req.send().await.expect("send");
        assert_eq!(res.status(), 431, "{path}");
        assert!(res.text().await.expect("text").contains("together"));
    }
    assert_eq!(w.count("comment").await, 1);
}

#[tokio::test]
async fn fetching_on_behalf_of_strangers_is_bounded_and_tells_nothing() {
    let w = world().await;
    // A key whose document is gone: however often it is tried, one fetch a minute.
    let ghost = w.keyed(
        &w.sink.url("/users/ghost"),
        &w.sink.url("/users/ghost#main-key"),
    );
    let mut answers = Vec::new();
    for n in 0..5 {
        let (status, text) = w
            .post("/inbox", &w.reply(&ghost.id, n, "Buh"), &ghost.signer)
            .await;
        assert_eq!(status, 401, "{text}");
        answers.push(text);
    }
    assert_eq!(w.sink.gets("/users/ghost"), 1);

    // Unreachable, forbidden and missing documents all get the same answer: no port scans.
    let closed = free_port();
    for key in [
        format!("http://localhost:{closed}/users/x#main-key"),
        w.forbidden.url("/users/x#main-key"),
        format!("http://127.0.0.1:{}/users/x#main-key", w.sink.port),
        format!("http://10.255.255.1:{}/users/x#main-key", w.sink.port),
        w.sink.url("/users/missing#main-key"),
    ] {
        let actor = key.trim_end_matches("#main-key").to_owned();
        let stranger = w.keyed(&actor, &key);
        let (status, text) = w
            .post("/inbox", &w.reply(&actor, 1, "Hallo"), &stranger.signer)
            .await;
        assert_eq!(status, 401, "{key}: {text}");
        assert_eq!(text, answers[0], "{key}: the answer must not tell why");
    }
    assert_eq!(w.forbidden.all_gets(), 0, "a forbidden host was fetched");

    // Bad signatures under a known actor's key id, even with an old stored copy: no refetch
    // within the minute after the last fetch of that key.
    let ursula = w.person("ursula");
    let (status, text) = w
        .post("/inbox", &w.reply(&ursula.id, 1, "Echt"), &ursula.signer)
        .await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(w.sink.gets("/users/ursula"), 1);
    w.execute("UPDATE remote_actor SET fetched_at = '2020-01-01T00:00:00+00:00'")
        .await;
    let impostor = w.keyed(&ursula.id, &format!("{}#main-key", ursula.id));
    for n in 2..8 {
        let (status, _) = w
            .post(
                "/inbox",
                &w.reply(&ursula.id, n, "Falsch"),
                &impostor.signer,
            )
            .await;
        assert_eq!(status, 401);
    }
    assert_eq!(w.sink.gets("/users/ursula"), 1);
    assert_eq!(w.count("comment").await, 1);

    // No delivery to a private address that is not allowed: a follower whose inbox is on
    // the forbidden host gets nothing, one on the allowed host gets the announcement.
    let nosy_id = w.sink.url("/users/nosy");
    let nosy = w.keyed(&nosy_id, &format!("{nosy_id}#main-key"));
    w.sink.put_document(
        "/users/nosy",
        actor_doc(
            &nosy_id,
            &format!("{nosy_id}#main-key"),
            &nosy.public_pem,
            &w.forbidden.url("/inbox"),
        ),
    );
    for (who, n) in [(&nosy, 1), (&ursula, 2)] {
        let follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}#follows/{n}", who.id), "type": "Follow", "actor": who.id,
            "object": w.rathaus.public("/users/rathaus"),
        });
        let (status, text) = w.post("/inbox", &follow, &who.signer).await;
        assert_eq!(status, 202, "{text}");
    }
    w.rathaus
        .command(&["announce", "Zweite Bekanntmachung"])
        .expect("announce");
    eventually(WAIT, "ursula's server to get the announcement", || async {
        w.sink
            .received()
            .iter()
            .any(|r| {
                r.path == "/users/ursula/inbox"
                    && String::from_utf8_lossy(&r.body).contains("Zweite Bekanntmachung")
            })
            .then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", w.rathaus.log()));
    assert!(
        w.forbidden.received().is_empty(),
        "delivered to a forbidden host"
    );
}

#[tokio::test]
async fn deletes_about_strangers_cost_nothing_and_a_gone_actor_can_still_leave() {
    let w = world().await;
    for n in 0..20 {
        let id = w.sink.url(&format!("/users/stranger{n}"));
        let stranger = w.keyed(&id, &format!("{id}#main-key"));
        let object = if n % 2 == 0 {
            json!(id)
        } else {
            json!({"id": format!("{id}/statuses/1"), "type": "Tombstone"})
        };
        let delete = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{id}#delete"), "type": "Delete", "actor": id, "object": object,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
        });
        let (status, text) = w.post("/inbox", &delete, &stranger.signer).await;
        assert_eq!(status, 202, "{text}");
    }
    assert_eq!(w.sink.all_gets(), 0, "a delete storm made us fetch");

    // Ursula is known (she commented); her account is deleted and her document answers 410.
    let ursula = w.person("ursula");
    let (status, text) = w
        .post(
            "/inbox",
            &w.reply(&ursula.id, 1, "Bis bald"),
            &ursula.signer,
        )
        .await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(w.count("comment").await, 1);
    w.sink.remove_document("/users/ursula");
    let delete = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}#delete", ursula.id), "type": "Delete", "actor": ursula.id,
        "object": ursula.id, "to": ["https://www.w3.org/ns/activitystreams#Public"],
    });
    // Not with another key...
    let impostor = w.keyed(&ursula.id, &format!("{}#main-key", ursula.id));
    let (status, _) = w.post("/inbox", &delete, &impostor.signer).await;
    assert_eq!(status, 401);
    assert_eq!(w.count("remote_actor").await, 1);
    // ...but with the one we stored.
    let (status, text) = w.post("/inbox", &delete, &ursula.signer).await;
    assert_eq!(status, 202, "{text}");
    assert!(text.contains("forgotten"), "{text}");
    assert_eq!(w.count("remote_actor").await, 0);
}
