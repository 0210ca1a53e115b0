//! The Matrix relay map: which event in which room stands for an announcement, a relayed
//! comment or answer, or a notice about a held comment. One row answers both directions.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};

use crate::entities::{RelayKind, comment, matrix_relay};
use crate::error::Result;

/// What a relayed event stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayTarget {
    /// The announcement's own message in a public room (the thread root).
    Announcement(i64),
    /// A published fediverse comment relayed into the announcement's thread.
    Comment(i64),
    /// An official answer to a comment, relayed into the thread.
    Answer { answer: i64, comment: i64 },
    /// A notice in the moderation room about a held comment.
    Notice(i64),
    /// A notice to a Matrix comment's author, in their thread; a reply to it is an appeal.
    AuthorNotice(i64),
    /// The bot's own post in announcement `id`'s thread (a result, an early close).
    ThreadPost(i64),
}

impl RelayTarget {
    fn columns(self) -> (RelayKind, Option<i64>, Option<i64>, Option<i64>) {
        match self {
            Self::Announcement(a) => (RelayKind::Announcement, Some(a), None, None),
            Self::Comment(c) => (RelayKind::Comment, None, Some(c), None),
            Self::Answer { answer, comment } => {
                (RelayKind::Answer, None, Some(comment), Some(answer))
            }
            Self::Notice(c) => (RelayKind::Notice, None, Some(c), None),
            Self::AuthorNotice(c) => (RelayKind::AuthorNotice, None, Some(c), None),
            Self::ThreadPost(a) => (RelayKind::ThreadPost, Some(a), None, None),
        }
    }
}

/// Records that `event_id` in `room_id` stands for `target`. A second record of the same
/// event is a no-op.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    room_id: &str,
    event_id: &str,
    target: RelayTarget,
    now: DateTime<Utc>,
) -> Result<()> {
    let (kind, announcement_id, comment_id, answer_id) = target.columns();
    matrix_relay::Entity::insert(matrix_relay::ActiveModel {
        id: NotSet,
        room_id: Set(room_id.to_owned()),
        event_id: Set(event_id.to_owned()),
        kind: Set(kind),
        announcement_id: Set(announcement_id),
        comment_id: Set(comment_id),
        answer_id: Set(answer_id),
        created_at: Set(now),
    })
    .on_conflict_do_nothing_on([matrix_relay::Column::RoomId, matrix_relay::Column::EventId])
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The announcement whose message in `room_id` is `event_id`, if it is one.
pub async fn announcement_of_event<C: ConnectionTrait>(
    db: &C,
    room_id: &str,
    event_id: &str,
) -> Result<Option<i64>> {
    Ok(matrix_relay::Entity::find()
        .filter(matrix_relay::Column::RoomId.eq(room_id))
        .filter(matrix_relay::Column::EventId.eq(event_id))
        .filter(matrix_relay::Column::Kind.eq(RelayKind::Announcement))
        .one(db)
        .await?
        .and_then(|r| r.announcement_id))
}

/// The event that stands for announcement `id` in `room_id` (its thread root).
pub async fn announcement_event<C: ConnectionTrait>(
    db: &C,
    id: i64,
    room_id: &str,
) -> Result<Option<String>> {
    Ok(matrix_relay::Entity::find()
        .filter(matrix_relay::Column::Kind.eq(RelayKind::Announcement))
        .filter(matrix_relay::Column::AnnouncementId.eq(id))
        .filter(matrix_relay::Column::RoomId.eq(room_id))
        .order_by_asc(matrix_relay::Column::Id)
        .one(db)
        .await?
        .map(|r| r.event_id))
}

/// The copies of comment `id` relayed into `room_id`.
pub async fn comment_events<C: ConnectionTrait>(
    db: &C,
    id: i64,
    room_id: &str,
) -> Result<Vec<String>> {
    Ok(matrix_relay::Entity::find()
        .select_only()
        .column(matrix_relay::Column::EventId)
        .filter(matrix_relay::Column::Kind.eq(RelayKind::Comment))
        .filter(matrix_relay::Column::CommentId.eq(id))
        .filter(matrix_relay::Column::RoomId.eq(room_id))
        .order_by_asc(matrix_relay::Column::Id)
        .into_tuple()
        .all(db)
        .await?)
}

/// Every event Rathaus posted about comment `id` (its relayed copies, the answers to it and the
/// moderation-room notices), as (room, event); the room is empty for notices recorded before
/// rooms were kept.
pub async fn events_about_comment<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<Vec<(String, String)>> {
    Ok(matrix_relay::Entity::find()
        .select_only()
        .column(matrix_relay::Column::RoomId)
        .column(matrix_relay::Column::EventId)
        .filter(matrix_relay::Column::CommentId.eq(id))
        .filter(matrix_relay::Column::Kind.is_in([
            RelayKind::Comment,
            RelayKind::Answer,
            RelayKind::Notice,
            RelayKind::AuthorNotice,
        ]))
        .order_by_asc(matrix_relay::Column::Id)
        .into_tuple()
        .all(db)
        .await?)
}

/// Every event posted in announcement `id`'s thread in `room_id`: relayed comments, answers,
/// notices to authors and the bot's own thread posts (not the root itself).
pub async fn thread_events<C: ConnectionTrait>(
    db: &C,
    id: i64,
    room_id: &str,
) -> Result<Vec<String>> {
    let comments_of = comment::Entity::find()
        .select_only()
        .column(comment::Column::Id)
        .filter(comment::Column::AnnouncementId.eq(id))
        .into_query();
    Ok(matrix_relay::Entity::find()
        .select_only()
        .column(matrix_relay::Column::EventId)
        .filter(matrix_relay::Column::RoomId.eq(room_id))
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(matrix_relay::Column::Kind.eq(RelayKind::ThreadPost))
                        .add(matrix_relay::Column::AnnouncementId.eq(id)),
                )
                .add(
                    Condition::all()
                        .add(matrix_relay::Column::Kind.is_in([
                            RelayKind::Comment,
                            RelayKind::Answer,
                            RelayKind::AuthorNotice,
                        ]))
                        .add(matrix_relay::Column::CommentId.in_subquery(comments_of)),
                ),
        )
        .order_by_asc(matrix_relay::Column::Id)
        .into_tuple()
        .all(db)
        .await?)
}

