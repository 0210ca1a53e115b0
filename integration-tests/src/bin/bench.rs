//! Benchmarks of the running service, on loopback only. Build and run in release:
//!
//! ```sh
//! cargo build --release -p rathaus -p rathaus-integration-tests --bin bench
//! target/release/bench fanout            # 10,000 followers on 2,000 shared inboxes
//! target/release/bench fanout --floor raw   # the same inboxes fed by a bare sender
//! target/release/bench inbox             # signed replies into the inbox, SQLite
//! target/release/bench inbox --reference fedify --pages 10   # beside Fedify, then a page storm
//! target/release/bench inbox --rate 1000 --seconds 10         # open loop
//! target/release/bench inbox --postgres postgres://postgres@127.0.0.1:5432/postgres
//! ```
//!
//! Results are printed as Markdown rows for `BENCHMARKS.md`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use rathaus_federation::signatures::Signer;
use rathaus_integration_tests::sink::Sink;
use rathaus_integration_tests::{Rathaus, arg, eventually, run};
use rathaus_shared::Store;
use rathaus_shared::store::actors::{self, RemoteActorData};
use sea_orm::TransactionTrait;
use serde_json::json;

/// Signature headers and the body they sign.
type SignedRequest = (Vec<(&'static str, String)>, Vec<u8>);

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("fanout") => fanout(&args).await,
        Some("floor-send") => floor_send(&args).await,
        Some("inbox") => inbox(&args).await,
        Some("sign") => sign_rate().await,
        Some("policy") => policy_bench(&args),
        Some("openssl") => {
            println!(
                "openssl speed rsa2048 (2 processes): {:.0} sign/s",
                openssl_sign_rate()?
            );
            Ok(())
        }
        _ => bail!(
            "usage: bench fanout [--followers N] [--inboxes N] [--concurrency N] [--floor raw|rathaus|reqwest] | bench inbox [--replies N] [--connections N] [--authors N] [--rate R --seconds S] [--reference fedify] [--pages S] [--postgres URL]"
        ),
    }
}

/// Realistic German comments of 200–2,000 characters, made deterministically.
fn german_comments(n: usize) -> Vec<String> {
    const SENTENCES: &[&str] = &[
        "Der geplante Radweg an der Hauptstraße ist überfällig und sollte breiter werden.",
        "Bitte prüfen Sie auch eine sichere Querung an der Schulstraße, dort wird es morgens eng.",
        "Ich wohne seit zwanzig Jahren im Viertel und wünsche mir mehr Bäume und Sitzbänke.",
        "Die Parkplätze vor den Geschäften sind für ältere Menschen wichtig, das sollte man bedenken.",
        "Warum wird die Buslinie 7 nicht öfter eingesetzt? Am Wochenende fährt sie kaum.",
        "Der Spielplatz am Stadtpark braucht dringend neue Geräte und einen Sonnenschutz.",
        "Könnten die Bauarbeiten so geplant werden, dass der Wochenmarkt weiter stattfinden kann?",
        "Eine Fahrradstraße wäre eine gute Lösung, wenn der Lieferverkehr geregelt wird.",
        "Ich finde den Vorschlag gelungen, aber die Kosten sollten offen gelegt werden.",
        "Mehr Beleuchtung auf dem Weg zum Bahnhof würde vielen ein sichereres Gefühl geben.",
        "Gibt es eine Übersicht, welche Straßen im nächsten Jahr saniert werden sollen?",
        "Danke für die Möglichkeit, sich zu beteiligen. Das sollte es öfter geben!",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let target = 200 + (next() % 1800) as usize;
            let mut text = String::new();
            while text.len() < target {
                text.push_str(SENTENCES[(next() % SENTENCES.len() as u64) as usize]);
                text.push(' ');
            }
            text
        })
        .collect()
}

/// Rules like a large municipality's: `words` word rules of 10 words each would be too few
/// entries, so each rule carries one word (`n/2` rules) and one pattern (`n/2` rules).
fn bench_rules(n: usize) -> Vec<rathaus_shared::policy::RuleSpec> {
    use rathaus_shared::entities::RuleAction;
    use rathaus_shared::policy::{RuleKind, RuleSpec};
    let mut rules = Vec::with_capacity(n);
    for i in 0..n / 2 {
        rules.push(RuleSpec {
            id: format!("wort-{i}"),
            version: 1,
            kind: RuleKind::Words,
            action: RuleAction::Hold,
            reason: "r".into(),
            reason_en: None,
            words: vec![format!("schimpf{i}wort"), format!("beleidigung{i}x")],
            whole_word: true,
            patterns: vec![],
            max: None,
            ratio: None,
            min_letters: None,
        });
        rules.push(RuleSpec {
            id: format!("muster-{i}"),
            version: 1,
            kind: RuleKind::Regex,
            action: RuleAction::Hold,
            reason: "r".into(),
            reason_en: None,
            words: vec![],
            whole_word: true,
            patterns: vec![format!("(?-u:\\b)spam{i}[a-z]{{2,8}}(?-u:\\b)")],
            max: None,
            ratio: None,
            min_letters: None,
        });
    }
    rules
}

