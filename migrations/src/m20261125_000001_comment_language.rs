//! The language a comment is written in, as its author's server declared it (Mastodon's
//! `contentMap` key), so pages can mark it (`lang`, WCAG 3.1.2).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In a transaction on SQLite too (see the crate doc): no pooled connection may see a
    /// table without its indexes.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("comment"))
                    .add_column(ColumnDef::new(Alias::new("language")).string_len(35).null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("comment"))
                    .drop_column(Alias::new("language"))
                    .to_owned(),
            )
            .await
    }
}
