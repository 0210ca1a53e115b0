//! The command line: what `rathaus` accepts, parsed by clap. What each command does lives in
//! `commands` and `serve`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use rathaus_shared::domain::CommentStatus;

/// Rathaus: a town hall's open, moderated dialogue with citizens on Matrix and the fediverse.
#[derive(Debug, Parser)]
#[command(name = "rathaus", version, about)]
pub struct Cli {
    /// Configuration file (TOML); overrides the built-in defaults, and is overridden by
    /// environment variables RATHAUS_SECTION__KEY.
    #[arg(
        short,
        long,
        global = true,
        env = "RATHAUS_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
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
    /// Blocked people and servers, as the moderators' `!sperren` handles them: a blocked
    /// server (and its subdomains, any port) can no longer comment, follow or receive anything.
    Blocks {
        #[command(subcommand)]
        action: BlocksCommand,
    },
    /// Erase a person's data (a request under GDPR Art. 17, e.g. by mail): their comments keep
    /// only that they existed; answers and notices that name them are withdrawn; the Matrix
    /// bot redacts its copies. Logged without personal data.
    #[command(group(clap::ArgGroup::new("whom").required(true)))]
    Erase {
        /// Everything of this person: an ActivityPub actor URL or a Matrix user id.
        #[arg(long, value_name = "ID", group = "whom")]
        author: Option<String>,
        /// One comment.
        #[arg(long, value_name = "ID", group = "whom")]
        comment: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BlocksCommand {
    /// List every block: kind, target, reason.
    List,
    /// Block a person (an ActivityPub actor URL or @name:server) or a server (example.org).
    Add {
        target: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a block.
    Remove { target: String },
    /// Block every domain of a Mastodon domain-block export (CSV with #domain,#severity,…)
    /// or of a plain list, one domain per line.
    Import { file: PathBuf },
}

/// The forms of the Open Data export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// consultation.json (with dcat.jsonld).
    Json,
    /// One CSV file per table, csv-metadata.json and dcat.jsonld.
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum CommentsCommand {
    /// List comments, oldest first.
    List {
        /// Only the comments on this announcement or consultation.
        #[arg(long, value_name = "ID")]
        consultation: Option<i64>,
        /// pending, published, rejected, hidden, deleted or private (replies not addressed
        /// to the public, listed only when asked for).
        #[arg(long, value_parser = parse_status)]
        status: Option<CommentStatus>,
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

fn parse_status(raw: &str) -> Result<CommentStatus, String> {
    raw.parse()
}

fn parse_time(raw: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("`{raw}` is not an RFC 3339 time like 2026-12-31T18:00:00+01:00: {e}"))
}