/// Policy evaluation throughput on one core, for growing rule counts.
fn policy_bench(args: &[String]) -> Result<()> {
    use rathaus_shared::policy::{AuthorHistory, CommentInput, Policy, evaluate};
    let comments = german_comments(2000);
    let avg = comments.iter().map(String::len).sum::<usize>() / comments.len();
    let seconds: f64 = arg(args, "--seconds", "3").parse()?;
    println!(
        "{} comments, {avg} bytes on average, one thread\n",
        comments.len()
    );
    println!("| rules (regex + words) | compile | comments/s | µs per comment |");
    println!("|---|---|---|---|");
    let history = AuthorHistory {
        published: 3,
        ..AuthorHistory::default()
    };
    for n in [0usize, 100, 250, 500, 1000] {
        let t = Instant::now();
        let policy = Policy::compile(bench_rules(n))?;
        let compile = t.elapsed();
        let now = chrono::Utc::now();
        let started = Instant::now();
        let mut done = 0usize;
        let mut held = 0usize;
        while started.elapsed().as_secs_f64() < seconds {
            for text in &comments {
                let d = evaluate(
                    &policy,
                    &CommentInput {
                        text,
                        author_id: "a",
                        author_domain: "x",
                        created_at: now,
                    },
                    &history,
                    now,
                );
                held += usize::from(d.rule_id.is_some());
                done += 1;
            }
        }
        let rate = done as f64 / started.elapsed().as_secs_f64();
        println!(
            "| {n} ({} + {}) | {:.0} ms | {rate:.0} | {:.1} |",
            n / 2,
            n / 2,
            compile.as_secs_f64() * 1000.0,
            1e6 / rate
        );
        if held > 0 {
            bail!("{held} comments matched a rule; the corpus should be clean");
        }
    }
    Ok(())
}

