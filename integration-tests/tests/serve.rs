//! `rathaus serve` as a user runs it: no arguments, embedded defaults, real signals.

use std::time::Duration;

use nix::sys::signal::Signal;
use rathaus_integration_tests::{PgSchema, Rathaus, run};
use rathaus_shared::Store;
use rathaus_shared::store::actors;

async fn actor_key(db_url: &str) -> String {
    let store = Store::connect(db_url, 1).await.expect("open the store");
    let actor = actors::local_actor(store.db(), "rathaus")
        .await
        .expect("query")
        .expect("the actor exists after the first start");
    store.close().await.expect("close");
    actor.public_key_pem
}

#[tokio::test]
async fn serve_with_no_arguments_uses_the_embedded_default_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = Rathaus::start(dir.path(), &["serve"], &[]).expect("start");
    first.wait_ready().await.expect("ready");

    let db_file = dir.path().join("data/rathaus.db");
    assert!(db_file.is_file(), "./data/rathaus.db was not created");
    let client = reqwest::Client::new();
    let health = client
        .get(first.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let ready: serde_json::Value = client
        .get(first.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["status"], "ready");

    first.signal(Signal::SIGTERM).expect("sigterm");
    let status = first
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("exits");
    assert!(status.success(), "exit {status}: {}", first.log());
    let log = first.log();
    assert!(log.contains("generated a new key pair"), "{log}");
    assert!(log.contains("SIGTERM") && log.contains("stopped"), "{log}");

    let db_url = format!("sqlite://{}", db_file.display());
    let key = actor_key(&db_url).await;

    // A second start reuses the stored key; Ctrl-C (SIGINT) stops it as cleanly.
    let mut second = Rathaus::start(dir.path(), &[], &[]).expect("start again");
    second.wait_ready().await.expect("ready again");
    second.signal(Signal::SIGINT).expect("sigint");
    let status = second
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("exits");
    assert!(status.success(), "exit {status}: {}", second.log());
    assert!(
        !second.log().contains("generated a new key pair"),
        "{}",
        second.log()
    );
    assert_eq!(
        actor_key(&db_url).await,
        key,
        "the actor key changed between starts"
    );
}

#[tokio::test]
async fn serve_on_postgresql_when_configured() {
    let Some(pg) = PgSchema::create().await else {
        eprintln!("RATHAUS_TEST_DATABASE_URL not set: PostgreSQL serve test skipped");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rathaus = Rathaus::start(
        dir.path(),
        &["serve"],
        &[("RATHAUS_DATABASE__URL", &pg.url)],
    )
    .expect("start");
    rathaus.wait_ready().await.expect("ready on postgres");
    assert!(rathaus.log().contains("Postgres"), "{}", rathaus.log());
    assert!(
        !dir.path().join("data/rathaus.db").exists(),
        "no SQLite file when PostgreSQL is configured"
    );
    rathaus.signal(Signal::SIGTERM).expect("sigterm");
    assert!(
        rathaus
            .wait_exit(Duration::from_secs(15))
            .await
            .expect("exit")
            .success()
    );
    let key = actor_key(&pg.url).await;
    assert!(key.contains("BEGIN PUBLIC KEY"));
    pg.drop_schema().await;
}

/// Each bad configuration fails at start-up with one line that names the problem.
#[tokio::test]
async fn bad_configuration_fails_fast_with_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[server]\nbidn = \"127.0.0.1:1\"\n").expect("write");
    let file = file.to_str().expect("utf-8 path");

    /// Arguments, environment, and what the error line must name.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 5] = [
        (
            &["--config", file, "serve"],
            &[],
            "unknown key `server.bidn`",
        ),
        (
            &["serve"],
            &[("RATHAUS_SERVER__PUBLIC_URL", "localhost:8080")],
            "server.public_url",
        ),
        (
            &["serve"],
            &[(
                "RATHAUS_DATABASE__URL",
                "postgres://postgres@127.0.0.1:1/nothing",
            )],
            "database",
        ),
        (
            &["serve"],
            &[("RATHAUS_SERVER__BIND", "999.0.0.1:80")],
            "server.bind",
        ),
        (
            &["--config", "/does/not/exist.toml", "check-config"],
            &[],
            "/does/not/exist.toml",
        ),
    ];
    for (args, env, named) in cases {
        let (code, _out, err) = run(dir.path(), args, env).expect("run");
        assert_ne!(code, 0, "{args:?} {env:?} must fail: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        let last = lines.last().copied().unwrap_or_default();
        assert!(last.starts_with("rathaus: "), "{args:?}: {err}");
        assert!(last.contains(named), "{args:?} should name {named}: {err}");
    }
    // None of the failed starts left a database behind.
    assert!(!dir.path().join("data").exists());
}

