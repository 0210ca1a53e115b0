//! Markdown from the press office → the HTML subset Mastodon keeps. pulldown-cmark renders,
//! ammonia (a maintained sanitiser) removes everything else, so no raw HTML slips through.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Tags Mastodon keeps in a Note's content; everything else would be stripped on arrival anyway.
const ALLOWED_TAGS: &[&str] = &[
    "p",
    "br",
    "a",
    "span",
    "del",
    "pre",
    "code",
    "em",
    "strong",
    "b",
    "i",
    "u",
    "ul",
    "ol",
    "li",
    "blockquote",
];

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::empty();
        b.tags(ALLOWED_TAGS.iter().copied().collect::<HashSet<_>>())
            .add_tag_attributes("a", ["href"])
            .url_schemes(["http", "https", "mailto"].into_iter().collect())
            .link_rel(Some("nofollow noopener noreferrer"));
        b
    })
}

/// Renders Markdown to sanitised HTML. Raw HTML in the input is escaped text, never markup.
pub fn to_html(markdown: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser};
    let parser =
        Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH).map(|event| match event {
            // Raw HTML from the author becomes visible text, not markup.
            Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
            // Headings are not kept by Mastodon: render them as strong paragraphs.
            other => other,
        });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    let html = html
        .replace("<h1>", "<p><strong>")
        .replace("</h1>", "</strong></p>")
        .replace("<h2>", "<p><strong>")
        .replace("</h2>", "</strong></p>")
        .replace("<h3>", "<p><strong>")
        .replace("</h3>", "</strong></p>");
    sanitize(&html).trim().to_owned()
}

/// Sanitises HTML from anywhere (e.g. a remote Note) to the same subset.
pub fn sanitize(html: &str) -> String {
    sanitizer().clean(html).to_string()
}

/// Plain text of sanitised HTML, for previews, logs of lengths, and Matrix fallbacks.
pub fn to_plain_text(html: &str) -> String {
    let with_breaks = html
        .replace("<br>", "\n")
        .replace("<br />", "\n")
        .replace("</p>", "\n\n");
    let stripped = ammonia::Builder::empty().clean(&with_breaks).to_string();
    decode_entities(&stripped).trim().to_owned()
}

fn decode_entities(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_the_mastodon_subset() {
        let html = to_html(
            "# Radweg\n\nDie **Stadt** plant *neu*: [Plan](https://stadt.example/plan)\n\n- eins\n- zwei",
        );
        assert_eq!(
            html,
            "<p><strong>Radweg</strong></p>\n<p>Die <strong>Stadt</strong> plant <em>neu</em>: \
             <a href=\"https://stadt.example/plan\" rel=\"nofollow noopener noreferrer\">Plan</a></p>\n\
             <ul>\n<li>eins</li>\n<li>zwei</li>\n</ul>"
        );
    }

    #[test]
    fn raw_html_and_scripts_are_inert() {
        let html = to_html(
            "Hallo <script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn remote_html_is_sanitised() {
        let clean = sanitize(
            "<p onclick=\"x()\">Hi <a href=\"javascript:x\">a</a><iframe src=\"e\"></iframe></p>",
        );
        assert_eq!(
            clean,
            "<p>Hi <a rel=\"nofollow noopener noreferrer\">a</a></p>"
        );
    }

    #[test]
    fn plain_text_keeps_paragraphs() {
        assert_eq!(
            to_plain_text("<p>Eins &amp; zwei</p><p>drei<br>vier</p>"),
            "Eins & zwei\n\ndrei\nvier"
        );
    }
}
