//! Soak test, run on demand (not in CI): drives a real Rathaus for N minutes with a mixed load
//! while injecting faults, then checks that nothing was lost.
//!
//! ```sh
//! cargo build -p rathaus -p rathaus-integration-tests --bin soak
//! $CARGO_TARGET_DIR/debug/soak --minutes 10 [--followers 2000] [--hosts 20] [--no-matrix]
//! ```
//!
//! Load: announcements by Matrix command on Synapse (or the CLI with `--no-matrix`) to
//! thousands of followers spread over several sink hosts; signed replies from many authors.
//! Faults (first 60 % of the run): receivers answering 503, receivers too slow (timeouts),
//! Rathaus killed with SIGKILL and restarted, and the PostgreSQL server restarted.
//! Afterwards: every accepted reply stored exactly once, every command run exactly once, every
//! follower got every announcement, no delivery failed, and memory flat in the calm phase.
//! Needs a PostgreSQL installation (`/usr/lib/postgresql/*/bin`): it runs a private server.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::Signal;
use rathaus_federation::signatures::Signer;
use rathaus_integration_tests::matrix::{BOT, Synapse, Town};
use rathaus_integration_tests::sink::Sink;
use rathaus_integration_tests::{Rathaus, arg, eventually, free_port, post_signed};
use rathaus_shared::Store;
use rathaus_shared::entities::JobStatus;
use rathaus_shared::store::actors::{self, RemoteActorData};
use rathaus_shared::store::{announcements, delivery};
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use serde_json::{Value, json};

/// A PostgreSQL server of our own, so the soak can restart it without touching anything else.
struct PrivatePg {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

impl PrivatePg {
    fn as_postgres(args: &[&str]) -> Command {
        // initdb and postgres refuse to run as root.
        let mut cmd = if nix::unistd::Uid::effective().is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]);
            c
        } else {
            Command::new(args[0])
        };
        if nix::unistd::Uid::effective().is_root() {
            cmd.args(args);
        } else {
            cmd.args(&args[1..]);
        }
        cmd
    }

    fn start(root: &Path) -> Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())
            .context("no PostgreSQL in /usr/lib/postgresql")?;
        let data = root.join("pg");
        std::fs::create_dir_all(&data)?;
        if nix::unistd::Uid::effective().is_root() {
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(root)
                .status()?;
        }
        let initdb = bin.join("initdb");
        let status = Self::as_postgres(&[
            initdb.to_str().context("path")?,
            "-D",
            data.to_str().context("path")?,
            "-U",
            "postgres",
            "--auth=trust",
        ])
        .stdout(std::process::Stdio::null())
        .status()?;
        if !status.success() {
            bail!("initdb failed");
        }
        let pg = Self {
            bin,
            data,
            port: free_port(),
        };
        pg.ctl("start")?;
        Ok(pg)
    }

    fn ctl(&self, action: &str) -> Result<()> {
        let ctl = self.bin.join("pg_ctl");
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c max_connections=200",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log");
        let status = Self::as_postgres(&[
            ctl.to_str().context("path")?,
            "-D",
            self.data.to_str().context("path")?,
            "-l",
            log.to_str().context("path")?,
            "-o",
            &options,
            "-m",
            "fast",
            "-w",
            action,
        ])
        .stdout(std::process::Stdio::null())
        .status()?;
        if !status.success() {
            bail!("pg_ctl {action} failed");
        }
        Ok(())
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = self.ctl("stop");
    }
}

/// Resident memory of a process in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

