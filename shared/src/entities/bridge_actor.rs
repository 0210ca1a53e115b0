//! A Matrix citizen as a fediverse actor (`/bridge/matrix/{handle}`): whose published comments
//! are federated as Notes by it, unless they opted out. Its key pair is the `local_actor` row
//! named by `handle`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bridge_actor")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub matrix_user_id: String,
    /// A salted hash of the Matrix user id: the actor's URL and username.
    #[sea_orm(unique)]
    pub handle: String,
    pub display_name: Option<String>,
    /// The citizen asked that their comments stay on Matrix and the pages.
    pub opted_out: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