/// Our own signing path (aws-lc-rs via `Signer`), on one and on two threads.
async fn sign_rate() -> Result<()> {
    let keys = rathaus_shared::keys::generate_rsa_keypair()?;
    let signer = Signer::from_pem("https://a.example/users/a#main-key", &keys.private_pem)?;
    let url = url::Url::parse("https://b.example/inbox")?;
    let body = vec![b'x'; 1500];
    for threads in [1usize, 2] {
        let started = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (signer, url, body) = (signer.clone(), url.clone(), body.clone());
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_secs(5) {
                        let _ = signer.sign("POST", &url, Some(&body), SystemTime::now());
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
        println!(
            "Signer (aws-lc-rs), {threads} thread(s): {:.0} signed requests/s",
            total as f64 / started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The machine's own RSA-2048 signing rate on both cores: the physical bound of a fan-out.
fn openssl_sign_rate() -> Result<f64> {
    let out = std::process::Command::new("openssl")
        .args(["speed", "-seconds", "5", "-multi", "2", "rsa2048"])
        .output()
        .context("run openssl speed")?;
    let text = String::from_utf8_lossy(&out.stdout);
    // The summary line: "rsa 2048 bits 0.000555s 0.000016s 1801.8 62500.0" (sign/s is 5th).
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("rsa") && l.contains("2048 bits") && !l.contains(':'))
        .with_context(|| format!("no summary line in openssl output: {text}"))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    fields
        .get(5)
        .and_then(|f| f.parse().ok())
        .with_context(|| format!("cannot read sign/s from `{line}`"))
}

/// Inbox servers on `count` ports (each a distinct host for per-host limits), counting POSTs.
/// A minimal HTTP/1.1 responder rather than a full framework: the remote servers are not
/// what is measured, and on a 2-core machine every cycle they take is taken from Rathaus.
async fn inbox_farm(
    count: usize,
    received: Arc<AtomicU64>,
    first: Arc<AtomicU64>,
    last: Arc<AtomicU64>,
    started: Instant,
) -> Result<Vec<u16>> {
    let mut ports = Vec::with_capacity(count);
    for _ in 0..count {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        ports.push(listener.local_addr()?.port());
        let (received, first, last) = (received.clone(), first.clone(), last.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (received, first, last) = (received.clone(), first.clone(), last.clone());
                tokio::spawn(async move {
                    let _ = answer_posts(stream, |_| {
                        let now = u64::try_from(started.elapsed().as_micros()).unwrap_or(0);
                        received.fetch_add(1, Ordering::SeqCst);
                        first.fetch_min(now, Ordering::SeqCst);
                        last.fetch_max(now, Ordering::SeqCst);
                    })
                    .await;
                });
            }
        });
    }
    Ok(ports)
}

/// Reads HTTP/1.1 requests on one connection and answers each with 202, calling `on_request`
/// with the request head.
async fn answer_posts(mut stream: tokio::net::TcpStream, on_request: impl Fn(&str)) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    loop {
        // Read the head.
        let head_end = loop {
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        buf.drain(..head_end + length);
        on_request(&head);
        stream
            .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
            .await?;
    }
}

async fn fanout(args: &[String]) -> Result<()> {
    let followers: usize = arg(args, "--followers", "10000").parse()?;
    let inboxes: usize = arg(args, "--inboxes", "2000").parse()?;
    let concurrency = arg(args, "--concurrency", "128");
    let per_host = arg(args, "--per-host", "4");

    let bound = match args.iter().position(|a| a == "--bound") {
        Some(i) => args.get(i + 1).context("--bound N")?.parse()?,
        None => {
            println!(
                "measuring the machine's RSA-2048 signing rate (openssl speed, 2 processes, 5 s)…"
            );
            openssl_sign_rate()?
        }
    };

    let started = Instant::now();
    let received = Arc::new(AtomicU64::new(0));
    let first = Arc::new(AtomicU64::new(u64::MAX));
    let last = Arc::new(AtomicU64::new(0));
    let ports = inbox_farm(
        inboxes,
        received.clone(),
        first.clone(),
        last.clone(),
        started,
    )
    .await?;

    if let Some(client) = args
        .iter()
        .position(|a| a == "--floor")
        .and_then(|i| args.get(i + 1))
    {
        return floor(
            client,
            &ports,
            &concurrency,
            bound,
            &received,
            &first,
            &last,
        )
        .await;
    }

    let dir = tempfile::tempdir()?;
    let (code, _, err) = run(dir.path(), &["migrate"], &[])?;
    if code != 0 {
        bail!("migrate: {err}");
    }
    let store = Store::connect(
        &format!("sqlite://{}", dir.path().join("data/rathaus.db").display()),
        2,
    )
    .await?;
    let txn = store.db().begin().await?;
    for i in 0..followers {
        let port = ports[i % inboxes];
        let actor = actors::upsert_remote_actor(
            &txn,
            RemoteActorData {
                ap_id: format!("http://localhost:{port}/users/u{i}"),
                username: format!("u{i}"),
                domain: format!("localhost:{port}"),
                display_name: None,
                inbox: format!("http://localhost:{port}/users/u{i}/inbox"),
                shared_inbox: Some(format!("http://localhost:{port}/inbox")),
                public_key_pem: None,
                key_id: None,
            },
            rathaus_shared::store::now(),
        )
        .await?;
        actors::add_follower(
            &txn,
            actor.id,
            &format!("http://localhost:{port}/f/{i}"),
            rathaus_shared::store::now(),
        )
        .await?;
    }
    txn.commit().await?;
    store.close().await?;

    let env = [
        (
            "RATHAUS_FEDERATION__DELIVERY_CONCURRENCY",
            concurrency.as_str(),
        ),
        (
            "RATHAUS_FEDERATION__PER_HOST_CONCURRENCY",
            per_host.as_str(),
        ),
        ("RUST_LOG", "warn"),
        // Many loopback receivers on ports chosen as they start: a load tool, not a test.
        ("RATHAUS_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
    ];
    let mut rathaus = Rathaus::start(dir.path(), &["serve"], &env)?;
    rathaus.wait_ready().await?;
    let t0 = started.elapsed();
    let ticks = clock_ticks();
    let rathaus_pid = rathaus.child.id();
    let cpu_before = (
        cpu_seconds(rathaus_pid, ticks),
        cpu_seconds(std::process::id(), ticks),
    );
    rathaus.command(&["announce", "Benchmark: eine Bekanntmachung an alle."])?;
    let announced = started.elapsed();
    let expected = u64::try_from(inboxes)?;
    eventually(Duration::from_secs(600), "every shared inbox", || async {
        (received.load(Ordering::SeqCst) >= expected).then_some(())
    })
    .await?;
    let cpu_after = (
        cpu_seconds(rathaus_pid, ticks),
        cpu_seconds(std::process::id(), ticks),
    );
    let done = Duration::from_micros(last.load(Ordering::SeqCst));
    let first_at = Duration::from_micros(first.load(Ordering::SeqCst));
    let total = done.saturating_sub(announced);
    // The worker polls the queue every second when idle, and this announcement comes from
    // another process (the CLI) that cannot wake it: the steady rate is measured from the
    // first delivery to the last, and the pick-up delay is shown on its own.
    let pickup = first_at.saturating_sub(announced);
    let steady = done.saturating_sub(first_at);
    let rate = (expected - 1) as f64 / steady.as_secs_f64();
    let _ = t0;
    println!(
        "\n| followers | shared inboxes (hosts) | concurrency / per host | deliveries | announce → last delivery | of which pick-up | deliveries/s (first → last) | openssl sign/s (2 cores) | share of bound |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {followers} | {inboxes} | {concurrency} / {per_host} | {expected} | {:.2} s | {:.2} s | {rate:.0} | {bound:.0} | {:.0} % |",
        total.as_secs_f64(),
        pickup.as_secs_f64(),
        100.0 * rate / bound
    );
    // Where the CPU went (from announce to the last delivery, idle polling included): the
    // receivers share the two cores, which caps what any sender could reach here.
    let rathaus_cpu = cpu_after.0 - cpu_before.0;
    let receiver_cpu = cpu_after.1 - cpu_before.1;
    let per = |s: f64| s / expected as f64 * 1e6;
    println!(
        "\nCPU during the fan-out: rathaus {rathaus_cpu:.2} s ({:.0} µs per delivery), receivers {receiver_cpu:.2} s ({:.0} µs per delivery); \
         with signing alone at {:.0} µs, a sender with no other cost would reach at most {:.0} deliveries/s = {:.0} % of the bound",
        per(rathaus_cpu),
        per(receiver_cpu),
        2.0 / bound * 1e6,
        2.0 / (2.0 / bound + receiver_cpu / expected as f64),
        100.0 * (2.0 / (2.0 / bound + receiver_cpu / expected as f64)) / bound,
    );
    rathaus.signal(nix::sys::signal::Signal::SIGTERM)?;
    rathaus.wait_exit(Duration::from_secs(20)).await?;
    Ok(())
}

/// What a sender without Rathaus's queue and store reaches against the same inbox farm: a
/// separate process that signs each request with the same `Signer` and sends it with
/// `client` — `raw` (a hand-written HTTP/1.1 request on a new TCP connection, kept open: the
/// least any sender can do), `rathaus` (`HttpClient::post_once`, Rathaus's delivery path) or
/// `reqwest` (the pooled reqwest client Rathaus used before). `raw` is the floor: what no
/// implementation can beat here while the receivers share the two cores.
async fn floor(
    client: &str,
    ports: &[u16],
    concurrency: &str,
    bound: f64,
    received: &AtomicU64,
    first: &AtomicU64,
    last: &AtomicU64,
) -> Result<()> {
    use std::io::{BufRead, Write};
    let list = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["floor-send", "--client", client, "--ports", &list])
        .args(["--concurrency", concurrency])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    // The sender generates its key first; its CPU is counted from "go".
    let mut out = std::io::BufReader::new(child.stdout.take().context("stdout")?);
    let mut ready = String::new();
    out.read_line(&mut ready)?;
    if ready.trim() != "ready" {
        bail!("floor sender did not start: {ready}");
    }
    let ticks = clock_ticks();
    let cpu_before = (
        cpu_seconds(child.id(), ticks),
        cpu_seconds(std::process::id(), ticks),
    );
    let mut stdin = child.stdin.take().context("stdin")?;
    stdin.write_all(b"go\n")?;
    stdin.flush()?;
    let expected = ports.len() as u64;
    // The sender says "done" once every answer is read (or exits early on failure): its CPU
    // is read then, with the last answers counted.
    let mut done_line = String::new();
    out.read_line(&mut done_line)?;
    if done_line.trim() != "done" {
        bail!("floor sender failed: {:?}", child.wait()?);
    }
    let sender_cpu = cpu_seconds(child.id(), ticks) - cpu_before.0;
    if received.load(Ordering::SeqCst) < expected {
        bail!("the sender finished, the receivers counted fewer requests");
    }
    let receiver_cpu = cpu_seconds(std::process::id(), ticks) - cpu_before.1;
    drop(stdin);
    child.wait()?;
    let done = Duration::from_micros(last.load(Ordering::SeqCst));
    let first_at = Duration::from_micros(first.load(Ordering::SeqCst));
    let rate = (expected - 1) as f64 / done.saturating_sub(first_at).as_secs_f64();
    let per = |s: f64| s / expected as f64 * 1e6;
    println!(
        "\n| sender | deliveries | deliveries/s (first → last) | openssl sign/s (2 cores) | share of bound | sender CPU per delivery | receivers' CPU per delivery |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {client} (no store) | {expected} | {rate:.0} | {bound:.0} | {:.0} % | {:.0} µs | {:.0} µs |",
        100.0 * rate / bound,
        per(sender_cpu),
        per(receiver_cpu),
    );
    Ok(())
}

/// The sending half of [`floor`], in its own process as Rathaus would be.
async fn floor_send(args: &[String]) -> Result<()> {
    use std::io::BufRead;
    let ports: Vec<u16> = arg(args, "--ports", "")
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let concurrency: usize = arg(args, "--concurrency", "128").parse()?;
    let client = arg(args, "--client", "raw");
    let keys = rathaus_shared::keys::generate_rsa_keypair()?;
    let signer = Arc::new(Signer::from_pem(
        "http://localhost/users/rathaus#main-key",
        &keys.private_pem,
    )?);
    let http = Arc::new(rathaus_federation::client::HttpClient::new(
        rathaus_federation::client::Egress::allow_all(),
        Duration::from_secs(10),
        4,
    )?);
    let body = bytes::Bytes::from(vec![b'x'; 1500]);
    println!("ready");
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go)?;

    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for port in ports {
        let permit = slots.clone().acquire_owned().await?;
        let (signer, http, body, client) =
            (signer.clone(), http.clone(), body.clone(), client.clone());
        tasks.spawn(async move {
            let url = url::Url::parse(&format!("http://localhost:{port}/inbox"))?;
            let headers = signer.sign("POST", &url, Some(&body), SystemTime::now())?;
            let kept = match client.as_str() {
                "raw" => Some(raw_post(port, &headers, &body).await?),
                "rathaus" => {
                    http.post_once(&url, &headers, body)
                        .await
                        .map_err(anyhow::Error::msg)?;
                    None
                }
                "reqwest" => {
                    http.post_reqwest(&url, &headers, body)
                        .await
                        .map_err(anyhow::Error::msg)?;
                    None
                }
                other => bail!("unknown --client {other}"),
            };
            drop(permit);
            Ok::<_, anyhow::Error>(kept)
        });
    }
    let mut open = Vec::new();
    while let Some(result) = tasks.join_next().await {
        open.push(result??);
    }
    println!("done");
    // Hold the connections until the parent has read our CPU time and closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut rest = String::new();
        let _ = std::io::stdin().lock().read_line(&mut rest);
    })
    .await?;
    drop(open);
    Ok(())
}

