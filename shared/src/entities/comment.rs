//! A citizen's comment from the fediverse or Matrix, with the policy decision that placed it.
use sea_orm::entity::prelude::*;

use super::{CommentStatus, Network};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "comment")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub announcement_id: i64,
    pub parent_comment_id: Option<i64>,
    pub network: Network,
    /// ActivityPub object id or Matrix event id: what makes a comment unique.
    #[sea_orm(unique)]
    pub origin_id: String,
    pub origin_url: Option<String>,
    /// ActivityPub actor id or Matrix user id.
    pub author_id: String,
    pub author_name: Option<String>,
    /// Instance domain or homeserver name, for per-instance limits and blocks.
    pub author_domain: String,
    /// `None` after the author deleted it: only that it existed is kept.
    pub content: Option<String>,
    /// The content warning (`summary`) as plain text; shown before the text, never as HTML.
    pub content_warning: Option<String>,
    /// The author marked the comment sensitive.
    pub sensitive: bool,
    /// BCP 47 language tag the author's server declared, if any.
    pub language: Option<String>,
    pub status: CommentStatus,
    /// Arrived after the consultation closed: stored, not counted.
    pub late: bool,
    pub rule_id: Option<String>,
    pub rule_version: Option<i32>,
    pub reason: Option<String>,
    /// The event's own time (for rate limits and ordering), not when we received it.
    pub created_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
