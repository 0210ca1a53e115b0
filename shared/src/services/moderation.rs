//! Moderators' tools besides single comments: runtime rules (stored, versioned, compiled on
//! change) and blocks of users and domains, including Mastodon's domain-block CSV. Every step
//! goes into the moderation log.

use sea_orm::TransactionTrait;

use crate::app::App;
use crate::entities::{ActionKind, BlockKind, policy_rule};
use crate::error::{Error, Result};
use crate::policy::{Policy, RuleSpec};
use crate::store::moderation::{self, NewAction};
use crate::store::policy::{self as rules, NewRule};
use crate::store::{actors, blocks, delivery};

async fn log<C: sea_orm::ConnectionTrait>(
    app: &App,
    db: &C,
    action: ActionKind,
    actor: &str,
    rule: Option<(&str, i32)>,
    reason: Option<String>,
) -> Result<()> {
    moderation::log_action(
        db,
        NewAction {
            comment_id: None,
            action,
            actor: actor.into(),
            rule_id: rule.map(|(id, _)| id.to_owned()),
            rule_version: rule.map(|(_, v)| v),
            reason,
        },
        app.now(),
    )
    .await?;
    Ok(())
}

/// Adds a rule (or a new version of one with the same id). The rule is checked by compiling
/// it first: a bad pattern is refused and nothing is stored.
pub async fn add_rule(app: &App, spec: RuleSpec, moderator: &str) -> Result<policy_rule::Model> {
    Policy::compile(vec![spec.clone()])?;
    let mut definition = serde_json::to_value(&spec).map_err(|e| Error::Invalid(e.to_string()))?;
    if let serde_json::Value::Object(map) = &mut definition {
        for key in ["id", "version", "kind", "action", "reason"] {
            map.remove(key);
        }
    }
    let kind = serde_json::to_value(spec.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let txn = app.store.db().begin().await?;
    let row = rules::add_rule(
        &txn,
        NewRule {
            rule_key: spec.id.clone(),
            kind,
            definition,
            action: spec.action,
            public_reason: spec.reason.clone(),
            created_by: moderator.to_owned(),
        },
        app.now(),
    )
    .await?;
    log(
        app,
        &txn,
        ActionKind::RuleAdd,
        moderator,
        Some((&row.rule_key, row.version)),
        None,
    )
    .await?;
    txn.commit().await?;
    app.reload_policy().await?;
    Ok(row)
}

/// Retires a stored rule. Rules from the policy file stay; they change with the file.
pub async fn remove_rule(app: &App, rule_id: &str, moderator: &str) -> Result<()> {
    let txn = app.store.db().begin().await?;
    if !rules::retire_rule(&txn, rule_id, app.now()).await? {
        return Err(Error::NotFound(format!(
            "no runtime rule `{rule_id}` (rules from the policy file change with the file)"
        )));
    }
    log(
        app,
        &txn,
        ActionKind::RuleRemove,
        moderator,
        Some((rule_id, 0)),
        None,
    )
    .await?;
    txn.commit().await?;
    app.reload_policy().await
}

/// Blocks a user (actor id or Matrix id) or a domain.
pub async fn block(
    app: &App,
    kind: BlockKind,
    target: &str,
    reason: Option<String>,
    moderator: &str,
) -> Result<bool> {
    let txn = app.store.db().begin().await?;
    let new = blocks::add_block(&txn, kind, target, reason.clone(), moderator, app.now()).await?;
    if kind == BlockKind::Domain {
        cut_off_domain(&txn, target).await?;
    }
    log(app, &txn, ActionKind::Block, moderator, None, reason).await?;
    txn.commit().await?;
    Ok(new)
}

/// A blocked domain's followers are removed and nothing more is delivered to it.
async fn cut_off_domain<C: sea_orm::ConnectionTrait>(db: &C, domain: &str) -> Result<()> {
    let followers = actors::remove_followers_on_domain(db, domain).await?;
    let deliveries = delivery::drop_pending_to_domain(db, domain).await?;
    tracing::info!(
        followers,
        deliveries,
        "domain blocked: follows and deliveries ended"
    );
    Ok(())
}

pub async fn unblock(app: &App, kind: BlockKind, target: &str, moderator: &str) -> Result<bool> {
    let txn = app.store.db().begin().await?;
    let removed = blocks::remove_block(&txn, kind, target).await?;
    if removed {
        log(app, &txn, ActionKind::Unblock, moderator, None, None).await?;
    }
    txn.commit().await?;
    Ok(removed)
}

/// Every block, people first, for `rathaus blocks list`.
pub async fn blocks(app: &App) -> Result<Vec<crate::entities::block::Model>> {
    blocks::list_blocks(app.store.db()).await
}

/// What a block target is: a person (`@name:server`, an actor URL) or a server's domain.
pub fn block_kind(target: &str) -> Result<BlockKind> {
    let t = target.trim();
    if t.starts_with('@') || t.starts_with("http://") || t.starts_with("https://") {
        Ok(BlockKind::User)
    } else if !t.is_empty()
        && t.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    {
        // A host name (`example.org`, also a single-label intranet name), port allowed.
        Ok(BlockKind::Domain)
    } else {
        Err(Error::Invalid(format!(
            "`{t}` is neither a person (@name:server, https://…) nor a server (example.org)"
        )))
    }
}

/// One row of a Mastodon domain-block export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainBlockRow {
    pub domain: String,
    pub severity: String,
    pub public_comment: Option<String>,
}

