//! `rathaus`: the composition root. It parses the command line, loads the configuration,
//! opens the store and starts the fronts; all behaviour lives in the library crates.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rathaus_shared::config::LogFormat;
use rathaus_shared::services::announcements;
use rathaus_shared::{App, Config, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Rathaus: a town hall's open, moderated dialogue with citizens on Matrix and the fediverse.
#[derive(Debug, Parser)]
#[command(name = "rathaus", version, about)]
struct Cli {
    /// Configuration file (TOML); overrides the built-in defaults, and is overridden by
    /// environment variables RATHAUS_SECTION__KEY.
    #[arg(
        short,
        long,
        global = true,
        env = "RATHAUS_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service: HTTP (ActivityPub, pages) and, when configured, the Matrix bot.
    /// Applies pending migrations first. The default command.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate {
        /// Only list applied and pending migrations.
        #[arg(long)]
        status: bool,
    },
    /// Validate the configuration and print it, secrets redacted.
    CheckConfig,
    /// Consultation comments: list, moderate and answer them without Matrix.
    Comments {
        #[command(subcommand)]
        action: CommentsCommand,
    },
    /// Write the Open Data export of a consultation (pseudonymised): JSON, or CSV tables with
    /// CSV-on-the-Web metadata; both with the DCAT-AP.de record (dcat.jsonld).
    Export {
        id: i64,
        /// json or csv.
        #[arg(long, default_value = "json", value_parser = ["json", "csv"])]
        format: String,
        /// Folder for the files.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Publish an announcement to all followers (or correct or retract one).
    #[command(group = clap::ArgGroup::new("mode").args(["correct", "retract"]).multiple(false))]
    Announce {
        /// The text, in Markdown.
        #[arg(required_unless_present = "retract", conflicts_with = "retract")]
        text: Option<String>,
        /// A title shown above the text.
        #[arg(long, conflicts_with_all = ["correct", "retract"])]
        title: Option<String>,
        /// Open it for comments until --closes.
        #[arg(long, requires = "closes", conflicts_with_all = ["correct", "retract"])]
        consultation: bool,
        /// When the consultation closes (RFC 3339, e.g. 2026-12-31T18:00:00+01:00).
        #[arg(long, requires = "consultation", value_parser = parse_time)]
        closes: Option<chrono::DateTime<chrono::Utc>>,
        /// Replace the text of announcement ID (federated as an edit).
        #[arg(long, value_name = "ID")]
        correct: Option<i64>,
        /// Withdraw announcement ID (federated as a deletion).
        #[arg(long, value_name = "ID")]
        retract: Option<i64>,
    },
    /// Publish a consultation's result (closing summary / reasoned response, Markdown):
    /// shown on its page, federated as an edit, included in the export.
    Result { id: i64, text: String },
    /// Close a consultation now, before its planned end.
    Close { id: i64 },
    /// Write a consistent copy of the SQLite store to FILE, safe while `serve` runs
    /// (PostgreSQL: use pg_dump). Restore by putting the copy in place of data_dir/rathaus.db.
    Backup { file: PathBuf },
    /// Apply the retention rules now (`rathaus serve` does it every hour): pseudonymise the
    /// authors of comments on consultations that ended long enough ago.
    Retention,
}

#[derive(Debug, Subcommand)]
enum CommentsCommand {
    /// List comments, oldest first.
    List {
        /// Only the comments on this announcement or consultation.
        #[arg(long, value_name = "ID")]
        consultation: Option<i64>,
        /// pending, published, rejected, hidden or deleted.
        #[arg(long, value_parser = parse_status)]
        status: Option<rathaus_shared::entities::CommentStatus>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Publish a held or rejected comment.
    Approve {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a held comment.
    Reject {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Hide a published comment.
    Hide {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Answer a comment officially; the answer goes into the citizen's own thread.
    Answer { id: i64, text: String },
}

fn parse_status(raw: &str) -> Result<rathaus_shared::entities::CommentStatus, String> {
    raw.parse()
}

fn parse_time(raw: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("`{raw}` is not an RFC 3339 time like 2026-12-31T18:00:00+01:00: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("rathaus: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = init_tracing(&config) {
        eprintln!("rathaus: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rathaus: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Migrate { status } => migrate(config, status).await,
            Command::CheckConfig => check_config(&config),
            Command::Comments { action } => comments(config, action).await,
            Command::Export { id, format, out } => export(config, id, &format, &out).await,
            Command::Announce {
                text,
                title,
                consultation: _,
                closes,
                correct,
                retract,
            } => announce(config, text, title, closes, correct, retract).await,
            Command::Result { id, text } => {
                let app = App::open(config).await?;
                let view = announcements::publish_result(&app, id, text).await?;
                println!("{}\t{}", id, app.urls().announcement(view.announcement.id));
                app.store.close().await?;
                Ok(())
            }
            Command::Backup { file } => {
                let db_file = config.data_dir.join("rathaus.db");
                if config.database.url_is_default() && !db_file.exists() {
                    anyhow::bail!("there is no store to back up at {}", db_file.display());
                }
                let store = Store::connect(&config.database_url(), 1).await?;
                store.backup_sqlite(&file).await?;
                println!("{}", file.display());
                store.close().await?;
                Ok(())
            }
            Command::Retention => {
                let app = App::open(config).await?;
                let r = rathaus_shared::services::retention::run(&app, chrono::Utc::now()).await?;
                println!(
                    "comments pseudonymised: {}\nremote accounts forgotten: {}\nactivity ids forgotten: {}",
                    r.comments, r.remote_actors, r.inbound_activities
                );
                app.store.close().await?;
                Ok(())
            }
            Command::Close { id } => {
                let app = App::open(config).await?;
                announcements::close(&app, id).await?;
                println!("{id}\tclosed");
                app.store.close().await?;
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: operators grep logs, and supervisors show the last line.
            eprintln!("rathaus: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &Config) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) if !f.is_empty() => EnvFilter::try_new(f),
        _ => EnvFilter::try_new(&config.log.filter),
    }
    .context("log.filter")?;
    // Colours only for people at a terminal, never into log files or journald.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let result = match config.log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

fn check_config(config: &Config) -> anyhow::Result<()> {
    print!("{}", config.to_redacted_toml()?);
    Ok(())
}

async fn migrate(config: Config, status: bool) -> anyhow::Result<()> {
    if config.database.url_is_default() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("data_dir: cannot create {}", config.data_dir.display()))?;
    }
    let store = Store::connect(&config.database_url(), 1).await?;
    if !status {
        store.migrate().await?;
    }
    for name in store.applied_migrations().await? {
        println!("applied  {name}");
    }
    for name in store.pending_migrations().await? {
        println!("pending  {name}");
    }
    store.close().await?;
    Ok(())
}

async fn export(
    config: Config,
    id: i64,
    format: &str,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let app = App::open(config).await?;
    let export = rathaus_shared::services::export::consultation(&app, id).await?;
    std::fs::create_dir_all(out).with_context(|| format!("--out {}", out.display()))?;
    // CSV comes with its CSV-on-the-Web description; both forms with the DCAT-AP.de record.
    let names = export
        .listing()
        .into_iter()
        .filter(|(name, _)| match format {
            "json" => *name == "consultation.json" || *name == "dcat.jsonld",
            _ => *name != "consultation.json",
        });
    for (name, _) in names {
        let data = export.file(name)?.unwrap_or_default();
        let path = out.join(name);
        std::fs::write(&path, data).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    app.store.close().await?;
    Ok(())
}

async fn comments(config: Config, action: CommentsCommand) -> anyhow::Result<()> {
    use rathaus_shared::services::comments::{self as service, ModAction};
    use rathaus_shared::store::comments::CommentFilter;
    let app = App::open(config).await?;
    let moderate = |id, action, reason| {
        let app = app.clone();
        async move {
            let c = service::moderate(&app, id, action, "cli", reason).await?;
            println!("{}\t{}", c.id, c.status.as_str());
            anyhow::Ok(())
        }
    };
    match action {
        CommentsCommand::List {
            consultation,
            status,
            json,
        } => {
            let rows = service::list(
                &app,
                &CommentFilter {
                    announcement_id: consultation,
                    status,
                    ..Default::default()
                },
            )
            .await?;
            if json {
                let items: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "id": c.id,
                            "announcement_id": c.announcement_id,
                            "parent_comment_id": c.parent_comment_id,
                            "network": c.network,
                            "status": c.status,
                            "late": c.late,
                            "author_id": c.author_id,
                            "author_name": c.author_name,
                            "author_domain": c.author_domain,
                            "origin_id": c.origin_id,
                            "origin_url": c.origin_url,
                            "content": c.content,
                            "rule_id": c.rule_id,
                            "rule_version": c.rule_version,
                            "reason": c.reason,
                            "created_at": c.created_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else {
                for c in rows {
                    let text = c
                        .content
                        .as_deref()
                        .map(rathaus_shared::markdown::to_plain_text)
                        .unwrap_or_default()
                        .replace('\n', " ");
                    let short: String = text.chars().take(80).collect();
                    println!(
                        "{}\t{}\t{:?}\t{}\t{}\t{}\t{}",
                        c.id,
                        c.status.as_str(),
                        c.network,
                        c.announcement_id,
                        c.author_name.as_deref().unwrap_or(&c.author_id),
                        c.rule_id.as_deref().unwrap_or("-"),
                        short
                    );
                }
            }
        }
        CommentsCommand::Approve { id, reason } => moderate(id, ModAction::Approve, reason).await?,
        CommentsCommand::Reject { id, reason } => moderate(id, ModAction::Reject, reason).await?,
        CommentsCommand::Hide { id, reason } => moderate(id, ModAction::Hide, reason).await?,
        CommentsCommand::Answer { id, text } => {
            let answer = service::answer(&app, id, &text, "cli").await?;
            println!("{}\t{}", answer.id, app.urls().answer(answer.id));
        }
    }
    app.store.close().await?;
    Ok(())
}

async fn announce(
    config: Config,
    text: Option<String>,
    title: Option<String>,
    closes: Option<chrono::DateTime<chrono::Utc>>,
    correct: Option<i64>,
    retract: Option<i64>,
) -> anyhow::Result<()> {
    use rathaus_shared::services::announcements::{self, Announce};
    let app = App::open(config).await?;
    let urls = app.urls();
    let view = if let Some(id) = retract {
        announcements::retract(&app, id).await?
    } else if let Some(id) = correct {
        announcements::correct(&app, id, text.unwrap_or_default()).await?
    } else {
        announcements::announce(
            &app,
            Announce {
                title,
                text: text.unwrap_or_default(),
                closes_at: closes,
                opens_at: None,
                author: "cli".into(),
            },
        )
        .await?
    };
    let id = view.announcement.id;
    let what = if retract.is_some() {
        "retracted"
    } else if correct.is_some() {
        "corrected"
    } else if view.consultation.is_some() {
        "consultation published"
    } else {
        "published"
    };
    println!("{id}\t{what}\t{}", urls.announcement(id));
    app.store.close().await?;
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let bind = config.server.bind;
    let grace = Duration::from_secs(config.server.shutdown_grace_seconds);
    let app = App::open(config).await?;
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("server.bind: cannot listen on {bind}"))?;
    tracing::info!(
        address = %listener.local_addr()?,
        public_url = %app.config.server.public_url,
        backend = ?app.store.backend(),
        "rathaus is serving"
    );

    let state = rathaus_federation::state(app.clone()).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(rathaus_federation::delivery::run(
        state.clone(),
        stop_rx.clone(),
    ));
    let bot = if rathaus_bot::configured(&app.config).is_some() {
        let (app, stop) = (app.clone(), stop_rx.clone());
        Some(tokio::spawn(async move {
            if let Err(e) = rathaus_bot::run(app, stop).await {
                tracing::error!(error = %e, "the Matrix bot stopped; HTTP and federation keep running");
            }
        }))
    } else {
        tracing::info!("no [matrix] section: running without the Matrix bot");
        None
    };
    let metrics = match app.config.metrics.bind_addr() {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("metrics.bind: cannot listen on {addr}"))?;
            tracing::info!(address = %listener.local_addr()?, "metrics are served");
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(rathaus_federation::serve_metrics(
                listener,
                state.clone(),
                async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                },
            )))
        }
        None => None,
    };
    let retention = tokio::spawn(retention_task(app.clone(), stop_rx.clone()));
    let mut http_stop = stop_rx.clone();
    let mut http = tokio::spawn(rathaus_federation::serve(listener, state, async move {
        let _ = http_stop.wait_for(|stop| *stop).await;
    }));

    tokio::select! {
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down; finishing in-flight requests");
            let _ = stop_tx.send(true);
            match tokio::time::timeout(grace, &mut http).await {
                Ok(joined) => joined.context("HTTP server task")??,
                Err(_) => {
                    tracing::warn!(grace_seconds = grace.as_secs(), "in-flight requests did not finish in time");
                    http.abort();
                }
            }
        }
        joined = &mut http => {
            let _ = stop_tx.send(true);
            joined.context("HTTP server task")??;
        }
    }
    if let Some(bot) = bot {
        let _ = tokio::time::timeout(grace, bot).await;
    }
    if let Some(metrics) = metrics {
        let _ = tokio::time::timeout(grace, metrics).await;
    }
    retention.abort();
    // In-flight deliveries finish; anything unfinished stays in the queue (its lease expires).
    if tokio::time::timeout(grace, worker).await.is_err() {
        tracing::warn!("deliveries still in flight at shutdown are left in the queue");
    }
    app.store.close().await?;
    tracing::info!("stopped");
    Ok(())
}

/// Applies the retention rules soon after start and then every hour (idempotent, so several
/// processes may all run it).
async fn retention_task(app: App, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        if let Err(e) = rathaus_shared::services::retention::run(&app, chrono::Utc::now()).await {
            tracing::warn!(error = %e, "retention run failed; trying again in an hour");
        }
    }
}

/// Resolves on SIGINT or SIGTERM, naming which.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
