//! Every public URL Rathaus mints. ActivityPub ids must never change once federated, so they
//! are all derived here from `server.public_url` and `actor.username`.

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    /// Public base without a trailing slash, e.g. `https://rathaus.example`.
    base: String,
    username: String,
}

impl Urls {
    pub fn new(public_url: &Url, username: &str) -> Self {
        Self {
            base: public_url.as_str().trim_end_matches('/').to_owned(),
            username: username.to_owned(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// `host[:port]`, the domain part of `@user@host`.
    pub fn host(&self) -> String {
        Url::parse(&self.base)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_owned(),
                })
            })
            .unwrap_or_default()
    }

    pub fn actor(&self) -> String {
        format!("{}/users/{}", self.base, self.username)
    }
    pub fn key_id(&self) -> String {
        format!("{}#main-key", self.actor())
    }
    pub fn inbox(&self) -> String {
        format!("{}/inbox", self.actor())
    }
    pub fn outbox(&self) -> String {
        format!("{}/outbox", self.actor())
    }
    pub fn followers(&self) -> String {
        format!("{}/followers", self.actor())
    }
    pub fn shared_inbox(&self) -> String {
        format!("{}/inbox", self.base)
    }
    /// The human profile page Mastodon links to.
    pub fn profile(&self) -> String {
        format!("{}/@{}", self.base, self.username)
    }
    /// The instance actor that signs our fetches.
    pub fn instance_actor(&self) -> String {
        format!("{}/actor", self.base)
    }
    pub fn instance_key_id(&self) -> String {
        format!("{}#main-key", self.instance_actor())
    }
    pub fn announcement(&self, id: i64) -> String {
        format!("{}/announcements/{id}", self.base)
    }
    pub fn comment(&self, id: i64) -> String {
        format!("{}/comments/{id}", self.base)
    }
    /// The actor that speaks in the fediverse for one Matrix citizen (`handle` is a hash).
    pub fn bridge_actor(&self, handle: &str) -> String {
        format!("{}/bridge/matrix/{handle}", self.base)
    }
    pub fn bridge_key_id(&self, handle: &str) -> String {
        format!("{}#main-key", self.bridge_actor(handle))
    }
    /// The handle behind a bridge actor URL.
    pub fn bridge_handle<'a>(&self, url: &'a str) -> Option<&'a str> {
        url.strip_prefix(&self.base)?
            .strip_prefix("/bridge/matrix/")
            .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric()))
    }
    /// An announcement's `replies` collection: the published comments of both networks.
    pub fn replies(&self, announcement: i64) -> String {
        format!("{}/replies", self.announcement(announcement))
    }
    /// The comment behind one of our comment URLs (its page, or its bridged Note).
    pub fn comment_id(&self, url: &str) -> Option<i64> {
        url.strip_prefix(&self.base)?
            .strip_prefix("/comments/")?
            .parse()
            .ok()
    }
    pub fn answer(&self, id: i64) -> String {
        format!("{}/answers/{id}", self.base)
    }
    /// The private note telling an author why a comment was not published.
    pub fn notice(&self, comment_id: i64) -> String {
        format!("{}/notices/{comment_id}", self.base)
    }
    /// A fresh id for one more notice about the same comment (held, then published, then
    /// hidden…): each note needs its own id, or the author's server drops the later ones as
    /// the one it already has.
    pub fn new_notice(&self, comment_id: i64) -> String {
        format!(
            "{}/{}",
            self.notice(comment_id),
            uuid::Uuid::new_v4().simple()
        )
    }
    /// The comment a notice (either form) is about.
    pub fn notice_id(&self, url: &str) -> Option<i64> {
        let rest = url.strip_prefix(&self.base)?.strip_prefix("/notices/")?;
        rest.split('/').next()?.parse().ok()
    }
    /// A fresh activity id; stored with the activity so that retries reuse it.
    pub fn new_activity(&self) -> String {
        format!("{}/activities/{}", self.base, uuid::Uuid::new_v4())
    }

    /// The announcement id behind one of our Note URLs, if it is one.
    pub fn announcement_id(&self, url: &str) -> Option<i64> {
        url.strip_prefix(&self.base)?
            .strip_prefix("/announcements/")?
            .parse()
            .ok()
    }
    /// The comment id behind one of our comment URLs (answers are threaded under them).
    pub fn answer_id(&self, url: &str) -> Option<i64> {
        url.strip_prefix(&self.base)?
            .strip_prefix("/answers/")?
            .parse()
            .ok()
    }
    /// True if the URL is on our own host.
    pub fn is_local(&self, url: &str) -> bool {
        url.strip_prefix(&self.base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_derive_from_the_public_url() {
        let u = Urls::new(
            &Url::parse("http://localhost:8080/").expect("url"),
            "rathaus",
        );
        assert_eq!(u.actor(), "http://localhost:8080/users/rathaus");
        assert_eq!(u.key_id(), "http://localhost:8080/users/rathaus#main-key");
        assert_eq!(u.shared_inbox(), "http://localhost:8080/inbox");
        assert_eq!(u.host(), "localhost:8080");
        assert_eq!(u.announcement_id(&u.announcement(42)), Some(42));
        assert_eq!(u.announcement_id("http://other/announcements/42"), None);
        assert_eq!(
            u.announcement_id("http://localhost:8080/announcements/x"),
            None
        );
        assert!(u.is_local("http://localhost:8080/users/rathaus"));
        assert!(!u.is_local("http://localhost:80800/users/rathaus"));
        assert_ne!(u.new_activity(), u.new_activity());
        // Every notice about a comment has its own id; a reply to any of them finds it.
        assert_ne!(u.new_notice(7), u.new_notice(7));
        assert_eq!(u.notice_id(&u.new_notice(7)), Some(7));
        assert_eq!(u.notice_id(&u.notice(7)), Some(7));
        assert_eq!(u.notice_id("http://localhost:8080/notices/x/7"), None);
    }
}
