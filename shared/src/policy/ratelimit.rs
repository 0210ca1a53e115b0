//! Rate limits per author and per instance (governor's GCRA), counted by the event's own
//! timestamp: a backlog replayed after downtime is judged as it happened, not as a flood.
//! The timestamp is clamped to when we received it, so a future-dated event gains nothing.

use std::cell::Cell;
use std::num::NonZeroU32;

use chrono::{DateTime, Utc};
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use super::{Decision, Outcome};
use crate::entities::RuleAction;

thread_local! {
    /// The "now" of the check in progress: the event's timestamp in ns since the epoch.
    static EVENT_NOW: Cell<u64> = const { Cell::new(0) };
}

/// A clock that reads the event time set for the current check.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventClock;

impl Clock for EventClock {
    type Instant = Nanos;
    fn now(&self) -> Nanos {
        Nanos::new(EVENT_NOW.with(Cell::get))
    }
}

type Limiter = RateLimiter<String, HashMapStateStore<String>, EventClock, NoOpMiddleware<Nanos>>;

/// Limits from the configuration (`[policy]`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained comments per hour and burst for one author.
    pub author_per_hour: u32,
    pub author_burst: u32,
    /// Sustained comments per hour and burst for one instance or homeserver.
    pub instance_per_hour: u32,
    pub instance_burst: u32,
    /// What happens to a comment over a limit.
    pub action: RuleAction,
}

/// The limiters; shared by all requests (interior mutability, thread-safe).
#[derive(Debug)]
pub struct RateLimits {
    author: Limiter,
    instance: Limiter,
    action: RuleAction,
}

fn quota(per_hour: u32, burst: u32) -> Quota {
    let per_hour = NonZeroU32::new(per_hour.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_hour(per_hour).allow_burst(burst)
}

fn at<T>(t: DateTime<Utc>, f: impl FnOnce() -> T) -> T {
    let ns = u64::try_from(t.timestamp_nanos_opt().unwrap_or(0)).unwrap_or(0);
    EVENT_NOW.with(|c| c.set(ns));
    let result = f();
    EVENT_NOW.with(|c| c.set(0));
    result
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        // Built while the event clock reads 0, so the limiters' epoch is the Unix epoch.
        EVENT_NOW.with(|c| c.set(0));
        Self {
            author: RateLimiter::new(
                quota(config.author_per_hour, config.author_burst),
                HashMapStateStore::default(),
                EventClock,
            ),
            instance: RateLimiter::new(
                quota(config.instance_per_hour, config.instance_burst),
                HashMapStateStore::default(),
                EventClock,
            ),
            action: config.action,
        }
    }

    /// Counts one comment at `event_time` (clamped to `received_at`). `None` if within limits.
    pub fn check(
        &self,
        author: &str,
        instance: &str,
        event_time: DateTime<Utc>,
        received_at: DateTime<Utc>,
    ) -> Option<Decision> {
        let t = event_time.min(received_at);
        let outcome: Outcome = self.action.into();
        if at(t, || self.author.check_key(&author.to_owned())).is_err() {
            return Some(Decision {
                outcome,
                rule_id: Some("rate-limit-author".into()),
                rule_version: Some(1),
                reason: Some(
                    "Sie haben in kurzer Zeit sehr viele Kommentare geschrieben. / You posted many comments in a short time."
                        .into(),
                ),
            });
        }
        if at(t, || self.instance.check_key(&instance.to_owned())).is_err() {
            return Some(Decision {
                outcome,
                rule_id: Some("rate-limit-instance".into()),
                rule_version: Some(1),
                reason: Some(
                    "Von Ihrem Server kommen gerade sehr viele Kommentare. / Your server sends many comments right now."
                        .into(),
                ),
            });
        }
        None
    }

    /// Forgets keys that are fully refilled (housekeeping, call now and then).
    pub fn housekeeping(&self, now: DateTime<Utc>) {
        at(now, || {
            self.author.retain_recent();
            self.instance.retain_recent();
        });
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn limits() -> RateLimits {
        RateLimits::new(&RateLimitConfig {
            author_per_hour: 6,
            author_burst: 3,
            instance_per_hour: 600,
            instance_burst: 5,
            action: RuleAction::Hold,
        })
    }

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
            .single()
            .expect("t")
            + Duration::minutes(min)
    }

    #[test]
    fn burst_then_sustained_rate_per_author() {
        let l = limits();
        for i in 0..3 {
            assert_eq!(
                l.check("a", "x.example", t(0), t(0)),
                None,
                "burst comment {i}"
            );
        }
        let over = l
            .check("a", "x.example", t(0), t(0))
            .expect("over the burst");
        assert_eq!(over.rule_id.as_deref(), Some("rate-limit-author"));
        assert_eq!(over.outcome, Outcome::Hold);
        // Another author on another instance is not affected.
        assert_eq!(l.check("b", "y.example", t(0), t(0)), None);
        // Six per hour: one more after ten minutes.
        assert_eq!(l.check("a", "x.example", t(10), t(10)), None);
        assert!(l.check("a", "x.example", t(11), t(11)).is_some());
    }

    #[test]
    fn a_backlog_is_judged_by_its_own_timestamps() {
        let l = limits();
        // Ten comments written an hour apart arrive at once after downtime.
        let received = t(600);
        for i in 0..10 {
            assert_eq!(
                l.check("a", "x.example", t(i * 60), received),
                None,
                "comment {i}"
            );
        }
    }

    #[test]
    fn future_timestamps_gain_nothing() {
        let l = limits();
        for i in 0..3 {
            assert_eq!(l.check("a", "x.example", t(i * 1000), t(0)), None);
        }
        assert!(l.check("a", "x.example", t(5000), t(0)).is_some());
    }

    #[test]
    fn instance_limit_counts_all_its_authors() {
        let l = limits();
        for i in 0..5 {
            assert_eq!(l.check(&format!("u{i}"), "busy.example", t(0), t(0)), None);
        }
        let over = l
            .check("u9", "busy.example", t(0), t(0))
            .expect("instance over");
        assert_eq!(over.rule_id.as_deref(), Some("rate-limit-instance"));
    }
}
