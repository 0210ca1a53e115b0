//! Which Matrix event stands for what: an announcement posted into a public room, a comment or
//! an official answer relayed into its thread, a notice about a held comment in the moderation
//! room. Replaces the ad-hoc `kv_state` keys `matrix.relay.*`, `matrix.announcement.*`,
//! `matrix.comment.*` and `matrix.notice.*`; `up` moves their rows into the table and `down`
//! moves them back, so an installation keeps its threads across the upgrade.

use sea_orm_migration::sea_orm::prelude::ChronoDateTimeUtc;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "matrix_relay";

/// A relay row read from or written back to the old keys.
struct Row {
    room_id: String,
    event_id: String,
    kind: &'static str,
    announcement_id: Option<i64>,
    comment_id: Option<i64>,
}

/// Reads an old key and its value; `None` for keys that are not relay keys.
fn from_kv(key: &str, value: &str) -> Option<Row> {
    if let Some(rest) = key.strip_prefix("matrix.announcement.") {
        let (id, room) = rest.split_once('.')?;
        return Some(Row {
            room_id: room.to_owned(),
            event_id: value.to_owned(),
            kind: "announcement",
            announcement_id: Some(id.parse().ok()?),
            comment_id: None,
        });
    }
    if let Some(rest) = key.strip_prefix("matrix.comment.") {
        let (id, room) = rest.split_once('.')?;
        return Some(Row {
            room_id: room.to_owned(),
            event_id: value.to_owned(),
            kind: "comment",
            announcement_id: None,
            comment_id: Some(id.parse().ok()?),
        });
    }
    if let Some(event) = key.strip_prefix("matrix.notice.") {
        // The old key did not name the room: notices are looked up by event id alone.
        return Some(Row {
            room_id: String::new(),
            event_id: event.to_owned(),
            kind: "notice",
            announcement_id: None,
            comment_id: Some(value.parse().ok()?),
        });
    }
    None
}

/// The old keys for a row (`matrix.relay.*` is the reverse map of an announcement).
fn to_kv(row: &Row) -> Vec<(String, String)> {
    match (row.kind, row.announcement_id, row.comment_id) {
        ("announcement", Some(a), _) => vec![
            (
                format!("matrix.announcement.{a}.{}", row.room_id),
                row.event_id.clone(),
            ),
            (
                format!("matrix.relay.{}.{}", row.room_id, row.event_id),
                a.to_string(),
            ),
        ],
        ("comment", _, Some(c)) => vec![(
            format!("matrix.comment.{c}.{}", row.room_id),
            row.event_id.clone(),
        )],
        ("notice", _, Some(c)) => vec![(format!("matrix.notice.{}", row.event_id), c.to_string())],
        _ => Vec::new(),
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In a transaction on SQLite too (see the crate doc): no pooled connection may see a
    /// table without its indexes.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .col(big_pk_auto("id"))
                    .col(string("room_id"))
                    .col(string("event_id"))
                    .col(string_len("kind", 16))
                    .col(big_integer_null("announcement_id"))
                    .col(big_integer_null("comment_id"))
                    .col(big_integer_null("answer_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_matrix_relay_event", &["room_id", "event_id"][..]),
            ("idx_matrix_relay_announcement", &["announcement_id"][..]),
            ("idx_matrix_relay_comment", &["comment_id"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table(TABLE);
            for col in cols {
                index.col(Alias::new(*col));
            }
            if name == "idx_matrix_relay_event" {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }

        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let old = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT key, value, updated_at FROM kv_state WHERE key LIKE 'matrix.%'",
            ))
            .await?;
        for kv in old {
            let key: String = kv.try_get("", "key")?;
            let value: String = kv.try_get("", "value")?;
            if key.starts_with("matrix.relay.") {
                // The reverse map of an announcement: the table answers both directions.
                delete_key(db, &key).await?;
                continue;
            }
            let Some(row) = from_kv(&key, &value) else {
                continue;
            };
            let insert = Query::insert()
                .into_table(TABLE)
                .columns(
                    [
                        "room_id",
                        "event_id",
                        "kind",
                        "announcement_id",
                        "comment_id",
                        "created_at",
                    ]
                    .map(Alias::new),
                )
                .values_panic([
                    row.room_id.into(),
                    row.event_id.into(),
                    row.kind.into(),
                    row.announcement_id.into(),
                    row.comment_id.into(),
                    kv.try_get::<ChronoDateTimeUtc>("", "updated_at")?.into(),
                ])
                .on_conflict(
                    OnConflict::columns(["room_id", "event_id"].map(Alias::new))
                        .do_nothing()
                        .to_owned(),
                )
                .to_owned();
            db.execute(&insert).await?;
            delete_key(db, &key).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT room_id, event_id, kind, announcement_id, comment_id, created_at FROM matrix_relay",
            ))
            .await?;
        for r in rows {
            let kind: String = r.try_get("", "kind")?;
            let row = Row {
                room_id: r.try_get("", "room_id")?,
                event_id: r.try_get("", "event_id")?,
                kind: match kind.as_str() {
                    "announcement" => "announcement",
                    "comment" => "comment",
                    "notice" => "notice",
                    // Answers had no key of their own.
                    _ => continue,
                },
                announcement_id: r.try_get("", "announcement_id")?,
                comment_id: r.try_get("", "comment_id")?,
            };
            let at: ChronoDateTimeUtc = r.try_get("", "created_at")?;
            for (key, value) in to_kv(&row) {
                let insert = Query::insert()
                    .into_table("kv_state")
                    .columns(["key", "value", "updated_at"].map(Alias::new))
                    .values_panic([key.into(), value.into(), at.into()])
                    .on_conflict(OnConflict::column("key").do_nothing().to_owned())
                    .to_owned();
                db.execute(&insert).await?;
            }
        }
        manager
            .drop_table(Table::drop().table(TABLE).to_owned())
            .await
    }
}

async fn delete_key<C: ConnectionTrait>(db: &C, key: &str) -> Result<(), DbErr> {
    let delete = Query::delete()
        .from_table("kv_state")
        .and_where(Expr::col("key").eq(key))
        .to_owned();
    db.execute(&delete).await?;
    Ok(())
}
