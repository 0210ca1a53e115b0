//! Comment integrity and privacy, on every backend: hollow comments and edits are refused and
//! store nothing, content warnings are stored, edited and exported, and the Open Data neither
//! re-identifies authors nor carries cells a spreadsheet would run.

use chrono::{Duration, Utc};
use rathaus_shared::App;
use rathaus_shared::entities::Network;
use rathaus_shared::services::announcements::{self, Announce};
use rathaus_shared::services::comments::{self, Submission, SubmitOutcome};
use rathaus_shared::services::content::Warning;
use rathaus_shared::services::{export, transparency};
use rathaus_shared::store::comments::{self as store_comments, CommentFilter};
use rathaus_shared::testing::{default_config, for_each_store};

fn reply(n: u32, network: Network, text: &str, note: &str) -> Submission {
    let (origin_id, origin_url, author_id, domain) = match network {
        Network::Fediverse => (
            format!("https://town.example/users/anna/statuses/{n}"),
            Some(format!("https://town.example/@anna/{n}")),
            "https://town.example/users/anna".to_owned(),
            "town.example",
        ),
        Network::Matrix => (
            format!("$event{n}:matrix.example"),
            Some(format!(
                "https://matrix.to/#/!room:matrix.example/$event{n}"
            )),
            "@anna:matrix.example".to_owned(),
            "matrix.example",
        ),
    };
    Submission {
        network,
        origin_id,
        origin_url,
        in_reply_to: note.to_owned(),
        author_id,
        author_name: Some("Anna Beispiel".into()),
        author_domain: domain.to_owned(),
        content_html: text.to_owned(),
        language: Some("de".into()),
        warning: Warning::default(),
        created_at: Utc::now(),
        received_at: Utc::now(),
        public: true,
        privileged: true,
    }
}

async fn consultation(app: &App) -> (i64, String) {
    let view = announcements::announce(
        app,
        Announce {
            title: Some("Marktplatz".into()),
            text: "Wie soll der Marktplatz aussehen?".into(),
            closes_at: Some(Utc::now() + Duration::days(7)),
            author: "cli".into(),
            ..Announce::default()
        },
    )
    .await
    .expect("consult");
    let id = view.announcement.id;
    (id, app.urls().announcement(id))
}

async fn count(app: &App) -> usize {
    store_comments::list_comments(app.store.db(), &CommentFilter::default())
        .await
        .expect("list")
        .len()
}

#[tokio::test]
async fn hollow_comments_and_edits_are_refused_and_store_nothing() {
    for_each_store(|store| async move {
        let app = App::with_store(default_config(), store).await.expect("app");
        let (_, note) = consultation(&app).await;
        let hollow = [
            (Network::Fediverse, "<p></p>"),
            (Network::Fediverse, "<p> </p>"),
            (Network::Fediverse, "<br><br/>"),
            (Network::Fediverse, "<p>&nbsp;&#160;</p>"),
            (Network::Fediverse, "<p><img src=\"https://town.example/a.png\"></p>"),
            (Network::Fediverse, "\u{200B}\u{2060}\u{FEFF}"),
            (
                Network::Fediverse,
                "<p><span class=\"h-card\"><a href=\"http://localhost/@rathaus\" class=\"u-url mention\">@<span>rathaus</span></a></span></p>",
            ),
            (Network::Matrix, " \u{3000}\u{00A0}\n"),
            (Network::Matrix, "\u{200B}"),
        ];
        for (n, (network, text)) in (1..).zip(hollow) {
            let err = comments::submit_comment(&app, app.store.db(), reply(n, network, text, &note))
                .await
                .expect_err(&format!("hollow {text:?} must be refused"));
            assert!(
                matches!(&err, rathaus_shared::Error::Invalid(m) if m.contains("keinen lesbaren Text")),
                "{err}"
            );
        }
        assert_eq!(count(&app).await, 0, "nothing stored");

        // A real comment; its edit to nothing is refused and leaves it as it was.
        let SubmitOutcome::Stored(c) =
            comments::submit_comment(&app, app.store.db(), reply(50, Network::Fediverse, "<p>Mehr Bänke</p>", &note))
                .await
                .expect("submit")
        else {
            panic!("not stored");
        };
        for empty in ["<p></p>", "<p>\u{00A0}</p>", "<img src=x>"] {
            let err = comments::edit_comment(
                &app, app.store.db(),
                &c.origin_id,
                &c.author_id,
                empty,
                &Warning::default(),
            )
            .await
            .expect_err("an empty edit is refused");
            assert!(err.to_string().contains("keinen lesbaren Text"), "{err}");
        }
        let kept = store_comments::get_comment(app.store.db(), c.id)
            .await
            .expect("q")
            .expect("row");
        assert_eq!(kept.content.as_deref(), Some("<p>Mehr Bänke</p>"));
        assert_eq!(kept.updated_at, c.updated_at, "untouched");
    })
    .await;
}