/// What a relayed event stands for, by its id (event ids are unique across rooms).
pub async fn target_of_event<C: ConnectionTrait>(
    db: &C,
    event_id: &str,
) -> Result<Option<RelayTarget>> {
    let Some(r) = matrix_relay::Entity::find()
        .filter(matrix_relay::Column::EventId.eq(event_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(
        match (r.kind, r.announcement_id, r.comment_id, r.answer_id) {
            (RelayKind::Announcement, Some(a), _, _) => Some(RelayTarget::Announcement(a)),
            (RelayKind::ThreadPost, Some(a), _, _) => Some(RelayTarget::ThreadPost(a)),
            (RelayKind::Comment, _, Some(c), _) => Some(RelayTarget::Comment(c)),
            (RelayKind::Notice, _, Some(c), _) => Some(RelayTarget::Notice(c)),
            (RelayKind::AuthorNotice, _, Some(c), _) => Some(RelayTarget::AuthorNotice(c)),
            (RelayKind::Answer, _, Some(comment), Some(answer)) => {
                Some(RelayTarget::Answer { answer, comment })
            }
            _ => None,
        },
    )
}

/// The held comment a moderation-room notice is about. Event ids are unique across rooms,
/// and notices moved from the old keys have no room, so the event alone decides.
pub async fn notice_comment<C: ConnectionTrait>(db: &C, event_id: &str) -> Result<Option<i64>> {
    Ok(matrix_relay::Entity::find()
        .filter(matrix_relay::Column::Kind.eq(RelayKind::Notice))
        .filter(matrix_relay::Column::EventId.eq(event_id))
        .one(db)
        .await?
        .and_then(|r| r.comment_id))
}
