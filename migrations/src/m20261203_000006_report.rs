//! Reports (`Flag`) from fediverse servers about a comment, an announcement or the Rathaus
//! actor. Only the reporter's instance is kept, never the person; the text goes to the
//! moderators. The bot follows this table to post each report into the moderation room.

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
                    .table("report")
                    .col(big_pk_auto("id"))
                    .col(string("reporter_domain"))
                    .col(big_integer_null("comment_id"))
                    .col(big_integer_null("announcement_id"))
                    .col(text_null("content"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_report_comment")
                            .from("report", "comment_id")
                            .to("comment", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("report").to_owned())
            .await
    }
}
