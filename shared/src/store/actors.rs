//! The local actor (with its key), remote actors and followers.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::{comment, follower, local_actor, remote_actor};
use crate::error::Result;
use crate::keys::generate_rsa_keypair;

/// The local actor named `username`, created with a fresh key pair on first use.
/// Safe against two processes starting at once: the unique name decides, both read the winner.
pub async fn ensure_local_actor<C: ConnectionTrait>(
    db: &C,
    username: &str,
    now: DateTime<Utc>,
) -> Result<(local_actor::Model, bool)> {
    if let Some(actor) = local_actor(db, username).await? {
        return Ok((actor, false));
    }
    let keys = generate_rsa_keypair()?;
    let inserted = local_actor::Entity::insert(local_actor::ActiveModel {
        id: NotSet,
        username: Set(username.to_owned()),
        public_key_pem: Set(keys.public_pem),
        private_key_pem: Set(keys.private_pem),
        created_at: Set(now),
    })
    .on_conflict_do_nothing_on([local_actor::Column::Username])
    .exec_without_returning(db)
    .await?;
    let created = matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0);
    let actor = local_actor(db, username)
        .await?
        .ok_or_else(|| crate::Error::NotFound(format!("local actor {username} after insert")))?;
    Ok((actor, created))
}

pub async fn local_actor<C: ConnectionTrait>(
    db: &C,
    username: &str,
) -> Result<Option<local_actor::Model>> {
    Ok(local_actor::Entity::find()
        .filter(local_actor::Column::Username.eq(username))
        .one(db)
        .await?)
}

/// What we learn about a remote actor from its document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteActorData {
    pub ap_id: String,
    pub username: String,
    pub domain: String,
    pub display_name: Option<String>,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub public_key_pem: Option<String>,
    /// The `keyId` of `public_key_pem`, as signatures name it.
    pub key_id: Option<String>,
}

