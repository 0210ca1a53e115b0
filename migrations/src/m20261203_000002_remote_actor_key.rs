//! The id of the key a remote actor signs with. Keys are looked up by the `keyId` of a
//! signature; where that is not `actor#fragment` (GoToSocial's `…/main-key`, keys served as
//! documents of their own) the actor id alone would miss the cache and fetch every time.

use sea_orm_migration::prelude::*;

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
            .alter_table(
                Table::alter()
                    .table(Alias::new("remote_actor"))
                    .add_column(ColumnDef::new(Alias::new("key_id")).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_remote_actor_key_id")
                    .table(Alias::new("remote_actor"))
                    .col(Alias::new("key_id"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_remote_actor_key_id")
                    .table(Alias::new("remote_actor"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("remote_actor"))
                    .drop_column(Alias::new("key_id"))
                    .to_owned(),
            )
            .await
    }
}
