//! The public face as the public and journalists meet it: pages in headless Chromium with an
//! axe-core WCAG 2.1 A/AA check and a screenshot, hostile remote content inert on every page
//! and feed, the language switch, a consultation result reaching a follower, and the Open
//! Data export read back with a real CSV reader against its CSV-on-the-Web metadata.

use std::collections::HashMap;
use std::time::Duration;

use rathaus_federation::signatures::Signer;
use rathaus_integration_tests::browser::{self, PageCheck};
use rathaus_integration_tests::sink::Sink;
use rathaus_integration_tests::{Rathaus, allow_peers, eventually, mastodon_fixture, post_signed};
use rathaus_shared::Store;
use rathaus_shared::entities::CommentStatus;
use rathaus_shared::store::comments;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

/// A display name and a comment that try every trick.
const EVIL_NAME: &str =
    "Mallory<script>window.__xss='name'</script><img src=x onerror=\"window.__xss='img'\">";
const EVIL_CONTENT: &str = "<p>Radweg: <script>window.__xss='content'</script>\
    <img src=x onerror=\"window.__xss='onerror'\"> <a href=\"javascript:window.__xss='link'\">klick</a> \
    <a href=\"https://example.org/plan\" onclick=\"window.__xss='onclick'\" style=\"color:red\">Plan</a> \
    <svg onload=\"window.__xss='svg'\"></svg><iframe src=\"javascript:window.__xss='iframe'\"></iframe></p>";
const ERASED_TEXT: &str = "Bitte-loeschen-7f3a geheime Notiz";

/// A Mastodon-shaped remote person served by the sink, with a key to sign as them.
struct Person {
    actor: String,
    signer: Signer,
}

fn person(sink: &Sink, rathaus: &Rathaus, user: &str, display: &str) -> Person {
    let keys = rathaus_shared::keys::generate_rsa_keypair().expect("keys");
    let text = mastodon_fixture("actor.json")
        .replace("https://social.example", &sink.url(""))
        .replace("https://rathaus.example", &rathaus.public(""))
        .replace("ursula", user);
    let mut doc: Value = serde_json::from_str(&text).expect("actor json");
    doc["name"] = Value::from(display);
    doc["publicKey"]["publicKeyPem"] = Value::from(keys.public_pem.clone());
    sink.put_document(&format!("/users/{user}"), doc);
    Person {
        actor: sink.url(&format!("/users/{user}")),
        signer: Signer::from_pem(
            &sink.url(&format!("/users/{user}#main-key")),
            &keys.private_pem,
        )
        .expect("signer"),
    }
}

/// A Mastodon reply to announcement 1 by `user`, with status number `n`.
fn reply(sink: &Sink, rathaus: &Rathaus, user: &str, n: u64, content: &str) -> Value {
    let text = mastodon_fixture("create_reply.json")
        .replace("https://social.example", &sink.url(""))
        .replace("https://rathaus.example", &rathaus.public(""))
        .replace("ursula", user)
        .replace("113456789012345678", &n.to_string());
    let mut create: Value = serde_json::from_str(&text).expect("create json");
    // Written now, while the consultation is open.
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    create["published"] = Value::from(now.clone());
    create["object"]["published"] = Value::from(now);
    create["object"]["content"] = Value::from(content);
    create["object"]["contentMap"]["de"] = Value::from(content);
    create
}

async fn get(url: &str, headers: &[(&str, &str)]) -> (u16, HashMap<String, String>, String) {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("get");
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    (status, headers, res.text().await.expect("body"))
}

