//! One delivery of one activity to one inbox, in the durable queue.
use sea_orm::entity::prelude::*;

use super::JobStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_job")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub activity_id: i64,
    pub inbox: String,
    /// The inbox's host, for per-host limits and pausing.
    pub host: String,
    pub status: JobStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// While in flight: when the claim expires and the job may be claimed again.
    pub locked_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
