//! The Rathaus schema as sea-orm migrations. Migrations name tables and columns as strings
//! (via `Iden` enums local to each migration), never through entity types, so that old
//! migrations keep compiling when the entities change.
//!
//! Every migration runs in a transaction, on SQLite as well as PostgreSQL (sea-orm-migration
//! wraps only PostgreSQL's by default). Otherwise another connection of the pool can cache the
//! schema between a `CREATE TABLE` and its `CREATE UNIQUE INDEX`, and an `ON CONFLICT` on that
//! index then fails to prepare there ("does not match any PRIMARY KEY or UNIQUE constraint").

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_initial;
mod m20261125_000001_comment_language;
mod m20261203_000001_matrix_relay;
mod m20261203_000002_remote_actor_key;
mod m20261203_000003_comment_content_warning;
mod m20261203_000004_comment_revision;
mod m20261203_000005_announcement_change;
mod m20261203_000006_report;
mod m20261203_000007_bridge_actor;
mod m20261203_000008_inbox_queue;

/// Runs every migration in order; the same code path for SQLite and PostgreSQL.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_initial::Migration),
            Box::new(m20261125_000001_comment_language::Migration),
            Box::new(m20261203_000001_matrix_relay::Migration),
            Box::new(m20261203_000002_remote_actor_key::Migration),
            Box::new(m20261203_000003_comment_content_warning::Migration),
            Box::new(m20261203_000004_comment_revision::Migration),
            Box::new(m20261203_000005_announcement_change::Migration),
            Box::new(m20261203_000006_report::Migration),
            Box::new(m20261203_000007_bridge_actor::Migration),
            Box::new(m20261203_000008_inbox_queue::Migration),
        ]
    }
}
