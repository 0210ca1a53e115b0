//! The commands besides `serve`: each one opens the store, does one thing through a `shared`
//! service, prints what it did (one line per item, tab-separated, or JSON) and closes again.

use std::future::Future;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use rathaus_shared::domain::BlockKind;
use rathaus_shared::services::comments::{self as comment_service, ModAction};
use rathaus_shared::services::export::CommentRow;
use rathaus_shared::services::{announcements, erasure, export, moderation, retention};
use rathaus_shared::store::comments::CommentFilter;
use rathaus_shared::{App, Config, Store};

use crate::cli::{BlocksCommand, CommentsCommand, ExportFormat};

/// Opens the app, runs `command` on it and closes the store again, also after a failure (the
/// command's error is the one reported).
pub async fn with_app<F, Fut>(config: Config, command: F) -> anyhow::Result<()>
where
    F: FnOnce(App) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let app = App::open(config).await?;
    let result = command(app.clone()).await;
    let closed = app.store.close().await;
    result?;
    Ok(closed?)
}

/// # `rathaus check-config`
pub fn check_config(config: &Config) -> anyhow::Result<()> {
    print!("{}", config.to_redacted_toml()?);
    Ok(())
}

/// # `rathaus migrate [--status]`: works on the bare store, so it can show what `App::open`
/// would apply.
pub async fn migrate(config: &Config, status: bool) -> anyhow::Result<()> {
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

/// # `rathaus backup FILE`: the bare store, never migrated or created by a backup.
pub async fn backup(config: &Config, file: &Path) -> anyhow::Result<()> {
    let db_file = config.data_dir.join("rathaus.db");
    if config.database.url_is_default() && !db_file.exists() {
        anyhow::bail!("there is no store to back up at {}", db_file.display());
    }
    let store = Store::connect(&config.database_url(), 1).await?;
    store.backup_sqlite(file).await?;
    println!("{}", file.display());
    store.close().await?;
    Ok(())
}

/// # `rathaus export ID`
pub async fn export(app: App, id: i64, format: ExportFormat, out: &Path) -> anyhow::Result<()> {
    let export = export::consultation(&app, id).await?;
    std::fs::create_dir_all(out).with_context(|| format!("--out {}", out.display()))?;
    // CSV comes with its CSV-on-the-Web description; both forms with the DCAT-AP.de record.
    let names = export
        .listing()
        .into_iter()
        .filter(|(name, _)| match format {
            ExportFormat::Json => *name == "consultation.json" || *name == "dcat.jsonld",
            ExportFormat::Csv => *name != "consultation.json",
        });
    for (name, _) in names {
        let data = export.file(name)?.unwrap_or_default();
        let path = out.join(name);
        std::fs::write(&path, data).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

/// # `rathaus comments …`
pub async fn comments(app: App, command: CommentsCommand) -> anyhow::Result<()> {
    let moderate = |id, action, reason| {
        let app = app.clone();
        async move {
            let c = comment_service::moderate(&app, id, action, "cli", reason).await?;
            println!("{}\t{}", c.id, c.status.as_str());
            anyhow::Ok(())
        }
    };
    match command {
        CommentsCommand::List {
            consultation,
            status,
            json,
        } => {
            let filter = CommentFilter {
                announcement_id: consultation,
                status,
                ..Default::default()
            };
            let rows = comment_service::list(&app, &filter).await?;
            if json {
                let rows: Vec<CommentRow> = rows.iter().map(CommentRow::from).collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
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
            let answer = comment_service::answer(&app, id, &text, "cli").await?;
            println!("{}\t{}", answer.id, app.urls().answer(answer.id));
        }
    }
    Ok(())
}

/// What `rathaus announce` was asked to do.
#[derive(Debug)]
pub enum AnnounceMode {
    New {
        title: Option<String>,
        closes: Option<DateTime<Utc>>,
    },
    Correct(i64),
    Retract(i64),
}

/// # `rathaus announce …`
pub async fn announce(app: App, mode: AnnounceMode, text: Option<String>) -> anyhow::Result<()> {
    let text = text.unwrap_or_default();
    let (view, what) = match mode {
        AnnounceMode::Retract(id) => (announcements::retract(&app, id).await?, "retracted"),
        AnnounceMode::Correct(id) => (announcements::correct(&app, id, text).await?, "corrected"),
        AnnounceMode::New { title, closes } => {
            let request = announcements::Announce {
                title,
                text,
                closes_at: closes,
                opens_at: None,
                author: "cli".into(),
            };
            let view = announcements::announce(&app, request).await?;
            let what = if view.consultation.is_some() {
                "consultation published"
            } else {
                "published"
            };
            (view, what)
        }
    };
    let id = view.announcement.id;
    println!("{id}\t{what}\t{}", app.urls().announcement(id));
    Ok(())
}

/// # `rathaus result ID TEXT`
pub async fn result(app: App, id: i64, text: String) -> anyhow::Result<()> {
    let view = announcements::publish_result(&app, id, text).await?;
    println!("{}\t{}", id, app.urls().announcement(view.announcement.id));
    Ok(())
}

/// # `rathaus close ID`
pub async fn close(app: App, id: i64) -> anyhow::Result<()> {
    announcements::close(&app, id).await?;
    println!("{id}\tclosed");
    Ok(())
}

/// # `rathaus retention`
/// # `rathaus blocks list|add|remove|import`
pub async fn blocks(app: App, action: BlocksCommand) -> anyhow::Result<()> {
    match action {
        BlocksCommand::List => {
            for b in moderation::blocks(&app).await? {
                let kind = match b.kind {
                    BlockKind::User => "user",
                    BlockKind::Domain => "domain",
                };
                println!(
                    "{}\t{}\t{}",
                    kind,
                    b.target,
                    b.reason.as_deref().unwrap_or("-")
                );
            }
        }
        BlocksCommand::Add { target, reason } => {
            let kind = moderation::block_kind(&target)?;
            let new = moderation::block(&app, kind, &target, reason, "cli").await?;
            println!(
                "{} {target}",
                if new { "blocked" } else { "already blocked" }
            );
        }
        BlocksCommand::Remove { target } => {
            let kind = moderation::block_kind(&target)?;
            let was = moderation::unblock(&app, kind, &target, "cli").await?;
            println!(
                "{} {target}",
                if was { "unblocked" } else { "was not blocked:" }
            );
        }
        BlocksCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let added = moderation::import_mastodon_domain_blocks(&app, &text, "cli").await?;
            println!("domains blocked: {added}");
        }
    }
    Ok(())
}

/// # `rathaus erase --author ID | --comment ID`
pub async fn erase(app: App, author: Option<String>, comment: Option<i64>) -> anyhow::Result<()> {
    let target = match (author, comment) {
        (Some(author), _) => erasure::Target::Author(author),
        (None, Some(id)) => erasure::Target::Comment(id),
        (None, None) => anyhow::bail!("say whose data: --author ID or --comment ID"),
    };
    let erased = erasure::erase(&app, &target, "cli").await?;
    println!(
        "comments erased: {}
activities withdrawn: {}",
        erased.comments, erased.activities
    );
    Ok(())
}

pub async fn retention(app: App) -> anyhow::Result<()> {
    let r = retention::run(&app, app.now()).await?;
    println!(
        "comments pseudonymised: {}\nremote accounts forgotten: {}\nactivity ids forgotten: {}",
        r.comments, r.remote_actors, r.inbound_activities
    );
    Ok(())
}
