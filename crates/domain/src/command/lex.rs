//! Splitting a chat message into words, after removing what the platform
//! put in front of the command.

pub(super) fn is_flag(word: &str) -> bool {
    word.starts_with("--") || word.starts_with('—')
}

pub(super) fn is_dry_run(word: &str) -> bool {
    word.eq_ignore_ascii_case("--dry-run") || word.eq_ignore_ascii_case("—dry-run")
}

/// Removes what platforms put before the command: whitespace, Teams
/// `<at>…</at>` mentions, and Slack's `/` or `/stagegate`.
pub(super) fn strip_preamble(text: &str) -> &str {
    let mut s = text.trim();
    while s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("<at>")) {
        // ASCII lower-casing keeps byte offsets, so `end` indexes `s` too.
        let Some(end) = s.to_ascii_lowercase().find("</at>") else {
            break;
        };
        s = s[end + "</at>".len()..].trim_start();
    }
    if let Some(rest) = s.strip_prefix('/') {
        s = rest;
        let first = rest.split(char::is_whitespace).next().unwrap_or_default();
        if first.eq_ignore_ascii_case("stagegate") {
            s = rest[first.len()..].trim_start();
        }
    }
    s
}

/// A whitespace-separated word and where it starts in the text.
#[derive(Clone, Copy)]
pub(super) struct Word<'a> {
    pub(super) start: usize,
    pub(super) text: &'a str,
}

/// Splits on Unicode whitespace, remembering offsets so the justification
/// can be taken verbatim (line breaks included) rather than re-joined.
pub(super) struct Words<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Words<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    pub(super) fn rest_from(&self, start: usize) -> &'a str {
        &self.text[start..]
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = Word<'a>;

    fn next(&mut self) -> Option<Word<'a>> {
        let rest = &self.text[self.pos..];
        let start = self.pos + rest.find(|c: char| !c.is_whitespace())?;
        let len = self.text[start..]
            .find(char::is_whitespace)
            .unwrap_or(self.text.len() - start);
        self.pos = start + len;
        Some(Word {
            start,
            text: &self.text[start..start + len],
        })
    }
}