#[tokio::test]
async fn check_config_prints_the_effective_config_without_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rathaus.toml");
    std::fs::write(
        &file,
        "[database]\nurl = \"postgres://rathaus:very-secret-pw@db.example/rathaus\"\n\
         [matrix]\nhomeserver_url = \"http://127.0.0.1:8008\"\nuser_id = \"@bot:localhost\"\n\
         access_token = \"syt_secret_token\"\n",
    )
    .expect("write");
    let (code, out, err) = run(
        dir.path(),
        &["--config", file.to_str().expect("path"), "check-config"],
        &[("RATHAUS_ACTOR__USERNAME", "stadt_musterhausen")],
    )
    .expect("run");
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("very-secret-pw") && !out.contains("syt_secret_token"),
        "{out}"
    );
    assert!(out.contains("db.example"), "{out}");
    assert!(out.contains("username = \"stadt_musterhausen\""), "{out}");
    assert!(out.contains("access_token = \"[redacted]\""), "{out}");
}

/// The README offers `RATHAUS_CONFIG=FILE` instead of `--config FILE`: the file is loaded, and
/// the variable itself is not read as a setting.
#[tokio::test]
async fn rathaus_config_names_the_file_as_the_readme_says() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rathaus.toml");
    std::fs::write(
        &file,
        "[site]\nname = \"Gemeinde Konfighausen\"\n[actor]\nusername = \"konfig\"\n",
    )
    .expect("write");
    let file = file.to_str().expect("utf-8 path");
    let mut rathaus =
        Rathaus::start(dir.path(), &["serve"], &[("RATHAUS_CONFIG", file)]).expect("start");
    rathaus.wait_ready().await.expect("ready");
    assert!(
        start_page(&rathaus).await.contains("Gemeinde Konfighausen"),
        "site.name from RATHAUS_CONFIG not shown"
    );
    let actor = reqwest::Client::new()
        .get(rathaus.url("/users/konfig"))
        .header("Accept", "application/activity+json")
        .send()
        .await
        .expect("actor");
    assert_eq!(actor.status(), 200, "actor.username from RATHAUS_CONFIG");
    rathaus.signal(Signal::SIGTERM).expect("sigterm");
    let status = rathaus
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("exits");
    assert!(status.success(), "exit {status}: {}", rathaus.log());
}

#[tokio::test]
async fn migrate_applies_and_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = run(dir.path(), &["migrate", "--status"], &[]).expect("status");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pending  m20261124_000001_initial"), "{out}");
    let (code, out, err) = run(dir.path(), &["migrate"], &[]).expect("migrate");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("applied  m20261124_000001_initial"), "{out}");
    assert!(!out.contains("pending"), "{out}");
}

/// The start page's HTML.
async fn start_page(rathaus: &Rathaus) -> String {
    reqwest::get(rathaus.url("/"))
        .await
        .expect("start page")
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn backup_of_a_running_instance_restores_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rathaus = Rathaus::start(dir.path(), &["serve"], &[]).expect("start");
    rathaus.wait_ready().await.expect("ready");
    rathaus
        .command(&["announce", "--title", "Vor der Sicherung", "Text"])
        .expect("announce");
    let copy = dir.path().join("sicherung.db");
    let out = rathaus
        .command(&["backup", copy.to_str().expect("path")])
        .expect("backup while serving");
    assert!(out.contains("sicherung.db"), "{out}");
    // Never overwrites.
    let err = rathaus
        .command(&["backup", copy.to_str().expect("path")])
        .expect_err("exists");
    assert!(err.to_string().contains("exists already"), "{err}");
    rathaus
        .command(&["announce", "Nach der Sicherung"])
        .expect("announce after");
    let key = actor_key(&rathaus.sqlite_url()).await;
    rathaus.signal(Signal::SIGTERM).expect("stop");
    rathaus
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("exit");

    // Restore: the copy replaces the store; the key and what was in it are back.
    let data = dir.path().join("data");
    for name in ["rathaus.db", "rathaus.db-wal", "rathaus.db-shm"] {
        let _ = std::fs::remove_file(data.join(name));
    }
    std::fs::copy(&copy, data.join("rathaus.db")).expect("restore");
    let mut again = Rathaus::start(dir.path(), &["serve"], &[]).expect("start");
    again.wait_ready().await.expect("ready after restore");
    assert_eq!(
        actor_key(&again.sqlite_url()).await,
        key,
        "the signing key is restored"
    );
    let page = start_page(&again).await;
    assert!(page.contains("Vor der Sicherung"), "{page}");
    assert!(
        !page.contains("Nach der Sicherung"),
        "only what was backed up"
    );

    // No store, no backup: a clear error instead of an empty copy.
    let empty = tempfile::tempdir().expect("tempdir");
    let (code, _, err) =
        rathaus_integration_tests::run(empty.path(), &["backup", "x.db"], &[]).expect("run");
    assert_ne!(code, 0);
    assert!(err.contains("no store to back up"), "{err}");
}

