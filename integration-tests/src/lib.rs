//! Helpers for tests that run the real `rathaus` binary against real services on loopback.
//!
//! The binary is the one cargo builds for the workspace (`cargo test --workspace` builds it,
//! because the root package has integration tests of its own).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub mod browser;
pub mod matrix;
pub mod sink;

/// Path of the `rathaus` binary next to this test executable.
pub fn rathaus_bin() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_rathaus") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> or target/release/<bin> -> that profile's `rathaus`
    let mut dir = exe.parent().expect("target dir");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("profile dir");
    }
    let bin = dir.join("rathaus");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace`",
        bin.display()
    );
    bin
}

/// The text of a Mastodon payload fixture (`fixtures/mastodon/NAME`), before its hosts are
/// replaced by the test's own.
pub fn mastodon_fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/mastodon")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The value after `--name` on a command line, or `default`.
pub fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

/// The setting that lets Rathaus reach these loopback peers (`localhost:PORT`) and no other
/// private address: `("RATHAUS_FEDERATION__ALLOWED_PRIVATE_HOSTS", "localhost:1,localhost:2")`.
pub fn allow_peers(ports: &[u16]) -> (&'static str, String) {
    let hosts: Vec<String> = ports.iter().map(|p| format!("localhost:{p}")).collect();
    ("RATHAUS_FEDERATION__ALLOWED_PRIVATE_HOSTS", hosts.join(","))
}

/// A free TCP port on loopback (bound then released; good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `rathaus` process with its own working directory and port.
#[derive(Debug)]
pub struct Rathaus {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    stderr_path: PathBuf,
    /// The settings it was started with; `command` uses them too.
    env: Vec<(String, String)>,
    args: Vec<String>,
}

/// Spawns `rathaus <args>` in `dir` on `port`; stderr goes to a log file of its own.
fn spawn(
    dir: &Path,
    port: u16,
    args: &[String],
    env: &[(String, String)],
) -> Result<(Child, PathBuf)> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let stderr_path = dir.join(format!("rathaus-{port}-{stamp}.log"));
    let stderr = std::fs::File::create(&stderr_path)?;
    let mut cmd = Command::new(rathaus_bin());
    cmd.args(args)
        .current_dir(dir)
        .env_remove("RATHAUS_CONFIG")
        .env("RATHAUS_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env(
            "RATHAUS_SERVER__PUBLIC_URL",
            format!("http://localhost:{port}"),
        )
        // Peers in tests live on loopback: each test names the ones Rathaus may reach
        // (`allow_peers`), so the guard against every other private address stays on.
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(stderr);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().context("spawn rathaus")?;
    Ok((child, stderr_path))
}

impl Rathaus {
    /// Starts `rathaus <args>` in `dir`, listening on a fresh port set through the environment
    /// (so the command line stays exactly what a user would type).
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Self> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let port = free_port();
        let (child, stderr_path) = spawn(dir, port, &args, &env)?;
        Ok(Self {
            child,
            port,
            dir: dir.to_owned(),
            stderr_path,
            env,
            args,
        })
    }

    /// Starts the same command again on the same port (after it stopped or was killed), so
    /// its public URL and ids stay the same.
    pub fn restart(&mut self) -> Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, stderr_path) = spawn(&self.dir, self.port, &self.args, &self.env)?;
        self.child = child;
        self.stderr_path = stderr_path;
        Ok(())
    }

    /// Leaves `key` out of the environment from the next (re)start on.
    pub fn forget_env(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The public base URL other servers use.
    pub fn public(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.port)
    }

    /// The SQLite URL of this instance's embedded store.
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.dir.join("data/rathaus.db").display())
    }

    /// Runs another `rathaus` command against this instance's store and settings.
    pub fn command(&self, args: &[&str]) -> Result<String> {
        let port = self.port.to_string();
        let public = format!("http://localhost:{port}");
        let mut env = vec![("RATHAUS_SERVER__PUBLIC_URL", public.as_str())];
        env.extend(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let (code, out, err) = run(&self.dir, args, &env)?;
        if code != 0 {
            bail!("rathaus {args:?} failed ({code}): {err}");
        }
        Ok(out)
    }

    /// Waits until `/readyz` answers 200, or the process exits, or 60 s pass.
    pub async fn wait_ready(&mut self) -> Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("rathaus exited early with {status}: {}", self.log());
            }
            if let Ok(res) = client.get(self.url("/readyz")).send().await
                && res.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("rathaus did not become ready: {}", self.log())
    }

    /// Starts `rathaus --config CONFIG serve` in `dir` and waits until HTTP and the Matrix bot run.
    pub async fn start_with_bot(dir: &Path, config: &str) -> Result<Self> {
        Self::start_with_bot_env(dir, config, &[]).await
    }

    /// As `start_with_bot`, with extra environment variables (e.g. a failpoint).
    pub async fn start_with_bot_env(
        dir: &Path,
        config: &str,
        env: &[(&str, &str)],
    ) -> Result<Self> {
        let mut rathaus = Self::start(dir, &["--config", config, "serve"], env)?;
        rathaus.wait_ready().await?;
        eventually(Duration::from_secs(60), "the Matrix bot to run", || async {
            rathaus.log().contains("matrix bot running").then_some(())
        })
        .await
        .with_context(|| rathaus.log())?;
        Ok(rathaus)
    }

    /// The process id of the running process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (SIGTERM, SIGINT, SIGKILL).
    pub fn signal(&self, signal: nix::sys::signal::Signal) -> Result<()> {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id())?);
        nix::sys::signal::kill(pid, signal)?;
        Ok(())
    }

    /// Waits for the process to exit, at most `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("rathaus did not exit within {timeout:?}: {}", self.log())
    }

    /// Everything the process wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Rathaus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `rathaus <args>` to completion and returns (exit code, stdout, stderr).
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<(i32, String, String)> {
    let mut cmd = Command::new(rathaus_bin());
    cmd.args(args).current_dir(dir).env_remove("RATHAUS_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().context("run rathaus")?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// A PostgreSQL URL whose `search_path` is a fresh schema, when the test database is
/// configured; the schema is dropped with the guard.
#[derive(Debug)]
pub struct PgSchema {
    pub url: String,
    /// The database without the schema's search path (for tools like pg_dump).
    pub admin_url: String,
    pub schema: String,
}

impl PgSchema {
    pub async fn create() -> Option<Self> {
        let admin_url = std::env::var(rathaus_shared::testing::PG_ENV)
            .ok()
            .filter(|u| !u.is_empty())?;
        let schema = format!("it_{}", uuid::Uuid::new_v4().simple());
        let admin = rathaus_shared::Store::connect(&admin_url, 1)
            .await
            .expect("connect to the test database");
        sea_orm::ConnectionTrait::execute_unprepared(
            admin.db(),
            &format!("CREATE SCHEMA \"{schema}\""),
        )
        .await
        .expect("create schema");
        admin.close().await.expect("close");
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{sep}options[search_path]={schema}");
        Some(Self {
            url,
            admin_url,
            schema,
        })
    }

    pub async fn drop_schema(self) {
        if let Ok(admin) = rathaus_shared::Store::connect(&self.admin_url, 1).await {
            let _ = sea_orm::ConnectionTrait::execute_unprepared(
                admin.db(),
                &format!("DROP SCHEMA \"{}\" CASCADE", self.schema),
            )
            .await;
            let _ = admin.close().await;
        }
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or fails after `timeout` saying `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The independent ActivityPub peer (Fedify, from npm) in `integration-tests/fedify-peer`.
#[derive(Debug)]
pub struct FedifyPeer {
    child: Child,
    pub port: u16,
    pub user: String,
    log_path: PathBuf,
    http: reqwest::Client,
}

/// The folder of the Fedify peer.
pub fn fedify_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fedify-peer")
}

/// Installs the peer's npm packages if they are missing (scripts/test does it up front).
pub fn ensure_fedify_installed() -> Result<()> {
    ensure_npm_installed(&fedify_dir(), "@fedify/fedify")
}

/// Runs `npm install` in `dir` unless `node_modules/<package>` is there already.
pub fn ensure_npm_installed(dir: &Path, package: &str) -> Result<()> {
    if dir
        .join("node_modules")
        .join(package)
        .join("package.json")
        .exists()
    {
        return Ok(());
    }
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .with_context(|| {
            format!(
                "run npm install in {} (is Node.js installed?)",
                dir.display()
            )
        })?;
    if !status.success() {
        bail!("npm install in {} failed: {status}", dir.display());
    }
    Ok(())
}

/// Posts `body` to `url`, signed by `signer` now, as a remote server would.
pub async fn post_signed(
    url: &str,
    body: &serde_json::Value,
    signer: &rathaus_federation::signatures::Signer,
) -> Result<(u16, String)> {
    post_signed_via(url, url, body, signer).await
}

/// Like [`post_signed`] for `url`, but connects to `address` (another process behind the
/// same public URL, as a load balancer would): the request keeps `url`'s `Host`.
pub async fn post_signed_via(
    url: &str,
    address: &str,
    body: &serde_json::Value,
    signer: &rathaus_federation::signatures::Signer,
) -> Result<(u16, String)> {
    let body = body.to_string();
    let parsed = url::Url::parse(url)?;
    let headers = signer
        .sign(
            "POST",
            &parsed,
            Some(body.as_bytes()),
            std::time::SystemTime::now(),
        )
        .map_err(|e| anyhow::anyhow!("sign: {e}"))?;
    let mut req = reqwest::Client::new()
        .post(url::Url::parse(address)?)
        .body(body);
    for (name, value) in headers {
        req = req.header(name, value);
    }
    let res = req.send().await?;
    Ok((res.status().as_u16(), res.text().await.unwrap_or_default()))
}

impl FedifyPeer {
    /// Starts a peer named `user` on a free port and waits until it answers.
    pub async fn start(user: &str, log_dir: &Path) -> Result<Self> {
        Self::start_on(user, log_dir, free_port()).await
    }

    /// Starts a peer on `port` (chosen before Rathaus starts, to be named in `allow_peers`).
    pub async fn start_on(user: &str, log_dir: &Path, port: u16) -> Result<Self> {
        ensure_fedify_installed()?;
        let log_path = log_dir.join(format!("fedify-{user}-{port}.log"));
        let child = Command::new("node")
            .arg("peer.mjs")
            .current_dir(fedify_dir())
            .env("PORT", port.to_string())
            .env("PEER_USER", user)
            .env("PEER_LOG", "warning")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path)?)
            .spawn()
            .context("start the Fedify peer")?;
        let mut peer = Self {
            child,
            port,
            user: user.to_owned(),
            log_path,
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = peer.child.try_wait()? {
                bail!("the Fedify peer exited with {status}: {}", peer.log());
            }
            if peer.get("/_test/ready").await.is_ok() {
                return Ok(peer);
            }
            if Instant::now() > deadline {
                bail!("the Fedify peer did not start: {}", peer.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn actor(&self) -> String {
        format!("http://localhost:{}/users/{}", self.port, self.user)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> Result<serde_json::Value> {
        let res = self
            .http
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .send()
            .await?;
        let status = res.status();
        let body = res.text().await?;
        if !status.is_success() {
            bail!("GET {path}: {status}: {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> Result<serde_json::Value> {
        let res = self
            .http
            .post(format!("http://127.0.0.1:{}{path}", self.port))
            .json(&body)
            .send()
            .await?;
        let status = res.status();
        let text = res.text().await?;
        if !status.is_success() {
            bail!("POST {path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// Activities of `kind` the peer received, as JSON.
    pub async fn received(&self, kind: &str) -> Vec<serde_json::Value> {
        match self.get(&format!("/_test/inbox?type={kind}")).await {
            Ok(serde_json::Value::Array(items)) => items,
            _ => Vec::new(),
        }
    }
}

impl Drop for FedifyPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
