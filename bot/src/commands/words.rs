//! Shell-like words with their positions: split at whitespace, `"…"` groups words. Unlike a
//! shell, an apostrophe is an ordinary character (German text is full of them) and an
//! unclosed quote runs to the end instead of failing.

/// One word and where it starts in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub start: usize,
}

pub fn split(s: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut text = String::new();
        if c == '"' {
            chars.next();
            for (_, c) in chars.by_ref() {
                if c == '"' {
                    break;
                }
                text.push(c);
            }
        } else {
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                text.push(c);
                chars.next();
            }
        }
        words.push(Word { text, start });
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        split(s).into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn words_quotes_and_apostrophes() {
        assert_eq!(texts("  a  b\nc "), ["a", "b", "c"]);
        assert_eq!(
            texts("\"Park am See\" --bis x"),
            ["Park am See", "--bis", "x"]
        );
        assert_eq!(texts("geht's nicht"), ["geht's", "nicht"]);
        assert_eq!(texts("\"offen bis zum Ende"), ["offen bis zum Ende"]);
        assert_eq!(split("ab  cd")[1].start, 4);
        assert!(split("   ").is_empty());
    }
}