/// Parses Mastodon's domain-block CSV (`#domain,#severity,…,#public_comment,…`), or a plain
/// list of domains one per line (a user's own export). `noop` rows and obfuscated domains
/// (with `*`) are skipped; an unreadable file is refused with the line named.
pub fn parse_mastodon_domain_blocks(text: &str) -> Result<Vec<DomainBlockRow>> {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let with_header = first.trim_start().starts_with("#domain");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(with_header)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = if with_header {
        reader
            .headers()
            .map_err(|e| Error::Invalid(format!("domain blocks: {e}")))?
            .iter()
            .map(str::to_owned)
            .collect()
    } else {
        vec!["#domain".into()]
    };
    let col = |name: &str| header.iter().position(|h| h == name);
    let (domain_col, severity_col, comment_col) =
        (col("#domain"), col("#severity"), col("#public_comment"));
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record =
            record.map_err(|e| Error::Invalid(format!("domain blocks, line {}: {e}", i + 2)))?;
        let get = |c: Option<usize>| {
            c.and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let Some(domain) = get(domain_col) else {
            continue;
        };
        let severity = get(severity_col).unwrap_or("suspend").to_owned();
        if severity == "noop" || domain.contains('*') {
            continue;
        }
        rows.push(DomainBlockRow {
            domain: domain.to_owned(),
            severity,
            public_comment: get(comment_col).map(str::to_owned),
        });
    }
    if rows.len() > 20_000 {
        return Err(Error::Invalid(
            "domain blocks: more than 20,000 rows".into(),
        ));
    }
    Ok(rows)
}

/// Imports a Mastodon domain-block CSV; returns how many blocks were new.
pub async fn import_mastodon_domain_blocks(
    app: &App,
    text: &str,
    moderator: &str,
) -> Result<usize> {
    let rows = parse_mastodon_domain_blocks(text)?;
    let now = app.now();
    let txn = app.store.db().begin().await?;
    let mut added = 0;
    for row in &rows {
        let reason = row
            .public_comment
            .clone()
            .or_else(|| Some(format!("Mastodon-Sperrliste ({})", row.severity)));
        if blocks::add_block(&txn, BlockKind::Domain, &row.domain, reason, moderator, now).await? {
            added += 1;
        }
        cut_off_domain(&txn, &row.domain).await?;
    }
    log(
        app,
        &txn,
        ActionKind::BlockImport,
        moderator,
        None,
        Some(format!("{added} of {} domains", rows.len())),
    )
    .await?;
    txn.commit().await?;
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodon_domain_block_csv_is_read() {
        let csv = "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n\
                   spam.example,suspend,true,true,\"Spam, lots of it\",false\n\
                   quiet.example,silence,false,false,,false\n\
                   ok.example,noop,false,false,,false\n\
                   bad*.example,suspend,false,false,,true\n";
        let rows = parse_mastodon_domain_blocks(csv).expect("parses");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].domain, "spam.example");
        assert_eq!(rows[0].public_comment.as_deref(), Some("Spam, lots of it"));
        assert_eq!(rows[1].severity, "silence");
        let plain = parse_mastodon_domain_blocks("one.example\ntwo.example\n").expect("plain list");
        assert_eq!(
            plain.iter().map(|r| r.domain.as_str()).collect::<Vec<_>>(),
            ["one.example", "two.example"]
        );
        assert_eq!(plain[0].severity, "suspend");
    }
}
