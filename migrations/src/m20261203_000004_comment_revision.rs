//! Earlier texts of edited comments. Moderators see what an edit changed, and the duplicate
//! rule still knows a text after its author edited it away. Erasure deletes them with the
//! comment's text.

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
                    .table("comment_revision")
                    .col(big_pk_auto("id"))
                    .col(big_integer("comment_id"))
                    .col(text("content"))
                    .col(timestamp_with_time_zone("replaced_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_comment_revision_comment")
                            .from("comment_revision", "comment_id")
                            .to("comment", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_comment_revision_comment")
                    .table("comment_revision")
                    .col("comment_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("comment_revision").to_owned())
            .await
    }
}