/// Inserts or refreshes a remote actor by its id.
pub async fn upsert_remote_actor<C: ConnectionTrait>(
    db: &C,
    data: RemoteActorData,
    now: DateTime<Utc>,
) -> Result<remote_actor::Model> {
    use remote_actor::Column as C_;
    remote_actor::Entity::insert(remote_actor::ActiveModel {
        id: NotSet,
        ap_id: Set(data.ap_id.clone()),
        username: Set(data.username),
        domain: Set(data.domain),
        display_name: Set(data.display_name),
        inbox: Set(data.inbox),
        shared_inbox: Set(data.shared_inbox),
        public_key_pem: Set(data.public_key_pem),
        key_id: Set(data.key_id),
        fetched_at: Set(now),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(C_::ApId)
            .update_columns([
                C_::Username,
                C_::Domain,
                C_::DisplayName,
                C_::Inbox,
                C_::SharedInbox,
                C_::PublicKeyPem,
                C_::KeyId,
                C_::FetchedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    remote_actor_by_ap_id(db, &data.ap_id)
        .await?
        .ok_or_else(|| crate::Error::NotFound(format!("remote actor {}", data.ap_id)))
}

pub async fn remote_actor_by_ap_id<C: ConnectionTrait>(
    db: &C,
    ap_id: &str,
) -> Result<Option<remote_actor::Model>> {
    Ok(remote_actor::Entity::find()
        .filter(remote_actor::Column::ApId.eq(ap_id))
        .one(db)
        .await?)
}

/// The actor whose stored key has this `keyId`; for actors stored before key ids were kept,
/// the actor whose id is the `keyId` without its fragment.
pub async fn remote_actor_by_key_id<C: ConnectionTrait>(
    db: &C,
    key_id: &str,
) -> Result<Option<remote_actor::Model>> {
    if let Some(actor) = remote_actor::Entity::find()
        .filter(remote_actor::Column::KeyId.eq(key_id))
        .one(db)
        .await?
    {
        return Ok(Some(actor));
    }
    let actor_id = key_id.split('#').next().unwrap_or(key_id);
    Ok(remote_actor::Entity::find()
        .filter(remote_actor::Column::ApId.eq(actor_id))
        .filter(remote_actor::Column::KeyId.is_null())
        .one(db)
        .await?)
}

/// Forgets a remote actor (its follow goes with it, by cascade). True if it was known.
pub async fn delete_remote_actor<C: ConnectionTrait>(db: &C, ap_id: &str) -> Result<bool> {
    let res = remote_actor::Entity::delete_many()
        .filter(remote_actor::Column::ApId.eq(ap_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Records a follow; a repeated Follow from the same actor replaces the activity id.
pub async fn add_follower<C: ConnectionTrait>(
    db: &C,
    remote_actor_id: i64,
    follow_activity_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    follower::Entity::insert(follower::ActiveModel {
        id: NotSet,
        remote_actor_id: Set(remote_actor_id),
        follow_activity_id: Set(follow_activity_id.to_owned()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(follower::Column::RemoteActorId)
            .update_column(follower::Column::FollowActivityId)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Ends a follow. True if there was one.
pub async fn remove_follower<C: ConnectionTrait>(db: &C, remote_actor_id: i64) -> Result<bool> {
    let res = follower::Entity::delete_many()
        .filter(follower::Column::RemoteActorId.eq(remote_actor_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// The remote actors that follow us, as a filter.
fn is_follower() -> sea_orm::sea_query::SimpleExpr {
    remote_actor::Column::Id.in_subquery(
        sea_orm::sea_query::Query::select()
            .column(follower::Column::RemoteActorId)
            .from(follower::Entity)
            .to_owned(),
    )
}

/// Ends the follows of every actor on a blocked domain (or its subdomains). Returns how many.
pub async fn remove_followers_on_domain<C: ConnectionTrait>(db: &C, domain: &str) -> Result<u64> {
    let following: Vec<(i64, String)> = remote_actor::Entity::find()
        .select_only()
        .column(remote_actor::Column::Id)
        .column(remote_actor::Column::Domain)
        .filter(is_follower())
        .into_tuple()
        .all(db)
        .await?;
    let ids: Vec<i64> = following
        .into_iter()
        .filter(|(_, host)| crate::domains::covers(domain, host))
        .map(|(id, _)| id)
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(follower::Entity::delete_many()
        .filter(follower::Column::RemoteActorId.is_in(ids))
        .exec(db)
        .await?
        .rows_affected)
}

pub async fn count_followers<C: ConnectionTrait>(db: &C) -> Result<u64> {
    Ok(follower::Entity::find().count(db).await?)
}

/// Followers' actor ids, oldest first, one page at a time (for the followers collection).
pub async fn follower_ids<C: ConnectionTrait>(
    db: &C,
    offset: u64,
    limit: u64,
) -> Result<Vec<String>> {
    let ids: Vec<String> = remote_actor::Entity::find()
        .select_only()
        .column(remote_actor::Column::ApId)
        .filter(is_follower())
        .order_by_asc(remote_actor::Column::Id)
        .offset(offset)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids)
}

/// Every inbox an activity to all followers must reach: shared inboxes once, else personal ones.
pub async fn follower_inboxes<C: ConnectionTrait>(db: &C) -> Result<Vec<String>> {
    let inboxes: Vec<String> = remote_actor::Entity::find()
        .select_only()
        .expr_as(Expr::cust("COALESCE(shared_inbox, inbox)"), "target")
        .filter(is_follower())
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut inboxes = inboxes;
    inboxes.sort();
    Ok(inboxes)
}

/// The follow of one remote actor, if it follows us.
pub async fn follower_of<C: ConnectionTrait>(
    db: &C,
    remote_actor_id: i64,
) -> Result<Option<follower::Model>> {
    Ok(follower::Entity::find()
        .filter(follower::Column::RemoteActorId.eq(remote_actor_id))
        .one(db)
        .await?)
}

/// Forgets remote actors that do not follow us, were last fetched before `before` and wrote
/// no comment since (authors of old comments); they are fetched again if they come back.
pub async fn prune_unfollowed<C: ConnectionTrait>(db: &C, before: DateTime<Utc>) -> Result<u64> {
    Ok(remote_actor::Entity::delete_many()
        .filter(remote_actor::Column::FetchedAt.lt(before))
        .filter(
            remote_actor::Column::Id.not_in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(follower::Column::RemoteActorId)
                    .from(follower::Entity)
                    .to_owned(),
            ),
        )
        .filter(
            remote_actor::Column::ApId.not_in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(comment::Column::AuthorId)
                    .from(comment::Entity)
                    .and_where(comment::Column::CreatedAt.gte(before))
                    .to_owned(),
            ),
        )
        .exec(db)
        .await?
        .rows_affected)
}