#[tokio::test]
async fn public_pages_feeds_and_open_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start().await.expect("sink");
    let (allow, peers) = allow_peers(&[sink.port]);
    let mut rathaus = Rathaus::start(
        dir.path(),
        &["serve"],
        &[
            (allow, &peers),
            ("RATHAUS_SITE__NAME", "Stadt Musterstadt"),
            (
                "RATHAUS_SITE__ACCESSIBILITY_CONTACT",
                "barrierefrei@musterstadt.example",
            ),
            (
                "RATHAUS_SITE__POLITICAL_GEOCODING_URI",
                "http://dcat-ap.de/def/politicalGeocoding/municipalityKey/09162000",
            ),
            (
                "RATHAUS_ACTOR__IMPRINT_URL",
                "https://musterstadt.example/impressum",
            ),
            (
                "RATHAUS_ACTOR__PRIVACY_URL",
                "https://musterstadt.example/datenschutz",
            ),
        ],
    )
    .expect("start");
    rathaus.wait_ready().await.expect("ready");
    let out = rathaus
        .command(&[
            "announce",
            "--title",
            "Radweg Hauptstraße",
            "--consultation",
            "--closes",
            "2099-12-31T18:00:00+01:00",
            "Wie soll der **Radweg** an der Hauptstraße aussehen?",
        ])
        .expect("announce");
    assert!(out.starts_with("1\t"), "{out}");
    rathaus
        .command(&["announce", "Das Bürgerbüro ist am Freitag geschlossen."])
        .expect("announce 2");

    let ursula = person(&sink, &rathaus, "ursula", "Ursula Beispiel");
    let mallory = person(&sink, &rathaus, "mallory", EVIL_NAME);
    let erin = person(&sink, &rathaus, "erin", "Erin Löschmich");
    let frank = person(&sink, &rathaus, "frank", "Frank Formel");
    let inbox = rathaus.public("/inbox");
    let store = Store::connect(&rathaus.sqlite_url(), 1)
        .await
        .expect("store");
    let db = store.db();

    // Ursula follows, so she receives the result later.
    let follow: Value = serde_json::from_str(
        &mastodon_fixture("follow.json")
            .replace("https://social.example", &sink.url(""))
            .replace("https://rathaus.example", &rathaus.public("")),
    )
    .expect("follow");
    let (status, body) = post_signed(
        &rathaus.public("/users/rathaus/inbox"),
        &follow,
        &ursula.signer,
    )
    .await
    .expect("follow");
    assert_eq!(status, 202, "{body}");

    // Four replies: a fair one, a hostile one, one its author deletes again, and one behind a
    // content warning whose text a spreadsheet would run as a formula.
    let fair = "<p>Bitte eine sichere Querung an der Schulstraße einplanen.</p>";
    let mut ids = Vec::new();
    for (who, n, content) in [
        (&ursula, 101, fair),
        (&mallory, 102, EVIL_CONTENT),
        (&erin, 103, &format!("<p>{ERASED_TEXT}</p>")[..]),
        (&frank, 104, "<p>=1+1 Baulärm ab sechs Uhr</p>"),
    ] {
        let user = who.actor.rsplit('/').next().expect("user").to_owned();
        let mut create = reply(&sink, &rathaus, &user, n, content);
        if n == 104 {
            create["object"]["summary"] = Value::from("Lärm <script>window.__xss='cw'</script>");
            create["object"]["sensitive"] = Value::from(true);
        }
        let (status, body) = post_signed(&inbox, &create, &who.signer)
            .await
            .expect("post");
        assert_eq!(status, 202, "{body}\n{}", rathaus.log());
        let c = comments::comment_by_origin(db, create["object"]["id"].as_str().expect("id"))
            .await
            .expect("query")
            .expect("stored");
        ids.push(c.id);
        // Whatever the policy held, a moderator publishes: the page must stay safe anyway.
        if c.status != CommentStatus::Published {
            rathaus
                .command(&["comments", "approve", &c.id.to_string()])
                .expect("approve");
        }
    }
    let delete: Value = serde_json::from_str(
        &mastodon_fixture("delete_reply.json")
            .replace("https://social.example", &sink.url(""))
            .replace("ursula", "erin")
            .replace("113456789012345678", "103"),
    )
    .expect("delete");
    let (status, body) = post_signed(&inbox, &delete, &erin.signer)
        .await
        .expect("delete");
    assert_eq!(status, 202, "{body}");
    let erased = comments::get_comment(db, ids[2])
        .await
        .expect("q")
        .expect("row");
    assert_eq!(
        (erased.status, erased.content),
        (CommentStatus::Deleted, None)
    );

    rathaus
        .command(&[
            "comments",
            "answer",
            &ids[0].to_string(),
            "Danke, die Querung an der Schulstraße nehmen wir in die Planung auf.",
        ])
        .expect("answer");
    let out = rathaus
        .command(&[
            "result",
            "1",
            "Wir bauen einen **geschützten Radweg** und eine Querung an der Schulstraße.",
        ])
        .expect("result");
    assert!(out.starts_with("1\t"), "{out}");
    // A bad result command says what is wrong and changes nothing.
    let err = rathaus
        .command(&["result", "2", "Kein Ergebnis für eine Bekanntmachung."])
        .expect_err("announcement 2 is no consultation");
    assert!(err.to_string().contains("not a consultation"), "{err}");

    // The result reaches the follower as an Update of the Note.
    let update = eventually(WAIT, "the Update with the result", || async {
        sink.received().into_iter().find_map(|r| {
            let v: Value = serde_json::from_slice(&r.body).ok()?;
            (v["type"] == "Update").then_some(v)
        })
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let content = update["object"]["content"].as_str().expect("content");
    assert!(content.contains("geschützten Radweg"), "{content}");
    assert!(update["object"]["updated"].is_string(), "{update}");

    // Raw HTML: hostile markup only ever as escaped text.
    let base = rathaus.url("");
    let page_paths = [
        "/",
        "/announcements/1",
        "/statistics",
        "/moderation-log",
        "/accessibility",
        "/open-data",
        "/open-data/1/",
        "/@rathaus",
    ];
    for path in page_paths {
        let (status, headers, body) = get(&format!("{base}{path}"), &[]).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(headers["content-type"].starts_with("text/html"), "{path}");
        assert!(
            headers["content-security-policy"].contains("default-src 'none'"),
            "{path}"
        );
        for bad in [
            "<script",
            "<img",
            "<iframe",
            "<svg",
            "javascript:",
            "style=\"",
        ] {
            assert!(!body.contains(bad), "{path} contains {bad}");
        }
        assert!(
            body.contains("<html lang=\"de\">"),
            "{path} is German by default"
        );
    }
    let (_, _, page) = get(&format!("{base}/announcements/1"), &[]).await;
    assert!(
        page.contains("Mallory&lt;script&gt;"),
        "the name shows as text"
    );
    assert!(
        page.contains("Offizielle Antwort"),
        "answer marked as official"
    );
    assert!(page.contains("Ergebnis der Beteiligung"), "result shown");
    assert!(page.contains("geschützten Radweg"));
    assert!(
        page.contains("class=\"body\" lang=\"de\"><p>Bitte eine sichere Querung"),
        "the comment's declared language is marked"
    );
    assert!(
        !page.contains("Bitte-loeschen-7f3a"),
        "deleted text is gone"
    );
    assert!(
        page.contains("1 von Verfassenden gelöscht"),
        "deletions are counted: {page}"
    );
    // No link to the author's post or profile: its URL names them (Open Data point of #14).
    assert!(
        !page.contains(&sink.url("")),
        "a link to the author's server on the page"
    );
    // The content warning is a native disclosure, its text escaped; the text inside.
    assert!(
        page.contains("<details class=\"cw\"><summary><strong>Inhaltswarnung: </strong><span lang=\"de\">Lärm</span>"),
        "{page}"
    );
    assert!(
        page.contains("Baulärm ab sechs Uhr</p></div></details>"),
        "{page}"
    );
    let (status, _, _) = get(&format!("{base}/announcements/999"), &[]).await;
    assert_eq!(status, 404);

    // English by Accept-Language; the switch is remembered in a cookie.
    let (_, headers, body) = get(
        &format!("{base}/announcements/1"),
        &[("accept-language", "en-GB,en;q=0.9")],
    )
    .await;
    assert!(
        body.contains("<html lang=\"en\">") && body.contains("Official answer"),
        "{body}"
    );
    assert_eq!(headers["content-language"], "en");
    let (_, headers, body) = get(&format!("{base}/statistics?lang=en"), &[]).await;
    assert!(body.contains("<h1>Statistics</h1>"));
    let cookie = headers["set-cookie"]
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    let (_, _, body) = get(
        &format!("{base}/moderation-log"),
        &[("cookie", &cookie), ("accept-language", "de")],
    )
    .await;
    assert!(
        body.contains("<h1>Moderation log</h1>"),
        "cookie wins over the header"
    );

    // The public log names rules and reasons, never who wrote or moderated.
    let (_, _, log) = get(&format!("{base}/moderation-log"), &[]).await;
    for private in ["ursula", "mallory", "Mallory", "/users/erin", "Erin"] {
        assert!(!log.contains(private), "moderation log shows {private}");
    }
    assert!(
        log.contains("von der verfassenden Person gelöscht"),
        "{log}"
    );

    // Feeds parse as Atom; no entry carries live markup.
    for path in ["/feed.atom", "/announcements/1/comments.atom"] {
        let (status, headers, body) = get(&format!("{base}{path}"), &[]).await;
        assert_eq!(status, 200, "{path}");
        assert!(headers["content-type"].starts_with("application/atom+xml"));
        let feed = atom_syndication::Feed::read_from(body.as_bytes()).expect("valid Atom");
        assert!(!feed.entries().is_empty(), "{path}");
        for e in feed.entries() {
            let html = e.content().and_then(|c| c.value()).unwrap_or_default();
            for bad in [
                "<script",
                "<img",
                "<iframe",
                "<svg",
                "javascript:",
                "onclick",
                "onerror",
                "onload",
            ] {
                assert!(!html.contains(bad), "{path}: {bad} in {html}");
            }
            assert!(!html.contains("Bitte-loeschen-7f3a"), "{path}");
        }
    }
    let (_, _, comments_feed) = get(&format!("{base}/announcements/1/comments.atom"), &[]).await;
    let feed = atom_syndication::Feed::read_from(comments_feed.as_bytes()).expect("atom");
    assert_eq!(
        feed.entries().len(),
        4,
        "three comments and one official answer"
    );
    assert!(
        !comments_feed.contains(&sink.url("")),
        "the feed links an author's server"
    );
    let warned = feed
        .entries()
        .iter()
        .find(|e| e.summary().is_some())
        .expect("the entry with a content warning");
    assert_eq!(
        warned.summary().map(|s| s.value.as_str()),
        Some("Inhaltswarnung / Content warning: Lärm")
    );

    // In a real browser: WCAG 2.1 A/AA (axe-core), nothing runs, nothing foreign loads.
    let shots = browser::screenshot_dir();
    let consultation_png = shots.join("consultation.png");
    let _ = std::fs::remove_file(&consultation_png);
    let mut checks: Vec<PageCheck> = page_paths
        .iter()
        .map(|p| PageCheck {
            url: format!("{base}{p}"),
            // Chromium asks for en-US unless told otherwise; a German browser is the default case.
            accept_language: Some("de-DE,de;q=0.9".into()),
            ..Default::default()
        })
        .collect();
    checks[1].screenshot = Some(consultation_png.clone());
    checks.push(PageCheck {
        url: format!("{base}/announcements/1"),
        accept_language: Some("en".into()),
        screenshot: Some(shots.join("consultation-en.png")),
    });
    checks.push(PageCheck {
        url: format!("{base}/"),
        accept_language: Some("de".into()),
        screenshot: Some(shots.join("start.png")),
    });
    // A control that must fail: proof that the checker sees violations and scripts at all.
    checks.push(PageCheck {
        url: "data:text/html,<html><body><img src='data:,'><a href='/x'></a>\
              <script>window.__xss=1</script></body></html>"
            .into(),
        ..Default::default()
    });
    let mut reports = browser::check_pages(&checks, dir.path()).expect("browser");
    assert_eq!(reports.len(), checks.len());
    let control = reports.pop().expect("control");
    let found: Vec<&str> = control["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    for rule in ["html-has-lang", "image-alt", "link-name"] {
        assert!(
            found.contains(&rule),
            "the control page must fail {rule}: {found:?}"
        );
    }
    assert_eq!(control["xss"]["flag"], true, "the control's script ran");
    for r in &reports {
        let url = r["url"].as_str().unwrap_or_default();
        assert_eq!(r["status"], 200, "{url}");
        assert_eq!(
            r["violations"],
            Value::Array(vec![]),
            "{url}: WCAG violations {:#}",
            r["violations"]
        );
        assert_eq!(r["xss"]["flag"], false, "{url}: a script ran");
        assert_eq!(r["xss"]["scripts"], 0, "{url}");
        assert_eq!(r["xss"]["handlers"], 0, "{url}: event handler attributes");
        assert_eq!(r["xss"]["jsLinks"], 0, "{url}");
        assert_eq!(
            r["foreign"],
            Value::Array(vec![]),
            "{url}: third-party requests"
        );
        assert_eq!(r["dialogs"], Value::Array(vec![]), "{url}");
    }
    let text = reports[1]["xss"]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("Mallory<script>"),
        "the hostile name is visible as text"
    );
    assert_eq!(reports[1]["xss"]["lang"], "de");
    assert_eq!(reports[8]["xss"]["lang"], "en");
    let png = std::fs::read(&consultation_png).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );

    // Open Data: served and written by the CLI, the same files; parsed with a real CSV reader.
    let export_dir = dir.path().join("export");
    let written = rathaus
        .command(&[
            "export",
            "1",
            "--format",
            "csv",
            "--out",
            export_dir.to_str().expect("path"),
        ])
        .expect("export");
    assert!(
        written.contains("comments.csv") && written.contains("csv-metadata.json"),
        "{written}"
    );
    let (_, _, metadata) = get(&format!("{base}/open-data/1/csv-metadata.json"), &[]).await;
    let metadata: Value = serde_json::from_str(&metadata).expect("csvw json");
    assert_eq!(
        metadata,
        serde_json::from_str::<Value>(
            &std::fs::read_to_string(export_dir.join("csv-metadata.json")).expect("file")
        )
        .expect("json"),
    );
    let tables = metadata["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 5);
    let mut all_text = String::new();
    for table in tables {
        let file = table["url"].as_str().expect("url");
        let (status, headers, csv_text) = get(&format!("{base}/open-data/1/{file}"), &[]).await;
        assert_eq!(status, 200, "{file}");
        assert!(headers["content-type"].starts_with("text/csv"));
        assert_eq!(
            csv_text,
            std::fs::read_to_string(export_dir.join(file)).expect("file"),
            "{file}"
        );
        let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(str::to_owned)
            .collect();
        let columns = table["tableSchema"]["columns"].as_array().expect("columns");
        let titles: Vec<&str> = columns
            .iter()
            .map(|c| c["titles"].as_str().expect("titles"))
            .collect();
        assert_eq!(header, titles, "{file}: header matches the metadata");
        let mut rows = 0;
        for record in reader.records() {
            let record = record.expect("record");
            assert_eq!(record.len(), columns.len(), "{file}");
            for (value, column) in record.iter().zip(columns) {
                if value.is_empty() {
                    continue; // CSVW's default null
                }
                let ok = match column["datatype"].as_str().expect("datatype") {
                    "integer" => value.parse::<i64>().is_ok(),
                    "boolean" => value == "true" || value == "false",
                    "dateTime" => chrono::DateTime::parse_from_rfc3339(value).is_ok(),
                    "anyURI" => url::Url::parse(value).is_ok(),
                    _ => true,
                };
                assert!(ok, "{file}: `{value}` is not a {}", column["datatype"]);
            }
            rows += 1;
        }
        if file == "comments.csv" {
            assert_eq!(
                rows, 4,
                "every comment is listed, deleted ones without text"
            );
            // The formula is neutralised and quoted; the warning has its column.
            assert!(
                csv_text.contains("\"'=1+1 Baulärm ab sechs Uhr\""),
                "{csv_text}"
            );
            assert!(csv_text.contains("\"Lärm\",\"true\""), "{csv_text}");
            for column in ["content_warning", "sensitive", "author"] {
                assert!(titles.contains(&column), "{column} described");
            }
            assert!(!titles.contains(&"origin"), "no origin column");
        }
        all_text.push_str(&csv_text);
    }
    let (_, _, json_export) = get(&format!("{base}/open-data/1/consultation.json"), &[]).await;
    all_text.push_str(&json_export);
    assert!(
        all_text.contains("Bitte eine sichere Querung"),
        "published text is exported"
    );
    assert!(
        all_text.contains("geschützten Radweg"),
        "the result is exported"
    );
    assert!(
        !all_text.contains("Bitte-loeschen-7f3a"),
        "no text of a deleted comment"
    );
    // No actor URL, status URL or object id of any author.
    assert!(
        !all_text.contains(&sink.url("")),
        "a URL of the authors' server in the export"
    );
    for person in [&ursula, &mallory, &erin, &frank] {
        let user = person.actor.rsplit('/').next().expect("user");
        assert!(
            !all_text.contains(&format!("@{user}")),
            "handle of {user} in the export"
        );
        assert!(
            !all_text.contains(&format!("\"{}\"", person.actor))
                && !all_text.contains(&format!("{},", person.actor)),
            "actor id of {user} in the export"
        );
    }
    assert!(
        !all_text.contains("Erin Löschmich") && !all_text.contains("Ursula Beispiel"),
        "no names"
    );

    let (_, _, dcat) = get(&format!("{base}/open-data/1/dcat.jsonld"), &[]).await;
    let dcat: Value = serde_json::from_str(&dcat).expect("dcat json");
    assert_eq!(dcat["@type"], "dcat:Dataset");
    assert_eq!(
        dcat["dcatde:politicalGeocodingURI"]["@id"],
        "http://dcat-ap.de/def/politicalGeocoding/municipalityKey/09162000"
    );
    assert_eq!(dcat["dct:publisher"]["foaf:name"], "Stadt Musterstadt");
    let distributions = dcat["dcat:distribution"].as_array().expect("distributions");
    for d in distributions {
        assert_eq!(
            d["dct:license"]["@id"],
            "http://dcat-ap.de/def/licenses/dl-by-de/2.0"
        );
        let url = d["dcat:accessURL"]["@id"].as_str().expect("accessURL");
        let local = url.replace(&rathaus.public(""), &base);
        let (status, _, _) = get(&local, &[]).await;
        assert_eq!(status, 200, "{url} is downloadable");
    }
    let (status, _, body) = get(&format!("{base}/open-data/1/secrets.csv"), &[]).await;
    assert_eq!(status, 404, "{body}");
    // A retracted announcement's page is gone (410), and its data is withdrawn with it.
    rathaus
        .command(&["announce", "--retract", "2"])
        .expect("retract");
    let (status, _, body) = get(&format!("{base}/announcements/2"), &[]).await;
    assert_eq!(status, 410, "{body}");
    assert!(body.contains("zurückgezogen"), "{body}");
    for path in ["/open-data/2/", "/open-data/2/comments.csv"] {
        let (status, _, _) = get(&format!("{base}{path}"), &[]).await;
        assert_eq!(status, 404, "{path}");
    }

    // Nothing personal and no message text in the service's log.
    let service_log = rathaus.log();
    for private in [
        "Ursula Beispiel",
        "Mallory",
        "users/ursula",
        "users/erin",
        "Bitte eine sichere Querung",
        "Bitte-loeschen-7f3a",
        "Danke, die Querung",
    ] {
        assert!(!service_log.contains(private), "the log contains {private}");
    }
    store.close().await.expect("close");
}
