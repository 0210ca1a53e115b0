//! One conversation across Matrix and the fediverse (#15), on a real Synapse: every change of
//! an announcement reaches the public room (a correction edits the relayed message, a close and
//! a result are posted into its thread, a retraction redacts it and the thread), citizens hear
//! each decision about their comment in their thread and can appeal by replying, official
//! answers reply to them with a mention, a message outside a thread gets one hint; and a crash
//! between a Matrix send and its record posts nothing twice.

use std::time::Duration;

use rathaus_integration_tests::matrix::{BOT, MatrixUser, Synapse, Town};
use rathaus_integration_tests::{Rathaus, eventually};
use rathaus_shared::Store;
use rathaus_shared::entities::CommentStatus;
use rathaus_shared::store::comments;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(45);

/// The message `event` in `room` as the user sees it now (redacted: no body).
async fn event_in(user: &MatrixUser, room: &str, event: &str) -> Option<Value> {
    user.messages(room)
        .await
        .ok()?
        .into_iter()
        .find(|e| e["event_id"] == event)
}

/// Edits (`m.replace`) of `event` by the bot.
async fn edits_of(user: &MatrixUser, room: &str, event: &str) -> Vec<Value> {
    user.messages(room)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|e| {
            e["sender"] == BOT
                && e["content"]["m.relates_to"]["rel_type"] == "m.replace"
                && e["content"]["m.relates_to"]["event_id"] == event
        })
        .collect()
}

