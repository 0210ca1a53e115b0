//! The inbox's durable queue and the reach of announcements.
//!
//! `inbox_queue`: a verified activity is appended here (one write) before it is processed;
//! processing deletes its row in the transaction that applies it, so a crash between the two
//! loses nothing and nothing is applied twice. `reaction`: Likes and boosts (`Announce`) of an
//! announcement, counted, never who: only a salted hash of the activity id, so an `Undo` can
//! remove the one it names.

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
                    .table("inbox_queue")
                    .col(big_pk_auto("id"))
                    .col(string_uniq("activity_id"))
                    .col(text("command"))
                    .col(timestamp_with_time_zone("received_at"))
                    .col(integer("attempts").default(0))
                    .col(text_null("last_error"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("reaction")
                    .col(big_pk_auto("id"))
                    .col(big_integer("announcement_id"))
                    .col(string("kind"))
                    .col(string_uniq("activity_hash"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reaction_announcement")
                            .from("reaction", "announcement_id")
                            .to("announcement", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_reaction_announcement")
                    .table("reaction")
                    .col("announcement_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("reaction").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("inbox_queue").to_owned())
            .await
    }
}
