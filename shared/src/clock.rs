//! The time services act at. Production reads the system clock; tests fix it, so a stored
//! timestamp or a deadline decision can be asserted exactly.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// A clock: the system's, or a fixed time that tests set and move. Cheap to clone; clones
/// of a fixed clock share its time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    fixed: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that stands at `at` until [`Clock::set`] or [`Clock::advance`] moves it.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self {
            fixed: Some(Arc::new(Mutex::new(at))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.fixed {
            Some(t) => *t.lock().unwrap_or_else(|e| e.into_inner()),
            None => Utc::now(),
        }
    }

    /// Moves a fixed clock to `at`; the system clock cannot be set and ignores it.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(t) = &self.fixed {
            *t.lock().unwrap_or_else(|e| e.into_inner()) = at;
        }
    }

    /// Moves a fixed clock forward by `by`; the system clock ignores it.
    pub fn advance(&self, by: chrono::Duration) {
        if let Some(t) = &self.fixed {
            let mut t = t.lock().unwrap_or_else(|e| e.into_inner());
            *t += by;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_stands_still_until_moved_and_clones_share_it() {
        let t0 = DateTime::parse_from_rfc3339("2026-07-01T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let clock = Clock::fixed(t0);
        let shared = clock.clone();
        assert_eq!(clock.now(), t0);
        shared.advance(chrono::Duration::hours(2));
        assert_eq!(clock.now(), t0 + chrono::Duration::hours(2));
        clock.set(t0);
        assert_eq!(shared.now(), t0);
    }

    #[test]
    fn the_system_clock_moves_and_ignores_set() {
        let clock = Clock::system();
        let before = Utc::now();
        clock.set(before - chrono::Duration::days(1));
        let now = clock.now();
        assert!(now >= before, "{now} < {before}");
    }
}
