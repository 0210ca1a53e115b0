//! The Matrix bot against a real Synapse: press office commands, refusal of unauthorised
//! users, helpful replies to malformed commands, citizens' thread replies as comments, and a
//! restart that neither loses nor repeats a command.

use std::time::Duration;

use nix::sys::signal::Signal;
use rathaus_integration_tests::matrix::{BOT, Synapse, Town};
use rathaus_integration_tests::{Rathaus, eventually};
use rathaus_shared::Store;
use rathaus_shared::entities::{CommentStatus, Network};
use rathaus_shared::store::{announcements, comments};

const WAIT: Duration = Duration::from_secs(45);

async fn announcement_count(rathaus: &Rathaus) -> u64 {
    let store = Store::connect(&rathaus.sqlite_url(), 1)
        .await
        .expect("store");
    let n = announcements::count_announcements(store.db())
        .await
        .expect("count");
    store.close().await.expect("close");
    n
}

#[tokio::test]
async fn press_office_commands_citizen_replies_and_restart() {
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

    // Written before the bot ever joined: history, never to be run as a command.
    presse
        .say(
            press_room,
            "!bekanntmachung Alte Nachricht aus der Zeit vor dem Bot",
        )
        .await
        .expect("old");

    let config = town
        .config(
            &synapse,
            dir.path(),
            "password = \"rathaus-password\"",
            "moderators = [\"@moderation:localhost\"]\n",
        )
        .expect("config");
    let mut rathaus = Rathaus::start_with_bot(dir.path(), &config)
        .await
        .expect("start");

    // The press office announces; the bot confirms in the thread and relays to the public room.
    presse
        .say(
            press_room,
            "!bekanntmachung Die Bürgersprechstunde ist am **Freitag**.",
        )
        .await
        .expect("say");
    presse
        .wait_for(press_room, BOT, "Bekanntmachung 1 veröffentlicht", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    let relayed = buergerin
        .wait_for(public_room, BOT, "Bürgersprechstunde", WAIT)
        .await
        .expect("relayed");
    assert!(
        relayed["content"]["formatted_body"]
            .as_str()
            .unwrap_or_default()
            .contains("<strong>Freitag</strong>"),
        "{relayed}"
    );
    assert_eq!(
        announcement_count(&rathaus).await,
        1,
        "the message from before the bot joined did not run"
    );
    let notice = presse.find(press_room, BOT, "Bekanntmachung 1").await;
    assert_eq!(notice[0]["content"]["msgtype"], "m.notice");

    // An unauthorised user is refused politely and nothing changes.
    buergerin
        .say(press_room, "!bekanntmachung Gefälschte Meldung")
        .await
        .expect("say");
    buergerin
        .wait_for(press_room, BOT, "dürfen Sie hier nicht", WAIT)
        .await
        .expect("refused");
    assert_eq!(announcement_count(&rathaus).await, 1);

    // A malformed command gets a reply that says what was wrong and how to write it.
    presse
        .say(press_room, "!korrigieren drei Text")
        .await
        .expect("say");
    presse
        .wait_for(press_room, BOT, "„drei“ ist keine ID", WAIT)
        .await
        .expect("hint");
    // Moderator commands belong to the moderation room; !hilfe lists what the sender may use.
    moderation.say(mod_room, "!hilfe").await.expect("say");
    let help = moderation
        .wait_for(mod_room, BOT, "!warteschlange", WAIT)
        .await
        .expect("help");
    assert!(
        !help["content"]["body"]
            .as_str()
            .unwrap_or_default()
            .contains("!bekanntmachung TEXT"),
        "{help}"
    );
    // Help and errors come from the command enums, in German, never clap's English.
    let body = help["content"]["body"].as_str().unwrap_or_default();
    assert!(body.starts_with("Befehle:"), "{help}");
    assert!(body.contains("Zeigt zurückgehaltene Kommentare."), "{help}");
    assert!(body.contains("(auch !queue)"), "{help}");
    moderation.say(mod_room, "!freigeben").await.expect("say");
    let wrong = moderation
        .wait_for(mod_room, BOT, "Es fehlt: ID", WAIT)
        .await
        .expect("German error");
    let body = wrong["content"]["body"].as_str().unwrap_or_default();
    assert!(body.contains("So geht es: `!freigeben ID`"), "{wrong}");
    assert!(
        !body.contains("error:") && !body.contains("Usage"),
        "{wrong}"
    );

    // A citizen's thread reply becomes a comment from the Matrix network.
    let root = relayed["event_id"].as_str().expect("event id").to_owned();
    let reply_id = buergerin
        .say_in_thread(public_room, &root, "Ich komme gern vorbei!")
        .await
        .expect("reply");
    let store = Store::connect(&rathaus.sqlite_url(), 1)
        .await
        .expect("store");
    let comment = eventually(WAIT, "the comment", || async {
        comments::comment_by_origin(store.db(), &reply_id)
            .await
            .ok()
            .flatten()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert_eq!(
        (comment.network, comment.status),
        (Network::Matrix, CommentStatus::Published)
    );
    assert_eq!(comment.author_id, buergerin.user_id);
    assert_eq!(comment.announcement_id, 1);
    // The citizen edits it (the policy runs again), then deletes it (the text is erased).
    buergerin
        .edit(
            public_room,
            &reply_id,
            "Ich komme gern vorbei, mit Fragen zum Radweg!",
        )
        .await
        .expect("edit");
    eventually(WAIT, "the edit", || async {
        let c = comments::comment_by_origin(store.db(), &reply_id)
            .await
            .ok()
            .flatten()?;
        c.content
            .as_deref()
            .is_some_and(|t| t.contains("Radweg"))
            .then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    buergerin
        .redact(public_room, &reply_id)
        .await
        .expect("redact");
    let erased = eventually(WAIT, "the erasure", || async {
        let c = comments::comment_by_origin(store.db(), &reply_id)
            .await
            .ok()
            .flatten()?;
        (c.status == CommentStatus::Deleted).then_some(c)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert_eq!(erased.content, None);
    // A reply with nothing to read is refused, and the citizen is told why in the room.
    let hollow_id = buergerin
        .say_in_thread(public_room, &root, "\u{200B}\u{3000} \u{00A0}")
        .await
        .expect("hollow reply");
    let refusal = buergerin
        .wait_for(public_room, BOT, "nicht angenommen", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    assert!(
        refusal["content"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("keinen lesbaren Text")),
        "{refusal}"
    );
    assert!(
        comments::comment_by_origin(store.db(), &hollow_id)
            .await
            .expect("query")
            .is_none(),
        "nothing stored"
    );
    store.close().await.expect("close");

    // Invitations: from an allowed user (a configured moderator) the bot joins; from anyone
    // else it declines.
    let invited = moderation
        .create_room("Neuer Raum", false, &[BOT])
        .await
        .expect("invite");
    let stranger = buergerin
        .create_room("Fremder Raum", false, &[BOT])
        .await
        .expect("invite");
    eventually(
        WAIT,
        "the bot to accept the moderator's invitation",
        || async {
            let members = moderation.members(&invited).await.ok()?;
            members.iter().any(|m| m == BOT).then_some(())
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    eventually(
        WAIT,
        "the bot to decline the stranger's invitation",
        || async { rathaus.log().contains("accepted=false").then_some(()) },
    )
    .await
    .expect("declined");
    assert!(
        !buergerin
            .members(&stranger)
            .await
            .expect("members")
            .iter()
            .any(|m| m == BOT)
    );

    // Restart: a command sent while the bot is down runs once after it comes back, and no
    // earlier command runs again.
    rathaus.signal(Signal::SIGTERM).expect("stop");
    assert!(
        rathaus
            .wait_exit(Duration::from_secs(20))
            .await
            .expect("exit")
            .success()
    );
    presse
        .say(
            press_room,
            "!bekanntmachung Zweite Meldung, gesendet während der Pause.",
        )
        .await
        .expect("say");
    let again = Rathaus::start_with_bot(dir.path(), &config)
        .await
        .expect("restart");
    presse
        .wait_for(press_room, BOT, "Bekanntmachung 2 veröffentlicht", WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", again.log()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(announcement_count(&again).await, 2, "nothing ran twice");
    assert_eq!(
        presse
            .find(press_room, BOT, "Bekanntmachung 2 veröffentlicht")
            .await
            .len(),
        1
    );
    assert_eq!(
        presse
            .find(press_room, BOT, "Bekanntmachung 1 veröffentlicht")
            .await
            .len(),
        1
    );
    assert!(
        again.log().contains("matrix session restored"),
        "{}",
        again.log()
    );
}