#[tokio::test]
async fn metrics_on_their_own_address_and_closed_on_the_public_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = rathaus_integration_tests::free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut rathaus =
        Rathaus::start(dir.path(), &["serve"], &[("RATHAUS_METRICS__BIND", &bind)]).expect("start");
    rathaus.wait_ready().await.expect("ready");
    rathaus
        .command(&["announce", "Für die Metriken"])
        .expect("announce");
    let public = reqwest::get(rathaus.url("/metrics")).await.expect("public");
    assert_eq!(
        public.status(),
        404,
        "no token: closed on the public address"
    );
    let res = reqwest::get(format!("http://{bind}/metrics"))
        .await
        .expect("metrics address");
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/openmetrics-text"))
    );
    let text = res.text().await.expect("text");
    for name in [
        "rathaus_comments{status=\"published\"} 0",
        "rathaus_delivery_queue_jobs{status=\"pending\"}",
        "rathaus_delivery_queue_oldest_job_age_seconds",
        "rathaus_matrix_sync_leader 0",
        "# EOF",
    ] {
        assert!(text.contains(name), "{name} missing in\n{text}");
    }
    // Only /metrics lives there.
    let other = reqwest::get(format!("http://{bind}/"))
        .await
        .expect("other");
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn postgresql_backup_and_restore_as_documented() {
    let Some(pg) = PgSchema::create().await else {
        eprintln!("RATHAUS_TEST_DATABASE_URL not set: PostgreSQL backup test skipped");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("RATHAUS_DATABASE__URL", pg.url.as_str())];
    let mut rathaus = Rathaus::start(dir.path(), &["serve"], &env).expect("start");
    rathaus.wait_ready().await.expect("ready");
    rathaus
        .command(&["announce", "--title", "Vor der Sicherung", "Text"])
        .expect("announce");
    let key = actor_key(&pg.url).await;
    // OPERATIONS.md: pg_dump --format=custom, later pg_restore --no-owner into an empty place.
    let dump = dir.path().join("rathaus.dump");
    let status = std::process::Command::new("pg_dump")
        .args(["--format=custom", "--schema", &pg.schema, "--file"])
        .arg(&dump)
        .arg(&pg.admin_url)
        .status()
        .expect("pg_dump runs");
    assert!(status.success(), "pg_dump failed");
    rathaus.signal(Signal::SIGTERM).expect("stop");
    rathaus
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("exit");

    // Disaster: the data is gone.
    let admin = Store::connect(&pg.admin_url, 1).await.expect("admin");
    sea_orm::ConnectionTrait::execute_unprepared(
        admin.db(),
        &format!("DROP SCHEMA \"{}\" CASCADE", pg.schema),
    )
    .await
    .expect("drop");
    admin.close().await.expect("close");
    let status = std::process::Command::new("pg_restore")
        .args(["--no-owner", "--dbname", &pg.admin_url])
        .arg(&dump)
        .status()
        .expect("pg_restore runs");
    assert!(status.success(), "pg_restore failed");

    let mut again = Rathaus::start(dir.path(), &["serve"], &env).expect("start");
    again.wait_ready().await.expect("ready after restore");
    assert_eq!(actor_key(&pg.url).await, key, "the signing key is restored");
    let page = start_page(&again).await;
    assert!(page.contains("Vor der Sicherung"), "{page}");
    again.signal(Signal::SIGTERM).expect("stop");
    let _ = again.wait_exit(Duration::from_secs(15)).await;
    pg.drop_schema().await;
}