/// One hand-written HTTP/1.1 POST on a new connection; the connection is returned open, as a
/// pooled client would keep it.
async fn raw_post(
    port: u16,
    headers: &[(&'static str, String)],
    body: &[u8],
) -> Result<tokio::net::TcpStream> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = b"POST /inbox HTTP/1.1\r\n".to_vec();
    for (name, value) in headers {
        request.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    request.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    request.extend_from_slice(body);
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    stream.write_all(&request).await?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 512];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed before the answer");
        }
        answer.extend_from_slice(&chunk[..n]);
    }
    Ok(stream)
}

/// Clock ticks per second for /proc times.
fn clock_ticks() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100.0, |t| t as f64)
}

/// User plus system CPU seconds a process has used so far (children not included).
fn cpu_seconds(pid: u32, ticks: f64) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised name: state is field 3; utime 14, stime 15.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let num = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (num(11) + num(12)) / ticks
}

/// Latencies of one run, and what it cost.
struct Run {
    wall: Duration,
    latencies: Vec<Duration>,
    failures: u64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64()
    }

    fn pct(&self, p: f64) -> f64 {
        let mut l = self.latencies.clone();
        l.sort();
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

async fn send_signed(
    client: &reqwest::Client,
    url: &url::Url,
    (headers, body): SignedRequest,
) -> u16 {
    let mut req = client.post(url.clone()).body(body);
    for (k, v) in headers {
        if k != "host" {
            req = req.header(k, v);
        }
    }
    req.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

/// Closed loop: `connections` senders, each sends its next request when the last is answered.
async fn closed_loop(requests: Vec<SignedRequest>, url: &url::Url, connections: usize) -> Run {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .expect("client");
    let queue = Arc::new(std::sync::Mutex::new(requests));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (queue, client, url) = (queue.clone(), client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            loop {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let Some(req) = next else { break };
                let t = Instant::now();
                if send_signed(&client, &url, req).await != 202 {
                    failures += 1;
                }
                latencies.push(t.elapsed());
            }
            (latencies, failures)
        }));
    }
    let mut run = Run {
        wall: Duration::ZERO,
        latencies: Vec::new(),
        failures: 0,
    };
    for t in tasks {
        if let Ok((l, f)) = t.await {
            run.latencies.extend(l);
            run.failures += f;
        }
    }
    run.wall = started.elapsed();
    run
}

