//! The initial schema: every table of the domain. Names are plain strings on purpose.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables in creation order; `down` drops them in reverse.
const TABLES: &[&str] = &[
    "local_actor",
    "remote_actor",
    "follower",
    "announcement",
    "consultation",
    "comment",
    "official_answer",
    "moderation_action",
    "policy_rule",
    "block",
    "outbound_activity",
    "delivery_job",
    "inbound_activity",
    "processed_matrix_event",
    "kv_state",
];

fn id() -> ColumnDef {
    big_pk_auto("id")
}

fn created_at() -> ColumnDef {
    timestamp_with_time_zone("created_at")
}

fn fk(
    name: &str,
    from: (&'static str, &'static str),
    to: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to, "id")
        .on_delete(on_delete)
        .to_owned()
}

fn index(
    name: &str,
    table: &'static str,
    cols: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(*col);
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In a transaction on SQLite too (see the crate doc): no pooled connection may see a
    /// table without its indexes.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            Table::create()
                .table("local_actor")
                .col(id())
                .col(string_uniq("username"))
                .col(text("public_key_pem"))
                .col(text("private_key_pem"))
                .col(created_at())
                .to_owned(),
            Table::create()
                .table("remote_actor")
                .col(id())
                .col(text_uniq("ap_id"))
                .col(string("username"))
                .col(string("domain"))
                .col(string_null("display_name"))
                .col(text("inbox"))
                .col(text_null("shared_inbox"))
                .col(text_null("public_key_pem"))
                .col(timestamp_with_time_zone("fetched_at"))
                .col(created_at())
                .to_owned(),
            Table::create()
                .table("follower")
                .col(id())
                .col(big_integer_uniq("remote_actor_id"))
                .col(text("follow_activity_id"))
                .col(created_at())
                .foreign_key(&mut fk(
                    "fk_follower_remote_actor",
                    ("follower", "remote_actor_id"),
                    "remote_actor",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
            Table::create()
                .table("announcement")
                .col(id())
                .col(string("kind"))
                .col(string_null("title"))
                .col(text("body_markdown"))
                .col(text("body_html"))
                .col(string("author"))
                .col(created_at())
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("retracted_at"))
                .to_owned(),
            Table::create()
                .table("consultation")
                .col(big_integer("announcement_id").primary_key())
                .col(timestamp_with_time_zone("opens_at"))
                .col(timestamp_with_time_zone("closes_at"))
                .col(timestamp_with_time_zone_null("closed_at"))
                .col(text_null("result_markdown"))
                .col(text_null("result_html"))
                .col(timestamp_with_time_zone_null("result_at"))
                .foreign_key(&mut fk(
                    "fk_consultation_announcement",
                    ("consultation", "announcement_id"),
                    "announcement",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
            Table::create()
                .table("comment")
                .col(id())
                .col(big_integer("announcement_id"))
                .col(big_integer_null("parent_comment_id"))
                .col(string("network"))
                .col(text_uniq("origin_id"))
                .col(text_null("origin_url"))
                .col(string("author_id"))
                .col(string_null("author_name"))
                .col(string("author_domain"))
                .col(text_null("content"))
                .col(string("status"))
                .col(boolean("late"))
                .col(string_null("rule_id"))
                .col(integer_null("rule_version"))
                .col(text_null("reason"))
                .col(created_at())
                .col(timestamp_with_time_zone("received_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("deleted_at"))
                .foreign_key(&mut fk(
                    "fk_comment_announcement",
                    ("comment", "announcement_id"),
                    "announcement",
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_comment_parent",
                    ("comment", "parent_comment_id"),
                    "comment",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
            Table::create()
                .table("official_answer")
                .col(id())
                .col(big_integer("comment_id"))
                .col(string("author"))
                .col(text("body_markdown"))
                .col(text("body_html"))
                .col(created_at())
                .foreign_key(&mut fk(
                    "fk_official_answer_comment",
                    ("official_answer", "comment_id"),
                    "comment",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
            // No foreign key: the log must outlive whatever it talks about.
            Table::create()
                .table("moderation_action")
                .col(id())
                .col(big_integer_null("comment_id"))
                .col(string("action"))
                .col(string("actor"))
                .col(string_null("rule_id"))
                .col(integer_null("rule_version"))
                .col(text_null("reason"))
                .col(created_at())
                .to_owned(),
            Table::create()
                .table("policy_rule")
                .col(id())
                .col(string("rule_key"))
                .col(integer("version"))
                .col(string("kind"))
                .col(text("definition"))
                .col(string("action"))
                .col(text("public_reason"))
                .col(string("created_by"))
                .col(created_at())
                .col(timestamp_with_time_zone_null("retired_at"))
                .to_owned(),
            Table::create()
                .table("block")
                .col(id())
                .col(string("kind"))
                .col(string("target"))
                .col(text_null("reason"))
                .col(string("created_by"))
                .col(created_at())
                .to_owned(),
            Table::create()
                .table("outbound_activity")
                .col(id())
                .col(text_uniq("ap_id"))
                .col(string("kind"))
                .col(big_integer_null("announcement_id"))
                .col(text("payload"))
                .col(created_at())
                .to_owned(),
            Table::create()
                .table("delivery_job")
                .col(id())
                .col(big_integer("activity_id"))
                .col(text("inbox"))
                .col(string("host"))
                .col(string("status"))
                .col(integer("attempts"))
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(timestamp_with_time_zone_null("locked_until"))
                .col(text_null("last_error"))
                .col(created_at())
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk(
                    "fk_delivery_job_activity",
                    ("delivery_job", "activity_id"),
                    "outbound_activity",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
            Table::create()
                .table("inbound_activity")
                .col(id())
                .col(text_uniq("ap_id"))
                .col(timestamp_with_time_zone("received_at"))
                .to_owned(),
            Table::create()
                .table("processed_matrix_event")
                .col(string("event_id").primary_key())
                .col(string("room_id"))
                .col(timestamp_with_time_zone("processed_at"))
                .to_owned(),
            Table::create()
                .table("kv_state")
                .col(string("key").primary_key())
                .col(text("value"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        ];
        for table in tables {
            manager.create_table(table).await?;
        }

        let indexes = [
            index(
                "idx_remote_actor_domain",
                "remote_actor",
                &["domain"],
                false,
            ),
            index(
                "idx_announcement_created",
                "announcement",
                &["created_at"],
                false,
            ),
            index(
                "idx_comment_announcement_status",
                "comment",
                &["announcement_id", "status"],
                false,
            ),
            index("idx_comment_author", "comment", &["author_id"], false),
            index(
                "idx_official_answer_comment",
                "official_answer",
                &["comment_id"],
                false,
            ),
            index(
                "idx_moderation_action_comment",
                "moderation_action",
                &["comment_id"],
                false,
            ),
            index(
                "uq_policy_rule_key_version",
                "policy_rule",
                &["rule_key", "version"],
                true,
            ),
            index("uq_block_kind_target", "block", &["kind", "target"], true),
            index(
                "uq_delivery_job_activity_inbox",
                "delivery_job",
                &["activity_id", "inbox"],
                true,
            ),
            index(
                "idx_delivery_job_due",
                "delivery_job",
                &["status", "next_attempt_at"],
                false,
            ),
            index("idx_delivery_job_host", "delivery_job", &["host"], false),
        ];
        for idx in indexes {
            manager.create_index(idx).await?;
        }

        // The moderation log is append-only, enforced by the database itself.
        let db = manager.get_connection();
        match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION rathaus_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER moderation_action_append_only \
                     BEFORE UPDATE OR DELETE ON moderation_action \
                     FOR EACH ROW EXECUTE FUNCTION rathaus_append_only()",
                )
                .await?;
            }
            _ => {
                for op in ["UPDATE", "DELETE"] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER moderation_action_no_{} BEFORE {op} ON moderation_action \
                         BEGIN SELECT RAISE(ABORT, 'moderation_action is append-only'); END",
                        op.to_lowercase()
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "DROP TRIGGER IF EXISTS moderation_action_append_only ON moderation_action",
                )
                .await?;
                db.execute_unprepared("DROP FUNCTION IF EXISTS rathaus_append_only()")
                    .await?;
            }
            _ => {
                db.execute_unprepared("DROP TRIGGER IF EXISTS moderation_action_no_update")
                    .await?;
                db.execute_unprepared("DROP TRIGGER IF EXISTS moderation_action_no_delete")
                    .await?;
            }
        }
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*table).to_owned())
                .await?;
        }
        Ok(())
    }
}
