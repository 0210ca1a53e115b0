//! Markdown from the press office → the HTML subset Mastodon keeps. pulldown-cmark renders,
//! ammonia (a maintained sanitiser) removes everything else, so no raw HTML slips through.
//!
//! Comments from the fediverse go through `sanitize_comment`: stricter about links (absolute
//! http(s) only) and aware of structure, so block elements become paragraphs and words never
//! run together when a server sends `<div>`s, headings or tables.

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

/// Block elements that become a paragraph of their own.
const PARAGRAPH_TAGS: &[&str] = &[
    "div",
    "section",
    "article",
    "header",
    "footer",
    "aside",
    "nav",
    "main",
    "address",
    "figure",
    "figcaption",
    "caption",
    "details",
    "summary",
    "dl",
    "dt",
    "dd",
    "tr",
    "center",
    "hgroup",
];
/// Headings: a paragraph in bold, as Markdown headings are rendered.
const HEADING_TAGS: &[&str] = &["h1", "h2", "h3", "h4", "h5", "h6"];
/// Table cells: separated by a space.
const CELL_TAGS: &[&str] = &["td", "th"];
/// Wrappers whose rows or cells carry the structure.
const WRAPPER_TAGS: &[&str] = &["table", "thead", "tbody", "tfoot"];

/// Only absolute http(s) links survive in comments: relative links point into our own site,
/// and `javascript:`, `data:`, `mailto:` and the rest have no place in a public comment.
const COMMENT_URL_SCHEMES: [&str; 2] = ["http", "https"];

/// The first pass: the Mastodon subset plus the block elements, which `restructure` then maps
/// onto it; no attribute but a link's http(s) target, no `rel` yet.
fn structure_sanitizer() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::empty();
        b.tags(
            ALLOWED_TAGS
                .iter()
                .chain(PARAGRAPH_TAGS)
                .chain(HEADING_TAGS)
                .chain(CELL_TAGS)
                .chain(WRAPPER_TAGS)
                .chain(&["hr"])
                .copied()
                .collect::<HashSet<_>>(),
        )
        .add_tag_attributes("a", ["href"])
        .url_schemes(COMMENT_URL_SCHEMES.into_iter().collect())
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(None);
        b
    })
}

/// The second pass: the Mastodon subset with http(s) links only.
fn comment_sanitizer() -> &'static ammonia::Builder<'static> {
    static CLEANER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    CLEANER.get_or_init(|| {
        let mut b = ammonia::Builder::empty();
        b.tags(ALLOWED_TAGS.iter().copied().collect::<HashSet<_>>())
            .add_tag_attributes("a", ["href"])
            .url_schemes(COMMENT_URL_SCHEMES.into_iter().collect())
            .url_relative(ammonia::UrlRelative::Deny)
            .link_rel(Some("nofollow noopener noreferrer"));
        b
    })
}

/// Sanitises a comment's HTML from the fediverse (and again on output): the Mastodon subset,
/// block elements as paragraphs, links only to absolute http(s) URLs (other links keep their
/// text and lose the link), empty paragraphs dropped.
pub fn sanitize_comment(html: &str) -> String {
    let first = structure_sanitizer().clean(html).to_string();
    let mut clean = comment_sanitizer().clean(&restructure(&first)).to_string();
    while clean.contains("<p></p>") {
        clean = clean.replace("<p></p>", "");
    }
    clean.trim().to_owned()
}