/// Open loop: request i is sent at `i / rate` seconds whatever became of the others, and its
/// latency counts from that scheduled time (no coordinated omission).
async fn open_loop(requests: Vec<SignedRequest>, url: &url::Url, rate: f64) -> Run {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .expect("client");
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(requests.len());
    for (i, req) in requests.into_iter().enumerate() {
        let at = started + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at).await;
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let status = send_signed(&client, &url, req).await;
            (status, at.elapsed())
        }));
    }
    let mut run = Run {
        wall: Duration::ZERO,
        latencies: Vec::new(),
        failures: 0,
    };
    for t in tasks {
        if let Ok((status, latency)) = t.await {
            if status != 202 {
                run.failures += 1;
            }
            run.latencies.push(latency);
        }
    }
    run.wall = started.elapsed();
    run
}

/// Peak and current resident memory of a process, in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// `bench inbox`: signed replies into Rathaus's inbox (closed loop, or open loop at
/// `--rate`), the same flood into the Fedify stand-in in the same run (`--reference fedify`),
/// then (`--pages S`) a page storm on the announcement with its comments beside the actor
/// JSON, and the memory of the process after each.
async fn inbox(args: &[String]) -> Result<()> {
    let replies: usize = arg(args, "--replies", "10000").parse()?;
    let connections: usize = arg(args, "--connections", "32").parse()?;
    let authors: usize = arg(args, "--authors", "200").parse()?;
    let rate: f64 = arg(args, "--rate", "0").parse()?;
    let page_seconds: u64 = arg(args, "--pages", "0").parse()?;
    let reference = arg(args, "--reference", "");
    let postgres = args
        .iter()
        .position(|a| a == "--postgres")
        .and_then(|i| args.get(i + 1))
        .cloned();

    let dir = tempfile::tempdir()?;
    let mut env = vec![
        ("RUST_LOG".to_owned(), "warn".to_owned()),
        (
            "RATHAUS_FEDERATION__ALLOW_PRIVATE_ADDRESSES".to_owned(),
            "true".to_owned(),
        ),
        // Every reply published (a viral day, not a spam wave): the page storm then shows them.
        (
            "RATHAUS_POLICY__AUTHOR_BURST".to_owned(),
            "1000000".to_owned(),
        ),
        (
            "RATHAUS_POLICY__INSTANCE_BURST".to_owned(),
            "1000000".to_owned(),
        ),
    ];
    let mut pg_schema = None;
    if let Some(url) = &postgres {
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let admin = Store::connect(url, 1).await?;
        sea_orm::ConnectionTrait::execute_unprepared(
            admin.db(),
            &format!("CREATE SCHEMA \"{schema}\""),
        )
        .await?;
        admin.close().await?;
        let sep = if url.contains('?') { '&' } else { '?' };
        env.push((
            "RATHAUS_DATABASE__URL".into(),
            format!("{url}{sep}options[search_path]={schema}"),
        ));
        pg_schema = Some((url.clone(), schema));
    }
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut rathaus = Rathaus::start(dir.path(), &["serve"], &env_refs)?;
    rathaus.wait_ready().await?;
    let public = rathaus.public("");
    let mut announce_env: Vec<(&str, &str)> = vec![("RATHAUS_SERVER__PUBLIC_URL", public.as_str())];
    announce_env.extend(
        env_refs
            .iter()
            .filter(|(k, _)| *k == "RATHAUS_DATABASE__URL"),
    );
    let (code, _, err) = run(
        dir.path(),
        &[
            "announce",
            "--consultation",
            "--closes",
            "2099-01-01T00:00:00Z",
            "Benchmark-Beteiligung",
        ],
        &announce_env,
    )?;
    if code != 0 {
        bail!("announce: {err}");
    }
    let note = rathaus.public("/announcements/1");

    // Authors on a remote host, each with its own key.
    let sink = Sink::start().await?;
    let mut signers = Vec::new();
    for a in 0..authors {
        let keys = rathaus_shared::keys::generate_rsa_keypair()?;
        let actor = sink.url(&format!("/users/a{a}"));
        sink.put_document(
            &format!("/users/a{a}"),
            json!({
                "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                "id": actor, "type": "Person", "preferredUsername": format!("a{a}"),
                "inbox": format!("{actor}/inbox"), "endpoints": {"sharedInbox": sink.url("/inbox")},
                "publicKey": {"id": format!("{actor}#main-key"), "owner": actor, "publicKeyPem": keys.public_pem},
            }),
        );
        signers.push((
            actor.clone(),
            Signer::from_pem(&format!("{actor}#main-key"), &keys.private_pem)?,
        ));
    }
    // 1–2 kB of German text with a mention, as in a real thread.
    let sentence = "Der Radweg an der Lindenstraße sollte breiter werden, und die Kreuzung an der Grundschule braucht endlich eine sichere Querung für Kinder. ";
    let text = |i: usize| {
        let mut t = format!(
            "<p><span class=\"h-card\"><a href=\"{public}/@rathaus\" class=\"u-url mention\">@<span>rathaus</span></a></span> Beitrag {i}: "
        );
        for _ in 0..(8 + i % 8) {
            t.push_str(sentence);
        }
        t.push_str("</p>");
        t
    };
    // Pre-signed, so the load generator spends no CPU on RSA during the run.
    let make = |i: usize, inbox_url: &url::Url| -> Result<SignedRequest> {
        let (actor, signer) = &signers[i % authors];
        let note_id = format!("{actor}/statuses/{i}");
        let body = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{note_id}/activity"), "type": "Create", "actor": actor,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "object": {
                "id": note_id, "type": "Note", "attributedTo": actor, "inReplyTo": note,
                "content": text(i),
                "published": chrono::Utc::now().to_rfc3339(),
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "tag": [{"type": "Mention", "href": rathaus.public("/users/rathaus"), "name": "@rathaus"}],
            },
        })
        .to_string()
        .into_bytes();
        let headers = signer.sign("POST", inbox_url, Some(&body), SystemTime::now())?;
        Ok((headers, body))
    };
    let flood_requests = if rate > 0.0 {
        let seconds: f64 = arg(args, "--seconds", "10").parse()?;
        (rate * seconds) as usize
    } else {
        replies
    };
    let mut rows = Vec::new();

    // The reference first: the Fedify stand-in, fed the same flood signed for it.
    let fedify = if reference == "fedify" {
        let peer = rathaus_integration_tests::FedifyPeer::start("bench", dir.path()).await?;
        let url = url::Url::parse(&format!("http://localhost:{}/inbox", peer.port))?;
        println!("signing {flood_requests} replies for Fedify…");
        let warmup: Vec<_> = (0..authors)
            .map(|i| make(flood_requests + i, &url))
            .collect::<Result<_>>()?;
        let requests: Vec<_> = (0..flood_requests)
            .map(|i| make(i, &url))
            .collect::<Result<_>>()?;
        closed_loop(warmup, &url, 8).await;
        let run = if rate > 0.0 {
            open_loop(requests, &url, rate).await
        } else {
            closed_loop(requests, &url, connections).await
        };
        rows.push(("Fedify stand-in (memory only)".to_owned(), run));
        Some(peer)
    } else {
        None
    };

    println!("signing {flood_requests} replies from {authors} authors…");
    let inbox_url = url::Url::parse(&rathaus.public("/inbox"))?;
    let warmup: Vec<_> = (0..authors)
        .map(|i| make(flood_requests + i, &inbox_url))
        .collect::<Result<_>>()?;
    let requests: Vec<_> = (0..flood_requests)
        .map(|i| make(i, &inbox_url))
        .collect::<Result<_>>()?;
    // Warm-up: first contact with each author fetches its key.
    let w = closed_loop(warmup, &inbox_url, 8).await;
    if w.failures > 0 {
        bail!("warm-up: {} failures: {}", w.failures, rathaus.log());
    }
    let backend = if postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let run = if rate > 0.0 {
        open_loop(requests, &inbox_url, rate).await
    } else {
        closed_loop(requests, &inbox_url, connections).await
    };
    rows.push((format!("Rathaus, {backend}"), run));
    let (flood_peak, _) = rss_mib(rathaus.pid());

    let store_url = env_refs
        .iter()
        .find(|(k, _)| *k == "RATHAUS_DATABASE__URL")
        .map(|(_, v)| (*v).to_owned())
        .unwrap_or_else(|| rathaus.sqlite_url());
    let store = Store::connect(&store_url, 1).await?;
    // Everything answered is applied before the numbers count.
    // (A binary from before the queue has no such table: it answered after applying.)
    eventually(
        Duration::from_secs(300),
        "the inbox queue to drain",
        || async {
            match rathaus_shared::store::inbox::backlog(store.db()).await {
                Ok((0, _)) | Err(_) => Some(()),
                Ok(_) => None,
            }
        },
    )
    .await?;
    let stored = rathaus_shared::store::comments::list_comments(store.db(), &Default::default())
        .await?
        .len();
    store.close().await?;

    let mode = if rate > 0.0 {
        format!("open loop, {rate:.0}/s offered")
    } else {
        format!("closed loop, {connections} connections")
    };
    println!("\n| target | mode | replies | failures | replies/s | p50 | p99 |");
    println!("|---|---|---|---|---|---|---|");
    for (name, r) in &rows {
        println!(
            "| {name} | {mode} | {} | {} | {:.0} | {:.1} ms | {:.1} ms |",
            r.latencies.len(),
            r.failures,
            r.rate(),
            r.pct(0.50),
            r.pct(0.99),
        );
    }
    println!(
        "\nstored: {stored} comments (incl. {authors} warm-up); Rathaus peak RSS after the flood: {flood_peak:.0} MiB"
    );
    drop(fedify);

    if page_seconds > 0 {
        page_storm(&rathaus, page_seconds).await?;
    }

    rathaus.signal(nix::sys::signal::Signal::SIGTERM)?;
    rathaus.wait_exit(Duration::from_secs(20)).await?;
    if let Some((url, schema)) = pg_schema {
        let admin = Store::connect(&url, 1).await?;
        sea_orm::ConnectionTrait::execute_unprepared(
            admin.db(),
            &format!("DROP SCHEMA \"{schema}\" CASCADE"),
        )
        .await?;
        admin.close().await?;
    }
    Ok(())
}