#[tokio::test]
async fn every_change_and_decision_reaches_the_matrix_side() {
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
    let config = town
        .config(
            &synapse,
            dir.path(),
            "password = \"rathaus-password\"",
            "moderators = [\"@moderation:localhost\"]\n",
        )
        .expect("config");
    let rathaus = Rathaus::start_with_bot(dir.path(), &config)
        .await
        .expect("start");

    presse
        .say(
            press_room,
            "!beteiligung Parkbänke --bis 2099-12-31 Wo fehlen Bänke?",
        )
        .await
        .expect("consult");
    let root_event = buergerin
        .wait_for(public_room, BOT, "Wo fehlen Bänke", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let root = root_event["event_id"].as_str().expect("root").to_owned();
    // The closing date in the site's time zone, with its abbreviation, not UTC.
    let body = root_event["content"]["body"].as_str().unwrap_or_default();
    assert!(body.contains("31.12.2099 23:59 CET"), "{body}");

    // A correction edits the relayed message. Written with the English alias, the bot
    // answers in English.
    presse
        .say(press_room, "!correct 1 Wo fehlen Bänke am Fluss?")
        .await
        .expect("correct");
    if let Err(e) = presse
        .wait_for(press_room, BOT, "Announcement 1 corrected.", WAIT)
        .await
    {
        panic!("{e}: {:?}", presse.find(press_room, BOT, "").await);
    }
    let edit = eventually(WAIT, "the correction in the public room", || async {
        edits_of(buergerin, public_room, &root)
            .await
            .into_iter()
            .next()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert!(
        edit["content"]["m.new_content"]["body"]
            .as_str()
            .unwrap_or_default()
            .contains("am Fluss"),
        "{edit}"
    );

    // A message outside any thread gets one hint how to take part, not one per message.
    buergerin
        .say(public_room, "Hallo, wie mache ich mit?")
        .await
        .expect("top level");
    buergerin
        .wait_for(public_room, BOT, "antworten Sie", WAIT)
        .await
        .ok();
    let hint = buergerin
        .wait_for(public_room, BOT, "reply in its thread", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert!(
        hint["content"]["body"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Hallo!"),
        "{hint}"
    );
    buergerin
        .say(public_room, "Und noch eine Frage")
        .await
        .expect("top level");

    // She may keep her comments out of the fediverse, by a chat command in the room.
    buergerin
        .say(public_room, "!fediverse aus")
        .await
        .expect("opt out");
    buergerin
        .wait_for(public_room, BOT, "bleiben ab jetzt in Matrix", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    buergerin
        .say(public_room, "!fediverse vielleicht")
        .await
        .expect("malformed");
    buergerin
        .wait_for(public_room, BOT, "So geht es: `!fediverse aus`", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));

    // A comment with personal data is held: it leaves the room, she is told why, mentioned.
    let held_event = buergerin
        .say_in_thread(public_room, &root, "Am Fluss! Ruft mich an: 0171 7654321")
        .await
        .expect("reply");
    let notice = buergerin
        .wait_for(public_room, BOT, "von der Moderation geprüft", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert_eq!(
        notice["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        held_event.as_str()
    );
    assert_eq!(
        notice["content"]["m.mentions"]["user_ids"][0],
        buergerin.user_id.as_str()
    );
    eventually(WAIT, "the held message to be redacted", || async {
        let e = event_in(buergerin, public_room, &held_event).await?;
        e["content"].get("body").is_none().then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));

    // Replying to that notice is an appeal: held for the moderators.
    let appeal_event = buergerin
        .reply_in_thread(
            public_room,
            &root,
            notice["event_id"].as_str().expect("notice"),
            "Die Nummer ist die des Bürgervereins, bitte freigeben.",
        )
        .await
        .expect("appeal");
    let store = Store::connect(&rathaus.sqlite_url(), 1)
        .await
        .expect("store");
    let held = comments::comment_by_origin(store.db(), &held_event)
        .await
        .expect("q")
        .expect("stored");
    let appeal = eventually(WAIT, "the appeal", || async {
        comments::comment_by_origin(store.db(), &appeal_event)
            .await
            .ok()
            .flatten()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert_eq!(
        (
            appeal.status,
            appeal.rule_id.as_deref(),
            appeal.parent_comment_id
        ),
        (CommentStatus::Pending, Some("appeal"), Some(held.id))
    );

    // Her edit of the redacted message is an edit of the held comment.
    buergerin
        .edit(
            public_room,
            &held_event,
            "Am Fluss! Fragt beim Bürgerverein nach.",
        )
        .await
        .expect("edit");
    eventually(WAIT, "the edit of the held comment", || async {
        let c = comments::get_comment(store.db(), held.id).await.ok()??;
        (c.content.as_deref()?.contains("Bürgerverein") && c.status == CommentStatus::Pending)
            .then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));

    // The moderator approves: the comment comes back as a quote, and she hears it.
    moderation
        .say(mod_room, &format!("!freigeben {}", held.id))
        .await
        .expect("approve");
    let quote = buergerin
        .wait_for(
            public_room,
            BOT,
            "schrieb: Am Fluss! Fragt beim Bürgerverein",
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    buergerin
        .wait_for(public_room, BOT, "nach Prüfung veröffentlicht", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));

    // The official answer replies to the quote (her own message is gone) and mentions her.
    presse
        .say(
            press_room,
            &format!("!antworten {} Danke, wir prüfen den Standort.", held.id),
        )
        .await
        .expect("answer");
    let answer = buergerin
        .wait_for(public_room, BOT, "Offizielle Antwort", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert_eq!(
        answer["content"]["m.relates_to"]["m.in_reply_to"]["event_id"], quote["event_id"],
        "{answer}"
    );
    assert_eq!(
        answer["content"]["m.mentions"]["user_ids"][0],
        buergerin.user_id.as_str(),
        "{answer}"
    );

    // A moderator hides it later, with a reason: the quote goes, she hears why.
    moderation
        .say(mod_room, &format!("!verbergen {} Telefonnummer", held.id))
        .await
        .expect("hide");
    let hidden = buergerin
        .wait_for(public_room, BOT, "verborgen", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert!(
        hidden["content"]["body"]
            .as_str()
            .unwrap_or_default()
            .contains("Grund: Telefonnummer"),
        "{hidden}"
    );
    let quote_id = quote["event_id"].as_str().expect("quote").to_owned();
    eventually(WAIT, "the quote to be redacted", || async {
        let e = event_in(buergerin, public_room, &quote_id).await?;
        e["content"].get("body").is_none().then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));

    // The press office closes early and publishes the result: both in the thread, and the
    // relayed message says it is closed.
    presse
        .say(press_room, "!schliessen 1")
        .await
        .expect("close");
    buergerin
        .wait_for(public_room, BOT, "vorzeitig beendet", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    presse
        .say(press_room, "!ergebnis 1 Drei neue Bänke am Fluss.")
        .await
        .expect("result");
    let result = buergerin
        .wait_for(public_room, BOT, "Ergebnis der Beteiligung", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert_eq!(result["content"]["m.relates_to"]["event_id"], root.as_str());
    eventually(WAIT, "the closing line edited", || async {
        edits_of(buergerin, public_room, &root)
            .await
            .into_iter()
            .find(|e| {
                e["content"]["m.new_content"]["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("Beteiligung beendet am"))
            })
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));

    // A late reply is kept and its author told.
    buergerin
        .say_in_thread(public_room, &root, "Noch eine Idee: am Markt.")
        .await
        .expect("late");
    buergerin
        .wait_for(public_room, BOT, "bereits beendet", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));

    // A retraction redacts the relayed message and the bot's posts in its thread.
    presse
        .say(press_room, "!zurueckziehen 1")
        .await
        .expect("retract");
    let result_id = result["event_id"].as_str().expect("result").to_owned();
    eventually(WAIT, "the root and the thread to be redacted", || async {
        let root = event_in(buergerin, public_room, &root).await?;
        let result = event_in(buergerin, public_room, &result_id).await?;
        (root["content"].get("body").is_none() && result["content"].get("body").is_none())
            .then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));

    // The second top-level message of the day got no second hint.
    assert_eq!(
        buergerin
            .find(public_room, BOT, "reply in its thread")
            .await
            .len(),
        1
    );
    store.close().await.expect("close");
}

#[tokio::test]
async fn a_crash_between_a_send_and_its_record_posts_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let synapse = Synapse::start(dir.path()).expect("synapse");
    let town = Town::new(&synapse).await.expect("rooms");
    let config = town
        .config(&synapse, dir.path(), "password = \"rathaus-password\"", "")
        .expect("config");
    let rathaus = Rathaus::start_with_bot_env(
        dir.path(),
        &config,
        &[("RATHAUS_FAILPOINT", "relay-before-record")],
    )
    .await
    .expect("start");
    let (presse, buergerin) = (&town.presse, &town.buergerin);
    let (press_room, public_room) = (town.press_room.as_str(), town.public_room.as_str());
    // The relay posts the announcement, then the process dies before it records the post.
    presse
        .say(press_room, "!bekanntmachung Straßenfest am Samstag.")
        .await
        .expect("announce");
    buergerin
        .wait_for(public_room, BOT, "Straßenfest", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let mut rathaus = rathaus;
    let status = rathaus
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("the failpoint ends the process");
    assert!(!status.success());
    assert!(rathaus.log().contains("failpoint relay-before-record"));
    // Restarted normally: the row is handled again under the same transaction id, so the
    // homeserver answers with the first event, and the relay records it.
    let again = Rathaus::start_with_bot(dir.path(), &config)
        .await
        .expect("restart");
    presse
        .say(press_room, "!bekanntmachung Zweite Meldung.")
        .await
        .expect("announce");
    buergerin
        .wait_for(public_room, BOT, "Zweite Meldung", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", again.log()));
    assert_eq!(
        buergerin.find(public_room, BOT, "Straßenfest").await.len(),
        1,
        "posted once"
    );
    // And the record exists: a citizen's thread reply to it is a comment.
    let first = buergerin.find(public_room, BOT, "Straßenfest").await;
    let root = first[0]["event_id"].as_str().expect("root").to_owned();
    let reply = buergerin
        .say_in_thread(public_room, &root, "Wir kommen!")
        .await
        .expect("reply");
    let store = Store::connect(&again.sqlite_url(), 1).await.expect("store");
    eventually(WAIT, "the reply as a comment", || async {
        comments::comment_by_origin(store.db(), &reply)
            .await
            .ok()
            .flatten()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", again.log()));
    store.close().await.expect("close");
}