async fn count(store: &Store, sql: &str) -> Result<i64> {
    let row = store
        .db()
        .query_one_raw(Statement::from_string(store.backend(), sql.to_owned()))
        .await?
        .context("row")?;
    Ok(row.try_get::<i64>("", "n")?)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let minutes: f64 = arg(&args, "--minutes", "10").parse()?;
    let followers: usize = arg(&args, "--followers", "2000").parse()?;
    let hosts: usize = arg(&args, "--hosts", "20").parse()?;
    let with_matrix = !args.iter().any(|a| a == "--no-matrix");
    let total = Duration::from_secs_f64(minutes * 60.0);
    let faulty = total.mul_f64(0.6);

    let root = tempfile::tempdir()?;
    println!("soak: {minutes} min, {followers} followers on {hosts} hosts, matrix {with_matrix}");
    let pg = PrivatePg::start(root.path())?;
    let dir = root.path().join("rathaus");
    std::fs::create_dir_all(&dir)?;

    // Receivers: `hosts` sinks, each with followers' personal inboxes.
    let mut sinks = Vec::new();
    for _ in 0..hosts {
        sinks.push(Sink::start().await?);
    }
    let keys = rathaus_shared::keys::generate_rsa_keypair()?;
    let store = Store::connect(&pg.url(), 2).await?;
    store.migrate().await?;
    let txn = store.db().begin().await?;
    for i in 0..followers {
        let sink = &sinks[i % hosts];
        let actor = actors::upsert_remote_actor(
            &txn,
            RemoteActorData {
                ap_id: sink.url(&format!("/users/u{i}")),
                username: format!("u{i}"),
                domain: format!("localhost:{}", sink.port),
                display_name: None,
                inbox: sink.url(&format!("/users/u{i}/inbox")),
                shared_inbox: None,
                public_key_pem: Some(keys.public_pem.clone()),
                key_id: None,
            },
            rathaus_shared::store::now(),
        )
        .await?;
        actors::add_follower(
            &txn,
            actor.id,
            &sink.url(&format!("/follows/{i}")),
            rathaus_shared::store::now(),
        )
        .await?;
    }
    txn.commit().await?;
    // Reply authors: 200 people on the sink hosts, sharing one key for speed.
    let authors: Vec<(String, Signer)> = (0..200)
        .map(|i| {
            let sink = &sinks[i % hosts];
            let actor = sink.url(&format!("/users/author{i}"));
            sink.put_document(
                &format!("/users/author{i}"),
                json!({
                    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                    "id": actor, "type": "Person", "preferredUsername": format!("author{i}"),
                    "inbox": sink.url(&format!("/users/author{i}/inbox")),
                    "publicKey": { "id": format!("{actor}#main-key"), "owner": actor, "publicKeyPem": keys.public_pem },
                }),
            );
            let signer = Signer::from_pem(&format!("{actor}#main-key"), &keys.private_pem)
                .expect("signer");
            (actor, signer)
        })
        .collect();

    // Matrix.
    let synapse = if with_matrix {
        Some(Synapse::start(root.path())?)
    } else {
        None
    };
    let town = match &synapse {
        Some(s) => Some(Town::new(s).await?),
        None => None,
    };
    let mut rathaus_args = vec!["serve".to_owned()];
    if let (Some(s), Some(t)) = (&synapse, &town) {
        let config = t.config(s, &dir, "password = \"rathaus-password\"", "")?;
        rathaus_args = vec!["--config".into(), config, "serve".into()];
    }
    let url = pg.url();
    let env = [
        ("RATHAUS_DATABASE__URL", url.as_str()),
        ("RATHAUS_FEDERATION__RETRY_MIN_SECONDS", "1"),
        ("RATHAUS_FEDERATION__REQUEST_TIMEOUT_SECONDS", "2"),
        ("RATHAUS_FEDERATION__DELIVERY_LEASE_SECONDS", "5"),
        ("RATHAUS_POLICY__AUTHOR_BURST", "1000"),
        ("RATHAUS_POLICY__INSTANCE_BURST", "100000"),
        ("RUST_LOG", "warn,rathaus=info"),
        // Twenty loopback hosts on ports chosen as they start: a load tool, not a test.
        ("RATHAUS_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
    ];
    let arg_refs: Vec<&str> = rathaus_args.iter().map(String::as_str).collect();
    let mut rathaus = Rathaus::start(&dir, &arg_refs, &env)?;
    rathaus.wait_ready().await?;
    if with_matrix {
        // Messages from before the bot joined its rooms are history, never commands.
        eventually(Duration::from_secs(60), "the Matrix bot to run", || async {
            rathaus.log().contains("matrix bot running").then_some(())
        })
        .await
        .with_context(|| rathaus.log())?;
    }
    let out = rathaus.command(&[
        "announce",
        "--title",
        "Soak",
        "--consultation",
        "--closes",
        "2099-12-31T00:00:00Z",
        "Dauerlauf: antworten Sie hier.",
    ])?;
    let note = out
        .split('\t')
        .nth(2)
        .context("note url")?
        .trim()
        .to_owned();
    let mut commands_sent = 0u64;
    let started = Instant::now();

    // Replies: a steady stream; remember which were accepted.
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let attempts = Arc::new(AtomicU64::new(0));
    let replier = {
        let (stop, accepted, attempts) = (stop.clone(), accepted.clone(), attempts.clone());
        let inbox = rathaus.public("/inbox");
        let note = note.clone();
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let (actor, signer) = &authors[(n as usize) % authors.len()];
                let id = format!("{actor}/statuses/{n}");
                let now = chrono::Utc::now().to_rfc3339();
                let create = json!({
                    "@context": "https://www.w3.org/ns/activitystreams",
                    "id": format!("{id}/activity"), "type": "Create", "actor": actor, "published": now,
                    "to": ["https://www.w3.org/ns/activitystreams#Public"],
                    "object": { "id": id, "type": "Note", "attributedTo": actor, "inReplyTo": note,
                                "published": now, "to": ["https://www.w3.org/ns/activitystreams#Public"],
                                "content": format!("<p>Beitrag {n}: mehr Bäume und Bänke am Markt.</p>") },
                });
                attempts.fetch_add(1, Ordering::SeqCst);
                if let Ok((202, _)) = post_signed(&inbox, &create, signer).await {
                    accepted.lock().expect("lock").push(id);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    let mut rss: Vec<(f64, u64, bool)> = Vec::new();
    let mut kills = 0;
    let mut pg_restarts = 0;
    let mut next_announce = Duration::ZERO;
    let mut next_fault = Duration::from_secs(10);
    let mut fault_step = 0;
    while started.elapsed() < total {
        let t = started.elapsed();
        if t >= next_announce {
            commands_sent += 1;
            let text = format!("Soak-Bekanntmachung {commands_sent}");
            match &town {
                Some(town) => {
                    town.presse
                        .say(&town.press_room, &format!("!bekanntmachung {text}"))
                        .await?;
                }
                None => {
                    while rathaus.command(&["announce", &text]).is_err() {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            next_announce = t + Duration::from_secs(30);
        }
        if t < faulty && t >= next_fault {
            fault_step += 1;
            match fault_step % 4 {
                1 => {
                    println!("[{:>5.0}s] receivers answer 503 for 10 s", t.as_secs_f64());
                    for s in &sinks {
                        s.set_status(503);
                    }
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    for s in &sinks {
                        s.set_status(202);
                    }
                }
                2 => {
                    println!(
                        "[{:>5.0}s] receivers too slow (timeouts) for 10 s",
                        t.as_secs_f64()
                    );
                    for s in sinks.iter().step_by(2) {
                        s.set_delay(Duration::from_secs(3));
                    }
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    for s in &sinks {
                        s.set_delay(Duration::ZERO);
                    }
                }
                3 => {
                    println!(
                        "[{:>5.0}s] SIGKILL Rathaus, restart after 3 s",
                        t.as_secs_f64()
                    );
                    rathaus.signal(Signal::SIGKILL)?;
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    rathaus.restart()?;
                    rathaus.wait_ready().await?;
                    kills += 1;
                }
                _ => {
                    println!("[{:>5.0}s] restart PostgreSQL", t.as_secs_f64());
                    pg.ctl("restart")?;
                    pg_restarts += 1;
                }
            }
            next_fault = started.elapsed() + Duration::from_secs(10);
        }
        if let Some(kib) = rss_kib(rathaus.child.id()) {
            rss.push((
                started.elapsed().as_secs_f64(),
                kib,
                started.elapsed() >= faulty,
            ));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    stop.store(true, Ordering::SeqCst);
    replier.await?;

    // Let everything settle: the queue drains, commands run.
    let check = Store::connect(&pg.url(), 2).await?;
    let expected_announcements = commands_sent + 1;
    eventually(Duration::from_secs(300), "every command to run", || async {
        let n = announcements::count_announcements(check.db()).await.ok()?;
        (n >= expected_announcements).then_some(())
    })
    .await
    .with_context(|| rathaus.log())?;
    eventually(
        Duration::from_secs(600),
        "the delivery queue to drain",
        || async {
            let counts = delivery::count_by_status(check.db()).await.ok()?;
            let open: i64 = counts
                .iter()
                .filter(|(s, _)| matches!(s, JobStatus::Pending | JobStatus::InFlight))
                .map(|(_, n)| n)
                .sum();
            (open == 0).then_some(())
        },
    )
    .await
    .with_context(|| rathaus.log())?;

    let mut problems = Vec::new();
    // Replies: every accepted one stored exactly once.
    let accepted = accepted.lock().expect("lock").clone();
    let unique: HashSet<&String> = accepted.iter().collect();
    let stored = count(&check, "SELECT count(*) AS n FROM comment").await?;
    let missing = {
        let mut missing = 0;
        for id in &unique {
            let n = count(
                &check,
                &format!(
                    "SELECT count(*) AS n FROM comment WHERE origin_id = '{}'",
                    id.replace('\'', "''")
                ),
            )
            .await?;
            if n != 1 {
                missing += 1;
            }
        }
        missing
    };
    if missing > 0 {
        problems.push(format!(
            "{missing} accepted replies not stored exactly once"
        ));
    }
    // Commands: each ran exactly once.
    let announced = announcements::count_announcements(check.db()).await?;
    if announced != expected_announcements {
        problems.push(format!(
            "{announced} announcements for {expected_announcements} commands"
        ));
    }
    if let (Some(town), true) = (&town, with_matrix) {
        let confirmations = town
            .presse
            .find(&town.press_room, BOT, "veröffentlicht")
            .await
            .len();
        println!("bot confirmations seen: {confirmations}");
    }
    // Deliveries: none failed; every follower got every announcement.
    let failed = count(
        &check,
        "SELECT count(*) AS n FROM delivery_job WHERE status = 'failed'",
    )
    .await?;
    if failed > 0 {
        problems.push(format!("{failed} deliveries failed"));
    }
    let mut got: HashMap<String, HashSet<String>> = HashMap::new();
    let mut duplicates = 0u64;
    let mut deliveries = 0u64;
    for s in &sinks {
        for r in s.received() {
            let Ok(v) = serde_json::from_slice::<Value>(&r.body) else {
                continue;
            };
            if v["type"] != "Create" {
                continue;
            }
            deliveries += 1;
            let object = v["object"]["id"].as_str().unwrap_or_default().to_owned();
            if !got
                .entry(format!("{}{}", s.port, r.path))
                .or_default()
                .insert(object)
            {
                duplicates += 1;
            }
        }
    }
    let incomplete = got
        .values()
        .filter(|objects| (objects.len() as u64) < expected_announcements)
        .count()
        + followers.saturating_sub(got.len());
    if incomplete > 0 {
        problems.push(format!("{incomplete} followers missed announcements"));
    }
    // Memory: in the calm phase, the last quarter's peak within 20 % of the first quarter's.
    let calm: Vec<u64> = rss
        .iter()
        .filter(|(_, _, c)| *c)
        .map(|(_, k, _)| *k)
        .collect();
    let quarter = (calm.len() / 4).max(1);
    let early = calm.iter().take(quarter).max().copied().unwrap_or(0);
    let late = calm.iter().rev().take(quarter).max().copied().unwrap_or(0);
    if early > 0 && late as f64 > early as f64 * 1.2 {
        problems.push(format!(
            "memory grew in the calm phase: {early} → {late} KiB"
        ));
    }

    println!(
        "\n| minutes | followers / hosts | announcements | deliveries (dup.) | replies sent / accepted / stored | SIGKILLs | PostgreSQL restarts | RSS calm phase, first → last quarter peak | result |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {minutes} | {followers} / {hosts} | {announced} | {deliveries} ({duplicates}) | {} / {} / {stored} | {kills} | {pg_restarts} | {:.1} → {:.1} MiB | {} |",
        attempts.load(Ordering::SeqCst),
        unique.len(),
        early as f64 / 1024.0,
        late as f64 / 1024.0,
        if problems.is_empty() {
            "nothing lost".to_owned()
        } else {
            problems.join("; ")
        }
    );
    check.close().await?;
    store.close().await?;
    rathaus.signal(Signal::SIGTERM)?;
    let _ = rathaus.wait_exit(Duration::from_secs(20)).await;
    if !problems.is_empty() {
        bail!("soak found problems: {}", problems.join("; "));
    }
    Ok(())
}