/// 64 connections fetch one URL as fast as answered for `seconds`.
async fn storm(url: &str, accept: &'static str, seconds: u64) -> (Run, usize) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (client, url) = (client.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut failures, mut bytes) = (Vec::new(), 0u64, 0usize);
            while Instant::now() < until {
                let t = Instant::now();
                match client.get(&url).header("accept", accept).send().await {
                    Ok(r) if r.status().is_success() => {
                        bytes = r.bytes().await.map_or(0, |b| b.len());
                    }
                    _ => failures += 1,
                }
                latencies.push(t.elapsed());
            }
            (latencies, failures, bytes)
        }));
    }
    let mut run = Run {
        wall: Duration::ZERO,
        latencies: Vec::new(),
        failures: 0,
    };
    let mut size = 0;
    for t in tasks {
        if let Ok((l, f, b)) = t.await {
            run.latencies.extend(l);
            run.failures += f;
            size = b;
        }
    }
    run.wall = started.elapsed();
    (run, size)
}

/// The announcement page with its comments against the actor JSON, in the same run.
async fn page_storm(rathaus: &Rathaus, seconds: u64) -> Result<()> {
    let page = rathaus.url("/announcements/1");
    let actor = rathaus.url("/users/rathaus");
    let (actor_run, actor_size) = storm(&actor, "application/activity+json", seconds).await;
    let (page_run, page_size) = storm(&page, "text/html", seconds).await;
    let (_, second_size) = storm(&format!("{page}?page=2"), "text/html", 1).await;
    let (peak, now) = rss_mib(rathaus.pid());
    println!(
        "\n| 64 connections, {seconds} s | bytes | requests/s | failures | p50 | p99 | share of the actor JSON |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, r, size) in [
        ("actor JSON", &actor_run, actor_size),
        ("announcement page (HTML, page 1)", &page_run, page_size),
    ] {
        println!(
            "| {name} | {size} | {:.0} | {} | {:.1} ms | {:.1} ms | {:.0} % |",
            r.rate(),
            r.failures,
            r.pct(0.50),
            r.pct(0.99),
            100.0 * r.rate() / actor_run.rate()
        );
    }
    println!(
        "\npage 2: {second_size} bytes; Rathaus RSS after the storm: {now:.0} MiB (peak {peak:.0} MiB)"
    );
    Ok(())
}
