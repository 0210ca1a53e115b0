//! The comment policy: rules compiled once into matchers, then a pure `evaluate` that decides
//! publish, hold for review, or reject — always naming the rule, its version and the public
//! reason. Rate limits are in [`ratelimit`] (they keep state) and combine with the result.

pub mod normalize;
pub mod ratelimit;

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use chrono::{DateTime, Utc};
use regex::{Regex, RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};

use crate::entities::RuleAction;
use crate::error::{Error, Result};
use normalize::{count_links, count_mentions, fold, mask_non_words};

/// The built-in rules, used when `policy.file` is empty.
pub const DEFAULT_POLICY: &str = include_str!("../../../config/policy.toml");

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A word list, matched after normalisation, whole words by default.
    Words,
    /// Regular expressions over the normalised text.
    Regex,
    /// More than `max` characters.
    MaxLength,
    /// More than `max` links.
    MaxLinks,
    /// More than `max` mentions.
    MaxMentions,
    /// At least `ratio` of the letters upper case, with at least `min_letters` letters.
    Shouting,
    /// E-mail addresses, phone numbers, IBANs.
    PersonalData,
    /// The same text as one of the author's recent comments.
    Duplicate,
    /// The author has no published comment yet.
    FirstComment,
}

/// One rule as written in `policy.toml` or added by a moderator.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    #[serde(default = "one")]
    pub version: i32,
    pub kind: RuleKind,
    pub action: RuleAction,
    /// Shown to the author and in the public moderation log, in German (`reason_de` is the
    /// same key).
    #[serde(alias = "reason_de")]
    pub reason: String,
    /// The same in English; authors and the log get both (`Deutsch / English`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_en: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<String>,
    #[serde(default = "yes")]
    pub whole_word: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_letters: Option<usize>,
}

impl RuleSpec {
    /// The reason as authors and the log read it: German, then English if given.
    pub fn reason_text(&self) -> String {
        match self.reason_en.as_deref().map(str::trim) {
            Some(en) if !en.is_empty() && !self.reason.contains(en) => {
                format!("{} / {en}", self.reason)
            }
            _ => self.reason.clone(),
        }
    }
}

fn one() -> i32 {
    1
}
fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default, rename = "rule")]
    rules: Vec<RuleSpec>,
}

/// Parses a `policy.toml`.
pub fn parse_policy_file(text: &str) -> Result<Vec<RuleSpec>> {
    let file: PolicyFile =
        toml::from_str(text).map_err(|e| Error::Config(format!("policy: {}", e.message())))?;
    Ok(file.rules)
}

/// A decision's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Publish,
    Hold,
    Reject,
}

impl From<RuleAction> for Outcome {
    fn from(a: RuleAction) -> Self {
        match a {
            RuleAction::Hold => Outcome::Hold,
            RuleAction::Reject => Outcome::Reject,
        }
    }
}

/// The result of evaluating a comment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub outcome: Outcome,
    pub rule_id: Option<String>,
    pub rule_version: Option<i32>,
    pub reason: Option<String>,
}

impl Decision {
    pub fn publish() -> Self {
        Self {
            outcome: Outcome::Publish,
            rule_id: None,
            rule_version: None,
            reason: None,
        }
    }

    fn hit(outcome: Outcome, id: &str, version: i32, reason: &str) -> Self {
        Self {
            outcome,
            rule_id: Some(id.to_owned()),
            rule_version: Some(version),
            reason: Some(reason.to_owned()),
        }
    }

    /// The stricter of two decisions; on a tie the earlier one (rule order) stands.
    pub fn stricter(self, other: Decision) -> Decision {
        if other.outcome > self.outcome {
            other
        } else {
            self
        }
    }
}

/// The comment being judged.
#[derive(Debug, Clone)]
pub struct CommentInput<'a> {
    /// Plain text (HTML already reduced to text).
    pub text: &'a str,
    pub author_id: &'a str,
    pub author_domain: &'a str,
    pub created_at: DateTime<Utc>,
}

