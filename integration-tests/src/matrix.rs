//! A real Synapse (started by `scripts/synapse.sh`) and a minimal client-server API client
//! for the test users, so tests act as people in rooms would.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// A running throw-away homeserver; stopped and deleted on drop.
#[derive(Debug)]
pub struct Synapse {
    pub port: u16,
    dir: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/synapse.sh")
}

impl Synapse {
    /// Starts one in `dir` on a free port (installs Synapse into its venv the first time).
    pub fn start(dir: &Path) -> Result<Self> {
        let port = crate::free_port();
        let data = dir.join("synapse");
        let out = Command::new("bash")
            .arg(script())
            .arg("up")
            .env("RATHAUS_SYNAPSE_PORT", port.to_string())
            .env("RATHAUS_SYNAPSE_DIR", &data)
            .output()
            .context("run scripts/synapse.sh up")?;
        if !out.status.success() {
            bail!(
                "synapse.sh up failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(Self { port, dir: data })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Logs a test user in (password `<name>-password`).
    pub async fn login(&self, user: &str) -> Result<MatrixUser> {
        let http = reqwest::Client::new();
        let res: Value = http
            .post(format!("{}/_matrix/client/v3/login", self.url()))
            .json(&json!({
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user},
                "password": format!("{user}-password"),
            }))
            .send()
            .await?
            .json()
            .await?;
        let token = res["access_token"]
            .as_str()
            .context("login failed")?
            .to_owned();
        Ok(MatrixUser {
            base: self.url(),
            token,
            user_id: format!("@{user}:localhost"),
            http,
            txn: std::sync::atomic::AtomicU64::new(0),
        })
    }
}

/// The bot's account.
pub const BOT: &str = "@rathaus:localhost";

/// A town hall's rooms with the test users in them: `presse` owns the press and the public
/// room, `moderation` the moderation room, `buergerin` is in the public and the press room,
/// and the bot is invited everywhere.
#[derive(Debug)]
pub struct Town {
    pub presse: MatrixUser,
    pub moderation: MatrixUser,
    pub buergerin: MatrixUser,
    pub press_room: String,
    pub mod_room: String,
    pub public_room: String,
}

impl Town {
    pub async fn new(synapse: &Synapse) -> Result<Self> {
        let presse = synapse.login("presse").await?;
        let moderation = synapse.login("moderation").await?;
        let buergerin = synapse.login("buergerin").await?;
        let press_room = presse
            .create_room("Pressestelle", false, &[BOT, &buergerin.user_id])
            .await?;
        let mod_room = moderation.create_room("Moderation", false, &[BOT]).await?;
        let public_room = presse
            .create_room("Rathaus öffentlich", true, &[BOT])
            .await?;
        // The bot moderates the public room (redacts held and hidden comments), as a town
        // hall sets it up: power level 50 (room v12 creators are not in `users`; kept as is).
        let path = format!(
            "/rooms/{}/state/m.room.power_levels/",
            urlencode(&public_room)
        );
        let mut levels = presse.call(reqwest::Method::GET, &path, None).await?;
        levels["users"][BOT] = json!(50);
        presse
            .call(reqwest::Method::PUT, &path, Some(levels))
            .await?;
        buergerin.join(&press_room).await?;
        buergerin.join(&public_room).await?;
        Ok(Self {
            presse,
            moderation,
            buergerin,
            press_room,
            mod_room,
            public_room,
        })
    }

    /// Writes a Rathaus config whose `[matrix]` section uses these rooms; `credential` is a
    /// TOML line such as `password = "rathaus-password"`, `extra` further lines.
    pub fn config(
        &self,
        synapse: &Synapse,
        dir: &Path,
        credential: &str,
        extra: &str,
    ) -> Result<String> {
        bot_config(
            dir,
            &format!(
                "homeserver_url = \"{}\"\n{credential}\npress_rooms = [\"{}\"]\nmoderation_room = \"{}\"\npublic_rooms = [\"{}\"]\n{extra}",
                synapse.url(),
                self.press_room,
                self.mod_room,
                self.public_room
            ),
        )
    }
}

/// Writes `rathaus.toml` in `dir` with a `[matrix]` section for the bot and returns its path.
pub fn bot_config(dir: &Path, matrix_toml: &str) -> Result<String> {
    let path = dir.join("rathaus.toml");
    std::fs::write(
        &path,
        format!("[matrix]\nuser_id = \"{BOT}\"\n{matrix_toml}"),
    )?;
    Ok(path
        .to_str()
        .context("config path is not UTF-8")?
        .to_owned())
}

impl Drop for Synapse {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("down")
            .env("RATHAUS_SYNAPSE_PORT", self.port.to_string())
            .env("RATHAUS_SYNAPSE_DIR", &self.dir)
            .output();
    }
}

/// One logged-in test user.
#[derive(Debug)]
pub struct MatrixUser {
    base: String,
    pub token: String,
    pub user_id: String,
    http: reqwest::Client,
    txn: std::sync::atomic::AtomicU64,
}

impl MatrixUser {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}/_matrix/client/v3{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await?;
        let status = res.status();
        let text = res.text().await?;
        if !status.is_success() {
            bail!("{path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// Creates a room (public or private) and invites `invite`.
    pub async fn create_room(&self, name: &str, public: bool, invite: &[&str]) -> Result<String> {
        let res = self
            .call(
                reqwest::Method::POST,
                "/createRoom",
                Some(json!({
                    "name": name,
                    "preset": if public { "public_chat" } else { "private_chat" },
                    "invite": invite,
                })),
            )
            .await?;
        Ok(res["room_id"].as_str().context("room id")?.to_owned())
    }

    pub async fn join(&self, room: &str) -> Result<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/join/{}", urlencode(room)),
            Some(json!({})),
        )
        .await?;
        Ok(())
    }

