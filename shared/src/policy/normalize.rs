//! Text as the policy sees it. Rules and comments go through the same fold, so tricks that
//! change how text *looks* to a person but not what it *says* stop working:
//! invisible characters are dropped, NFKD compatibility forms (fullwidth, circled, math
//! letters, ligatures) become plain letters, case is folded fully (ß → ss), combining marks
//! are removed except the German umlaut (ä → ae, so "schwül" never becomes "schwul"), and
//! non-ASCII look-alikes map to their Unicode TS #39 skeleton (Cyrillic «а» → a).
//!
//! URLs, hashtags and mentions are masked before matching so that word rules never fire
//! inside them.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Characters that render as nothing (or only steer layout) and so can hide inside words.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{2018}' | '\u{02BC}' | '\u{00B4}' | '`'
    )
}

/// Pushes the folded form of one already-decomposed, case-folded character.
fn push_folded(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    for s in unicode_security::skeleton(&c.to_string()) {
        for l in s.to_lowercase() {
            if !is_combining_mark(l) {
                out.push(l);
            }
        }
    }
}

/// Folds text for matching. Pure; about one table lookup per ASCII character.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        if is_invisible(c) {
            continue;
        }
        if is_apostrophe(c) {
            out.push('\'');
            continue;
        }
        if is_combining_mark(c) {
            // A separate combining diaeresis after a, o or u is an umlaut typed in two parts.
            if c == '\u{0308}' && out.ends_with(['a', 'o', 'u']) {
                out.push('e');
            }
            continue;
        }
        let mut decomposed = Vec::with_capacity(4);
        decompose_compatible(c, |d| decomposed.push(d));
        for d in decomposed {
            if is_combining_mark(d) {
                if d == '\u{0308}' && out.ends_with(['a', 'o', 'u']) {
                    out.push('e');
                }
                continue;
            }
            for f in caseless::default_case_fold_str(&d.to_string()).chars() {
                if is_combining_mark(f) {
                    continue;
                }
                push_folded(&mut out, f);
            }
        }
    }
    out
}

/// Replaces URLs (http/https), e-mail addresses, hashtags and mentions with spaces, keeping
/// every other character in place. Other "schemes" are not masked: `idiot://x` is no URL.
pub fn mask_non_words(text: &str) -> String {
    let mut masked: Vec<char> = text.chars().collect();
    let byte_to_char: Vec<usize> = {
        let mut map = vec![0; text.len() + 1];
        let mut ci = 0;
        for (bi, _) in text.char_indices() {
            map[bi] = ci;
            ci += 1;
        }
        map[text.len()] = ci;
        map
    };
    let mut blank = |start: usize, end: usize| {
        for c in masked
            .iter_mut()
            .take(byte_to_char[end])
            .skip(byte_to_char[start])
        {
            *c = ' ';
        }
    };
    for link in linkify::LinkFinder::new().links(text) {
        let s = link.as_str();
        let trusted = match link.kind() {
            linkify::LinkKind::Url => s.starts_with("http://") || s.starts_with("https://"),
            linkify::LinkKind::Email => true,
            _ => false,
        };
        if trusted {
            blank(link.start(), link.end());
        }
    }
    // Hashtags and mentions: a sigil at a word start, then word characters (and for mentions
    // the instance or homeserver part).
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let at_word_start = i == 0 || !chars[i - 1].1.is_alphanumeric();
        if (c == '#' || c == '@') && at_word_start {
            let mut j = i + 1;
            while j < chars.len() {
                let d = chars[j].1;
                let allowed = d.is_alphanumeric()
                    || d == '_'
                    || (c == '@' && matches!(d, '.' | '-' | '@' | ':' | '=' | '/' | '+'));
                if !allowed {
                    break;
                }
                j += 1;
            }
            // A trailing dot ends the sentence, not the handle.
            while j > i + 1 && matches!(chars[j - 1].1, '.' | '-' | ':') {
                j -= 1;
            }
            if j > i + 1 {
                let end = chars.get(j).map_or(text.len(), |(b, _)| *b);
                blank(start, end);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    masked.into_iter().collect()
}

/// Counts http(s) links.
pub fn count_links(text: &str) -> usize {
    linkify::LinkFinder::new()
        .kinds(&[linkify::LinkKind::Url])
        .links(text)
        .filter(|l| l.as_str().starts_with("http://") || l.as_str().starts_with("https://"))
        .count()
}

/// Counts fediverse (`@user@host`) and Matrix (`@user:server`) mentions, and bare `@user`.
pub fn count_mentions(text: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len())
        .filter(|&i| {
            chars[i] == '@'
                && (i == 0 || !chars[i - 1].is_alphanumeric())
                && chars
                    .get(i + 1)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_')
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evasions_fold_to_the_plain_word() {
        for (tricky, plain) in [
            ("Depp", "depp"),
            ("D\u{200B}e\u{200C}p\u{2060}p", "depp"),
            ("Dерр", "depp"),                                 // Cyrillic е and р
            ("ＤＥＰＰ", "depp"),                             // fullwidth
            ("D\u{0336}e\u{0336}p\u{0336}p\u{0336}", "depp"), // strike-through marks
            ("dëpp", "depp"),
            ("Straße", "strasse"),
            ("STRASSE", "strasse"),
            ("Ärger", "aerger"),
            ("A\u{0308}rger", "aerger"), // umlaut typed as a + combining diaeresis
            ("schwül", "schwuel"),
            ("𝐃𝐞𝐩𝐩", "depp"), // mathematical bold
            ("geht’s", "geht's"),
        ] {
            assert_eq!(fold(tricky), plain, "{tricky:?}");
        }
    }

    #[test]
    fn masking_keeps_positions_and_hides_links_tags_and_mentions() {
        let text = "Siehe https://stadt.example/depp-plan #deppenapostroph @depp@social.example und @depp:matrix.org, oder depp.";
        let masked = mask_non_words(text);
        assert_eq!(masked.chars().count(), text.chars().count());
        assert_eq!(masked.matches("depp").count(), 1, "{masked}");
        assert!(masked.ends_with("oder depp."), "{masked}");
        // A made-up scheme is not a link and stays visible.
        assert!(mask_non_words("depp://x").contains("depp"));
    }

    #[test]
    fn links_and_mentions_are_counted() {
        assert_eq!(
            count_links("a https://x.example b http://y.example/z c ftp://q"),
            2
        );
        assert_eq!(
            count_mentions("@a@b.example hallo @c:matrix.org und mail@example.org"),
            2
        );
    }
}
