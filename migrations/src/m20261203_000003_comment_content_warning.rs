//! A reply's content warning (`summary`) and `sensitive` flag: the author asked for the text to
//! be shown behind a warning, so pages, feeds, the Matrix relay and the exports keep it.

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
        // One column per statement: SQLite alters a table one change at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("comment"))
                    .add_column(ColumnDef::new(Alias::new("content_warning")).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("comment"))
                    .add_column(
                        ColumnDef::new(Alias::new("sensitive"))
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["sensitive", "content_warning"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("comment"))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
