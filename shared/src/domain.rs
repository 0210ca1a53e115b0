//! The domain's vocabulary for the fronts: the enums that describe announcements, comments,
//! jobs, blocks and rules. They are stored as columns too, but the fronts name them from here,
//! never from `entities` (`scripts/check-boundaries` fails on an entity import outside
//! `shared`).

pub use crate::entities::{
    ActionKind, AnnouncementKind, BlockKind, ChangeKind, CommentStatus, JobStatus, Network,
    RuleAction,
};
