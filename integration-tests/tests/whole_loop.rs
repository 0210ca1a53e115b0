//! The whole loop in one test, with real peers on both sides: a press officer opens a
//! consultation in Matrix → it appears in the public room and reaches a Fedify follower → the
//! follower and a Matrix citizen reply, both replies are held by the policy and announced in
//! the moderation room → a moderator approves one by command and the other by ✅ reaction →
//! both are published, the fediverse one relayed into the Matrix thread → the press office's
//! `!antworten` reaches the fediverse citizen as a reply that mentions them.

use std::time::Duration;

use rathaus_integration_tests::matrix::{BOT, Synapse, Town};
use rathaus_integration_tests::{FedifyPeer, Rathaus, eventually, free_port};
use rathaus_shared::Store;
use rathaus_shared::entities::CommentStatus;
use rathaus_shared::store::comments;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(45);

#[tokio::test]
async fn consultation_from_matrix_to_the_fediverse_and_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let synapse = Synapse::start(dir.path()).expect("synapse");
    let town = Town::new(&synapse).await.expect("rooms");
    let Town {
        presse,
        moderation,
        buergerin,
        press_room,
        mod_room,
        public_room,
    } = &town;
    let (press_room, mod_room, public_room) =
        (press_room.as_str(), mod_room.as_str(), public_room.as_str());

    // The bot logs in with an access token here (the other tests use its password).
    let bot_token = synapse.login("rathaus").await.expect("bot token").token;
    let peer_port = free_port();
    let config = town
        .config(
            &synapse,
            dir.path(),
            &format!("access_token = \"{bot_token}\""),
            &format!("\n[federation]\nallowed_private_hosts = [\"localhost:{peer_port}\"]\n"),
        )
        .expect("config");
    let rathaus = Rathaus::start_with_bot(dir.path(), &config)
        .await
        .expect("start");

    // A fediverse follower on an independent implementation.
    let peer = FedifyPeer::start_on("carla", dir.path(), peer_port)
        .await
        .expect("fedify");
    let our_actor = rathaus.public("/users/rathaus");
    peer.post("/_test/follow", json!({ "actor": our_actor }))
        .await
        .expect("follow");
    eventually(WAIT, "the follow", || async {
        (peer.get("/_test/following").await.ok()?[&our_actor] == "accepted").then_some(())
    })
    .await
    .expect("accepted");

    // The press office opens a consultation by chat command.
    presse
        .say(press_room, "!beteiligung Spielplatz am Stadtpark --bis 2099-12-31 Was wünschen Sie sich für den Spielplatz?")
        .await
        .expect("consult");
    let relayed = buergerin
        .wait_for(public_room, BOT, "Spielplatz", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let note_id = rathaus.public("/announcements/1");
    eventually(WAIT, "the consultation at the follower", || async {
        peer.received("Create")
            .await
            .into_iter()
            .find(|a| a["json"]["object"]["id"] == note_id.as_str())
    })
    .await
    .expect("delivered");

    // Both citizens reply; both replies break the personal-data rule and are held.
    let fedi = peer
        .post("/_test/reply", json!({ "inReplyTo": note_id, "to": our_actor, "content": "<p>Eine Seilbahn! Rückfragen: 0171 1234567</p>", "mention": true }))
        .await
        .expect("fediverse reply");
    let fedi_note = fedi["noteId"].as_str().expect("note").to_owned();
    let root = relayed["event_id"].as_str().expect("root").to_owned();
    let matrix_event = buergerin
        .say_in_thread(
            public_room,
            &root,
            "Mehr Sandkästen bitte. Schreibt mir: b.sommer@example.org",
        )
        .await
        .expect("matrix reply");
    let fedi_notice = moderation
        .wait_for(mod_room, BOT, "Seilbahn", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let matrix_notice = moderation
        .wait_for(mod_room, BOT, "Sandkästen", WAIT)
        .await
        .expect("matrix notice");
    let notice_text = matrix_notice["content"]["body"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        notice_text.contains("persoenliche-daten") && notice_text.contains(&buergerin.user_id),
        "{notice_text}"
    );

    let store = Store::connect(&rathaus.sqlite_url(), 1)
        .await
        .expect("store");
    let fedi_comment = comments::comment_by_origin(store.db(), &fedi_note)
        .await
        .expect("q")
        .expect("stored");
    let matrix_comment = comments::comment_by_origin(store.db(), &matrix_event)
        .await
        .expect("q")
        .expect("stored");
    assert_eq!(
        (fedi_comment.status, matrix_comment.status),
        (CommentStatus::Pending, CommentStatus::Pending)
    );
    // Held means not public on Matrix either: the citizen's message leaves the public room
    // (the store kept its text), and she is told why in her thread, mentioned.
    eventually(WAIT, "the held Matrix message to be redacted", || async {
        let events = buergerin.messages(public_room).await.ok()?;
        let event = events
            .into_iter()
            .find(|e| e["event_id"] == matrix_event.as_str())?;
        event["content"].get("body").is_none().then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let held = buergerin
        .wait_for(public_room, BOT, "von der Moderation geprüft", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert_eq!(
        held["content"]["m.relates_to"]["rel_type"], "m.thread",
        "{held}"
    );
    assert_eq!(
        held["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        matrix_event.as_str(),
        "{held}"
    );
    assert_eq!(
        held["content"]["m.mentions"]["user_ids"][0],
        buergerin.user_id.as_str(),
        "{held}"
    );
    let held_body = held["content"]["body"].as_str().unwrap_or_default();
    assert!(
        held_body.contains("Reason:"),
        "German and English: {held_body}"
    );
    assert!(
        fedi_notice["content"]["body"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("Kommentar {}", fedi_comment.id))
    );

    // One is approved by command, the other by a ✅ reaction on its notice.
    moderation
        .say(mod_room, &format!("!freigeben {}", fedi_comment.id))
        .await
        .expect("approve");
    moderation
        .react(
            mod_room,
            matrix_notice["event_id"].as_str().expect("notice id"),
            "✅",
        )
        .await
        .expect("react");
    eventually(WAIT, "both published", || async {
        let a = comments::get_comment(store.db(), fedi_comment.id)
            .await
            .ok()??;
        let b = comments::get_comment(store.db(), matrix_comment.id)
            .await
            .ok()??;
        (a.status == CommentStatus::Published && b.status == CommentStatus::Published).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));

    // The approved Matrix comment comes back into the thread as a quote with its author, and
    // she hears that it was published.
    let quote = buergerin
        .wait_for(public_room, BOT, "schrieb: Mehr Sandkästen", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert_eq!(quote["content"]["m.relates_to"]["event_id"], root.as_str());
    assert!(
        quote["content"]["formatted_body"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("https://matrix.to/#/{}", buergerin.user_id)),
        "{quote}"
    );
    buergerin
        .wait_for(public_room, BOT, "nach Prüfung veröffentlicht", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));

    // The Matrix comment joins the fediverse thread: a Note in reply to the consultation by
    // a bridge actor of its own, whose signature Fedify verified with that actor's key.
    let bridged = eventually(
        WAIT,
        "the bridged Matrix comment at the follower",
        || async {
            peer.received("Create").await.into_iter().find(|a| {
                a["json"]["object"]["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("Mehr Sandkästen"))
            })
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let bridge_actor = bridged["json"]["actor"].as_str().expect("actor").to_owned();
    assert!(
        bridge_actor.starts_with(&rathaus.public("/bridge/matrix/")),
        "{bridged}"
    );
    assert_eq!(bridged["json"]["object"]["inReplyTo"], note_id.as_str());
    assert_eq!(
        bridged["json"]["object"]["attributedTo"],
        bridge_actor.as_str()
    );
    let person: Value = reqwest::Client::new()
        .get(&bridge_actor)
        .header("Accept", "application/activity+json")
        .send()
        .await
        .expect("actor")
        .json()
        .await
        .expect("actor json");
    assert_eq!(person["type"], "Person");
    assert_eq!(
        person["url"],
        format!("https://matrix.to/#/{}", buergerin.user_id).as_str()
    );
    // The consultation's replies list both networks.
    let replies: Value = reqwest::Client::new()
        .get(rathaus.public("/announcements/1/replies?page=1"))
        .header("Accept", "application/activity+json")
        .send()
        .await
        .expect("replies")
        .json()
        .await
        .expect("replies json");
    let items = replies["orderedItems"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        items.contains(&Value::from(fedi_note.as_str()))
            && items.contains(&bridged["json"]["object"]["id"]),
        "{replies}"
    );

    // The fediverse comment is relayed into the consultation's Matrix thread.
    let relayed_comment = buergerin
        .wait_for(public_room, BOT, "Seilbahn", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert_eq!(
        relayed_comment["content"]["m.relates_to"]["rel_type"],
        "m.thread"
    );
    assert_eq!(
        relayed_comment["content"]["m.relates_to"]["event_id"],
        root.as_str()
    );
    assert!(
        relayed_comment["content"]["body"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("@carla@localhost:{}", peer.port))
    );

    // The official answer reaches the fediverse citizen as a reply that mentions them.
    presse
        .say(
            press_room,
            &format!(
                "!antworten {} Danke! Eine Seilbahn prüfen wir gern.",
                fedi_comment.id
            ),
        )
        .await
        .expect("answer");
    let answer = eventually(WAIT, "the official answer at the follower", || async {
        peer.received("Create")
            .await
            .into_iter()
            .find(|a| a["json"]["object"]["inReplyTo"] == fedi_note.as_str())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let tags = &answer["json"]["object"]["tag"];
    let mentions: Vec<&Value> = match tags {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    assert!(
        mentions.iter().any(|t| t["href"] == peer.actor().as_str()),
        "{answer}"
    );
    // And into the Matrix thread, marked as official.
    buergerin
        .wait_for(public_room, BOT, "Offizielle Antwort", WAIT)
        .await
        .expect("answer relayed");

    // A moderator hides the fediverse comment: its relayed message disappears from Matrix.
    moderation
        .say(
            mod_room,
            &format!("!verbergen {} Off topic", fedi_comment.id),
        )
        .await
        .expect("hide");
    let relayed_id = relayed_comment["event_id"].as_str().expect("id").to_owned();
    eventually(WAIT, "the relayed comment to be redacted", || async {
        let events = buergerin.messages(public_room).await.ok()?;
        let event = events
            .into_iter()
            .find(|e| e["event_id"] == relayed_id.as_str())?;
        event["content"].get("body").is_none().then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));

    // The moderation room can fetch the Open Data export as files.
    moderation
        .say(mod_room, "!exportieren 1")
        .await
        .expect("export");
    let files = eventually(WAIT, "the uploaded export", || async {
        let files: Vec<Value> = moderation
            .messages(mod_room)
            .await
            .ok()?
            .into_iter()
            .filter(|e| e["sender"] == BOT && e["content"]["msgtype"] == "m.file")
            .collect();
        (files.len() == 3).then_some(files)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let names: Vec<&str> = files
        .iter()
        .filter_map(|f| f["content"]["body"].as_str())
        .collect();
    assert!(
        names.contains(&"beteiligung-1-consultation.json")
            && names.contains(&"beteiligung-1-comments.csv"),
        "{names:?}"
    );

    // The press office publishes the result: the bot confirms, the follower gets an Update.
    presse
        .say(
            press_room,
            "!ergebnis 1 Der Spielplatz bekommt **mehr Sandkästen**; eine Seilbahn ist zu teuer.",
        )
        .await
        .expect("result");
    presse
        .wait_for(
            press_room,
            BOT,
            "Ergebnis der Beteiligung 1 veröffentlicht",
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let update = eventually(WAIT, "the result at the follower", || async {
        peer.received("Update")
            .await
            .into_iter()
            .find(|a| a["json"]["object"]["id"] == note_id.as_str())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let content = update["json"]["object"]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(content.contains("mehr Sandkästen"), "{update}");
    // A result for an announcement that is not a consultation is refused with the reason.
    presse
        .say(press_room, "!ergebnis 99 Nichts")
        .await
        .expect("bad result");
    presse
        .wait_for(press_room, BOT, "99", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));

    // A fediverse user reports the Matrix comment: the moderators see what was reported, from
    // which instance and why, never who; the public log records the report without them.
    peer.post(
        "/_test/flag",
        json!({
            "actor": our_actor,
            "objects": [rathaus.public(&format!("/comments/{}", matrix_comment.id))],
            "content": "Das ist Werbung für eine Firma.",
        }),
    )
    .await
    .expect("flag");
    let report = moderation
        .wait_for(mod_room, BOT, "Meldung aus dem Fediverse", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let report_body = report["content"]["body"].as_str().unwrap_or_default();
    assert!(report_body.contains("Das ist Werbung"), "{report_body}");
    assert!(report_body.contains("Sandkästen"), "{report_body}");
    assert!(
        report_body.contains(&format!("localhost:{}", peer.port)),
        "{report_body}"
    );
    assert!(!report_body.contains("carla"), "{report_body}");
    let log = reqwest::get(rathaus.url("/moderation-log?lang=en"))
        .await
        .expect("log")
        .text()
        .await
        .expect("log text");
    assert!(log.contains("reported"), "the public log names the report");
    assert!(!log.contains("carla") && !log.contains("Werbung"), "{log}");
    // A moderator hides the Matrix comment: its Note is deleted in the fediverse too.
    moderation
        .say(mod_room, &format!("!verbergen {}", matrix_comment.id))
        .await
        .expect("hide");
    let note_of_comment = bridged["json"]["object"]["id"].clone();
    eventually(
        WAIT,
        "the bridged Note's Delete at the follower",
        || async {
            peer.received("Delete").await.into_iter().find(|a| {
                a["json"]["actor"] == bridge_actor.as_str()
                    && a["json"]["object"]["id"] == note_of_comment
            })
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    store.close().await.expect("close");
}
