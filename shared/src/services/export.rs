//! Open Data export of one consultation: the consultation, its comments with pseudonymised
//! authors (a salted hash, never a handle or Matrix id), official answers, the moderation log
//! with rule ids and versions, and statistics — as JSON and as CSV tables.
//! Only published comments carry their text; held, rejected, hidden and deleted ones are
//! counted and listed without it.

use serde_json::{Value, json};

use crate::app::App;
use crate::entities::{CommentStatus, Network};
use crate::error::{Error, Result};
use crate::store::comments::{self, CommentFilter};
use crate::store::{announcements, moderation, state};
use crate::{markdown, store};

const SALT_KEY: &str = "export.pseudonym_salt";

/// The export in both forms.
#[derive(Debug, Clone)]
pub struct Export {
    pub json: Value,
    pub comments_csv: String,
    pub answers_csv: String,
    pub moderation_csv: String,
}

/// The salt for pseudonyms, made once per installation and kept secret in the store.
async fn salt(app: &App) -> Result<String> {
    let db = app.store.db();
    if let Some(s) = state::get(db, SALT_KEY).await? {
        return Ok(s);
    }
    let fresh = uuid::Uuid::new_v4().simple().to_string();
    state::set(db, SALT_KEY, &fresh, store::now()).await?;
    // Two processes may race: whoever wrote last wins, and both read it back.
    Ok(state::get(db, SALT_KEY).await?.unwrap_or(fresh))
}

/// A stable pseudonym: the first 16 hex digits of SHA-256(salt ‖ author id).
pub fn pseudonym(salt: &str, author_id: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{salt}\u{0}{author_id}").as_bytes(),
    );
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn csv_string(header: &[&str], rows: Vec<Vec<String>>) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    for row in rows {
        w.write_record(&row)
            .map_err(|e| Error::Invalid(e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| Error::Invalid(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| Error::Invalid(e.to_string()))
}

pub async fn consultation(app: &App, id: i64) -> Result<Export> {
    let db = app.store.db();
    let view = announcements::get_announcement(db, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("announcement {id}")))?;
    let salt = salt(app).await?;
    let urls = app.urls();
    let rows = comments::list_comments(
        db,
        &CommentFilter {
            announcement_id: Some(id),
            ..Default::default()
        },
    )
    .await?;
    let a = &view.announcement;

    let mut comment_items = Vec::new();
    let mut comment_rows = Vec::new();
    let mut answer_items = Vec::new();
    let mut answer_rows = Vec::new();
    let mut log_items = Vec::new();
    let mut log_rows = Vec::new();
    for c in &rows {
        let text = (c.status == CommentStatus::Published)
            .then(|| c.content.as_deref().map(markdown::to_plain_text))
            .flatten();
        let network = match c.network {
            Network::Fediverse => "fediverse",
            Network::Matrix => "matrix",
        };
        let author = pseudonym(&salt, &c.author_id);
        let origin = if c.status == CommentStatus::Deleted {
            String::new()
        } else {
            c.origin_id.clone()
        };
        comment_items.push(json!({
            "id": c.id, "parent_id": c.parent_comment_id, "network": network, "author": author,
            "origin": origin, "created_at": c.created_at, "status": c.status.as_str(), "late": c.late,
            "rule_id": c.rule_id, "rule_version": c.rule_version, "text": text,
        }));
        comment_rows.push(vec![
            c.id.to_string(),
            c.parent_comment_id
                .map(|p| p.to_string())
                .unwrap_or_default(),
            network.into(),
            author,
            origin,
            c.created_at.to_rfc3339(),
            c.status.as_str().into(),
            c.late.to_string(),
            c.rule_id.clone().unwrap_or_default(),
            c.rule_version.map(|v| v.to_string()).unwrap_or_default(),
            text.unwrap_or_default(),
        ]);
        for answer in comments::answers_for_comment(db, c.id).await? {
            let text = markdown::to_plain_text(&answer.body_html);
            answer_items.push(json!({"id": answer.id, "comment_id": c.id, "created_at": answer.created_at, "url": urls.answer(answer.id), "text": text}));
            answer_rows.push(vec![
                answer.id.to_string(),
                c.id.to_string(),
                answer.created_at.to_rfc3339(),
                urls.answer(answer.id),
                text,
            ]);
        }
        for action in moderation::list_actions(db, Some(c.id), 1000)
            .await?
            .into_iter()
            .rev()
        {
            // Who moderated is an office's act; the author's own steps name no person.
            let actor = match action.actor.as_str() {
                "policy" | "author" | "cli" => action.actor.clone(),
                _ => "moderation".to_owned(),
            };
            log_items.push(json!({"comment_id": c.id, "action": action.action, "actor": actor, "rule_id": action.rule_id, "rule_version": action.rule_version, "reason": action.reason, "created_at": action.created_at}));
            log_rows.push(vec![
                c.id.to_string(),
                action.action.clone(),
                actor,
                action.rule_id.clone().unwrap_or_default(),
                action
                    .rule_version
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                action.reason.clone().unwrap_or_default(),
                action.created_at.to_rfc3339(),
            ]);
        }
    }
    let count = |s: CommentStatus| rows.iter().filter(|c| c.status == s && !c.late).count();
    let json = json!({
        "consultation": {
            "id": a.id, "url": urls.announcement(a.id), "title": a.title,
            "text": markdown::to_plain_text(&a.body_html), "published": a.created_at,
            "updated": a.updated_at, "retracted": a.retracted_at,
            "opens": view.consultation.as_ref().map(|c| c.opens_at),
            "closes": view.consultation.as_ref().map(|c| c.closes_at),
            "closed_early": view.consultation.as_ref().and_then(|c| c.closed_at),
            "result": view.consultation.as_ref().and_then(|c| c.result_html.as_deref().map(markdown::to_plain_text)),
        },
        "comments": comment_items,
        "official_answers": answer_items,
        "moderation_log": log_items,
        "statistics": {
            "comments": rows.len(),
            "published": count(CommentStatus::Published),
            "held": count(CommentStatus::Pending),
            "rejected": count(CommentStatus::Rejected),
            "hidden": count(CommentStatus::Hidden),
            "deleted_by_author": count(CommentStatus::Deleted),
            "late": rows.iter().filter(|c| c.late).count(),
            "fediverse": rows.iter().filter(|c| c.network == Network::Fediverse).count(),
            "matrix": rows.iter().filter(|c| c.network == Network::Matrix).count(),
        },
        "licence": "http://dcat-ap.de/def/licenses/dl-by-de/2.0",
    });
    Ok(Export {
        json,
        comments_csv: csv_string(
            &[
                "id",
                "parent_id",
                "network",
                "author",
                "origin",
                "created_at",
                "status",
                "late",
                "rule_id",
                "rule_version",
                "text",
            ],
            comment_rows,
        )?,
        answers_csv: csv_string(
            &["id", "comment_id", "created_at", "url", "text"],
            answer_rows,
        )?,
        moderation_csv: csv_string(
            &[
                "comment_id",
                "action",
                "actor",
                "rule_id",
                "rule_version",
                "reason",
                "created_at",
            ],
            log_rows,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_salted_and_opaque() {
        let a = pseudonym("salt", "https://social.example/users/ursula");
        assert_eq!(a, pseudonym("salt", "https://social.example/users/ursula"));
        assert_ne!(a, pseudonym("other", "https://social.example/users/ursula"));
        assert_ne!(a, pseudonym("salt", "@ursula:example.org"));
        assert_eq!(a.len(), 16);
        assert!(!a.contains("ursula"));
    }
}