/// One piece of serialised HTML: a tag (with its brackets) or the text between tags.
enum Piece<'a> {
    Tag(&'a str),
    Text(&'a str),
}

/// Splits html5ever's serialisation into tags and text. Text has `<` escaped there, and
/// attribute values are double-quoted, so a `<` outside quotes always starts a tag.
fn pieces(html: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let mut quoted = false;
        let mut end = rest.len();
        for (i, c) in rest[start..].char_indices() {
            match c {
                '"' => quoted = !quoted,
                '>' if !quoted => {
                    end = start + i + 1;
                    break;
                }
                _ => {}
            }
        }
        out.push(Piece::Tag(&rest[start..end]));
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// A tag's lower-case name and whether it closes.
fn tag_name(tag: &str) -> (String, bool) {
    let inner = tag.trim_start_matches('<');
    let closing = inner.starts_with('/');
    let name = inner
        .trim_start_matches('/')
        .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    (name, closing)
}

/// Maps the first pass's block elements onto paragraphs and line breaks, and unwraps links
/// that lost their target (the text stays, the dead `<a>` goes).
fn restructure(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + 16);
    let mut bare_link = false;
    for piece in pieces(html) {
        let tag = match piece {
            Piece::Text(text) => {
                out.push_str(text);
                continue;
            }
            Piece::Tag(tag) => tag,
        };
        let (name, closing) = tag_name(tag);
        let name = name.as_str();
        if name == "a" {
            if closing {
                if !std::mem::take(&mut bare_link) {
                    out.push_str(tag);
                }
            } else if tag.contains("href=") {
                out.push_str(tag);
            } else {
                bare_link = true;
            }
        } else if PARAGRAPH_TAGS.contains(&name) {
            out.push_str(if closing { "</p>" } else { "<p>" });
        } else if HEADING_TAGS.contains(&name) {
            out.push_str(if closing {
                "</strong></p>"
            } else {
                "<p><strong>"
            });
        } else if CELL_TAGS.contains(&name) {
            if closing {
                out.push(' ');
            }
        } else if WRAPPER_TAGS.contains(&name) {
            // Rows are paragraphs already.
        } else if name == "hr" {
            out.push_str("<br>");
        } else {
            out.push_str(tag);
        }
    }
    out
}

/// True for characters a reader cannot see: whitespace of every Unicode kind, control and
/// invisible formatting characters (zero-width space and joiners, BOM, fillers), and the
/// blank Braille pattern people use as an "empty" character.
fn is_blank(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || crate::policy::normalize::is_invisible(c)
        || c == '\u{2800}'
}

/// True when `text` has at least one character a reader can see.
pub fn has_visible_text(text: &str) -> bool {
    text.chars().any(|c| !is_blank(c))
}

/// Plain text of sanitised HTML, for previews, logs of lengths, the policy and Matrix
/// fallbacks. Paragraphs, list items, quotes and line breaks stay apart, so words never run
/// together.
pub fn to_plain_text(html: &str) -> String {
    let mut with_breaks = String::with_capacity(html.len());
    for piece in pieces(html) {
        match piece {
            Piece::Text(text) => with_breaks.push_str(text),
            Piece::Tag(tag) => match tag_name(tag) {
                (name, _) if name == "br" => with_breaks.push('\n'),
                (name, true) if matches!(name.as_str(), "li") => with_breaks.push('\n'),
                (name, _) if matches!(name.as_str(), "p" | "blockquote" | "pre" | "ul" | "ol") => {
                    with_breaks.push_str("\n\n")
                }
                _ => with_breaks.push_str(tag),
            },
        }
    }
    let stripped = ammonia::Builder::empty().clean(&with_breaks).to_string();
    let text = decode_entities(&stripped);
    // Nested blocks leave runs of blank lines; a paragraph break is one blank line.
    let mut out = String::with_capacity(text.len());
    let mut newlines = 0;
    for c in text.trim().chars() {
        if c == '\n' {
            newlines += 1;
            if newlines <= 2 {
                out.push(c);
            }
        } else {
            newlines = 0;
            out.push(c);
        }
    }
    out
}

/// A content warning (the `summary` of a post) as plain text on one line: markup is reduced
/// to its text, whitespace collapsed, at most 500 characters; `None` when nothing visible is
/// left. It is escaped wherever it is shown, never rendered as HTML.
pub fn content_warning(raw: &str) -> Option<String> {
    let normalised = ammonia::Builder::empty().clean(raw).to_string();
    let text = to_plain_text(&normalised);
    let visible: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|&c| !crate::policy::normalize::is_invisible(c))
        .collect();
    let one_line = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = one_line.chars().take(CONTENT_WARNING_MAX_CHARS).collect();
    has_visible_text(&short).then_some(short)
}