    async fn send(&self, room: &str, content: Value) -> Result<String> {
        let txn = self.txn.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let res = self
            .call(
                reqwest::Method::PUT,
                &format!(
                    "/rooms/{}/send/m.room.message/t{txn}-{}",
                    urlencode(room),
                    std::process::id()
                ),
                Some(content),
            )
            .await?;
        Ok(res["event_id"].as_str().context("event id")?.to_owned())
    }

    pub async fn say(&self, room: &str, body: &str) -> Result<String> {
        self.send(room, json!({"msgtype": "m.text", "body": body}))
            .await
    }

    /// Replies in the thread of `root`.
    pub async fn say_in_thread(&self, room: &str, root: &str, body: &str) -> Result<String> {
        self.send(
            room,
            json!({
                "msgtype": "m.text",
                "body": body,
                "m.relates_to": {"rel_type": "m.thread", "event_id": root, "is_falling_back": true,
                                  "m.in_reply_to": {"event_id": root}},
            }),
        )
        .await
    }

    /// Replies to `event` inside the thread of `root` (`m.in_reply_to`, no fallback).
    pub async fn reply_in_thread(
        &self,
        room: &str,
        root: &str,
        event: &str,
        body: &str,
    ) -> Result<String> {
        self.send(
            room,
            json!({
                "msgtype": "m.text",
                "body": body,
                "m.relates_to": {"rel_type": "m.thread", "event_id": root, "is_falling_back": false,
                                  "m.in_reply_to": {"event_id": event}},
            }),
        )
        .await
    }

    /// Edits one of this user's messages (`m.replace`).
    pub async fn edit(&self, room: &str, event: &str, body: &str) -> Result<String> {
        self.send(
            room,
            json!({
                "msgtype": "m.text",
                "body": format!("* {body}"),
                "m.new_content": {"msgtype": "m.text", "body": body},
                "m.relates_to": {"rel_type": "m.replace", "event_id": event},
            }),
        )
        .await
    }

    /// Redacts an event.
    pub async fn redact(&self, room: &str, event: &str) -> Result<()> {
        let txn = self.txn.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.call(
            reqwest::Method::PUT,
            &format!(
                "/rooms/{}/redact/{}/x{txn}-{}",
                urlencode(room),
                event.replace('$', "%24"),
                std::process::id()
            ),
            Some(json!({})),
        )
        .await?;
        Ok(())
    }

    /// Reacts to an event with `key` (an emoji).
    pub async fn react(&self, room: &str, event: &str, key: &str) -> Result<String> {
        let txn = self.txn.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let res = self
            .call(
                reqwest::Method::PUT,
                &format!("/rooms/{}/send/m.reaction/r{txn}-{}", urlencode(room), std::process::id()),
                Some(json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": event, "key": key}})),
            )
            .await?;
        Ok(res["event_id"].as_str().context("event id")?.to_owned())
    }

    /// The room's latest message events, oldest first.
    pub async fn messages(&self, room: &str) -> Result<Vec<Value>> {
        let res = self
            .call(
                reqwest::Method::GET,
                &format!("/rooms/{}/messages?dir=b&limit=200", urlencode(room)),
                None,
            )
            .await?;
        let mut events: Vec<Value> = res["chunk"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e["type"] == "m.room.message")
            .collect();
        events.reverse();
        Ok(events)
    }

    /// User ids of the room's joined members.
    pub async fn members(&self, room: &str) -> Result<Vec<String>> {
        let res = self
            .call(
                reqwest::Method::GET,
                &format!("/rooms/{}/joined_members", urlencode(room)),
                None,
            )
            .await?;
        Ok(res["joined"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default())
    }

    /// Waits until a message from `sender` containing `needle` is in the room.
    pub async fn wait_for(
        &self,
        room: &str,
        sender: &str,
        needle: &str,
        timeout: std::time::Duration,
    ) -> Result<Value> {
        crate::eventually(
            timeout,
            &format!("a message from {sender} with “{needle}”"),
            || async { self.find(room, sender, needle).await.into_iter().next() },
        )
        .await
    }

    /// Messages from `sender` whose body contains `needle`.
    pub async fn find(&self, room: &str, sender: &str, needle: &str) -> Vec<Value> {
        self.messages(room)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|e| {
                e["sender"] == sender
                    && e["content"]["body"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(needle)
            })
            .collect()
    }
}

fn urlencode(s: &str) -> String {
    s.replace('!', "%21")
        .replace(':', "%3A")
        .replace('#', "%23")
}
