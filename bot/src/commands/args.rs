//! Typed arguments of chat commands, with their parsers; errors are German sentences that
//! `errors::german` passes on.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rathaus_shared::domain::{BlockKind, RuleAction};
use rathaus_shared::policy::RuleKind;

/// A consultation's end as written: a date (the end of that day in the site's time zone) or
/// an exact RFC 3339 time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    EndOfDay(NaiveDate),
    At(DateTime<Utc>),
}

impl Closing {
    pub(super) fn parse(raw: &str) -> Result<Self, String> {
        if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
            return Ok(Self::At(t.with_timezone(&Utc)));
        }
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(raw, "%d.%m.%Y"))
            .map(Self::EndOfDay)
            .map_err(|_| format!("„{raw}“ ist kein Datum wie 2026-12-31."))
    }

    /// The instant it means in `tz`: a consultation closing "on the 31st" is open all that
    /// day, in summer and winter time alike.
    pub fn resolve(self, tz: Tz) -> DateTime<Utc> {
        match self {
            Self::At(t) => t,
            Self::EndOfDay(date) => {
                let end = date.and_hms_opt(23, 59, 59).unwrap_or_default();
                tz.from_local_datetime(&end)
                    .earliest()
                    // 23:59:59 never falls into a gap in any zone in use; stay safe anyway.
                    .map_or_else(|| end.and_utc(), |t| t.with_timezone(&Utc))
            }
        }
    }
}

/// Whom a block is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockTarget {
    /// A Matrix id (`@name:server`) or an ActivityPub actor URL.
    User(String),
    /// A server's domain.
    Domain(String),
}

impl BlockTarget {
    pub(super) fn parse(raw: &str) -> Result<Self, String> {
        if raw.starts_with('@') || raw.starts_with("http://") || raw.starts_with("https://") {
            Ok(Self::User(raw.to_owned()))
        } else if raw.contains('.') && !raw.contains('/') && !raw.contains('@') {
            Ok(Self::Domain(raw.to_lowercase()))
        } else {
            Err(format!(
                "„{raw}“ ist weder eine Person (@name:server, https://…) noch ein Server (beispiel.org)."
            ))
        }
    }

    pub fn kind(&self) -> BlockKind {
        match self {
            Self::User(_) => BlockKind::User,
            Self::Domain(_) => BlockKind::Domain,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::User(s) | Self::Domain(s) => s,
        }
    }
}

/// Whose data `!tilgen` erases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EraseTarget {
    /// One comment, by its id.
    Comment(i64),
    /// Everything of a person: `@name:server` or an ActivityPub actor URL.
    Author(String),
}

impl EraseTarget {
    pub(super) fn parse(raw: &str) -> Result<Self, String> {
        if let Ok(id) = raw.trim_start_matches('#').parse() {
            Ok(Self::Comment(id))
        } else if (raw.starts_with('@') && raw.contains(':'))
            || raw.starts_with("http://")
            || raw.starts_with("https://")
        {
            Ok(Self::Author(raw.to_owned()))
        } else {
            Err(format!(
                "„{raw}“ ist weder eine Kommentar-ID noch eine Person (@name:server, https://…)."
            ))
        }
    }
}

pub(super) fn parse_id(raw: &str) -> Result<i64, String> {
    raw.trim_start_matches('#')
        .parse()
        .map_err(|_| format!("„{raw}“ ist keine ID (eine Zahl)."))
}

pub(super) fn parse_rule_kind(raw: &str) -> Result<RuleKind, String> {
    match raw.to_lowercase().as_str() {
        "words" | "woerter" | "wörter" => Ok(RuleKind::Words),
        "regex" => Ok(RuleKind::Regex),
        _ => Err(format!("„{raw}“: erlaubt sind words oder regex.")),
    }
}

pub(super) fn parse_rule_action(raw: &str) -> Result<RuleAction, String> {
    match raw.to_lowercase().as_str() {
        "hold" | "pruefen" | "prüfen" => Ok(RuleAction::Hold),
        "reject" | "ablehnen" => Ok(RuleAction::Reject),
        _ => Err(format!("„{raw}“: erlaubt sind hold oder reject.")),
    }
}
