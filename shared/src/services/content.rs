//! What a comment says, made safe and checked before anything is stored: fediverse HTML is
//! sanitised (`markdown::sanitize_comment`), Matrix text is taken as written, the content
//! warning is reduced to plain text, and a comment with nothing to read is refused.
//!
//! Hollow, and so refused: nothing visible once sanitised — empty paragraphs, only line
//! breaks, only `&nbsp;`, only zero-width or other invisible characters, whitespace of any
//! Unicode kind, only an image or attachment (media are not taken over) — or only mentions of
//! our own actor (`@rathaus`, `@rathaus@host`): a reply that only names the town hall says
//! nothing to the consultation. Mentions of other people count as text.

use crate::apub::Urls;
use crate::domain::Network;
use crate::error::{Error, Result};
use crate::markdown;

/// A post's content warning as its server sent it: the `summary` text and the `sensitive`
/// flag. Matrix messages carry none.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Warning {
    pub text: Option<String>,
    pub sensitive: bool,
}

/// A comment's content, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// Sanitised HTML (fediverse) or the text as written (Matrix).
    pub stored: String,
    /// The plain text the policy reads.
    pub plain: String,
    /// The content warning as plain text (escaped wherever it is shown).
    pub content_warning: Option<String>,
    pub sensitive: bool,
}

impl Body {
    /// What the policy reads (see [`policy_text`]).
    pub fn policy_text(&self) -> String {
        policy_text(self.content_warning.as_deref(), &self.plain)
    }
}

/// What the policy reads of a comment: the warning is shown publicly too, so it is checked
/// with the text (and a stored comment's fingerprint for the duplicate rule is made the same).
pub fn policy_text(content_warning: Option<&str>, plain: &str) -> String {
    match content_warning {
        Some(warning) => format!("{warning}\n\n{plain}"),
        None => plain.to_owned(),
    }
}

/// The reason a hollow comment is refused, in both languages (it reaches the author).
pub const HOLLOW: &str =
    "Der Kommentar hat keinen lesbaren Text. / The comment has no readable text.";

/// Sanitises and checks a comment's content; `Error::Invalid` when nothing is left to read.
pub fn read(network: Network, raw: &str, warning: &Warning, urls: &Urls) -> Result<Body> {
    let (stored, plain) = match network {
        Network::Fediverse => {
            let html = markdown::sanitize_comment(raw);
            let plain = markdown::to_plain_text(&html);
            (html, plain)
        }
        Network::Matrix => (raw.to_owned(), raw.to_owned()),
    };
    if is_hollow(&plain, urls.username(), &urls.host()) {
        return Err(Error::Invalid(HOLLOW.into()));
    }
    let content_warning = warning.text.as_deref().and_then(markdown::content_warning);
    Ok(Body {
        stored,
        plain,
        content_warning,
        sensitive: warning.sensitive,
    })
}

/// True when `plain` has no visible text besides mentions of our own actor.
pub fn is_hollow(plain: &str, username: &str, host: &str) -> bool {
    let short = format!("@{username}");
    let full = format!("@{username}@{host}");
    let ours = |word: &str| {
        let bare = word.trim_end_matches([',', '.', ':', ';', '!', '?']);
        bare.eq_ignore_ascii_case(&short) || bare.eq_ignore_ascii_case(&full)
    };
    !plain
        .split(char::is_whitespace)
        .filter(|word| !ours(word))
        .any(markdown::has_visible_text)
}

/// An http(s) URL, or nothing: what a post's `url` may be stored as.
pub fn web_url(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some()).then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> Urls {
        Urls::new(
            &url::Url::parse("https://rathaus.example").expect("url"),
            "rathaus",
        )
    }

    /// Every way of saying nothing that servers and people have found.
    const HOLLOW_HTML: &[&str] = &[
        "",
        "<p></p>",
        "<p> </p>",
        "<p>\t\n</p>",
        "<br>",
        "<p><br><br></p>",
        "<p>&nbsp;</p>",
        "&nbsp;&nbsp;<br/>&#160;",
        "<img src=\"https://social.example/cat.png\" alt=\"\">",
        "<p><img src=x onerror=alert(1)></p>",
        "<script>alert('hello')</script>",
        "<style>p{}</style>",
        "\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}",
        "<p>\u{00A0}\u{2003}\u{3000}\u{2800}\u{3164}\u{115F}\u{00AD}</p>",
        "<p>\u{202E}\u{2066}\u{2069}\u{180E}</p>",
        "<div> </div><div>\u{200B}</div><ul><li></li></ul>",
        // Only a mention of us, as Mastodon writes it.
        "<p><span class=\"h-card\" translate=\"no\"><a href=\"https://rathaus.example/@rathaus\" class=\"u-url mention\">@<span>rathaus</span></a></span></p>",
        "<p>@rathaus@rathaus.example </p>",
        "<p>@Rathaus, @rathaus:</p>",
    ];

    #[test]
    fn hollow_comments_are_refused_from_both_networks() {
        for raw in HOLLOW_HTML {
            let err = read(Network::Fediverse, raw, &Warning::default(), &urls())
                .expect_err(&format!("hollow: {raw:?}"));
            assert!(err.to_string().contains("keinen lesbaren Text"), "{err}");
        }
        for raw in [
            "",
            "   ",
            "\n\t",
            "\u{200B}\u{FEFF}",
            "\u{3000}\u{00A0}",
            "@rathaus",
        ] {
            assert!(
                read(Network::Matrix, raw, &Warning::default(), &urls()).is_err(),
                "hollow Matrix text {raw:?}"
            );
        }
    }

    #[test]
    fn a_word_or_a_mention_of_someone_else_is_enough() {
        for raw in [
            "<p>@rathaus Ja.</p>",
            "<p>👍</p>",
            "<p>@anna</p>",
            "<p>.</p>",
            "<p>@rathaus@elsewhere.example</p>",
            "<a href=\"javascript:x\">klick</a>",
        ] {
            let body = read(Network::Fediverse, raw, &Warning::default(), &urls())
                .unwrap_or_else(|e| panic!("{raw:?} refused: {e}"));
            assert!(markdown::has_visible_text(&body.plain), "{raw:?}");
        }
    }

    #[test]
    fn the_warning_is_plain_text_and_kept_with_the_flag() {
        let body = read(
            Network::Fediverse,
            "<p>Text</p>",
            &Warning {
                text: Some("  <b>Politik</b>\n &amp; <script>x</script>Wahl\u{200B} ".into()),
                sensitive: true,
            },
            &urls(),
        )
        .expect("read");
        assert_eq!(body.content_warning.as_deref(), Some("Politik & Wahl"));
        assert!(body.sensitive);
        let blank = read(
            Network::Fediverse,
            "<p>Text</p>",
            &Warning {
                text: Some(" \u{200B}<br> ".into()),
                sensitive: false,
            },
            &urls(),
        )
        .expect("read");
        assert_eq!(blank.content_warning, None);
    }

    #[test]
    fn only_absolute_web_urls_are_kept_as_the_original() {
        assert_eq!(
            web_url("https://social.example/@a/1").as_deref(),
            Some("https://social.example/@a/1")
        );
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "mailto:a@b.example",
            "/@a/1",
            "//social.example/@a/1",
            "ftp://social.example/x",
            "",
        ] {
            assert_eq!(web_url(bad), None, "{bad}");
        }
    }
}
