//! Services act at the app's clock, not the system's: with a fixed clock, stored times and
//! deadline decisions follow it exactly.

use chrono::{DateTime, Duration, Utc};
use rathaus_shared::entities::Network;
use rathaus_shared::services::announcements::{self, Announce};
use rathaus_shared::services::comments::{self, Submission, SubmitOutcome};
use rathaus_shared::services::matrix;
use rathaus_shared::testing::{default_config, for_each_store};
use rathaus_shared::{App, Clock};

fn reply(n: u32, note: &str, at: DateTime<Utc>) -> Submission {
    Submission {
        network: Network::Fediverse,
        origin_id: format!("https://one.example/notes/{n}"),
        origin_url: None,
        in_reply_to: note.to_owned(),
        author_id: format!("https://one.example/users/u{n}"),
        author_name: None,
        author_domain: "one.example".into(),
        content_html: "<p>Mehr Bäume, bitte.</p>".into(),
        language: Some("de".into()),
        warning: Default::default(),
        created_at: at,
        received_at: at,
        public: true,
        privileged: false,
    }
}

#[tokio::test]
async fn services_read_the_injected_clock() {
    // Years from now: a service reading the system clock would get every assertion wrong.
    let t0 = DateTime::parse_from_rfc3339("2040-07-01T10:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    for_each_store(|store| async move {
        let clock = Clock::fixed(t0);
        let app = App::with_store(default_config(), store)
            .await
            .expect("app")
            .with_clock(clock.clone());
        assert_eq!(app.now(), t0);
        let view = announcements::announce(
            &app,
            Announce {
                text: "Wie soll der Platz aussehen?".into(),
                closes_at: Some(t0 + Duration::days(7)),
                author: "cli".into(),
                ..Announce::default()
            },
        )
        .await
        .expect("announce");
        assert_eq!(view.announcement.created_at, t0);
        let note = app.urls().announcement(view.announcement.id);

        clock.set(t0 + Duration::hours(1));
        let on_time =
            match comments::submit_comment(&app, app.store.db(), reply(1, &note, app.now()))
                .await
                .expect("on time")
            {
                SubmitOutcome::Stored(c) => c,
                other => panic!("not stored: {other:?}"),
            };
        assert!(!on_time.late);
        assert_eq!(on_time.received_at, t0 + Duration::hours(1));

        // Past the deadline by the injected clock only: the reply is late.
        clock.advance(Duration::days(7));
        let late = match comments::submit_comment(&app, app.store.db(), reply(2, &note, app.now()))
            .await
            .expect("late")
        {
            SubmitOutcome::Stored(c) => c,
            other => panic!("not stored: {other:?}"),
        };
        assert!(
            late.late,
            "a reply after the fixed clock passed the deadline is late"
        );
        assert_eq!(
            late.received_at,
            t0 + Duration::days(7) + Duration::hours(1)
        );

        // The bot's `!statistik` counts the same two comments, one of them late.
        let counts = matrix::comment_counts(&app, Some(view.announcement.id))
            .await
            .expect("counts");
        assert_eq!(
            (counts.total, counts.fediverse, counts.matrix, counts.late),
            (2, 2, 0, 1)
        );
        assert_eq!(counts.published + counts.pending, 2, "{counts:?}");
        let none = matrix::comment_counts(&app, Some(view.announcement.id + 1))
            .await
            .expect("counts");
        assert_eq!(none.total, 0);
    })
    .await;
}
