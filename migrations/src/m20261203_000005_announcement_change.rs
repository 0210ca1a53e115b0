//! Every change of an announcement after it was posted (a correction, a retraction, an early
//! close, a result), written in the same transaction as the change itself. The Matrix bot
//! follows this table with a cursor to mirror each change into the rooms it relayed to, so a
//! crash between the change and the mirror loses nothing.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In a transaction on SQLite too (see the crate doc).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("announcement_change")
                    .col(big_pk_auto("id"))
                    .col(big_integer("announcement_id"))
                    .col(string_len("kind", 16))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_announcement_change_announcement")
                            .from("announcement_change", "announcement_id")
                            .to("announcement", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("announcement_change").to_owned())
            .await
    }
}
