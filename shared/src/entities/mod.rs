//! sea-orm entities: one module per table. They stay plain rows; ActivityPub and Matrix shapes
//! live in the fronts. Enumerations stored as strings are defined here so both fronts share them.

pub mod announcement;
pub mod announcement_change;
pub mod block;
pub mod bridge_actor;
pub mod comment;
pub mod comment_revision;
pub mod consultation;
pub mod delivery_job;
pub mod follower;
pub mod inbound_activity;
pub mod inbox_queue;
pub mod kv_state;
pub mod local_actor;
pub mod matrix_relay;
pub mod moderation_action;
pub mod official_answer;
pub mod outbound_activity;
pub mod policy_rule;
pub mod processed_matrix_event;
pub mod reaction;
pub mod remote_actor;
pub mod report;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A plain announcement, or a consultation open for comments between two dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum AnnouncementKind {
    #[sea_orm(string_value = "announcement")]
    Announcement,
    #[sea_orm(string_value = "consultation")]
    Consultation,
}

/// Where a comment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum Network {
    #[sea_orm(string_value = "fediverse")]
    Fediverse,
    #[sea_orm(string_value = "matrix")]
    Matrix,
}

/// A comment's moderation state. `Deleted` keeps only that a comment existed. `Private` is a
/// reply that was not addressed to the public (direct or followers-only): it never becomes
/// part of the public record and no moderator can publish it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum CommentStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "published")]
    Published,
    #[sea_orm(string_value = "rejected")]
    Rejected,
    #[sea_orm(string_value = "hidden")]
    Hidden,
    #[sea_orm(string_value = "deleted")]
    Deleted,
    #[sea_orm(string_value = "private")]
    Private,
}

impl CommentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Published => "published",
            Self::Rejected => "rejected",
            Self::Hidden => "hidden",
            Self::Deleted => "deleted",
            Self::Private => "private",
        }
    }
}

impl std::str::FromStr for CommentStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "published" => Ok(Self::Published),
            "rejected" => Ok(Self::Rejected),
            "hidden" => Ok(Self::Hidden),
            "deleted" => Ok(Self::Deleted),
            "private" => Ok(Self::Private),
            other => Err(format!(
                "unknown status `{other}` (pending, published, rejected, hidden, deleted, private)"
            )),
        }
    }
}

/// A delivery job's state in the durable queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "in_flight")]
    InFlight,
    #[sea_orm(string_value = "done")]
    Done,
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// What a block applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    #[sea_orm(string_value = "user")]
    User,
    #[sea_orm(string_value = "domain")]
    Domain,
}

/// What a policy rule does to a comment that matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    #[sea_orm(string_value = "hold")]
    Hold,
    #[sea_orm(string_value = "reject")]
    Reject,
}

/// What one step of the moderation log records. Stored as the same strings the log has always
/// held, so no data migration is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    #[sea_orm(string_value = "auto_publish")]
    AutoPublish,
    #[sea_orm(string_value = "auto_hold")]
    AutoHold,
    #[sea_orm(string_value = "auto_reject")]
    AutoReject,
    #[sea_orm(string_value = "approve")]
    Approve,
    #[sea_orm(string_value = "reject")]
    Reject,
    #[sea_orm(string_value = "hide")]
    Hide,
    #[sea_orm(string_value = "official_answer")]
    OfficialAnswer,
    #[sea_orm(string_value = "author_delete")]
    AuthorDelete,
    #[sea_orm(string_value = "edit_published")]
    EditPublished,
    #[sea_orm(string_value = "edit_pending")]
    EditPending,
    #[sea_orm(string_value = "edit_rejected")]
    EditRejected,
    /// An author's edit that left the comment's status as it was.
    #[sea_orm(string_value = "edit")]
    Edit,
    /// A reply not addressed to the public arrived: shown to the moderators only, never in
    /// the public log.
    #[sea_orm(string_value = "private_reply")]
    PrivateReply,
    /// A person's data erased (their account deleted, or a request under GDPR Art. 17).
    #[sea_orm(string_value = "erasure")]
    Erasure,
    #[sea_orm(string_value = "block")]
    Block,
    #[sea_orm(string_value = "unblock")]
    Unblock,
    #[sea_orm(string_value = "block_import")]
    BlockImport,
    #[sea_orm(string_value = "rule_add")]
    RuleAdd,
    #[sea_orm(string_value = "rule_remove")]
    RuleRemove,
    /// A fediverse server reported a comment (the reporter is not named in the log).
    #[sea_orm(string_value = "report")]
    Report,
}