#[tokio::test]
async fn structure_and_links_are_cleaned_before_storing() {
    for_each_store(|store| async move {
        let app = App::with_store(default_config(), store).await.expect("app");
        let (_, note) = consultation(&app).await;
        let SubmitOutcome::Stored(c) = comments::submit_comment(
            &app,
            app.store.db(),
            reply(
                1,
                Network::Fediverse,
                "<div>Erstens</div><div>Zweitens <a href=\"javascript:alert(1)\">hier</a> \
                 <a href=\"/relative\">dort</a> <a href=\"https://plan.example/\">Plan</a></div>",
                &note,
            ),
        )
        .await
        .expect("submit") else {
            panic!("not stored");
        };
        assert_eq!(
            c.content.as_deref(),
            Some(
                "<p>Erstens</p><p>Zweitens hier dort <a href=\"https://plan.example/\" \
                 rel=\"nofollow noopener noreferrer\">Plan</a></p>"
            )
        );
    })
    .await;
}

#[tokio::test]
async fn content_warnings_are_stored_edited_shown_and_exported() {
    for_each_store(|store| async move {
        let app = App::with_store(default_config(), store).await.expect("app");
        let (id, note) = consultation(&app).await;
        let mut s = reply(
            1,
            Network::Fediverse,
            "<p>Zur Parteipolitik: nein.</p>",
            &note,
        );
        s.warning = Warning {
            text: Some(" <b>Politik</b>\n".into()),
            sensitive: true,
        };
        let SubmitOutcome::Stored(c) = comments::submit_comment(&app, app.store.db(), s)
            .await
            .expect("submit")
        else {
            panic!("not stored");
        };
        assert_eq!(c.content_warning.as_deref(), Some("Politik"));
        assert!(c.sensitive);

        let page = transparency::announcement_page(&app, id)
            .await
            .expect("page");
        let view = &page.threads[0].comment;
        assert_eq!(
            (view.content_warning.as_deref(), view.sensitive),
            (Some("Politik"), true)
        );

        let data = export::consultation(&app, id).await.expect("export");
        assert_eq!(data.json["comments"][0]["content_warning"], "Politik");
        assert_eq!(data.json["comments"][0]["sensitive"], true);
        let table = data.table("comments.csv").expect("table");
        let cw = table
            .columns
            .iter()
            .position(|c| c.name == "content_warning")
            .expect("column");
        assert_eq!(table.rows[0][cw], "Politik");

        // An edit changes the warning, or removes it.
        let edited = comments::edit_comment(
            &app,
            app.store.db(),
            &c.origin_id,
            &c.author_id,
            "<p>Zur Parteipolitik: nein.</p>",
            &Warning {
                text: Some("Wahlkampf".into()),
                sensitive: false,
            },
        )
        .await
        .expect("edit")
        .expect("found");
        assert_eq!(
            (edited.content_warning.as_deref(), edited.sensitive),
            (Some("Wahlkampf"), false)
        );
        let cleared = comments::edit_comment(
            &app,
            app.store.db(),
            &c.origin_id,
            &c.author_id,
            "<p>Zur Parteipolitik: nein.</p>",
            &Warning::default(),
        )
        .await
        .expect("edit")
        .expect("found");
        assert_eq!((cleared.content_warning, cleared.sensitive), (None, false));

        // The same text under the same warning again is a duplicate, as without a warning.
        let mut again = reply(
            7,
            Network::Fediverse,
            "<p>Zur Parteipolitik: nein.</p>",
            &note,
        );
        again.warning.text = Some("Wahlkampf".into());
        comments::edit_comment(
            &app,
            app.store.db(),
            &c.origin_id,
            &c.author_id,
            "<p>Zur Parteipolitik: nein.</p>",
            &Warning {
                text: Some("Wahlkampf".into()),
                sensitive: false,
            },
        )
        .await
        .expect("edit back");
        let SubmitOutcome::Stored(dup) = comments::submit_comment(&app, app.store.db(), again)
            .await
            .expect("submit")
        else {
            panic!("not stored");
        };
        assert_eq!(dup.rule_id.as_deref(), Some("doppelt"), "{dup:?}");

        // Erasure takes the warning with the text.
        let mut s = reply(2, Network::Fediverse, "<p>Noch etwas</p>", &note);
        s.warning.text = Some("Persönliches".into());
        let SubmitOutcome::Stored(second) = comments::submit_comment(&app, app.store.db(), s)
            .await
            .expect("submit")
        else {
            panic!("not stored");
        };
        comments::delete_comment(&app, app.store.db(), &second.origin_id, &second.author_id)
            .await
            .expect("delete");
        let erased = store_comments::get_comment(app.store.db(), second.id)
            .await
            .expect("q")
            .expect("row");
        assert_eq!((erased.content, erased.content_warning), (None, None));
    })
    .await;
}

