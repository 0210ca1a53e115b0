//! The bot in an end-to-end encrypted room: a press officer whose client encrypts (matrix-sdk,
//! as Element would) sends a command; the bot decrypts it, acts, and answers encrypted.

#![recursion_limit = "256"]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use matrix_sdk::Client;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, RoomMessageEventContent,
};
use matrix_sdk::ruma::{OwnedUserId, UserId};
use rathaus_integration_tests::matrix::{Synapse, bot_config};
use rathaus_integration_tests::{Rathaus, eventually};
use rathaus_shared::Store;
use rathaus_shared::store::announcements;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn commands_work_in_an_encrypted_room() {
    let dir = tempfile::tempdir().expect("tempdir");
    let synapse = Synapse::start(dir.path()).expect("synapse");
    let presse = Client::builder()
        .homeserver_url(synapse.url())
        .sqlite_store(dir.path().join("presse-store"), None)
        .respect_login_well_known(false)
        .build()
        .await
        .expect("client");
    presse
        .matrix_auth()
        .login_username("presse", "presse-password")
        .await
        .expect("login");
    presse
        .sync_once(SyncSettings::default())
        .await
        .expect("sync");
    let bot: OwnedUserId = UserId::parse("@rathaus:localhost").expect("bot id");
    let mut request = create_room::v3::Request::new();
    request.invite = vec![bot.clone()];
    request.name = Some("Pressestelle (verschlüsselt)".into());
    let room = presse.create_room(request).await.expect("create");
    room.enable_encryption().await.expect("encrypt");
    assert!(
        room.latest_encryption_state()
            .await
            .expect("state")
            .is_encrypted()
    );

    let config = bot_config(
        dir.path(),
        &format!(
            "homeserver_url = \"{}\"\npassword = \"rathaus-password\"\npress_rooms = [\"{}\"]\n",
            synapse.url(),
            room.room_id()
        ),
    )
    .expect("config");
    let rathaus = Rathaus::start_with_bot(dir.path(), &config)
        .await
        .expect("start");

    // Our client learns that the bot joined (and its device), then sends encrypted.
    let answered = Arc::new(AtomicBool::new(false));
    let flag = answered.clone();
    presse.add_event_handler(move |ev: OriginalSyncRoomMessageEvent| {
        let flag = flag.clone();
        async move {
            if let MessageType::Notice(n) = &ev.content.msgtype
                && n.body.contains("Bekanntmachung 1 veröffentlicht")
            {
                flag.store(true, Ordering::SeqCst);
            }
        }
    });
    eventually(WAIT, "the bot in the room", || async {
        presse
            .sync_once(SyncSettings::default().timeout(Duration::from_millis(500)))
            .await
            .ok()?;
        let member = room.get_member(&bot).await.ok().flatten()?;
        (member.membership() == &matrix_sdk::ruma::events::room::member::MembershipState::Join)
            .then_some(())
    })
    .await
    .expect("bot joined");
    room.send(RoomMessageEventContent::text_plain(
        "!bekanntmachung Verschlüsselt gesendet.",
    ))
    .await
    .expect("send encrypted");

    let store = Store::connect(&rathaus.sqlite_url(), 1)
        .await
        .expect("store");
    eventually(WAIT, "the decrypted command to run", || async {
        (announcements::count_announcements(store.db()).await.ok()? == 1).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    eventually(WAIT, "the encrypted answer to be readable", || async {
        presse
            .sync_once(SyncSettings::default().timeout(Duration::from_millis(500)))
            .await
            .ok()?;
        answered.load(Ordering::SeqCst).then_some(())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", rathaus.log()));
    store.close().await.expect("close");
}