/// What the store knows about the author, gathered by the service.
#[derive(Debug, Clone, Default)]
pub struct AuthorHistory {
    /// Published comments so far.
    pub published: u32,
    /// Fingerprints ([`fingerprint`]) of the author's recent comments.
    pub recent: Vec<String>,
    pub blocked_user: bool,
    pub blocked_domain: bool,
}

/// The text's identity for duplicate detection: folded, whitespace collapsed.
pub fn fingerprint(text: &str) -> String {
    fold(text).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Fingerprints of stored texts, remembered by a hash of the text: each reply compares itself
/// with its author's 20 latest texts, and folding them again each time cost more than the
/// rest of the policy. A pure function's memo: nothing to invalidate.
#[derive(Debug, Default)]
pub struct FingerprintMemo {
    known: std::sync::Mutex<std::collections::HashMap<u64, String>>,
}

/// Texts remembered at most; then the memo starts afresh.
const MEMO_SIZE: usize = 50_000;

impl FingerprintMemo {
    /// The fingerprint of the stored `html` with its content `warning`, as the policy reads
    /// them (`make` computes it the first time).
    pub fn get(&self, html: &str, warning: Option<&str>, make: impl FnOnce() -> String) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (html, warning).hash(&mut h);
        let key = h.finish();
        if let Some(fp) = self
            .known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return fp.clone();
        }
        let fp = make();
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= MEMO_SIZE {
            known.clear();
        }
        known.insert(key, fp.clone());
        fp
    }
}

/// Rules ready to run: word lists in one Aho-Corasick automaton, regexes in one `RegexSet`.
#[derive(Debug)]
pub struct Policy {
    rules: Vec<RuleSpec>,
    words: Option<AhoCorasick>,
    /// For each automaton pattern: (rule index, whole word).
    word_rules: Vec<Vec<(usize, bool)>>,
    regexes: Option<RegexSet>,
    regex_rules: Vec<usize>,
}

impl Policy {
    /// Compiles rules; a rule that cannot compile is named in the error.
    pub fn compile(rules: Vec<RuleSpec>) -> Result<Self> {
        let mut patterns: Vec<String> = Vec::new();
        let mut word_rules: Vec<Vec<(usize, bool)>> = Vec::new();
        let mut regex_sources = Vec::new();
        let mut regex_rules = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, rule) in rules.iter().enumerate() {
            if rule.id.trim().is_empty() {
                return Err(Error::Invalid("a rule needs an id".into()));
            }
            if !seen.insert(rule.id.clone()) {
                return Err(Error::Invalid(format!(
                    "rule id `{}` appears twice",
                    rule.id
                )));
            }
            let need_max = |what: &str| {
                rule.max.ok_or_else(|| {
                    Error::Invalid(format!("rule `{}` ({what}) needs `max`", rule.id))
                })
            };
            match rule.kind {
                RuleKind::Words => {
                    if rule.words.is_empty() {
                        return Err(Error::Invalid(format!("rule `{}` has no words", rule.id)));
                    }
                    for word in &rule.words {
                        let folded = fingerprint(word);
                        if folded.is_empty() {
                            continue;
                        }
                        match patterns.iter().position(|p| *p == folded) {
                            Some(p) => word_rules[p].push((i, rule.whole_word)),
                            None => {
                                patterns.push(folded);
                                word_rules.push(vec![(i, rule.whole_word)]);
                            }
                        }
                    }
                }
                RuleKind::Regex => {
                    if rule.patterns.is_empty() {
                        return Err(Error::Invalid(format!(
                            "rule `{}` has no patterns",
                            rule.id
                        )));
                    }
                    for p in &rule.patterns {
                        Regex::new(p).map_err(|e| {
                            Error::Invalid(format!("rule `{}`: bad pattern `{p}`: {e}", rule.id))
                        })?;
                        regex_sources.push(p.clone());
                        regex_rules.push(i);
                    }
                }
                RuleKind::MaxLength => {
                    need_max("max_length")?;
                }
                RuleKind::MaxLinks => {
                    need_max("max_links")?;
                }
                RuleKind::MaxMentions => {
                    need_max("max_mentions")?;
                }
                RuleKind::Shouting
                | RuleKind::PersonalData
                | RuleKind::Duplicate
                | RuleKind::FirstComment => {}
            }
        }
        let words = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&patterns)
                    .map_err(|e| Error::Invalid(format!("word rules: {e}")))?,
            )
        };
        let regexes = if regex_sources.is_empty() {
            None
        } else {
            Some(
                RegexSetBuilder::new(&regex_sources)
                    .size_limit(64 << 20)
                    .dfa_size_limit(32 << 20)
                    .build()
                    .map_err(|e| Error::Invalid(format!("regex rules: {e}")))?,
            )
        };
        Ok(Self {
            rules,
            words,
            word_rules,
            regexes,
            regex_rules,
        })
    }

    pub fn rules(&self) -> &[RuleSpec] {
        &self.rules
    }
}