impl ActionKind {
    /// The stored name, also used in exports and `comments list --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AutoPublish => "auto_publish",
            Self::AutoHold => "auto_hold",
            Self::AutoReject => "auto_reject",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Hide => "hide",
            Self::OfficialAnswer => "official_answer",
            Self::AuthorDelete => "author_delete",
            Self::EditPublished => "edit_published",
            Self::EditPending => "edit_pending",
            Self::EditRejected => "edit_rejected",
            Self::Edit => "edit",
            Self::Erasure => "erasure",
            Self::PrivateReply => "private_reply",
            Self::Block => "block",
            Self::Unblock => "unblock",
            Self::BlockImport => "block_import",
            Self::RuleAdd => "rule_add",
            Self::RuleRemove => "rule_remove",
            Self::Report => "report",
        }
    }

    /// The step for an author's edit that left the comment in `status`.
    pub fn edit(status: CommentStatus) -> Self {
        match status {
            CommentStatus::Published => Self::EditPublished,
            CommentStatus::Rejected => Self::EditRejected,
            CommentStatus::Pending
            | CommentStatus::Hidden
            | CommentStatus::Deleted
            | CommentStatus::Private => Self::EditPending,
        }
    }

    /// Steps about blocks, whose reasons stay internal.
    pub fn is_block(self) -> bool {
        matches!(self, Self::Block | Self::Unblock | Self::BlockImport)
    }
}

impl ActionKind {
    /// How people read the step, (German, English): the public log and the bot's `!protokoll`.
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::AutoPublish => ("automatisch veröffentlicht", "published automatically"),
            Self::AutoHold => (
                "automatisch zur Prüfung zurückgehalten",
                "held for review automatically",
            ),
            Self::AutoReject => ("automatisch abgelehnt", "rejected automatically"),
            Self::Approve => ("freigegeben", "approved"),
            Self::Reject => ("abgelehnt", "rejected"),
            Self::Hide => ("verborgen", "hidden"),
            Self::OfficialAnswer => ("offiziell beantwortet", "answered officially"),
            Self::AuthorDelete => (
                "von der verfassenden Person gelöscht",
                "deleted by its author",
            ),
            Self::EditPublished => ("bearbeitet, veröffentlicht", "edited, published"),
            Self::EditPending => (
                "bearbeitet, zur Prüfung zurückgehalten",
                "edited, held for review",
            ),
            Self::EditRejected => ("bearbeitet, abgelehnt", "edited, rejected"),
            Self::Edit => ("bearbeitet", "edited"),
            Self::Erasure => ("Daten gelöscht", "data erased"),
            // Never in the public log (filtered in the store); named for completeness.
            Self::PrivateReply => ("nicht öffentliche Antwort", "non-public reply"),
            Self::Block => ("Sperre eingerichtet", "block added"),
            Self::Unblock => ("Sperre aufgehoben", "block lifted"),
            Self::BlockImport => ("Sperrliste eingelesen", "block list imported"),
            Self::RuleAdd => ("Regel hinzugefügt", "rule added"),
            Self::RuleRemove => ("Regel entfernt", "rule removed"),
            Self::Report => ("gemeldet", "reported"),
        }
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a relayed Matrix event stands for (`matrix_relay.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum RelayKind {
    #[sea_orm(string_value = "announcement")]
    Announcement,
    #[sea_orm(string_value = "comment")]
    Comment,
    #[sea_orm(string_value = "answer")]
    Answer,
    #[sea_orm(string_value = "notice")]
    Notice,
    /// A notice to a Matrix comment's author in their thread (held, published, rejected…):
    /// a reply to it is an appeal.
    #[sea_orm(string_value = "author_notice")]
    AuthorNotice,
    /// The bot's own post in an announcement's thread (its result, its early close).
    #[sea_orm(string_value = "thread_post")]
    ThreadPost,
}

/// What changed about an announcement after it was posted (`announcement_change.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    #[sea_orm(string_value = "corrected")]
    Corrected,
    #[sea_orm(string_value = "retracted")]
    Retracted,
    #[sea_orm(string_value = "closed")]
    Closed,
    #[sea_orm(string_value = "result")]
    Result,
}
