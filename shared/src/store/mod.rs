//! The store: a connection pool plus one module of queries per aggregate.
//!
//! Query functions take any `ConnectionTrait`, so a service can run several of them in one
//! transaction (`store.db().begin()`): a row and the jobs it causes are written together.

pub mod actors;
pub mod announcements;
pub mod blocks;
pub mod bridge;
pub mod comments;
pub mod delivery;
pub mod erasure;
pub mod inbox;
pub mod leader;
pub mod matrix;
pub mod moderation;
pub mod policy;
pub mod relay;
pub mod reports;
pub mod state;

use std::time::Duration;

use rathaus_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection};

use crate::error::{Error, Result};

/// A handle to the database; cheap to clone (it wraps a pool).
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Connects without migrating. Fails fast (5 s) when the server does not answer.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        Self::connect_with(ConnectOptions::new(url.to_owned()), max_connections).await
    }

    /// SQLite has one writer at a time: beyond a few connections, more only wait on its lock
    /// (and its busy handler sleeps), which shows as tail latency. Measured in BENCHMARKS.md.
    pub const SQLITE_MAX_CONNECTIONS: u32 = 4;

    /// Connects with PostgreSQL's `search_path` set to `schema` (tests isolate themselves so).
    pub async fn connect_in_schema(url: &str, schema: &str, max_connections: u32) -> Result<Self> {
        let mut options = ConnectOptions::new(url.to_owned());
        options.set_schema_search_path(schema.to_owned());
        Self::connect_with(options, max_connections).await
    }

    async fn connect_with(mut options: ConnectOptions, max_connections: u32) -> Result<Self> {
        let max_connections = if options.get_url().starts_with("sqlite:") {
            max_connections.min(Self::SQLITE_MAX_CONNECTIONS)
        } else {
            max_connections
        };
        options
            .max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false)
            // WAL lets readers work while one writer commits; NORMAL sync is durable against a
            // crash of the process (the WAL is fsynced at checkpoints), the usual server choice.
            .map_sqlx_sqlite_opts(|o| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
            });
        let db = Database::connect(options)
            .await
            .map_err(|e| Error::Config(format!("database: cannot connect: {}", one_line(&e))))?;
        Ok(Self { db })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<()> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Names of migrations applied so far, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<String>> {
        Ok(Migrator::get_applied_migrations(&self.db)
            .await?
            .iter()
            .map(|m| m.name().to_owned())
            .collect())
    }

    /// Names of migrations not applied yet.
    pub async fn pending_migrations(&self) -> Result<Vec<String>> {
        Ok(Migrator::get_pending_migrations(&self.db)
            .await?
            .iter()
            .map(|m| m.name().to_owned())
            .collect())
    }

    /// Rolls back the newest `steps` migrations.
    pub async fn migrate_down(&self, steps: u32) -> Result<()> {
        Migrator::down(&self.db, Some(steps)).await?;
        Ok(())
    }

    /// The pool, for running queries and opening transactions.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// Whether the database answers; `/readyz` uses it.
    /// A consistent copy of an SQLite store in `target` (SQLite's `VACUUM INTO`), safe while
    /// the service runs. PostgreSQL is backed up with its own tools (`pg_dump`).
    pub async fn backup_sqlite(&self, target: &std::path::Path) -> Result<()> {
        if self.backend() != DatabaseBackend::Sqlite {
            return Err(Error::Invalid(
                "rathaus backup copies the SQLite store; back up PostgreSQL with pg_dump (see OPERATIONS.md)".into(),
            ));
        }
        if target.exists() {
            return Err(Error::Invalid(format!(
                "{} exists already; choose a new file",
                target.display()
            )));
        }
        let path = target
            .to_str()
            .ok_or_else(|| Error::Invalid(format!("{} is not a UTF-8 path", target.display())))?;
        self.db
            .execute_unprepared(&format!("VACUUM INTO '{}'", path.replace('\'', "''")))
            .await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<()> {
        self.db.ping().await?;
        Ok(())
    }

    /// Closes the pool; SQLite checkpoints its WAL so the file is complete on its own.
    pub async fn close(self) -> Result<()> {
        self.db.close().await?;
        Ok(())
    }
}

fn one_line(err: &sea_orm::DbErr) -> String {
    err.to_string().replace('\n', " ")
}

/// Unix-epoch-free "now" in one place, so tests and services agree on the type.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