fn boundary_ok(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    before.is_none_or(|c| !c.is_alphanumeric() && c != '\'')
        && after.is_none_or(|c| !c.is_alphanumeric())
}

/// Runs of three or more single letters ("d.e.p.p", "d e p p") joined into words.
fn collapse_split_letters(folded: &str) -> String {
    let mut out = String::new();
    let tokens: Vec<(usize, &str)> = folded
        .split(|c: char| !c.is_alphanumeric())
        .scan(0usize, |pos, t| {
            let start = *pos;
            *pos += t.len() + 1;
            Some((start, t))
        })
        .collect();
    let mut run = String::new();
    let mut run_len = 0;
    let mut last_end = 0usize;
    let flush = |run: &mut String, run_len: &mut usize, out: &mut String| {
        if *run_len >= 3 {
            out.push_str(run);
            out.push(' ');
        }
        run.clear();
        *run_len = 0;
    };
    for (start, t) in tokens {
        if t.is_empty() {
            continue;
        }
        let single = t.chars().count() == 1;
        // Separators between the letters: at most two characters, no line break.
        let gap_ok =
            run_len == 0 || (start - last_end <= 3 && !folded[last_end..start].contains('\n'));
        if single && gap_ok {
            run.push_str(t);
            run_len += 1;
        } else {
            flush(&mut run, &mut run_len, &mut out);
            if single {
                run.push_str(t);
                run_len = 1;
            }
        }
        last_end = start + t.len();
    }
    flush(&mut run, &mut run_len, &mut out);
    out
}

fn phone_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?:\+|\b00)\s?49[\s./-]*(?:\(0\)[\s./-]*)?[1-9][0-9]{1,4}(?:[\s./-]?[0-9]){4,10}|(?:^|[^0-9+])(\(?0[1-9][0-9]{1,4}\)?[\s./-]{0,3}[0-9](?:[\s./-]?[0-9]){3,9})",
        )
        .expect("static regex")
    })
}

fn iban_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\b[A-Za-z]{2}[0-9]{2}(?:\s?[A-Za-z0-9]){11,30}\b").expect("static regex")
    })
}

/// The IBAN check: move the first four characters to the end, letters to numbers, mod 97 = 1.
pub fn iban_valid(candidate: &str) -> bool {
    let compact: String = candidate
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    if !(15..=34).contains(&compact.len()) || !compact.chars().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut r: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        r = match c.to_digit(10) {
            Some(d) => (r * 10 + d) % 97,
            None => (r * 100 + (c as u32 - 'A' as u32 + 10)) % 97,
        };
    }
    r == 1
}