#[tokio::test]
async fn open_data_names_no_author_and_runs_no_formula() {
    for_each_store(|store| async move {
        let app = App::with_store(default_config(), store).await.expect("app");
        let (id, note) = consultation(&app).await;
        let fedi = reply(
            1,
            Network::Fediverse,
            "<p>=HYPERLINK(\"https://evil.example\")</p>",
            &note,
        );
        let matrix = reply(2, Network::Matrix, "@SUM(A1:A9) und -1+1", &note);
        let mut warned = reply(3, Network::Fediverse, "<p>Text</p>", &note);
        warned.warning.text = Some("+Formel".into());
        let mut identifying = Vec::new();
        for s in [fedi, matrix, warned] {
            identifying.extend(s.origin_url.clone());
            identifying.push(s.origin_id.clone());
            identifying.push(s.author_id.clone());
            comments::submit_comment(&app, app.store.db(), s)
                .await
                .expect("submit");
        }
        let data = export::consultation(&app, id).await.expect("export");
        let mut everything = serde_json::to_string(&data.json).expect("json");
        everything.push_str(&serde_json::to_string(&data.csvw).expect("csvw"));
        everything.push_str(&serde_json::to_string(&data.dcat).expect("dcat"));
        for table in &data.tables {
            everything.push_str(&table.to_csv().expect("csv"));
        }
        for id in &identifying {
            assert!(!everything.contains(id.as_str()), "{id} in the export");
        }
        for part in ["statuses/", "@anna", "$event", "matrix.to", "Anna Beispiel"] {
            assert!(!everything.contains(part), "{part} in the export");
        }
        let comments_table = data.table("comments.csv").expect("table");
        assert!(
            comments_table.columns.iter().all(|c| c.name != "origin"),
            "no origin column"
        );
        let csv = comments_table.to_csv().expect("csv");
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let text = reader
            .headers()
            .expect("header")
            .iter()
            .position(|h| h == "text")
            .expect("text column");
        let cw = reader
            .headers()
            .expect("header")
            .iter()
            .position(|h| h == "content_warning")
            .expect("cw column");
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        assert_eq!(&rows[0][text], "'=HYPERLINK(\"https://evil.example\")");
        assert_eq!(&rows[1][text], "'@SUM(A1:A9) und -1+1");
        assert_eq!(&rows[2][cw], "'+Formel");
        // The JSON keeps the values as written: it is no spreadsheet.
        assert_eq!(
            data.json["comments"][0]["text"],
            "=HYPERLINK(\"https://evil.example\")"
        );
        // Every table's metadata says how cells were neutralised.
        for t in data.csvw["tables"].as_array().expect("tables") {
            assert!(
                t["dc:description"]
                    .as_str()
                    .is_some_and(|d| d.contains("Apostroph")),
                "{t}"
            );
        }
    })
    .await;
}