/// Mastodon counts the warning into a post's 500 characters; more is no warning but a text.
const CONTENT_WARNING_MAX_CHARS: usize = 500;

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
    fn block_elements_become_paragraphs_and_words_stay_apart() {
        for (html, words) in [
            ("<div>eins</div><div>zwei</div>", "eins zwei"),
            ("<h1>Titel</h1>Text<h2>Mehr</h2>", "Titel Text Mehr"),
            ("<p>a<div>b</div>c</p>", "a b c"),
            (
                "<table><tr><th>Ort</th><th>Zeit</th></tr><tr><td>Markt</td><td>9</td></tr></table>",
                "Ort Zeit Markt 9",
            ),
            (
                "<ul><li>eins</li><li>zwei</li></ul><ol><li>drei</li></ol>",
                "eins zwei drei",
            ),
            ("<blockquote>zitiert</blockquote>antwort", "zitiert antwort"),
            ("<pre>code</pre>text", "code text"),
            ("eins<br>zwei<br/>drei<hr>vier", "eins zwei drei vier"),
            (
                "<dl><dt>Begriff</dt><dd>Erklärung</dd></dl>",
                "Begriff Erklärung",
            ),
            (
                "<section><article>a</article><aside>b</aside></section>",
                "a b",
            ),
        ] {
            let clean = sanitize_comment(html);
            let plain = to_plain_text(&clean);
            let found: Vec<&str> = plain.split_whitespace().collect();
            assert_eq!(found.join(" "), words, "{html} → {clean} → {plain:?}");
            for tag in ["<div", "<h1", "<table", "<td", "<hr", "<section", "<dl"] {
                assert!(!clean.contains(tag), "{tag} in {clean}");
            }
            assert!(!clean.contains("<p></p>"), "empty paragraph in {clean}");
            // Pages sanitise stored comments again: that changes nothing.
            assert_eq!(sanitize_comment(&clean), clean, "{html}");
        }
        assert_eq!(
            sanitize_comment("<div>eins</div><h3>zwei</h3>"),
            "<p>eins</p><p><strong>zwei</strong></p>"
        );
    }

    #[test]
    fn comment_links_are_absolute_http_only_and_keep_their_text() {
        for href in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "mailto:buerger@example.org",
            "tel:+49301234",
            "/relative/path",
            "relative",
            "//evil.example/x",
            "#anchor",
            "?q=1",
        ] {
            let html = format!(
                "<p>vor <a href=\"{}\">Linktext</a> nach</p>",
                href.replace('"', "&quot;")
            );
            let clean = sanitize_comment(&html);
            assert_eq!(clean, "<p>vor Linktext nach</p>", "{href}");
        }
        assert_eq!(
            sanitize_comment("<a href=\"https://ok.example/a?b=1&amp;c=2\" onclick=\"x()\">ok</a>"),
            "<a href=\"https://ok.example/a?b=1&amp;c=2\" rel=\"nofollow noopener noreferrer\">ok</a>"
        );
        // A quote or bracket inside a kept link's target cannot confuse the unwrapping.
        let tricky = sanitize_comment(
            "<a href=\"https://ok.example/?q=</a>&quot;>\">eins</a><a href=\"/x\">zwei</a> drei",
        );
        assert!(tricky.contains(">eins</a>zwei drei"), "{tricky}");
    }

    #[test]
    fn nothing_visible_is_no_text() {
        for blank in [
            "",
            " \n\t",
            "\u{00A0}\u{2002}\u{3000}",
            "\u{200B}\u{200D}\u{FEFF}",
            "\u{2800}\u{3164}",
        ] {
            assert!(!has_visible_text(blank), "{blank:?}");
        }
        for text in ["a", " . ", "👍", "\u{200B}x"] {
            assert!(has_visible_text(text), "{text:?}");
        }
    }

    #[test]
    fn content_warnings_are_one_line_of_plain_text() {
        assert_eq!(
            content_warning(" <p>Politik</p>\n<b>Wahl</b>&lt;3 ").as_deref(),
            Some("Politik Wahl<3")
        );
        assert_eq!(content_warning("I <3 cats").as_deref(), Some("I <3 cats"));
        assert_eq!(content_warning("<script>alert(1)</script>"), None);
        assert_eq!(content_warning("\u{200B} \u{3000}"), None);
        let long = "x".repeat(2_000);
        assert_eq!(content_warning(&long).map(|w| w.chars().count()), Some(500));
    }

    #[test]
    fn plain_text_keeps_paragraphs() {
        assert_eq!(
            to_plain_text("<p>Eins &amp; zwei</p><p>drei<br>vier</p>"),
            "Eins & zwei\n\ndrei\nvier"
        );
    }
}