/// Finds personal data: (kind) of the first found.
fn personal_data(text: &str) -> Option<&'static str> {
    if linkify::LinkFinder::new()
        .kinds(&[linkify::LinkKind::Email])
        .links(text)
        .next()
        .is_some()
    {
        return Some("email");
    }
    for m in iban_regex().find_iter(text) {
        // Trim to the longest valid prefix (the regex may swallow a following word).
        let s = m.as_str();
        let compact: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
        if (15..=compact.len()).any(|n| iban_valid(&compact[..n].iter().collect::<String>())) {
            return Some("iban");
        }
    }
    for caps in phone_regex().captures_iter(text) {
        let m = caps
            .get(1)
            .or_else(|| caps.get(0))
            .map_or("", |m| m.as_str());
        let digits = m.chars().filter(char::is_ascii_digit).count();
        if (7..=15).contains(&digits) {
            return Some("phone");
        }
    }
    None
}

/// Evaluates one comment. Pure: the same inputs always give the same decision.
pub fn evaluate(
    policy: &Policy,
    c: &CommentInput<'_>,
    h: &AuthorHistory,
    _now: DateTime<Utc>,
) -> Decision {
    if h.blocked_user {
        return Decision::hit(
            Outcome::Reject,
            "blocked-user",
            1,
            "Ihr Konto ist von Kommentaren ausgeschlossen. / Your account is blocked from commenting.",
        );
    }
    if h.blocked_domain {
        return Decision::hit(
            Outcome::Reject,
            "blocked-domain",
            1,
            "Ihr Server ist von Kommentaren ausgeschlossen. / Your server is blocked from commenting.",
        );
    }
    let masked = mask_non_words(c.text);
    let folded = fold(&masked);
    let mut hits = vec![false; policy.rules.len()];

    if let Some(ac) = &policy.words {
        let collapsed = collapse_split_letters(&folded);
        for haystack in [folded.as_str(), collapsed.as_str()] {
            for m in ac.find_overlapping_iter(haystack) {
                for &(rule, whole) in &policy.word_rules[m.pattern().as_usize()] {
                    if !hits[rule] && (!whole || boundary_ok(haystack, m.start(), m.end())) {
                        hits[rule] = true;
                    }
                }
            }
        }
    }
    if let Some(set) = &policy.regexes
        && set.is_match(&folded)
    {
        for i in set.matches(&folded).iter() {
            hits[policy.regex_rules[i]] = true;
        }
    }

    let mut decision = Decision::publish();
    for (i, rule) in policy.rules.iter().enumerate() {
        let hit = hits[i]
            || match rule.kind {
                RuleKind::Words | RuleKind::Regex => false,
                RuleKind::MaxLength => c.text.chars().count() > rule.max.unwrap_or(usize::MAX),
                RuleKind::MaxLinks => count_links(c.text) > rule.max.unwrap_or(usize::MAX),
                RuleKind::MaxMentions => count_mentions(c.text) > rule.max.unwrap_or(usize::MAX),
                RuleKind::Shouting => {
                    let letters: Vec<char> =
                        masked.chars().filter(|ch| ch.is_alphabetic()).collect();
                    let upper = letters.iter().filter(|ch| ch.is_uppercase()).count();
                    letters.len() >= rule.min_letters.unwrap_or(20)
                        && upper as f64 >= rule.ratio.unwrap_or(0.5) * letters.len() as f64
                }
                RuleKind::PersonalData => personal_data(c.text).is_some(),
                RuleKind::Duplicate => {
                    let fp = fingerprint(c.text);
                    !fp.is_empty() && h.recent.contains(&fp)
                }
                RuleKind::FirstComment => h.published == 0,
            };
        if hit {
            decision = decision.stricter(Decision::hit(
                rule.action.into(),
                &rule.id,
                rule.version,
                &rule.reason_text(),
            ));
            if decision.outcome == Outcome::Reject {
                break;
            }
        }
    }
    decision
}

#[cfg(test)]
mod tests;
