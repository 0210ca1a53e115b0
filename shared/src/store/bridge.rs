//! Bridge actors: Matrix citizens as fediverse actors (see `services::bridge`).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
    sea_query::OnConflict,
};

use crate::entities::{CommentStatus, Network, bridge_actor, comment, remote_actor};
use crate::error::Result;

pub async fn by_user<C: ConnectionTrait>(
    db: &C,
    matrix_user_id: &str,
) -> Result<Option<bridge_actor::Model>> {
    Ok(bridge_actor::Entity::find()
        .filter(bridge_actor::Column::MatrixUserId.eq(matrix_user_id))
        .one(db)
        .await?)
}

pub async fn by_handle<C: ConnectionTrait>(
    db: &C,
    handle: &str,
) -> Result<Option<bridge_actor::Model>> {
    Ok(bridge_actor::Entity::find()
        .filter(bridge_actor::Column::Handle.eq(handle))
        .one(db)
        .await?)
}

/// The citizen's bridge actor, created on first use; a changed display name is kept.
pub async fn ensure<C: ConnectionTrait>(
    db: &C,
    matrix_user_id: &str,
    handle: &str,
    display_name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bridge_actor::Model> {
    bridge_actor::Entity::insert(bridge_actor::ActiveModel {
        id: NotSet,
        matrix_user_id: Set(matrix_user_id.to_owned()),
        handle: Set(handle.to_owned()),
        display_name: Set(display_name.map(str::to_owned)),
        opted_out: Set(false),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(bridge_actor::Column::MatrixUserId)
            .update_column(bridge_actor::Column::DisplayName)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    by_user(db, matrix_user_id)
        .await?
        .ok_or_else(|| crate::Error::NotFound(format!("bridge actor {handle} after insert")))
}

pub async fn set_opted_out<C: ConnectionTrait>(db: &C, id: i64, opted_out: bool) -> Result<()> {
    bridge_actor::Entity::update_many()
        .col_expr(
            bridge_actor::Column::OptedOut,
            sea_orm::sea_query::Expr::value(opted_out),
        )
        .filter(bridge_actor::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// After an erasure: the actor no longer names its citizen (`pseudonym` replaces the Matrix
/// id, the name goes) and is withdrawn.
pub async fn forget<C: ConnectionTrait>(db: &C, id: i64, pseudonym: &str) -> Result<()> {
    use sea_orm::sea_query::Expr;
    bridge_actor::Entity::update_many()
        .col_expr(bridge_actor::Column::MatrixUserId, Expr::value(pseudonym))
        .col_expr(
            bridge_actor::Column::DisplayName,
            Expr::value(Option::<String>::None),
        )
        .col_expr(bridge_actor::Column::OptedOut, Expr::value(true))
        .filter(bridge_actor::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The inboxes of the fediverse people who took part in announcement `id`'s thread (authors
/// of its published comments), each once (shared inboxes preferred).
pub async fn participant_inboxes<C: ConnectionTrait>(db: &C, id: i64) -> Result<Vec<String>> {
    let authors = comment::Entity::find()
        .select_only()
        .column(comment::Column::AuthorId)
        .filter(comment::Column::AnnouncementId.eq(id))
        .filter(comment::Column::Network.eq(Network::Fediverse))
        .filter(comment::Column::Status.eq(CommentStatus::Published))
        .into_query();
    let rows: Vec<(String, Option<String>)> = remote_actor::Entity::find()
        .select_only()
        .column(remote_actor::Column::Inbox)
        .column(remote_actor::Column::SharedInbox)
        .filter(remote_actor::Column::ApId.in_subquery(authors))
        .into_tuple()
        .all(db)
        .await?;
    let mut inboxes: Vec<String> = rows
        .into_iter()
        .map(|(inbox, shared)| shared.unwrap_or(inbox))
        .collect();
    inboxes.sort();
    inboxes.dedup();
    Ok(inboxes)
}

/// Published Matrix comments by `matrix_user_id` (what an opt-out withdraws).
pub async fn published_comments<C: ConnectionTrait>(
    db: &C,
    matrix_user_id: &str,
) -> Result<Vec<comment::Model>> {
    Ok(comment::Entity::find()
        .filter(comment::Column::AuthorId.eq(matrix_user_id))
        .filter(comment::Column::Network.eq(Network::Matrix))
        .filter(comment::Column::Status.eq(CommentStatus::Published))
        .all(db)
        .await?)
}
