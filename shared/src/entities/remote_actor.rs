//! A fediverse actor we have fetched: a follower, or the author of a reply.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "remote_actor")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub ap_id: String,
    pub username: String,
    pub domain: String,
    pub display_name: Option<String>,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub public_key_pem: Option<String>,
    /// The `keyId` whose key `public_key_pem` is.
    pub key_id: Option<String>,
    pub fetched_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
