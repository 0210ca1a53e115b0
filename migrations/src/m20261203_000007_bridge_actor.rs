//! Matrix citizens in the fediverse: one bridge actor per citizen whose published comments are
//! federated (its key pair is a `local_actor` row named by its handle), and the signer of each
//! outgoing activity (`NULL`: the town hall's actor).

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
                    .table("bridge_actor")
                    .col(big_pk_auto("id"))
                    .col(string_uniq("matrix_user_id"))
                    .col(string_uniq("handle"))
                    .col(string_null("display_name"))
                    .col(boolean("opted_out").default(false))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("outbound_activity")
                    .add_column(string_null("signer"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("outbound_activity")
                    .drop_column("signer")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("bridge_actor").to_owned())
            .await
    }
}
