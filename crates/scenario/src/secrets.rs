//! Secret values and their redaction: what must never reach an output.

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use aho_corasick::AhoCorasick;

/// A string that must never be printed. `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    pub(crate) fn new(value: String) -> Self {
        Secret(value)
    }

    /// The secret value, for sending it. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Every secret value of a suite, for redaction.
#[derive(Clone, Default)]
pub struct Secrets {
    /// Longest first.
    values: Vec<Arc<str>>,
    /// Every value in one automaton, built on first use: texts are searched once, not
    /// once per secret. Reset whenever a value is added.
    matcher: OnceLock<Option<AhoCorasick>>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} values)", self.values.len())
    }
}

impl Secrets {
    pub(crate) fn add(&mut self, value: &str) {
        // Very short values would redact ordinary words; they are not credentials anyone
        // should rely on, and the runner's own tests show what is redacted.
        if value.len() >= 4 && !self.values.iter().any(|s| &**s == value) {
            // Longest first, so that a secret containing another is redacted whole.
            let at = self.values.partition_point(|s| s.len() >= value.len());
            self.values.insert(at, value.into());
            self.matcher = OnceLock::new();
        }
    }

    /// Adds a value learned at run time, such as a token captured by a login flow.
    pub fn insert(&mut self, value: &str) {
        self.add(value);
    }

    /// The values, longest first so that a secret containing another is redacted whole.
    pub fn values(&self) -> &[Arc<str>] {
        &self.values
    }

    fn matcher(&self) -> Option<&AhoCorasick> {
        self.matcher
            .get_or_init(|| {
                if self.values.is_empty() {
                    return None;
                }
                // Standard semantics report every occurrence, overlapping ones included.
                // Building only fails past size limits that no suite's secrets reach; the
                // plain search below is the fallback all the same.
                AhoCorasick::new(self.values.iter().map(|v| v.as_bytes())).ok()
            })
            .as_ref()
    }

    /// Every byte range of `text` covered by a secret, sorted; ranges that overlap are
    /// merged, so that no part of any secret survives redaction.
    fn covered(&self, text: &str) -> Vec<Range<usize>> {
        let mut ranges: Vec<Range<usize>> = match self.matcher() {
            Some(matcher) => matcher
                .find_overlapping_iter(text)
                .map(|m| m.range())
                .collect(),
            None => self
                .values
                .iter()
                .flat_map(|v| text.match_indices(&**v).map(|(at, v)| at..at + v.len()))
                .collect(),
        };
        ranges.sort_unstable_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                Some(last) if range.start < last.end => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        merged
    }

    /// Whether `text` contains any secret value.
    pub fn appear_in(&self, text: &str) -> bool {
        match self.matcher() {
            Some(matcher) => matcher.is_match(text),
            None => self.values.iter().any(|v| text.contains(&**v)),
        }
    }

    /// Replaces every secret value in `text` with as many `*` as it has bytes, keeping
    /// offsets valid (for quoting source lines under carets).
    pub fn mask(&self, text: &str) -> String {
        self.replace(text, |range| "*".repeat(range.len()))
            .unwrap_or_else(|| text.to_owned())
    }

    /// Replaces every secret value in `text` with `***`.
    pub fn redact(&self, text: &str) -> String {
        self.replace(text, |_| "***".to_owned())
            .unwrap_or_else(|| text.to_owned())
    }

    /// [`redact`](Self::redact) in place: `text` is only rewritten when a secret
    /// appears in it, so the common case allocates nothing.
    pub fn redact_in_place(&self, text: &mut String) {
        if let Some(redacted) = self.replace(text, |_| "***".to_owned()) {
            *text = redacted;
        }
    }

    /// `text` with every covered range replaced, or `None` when no secret appears in it.
    fn replace(&self, text: &str, with: impl Fn(&Range<usize>) -> String) -> Option<String> {
        let covered = self.covered(text);
        if covered.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for range in covered {
            out.push_str(&text[at..range.start]);
            out.push_str(&with(&range));
            at = range.end;
        }
        out.push_str(&text[at..]);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Secrets;

    fn secrets(values: &[&str]) -> Secrets {
        let mut secrets = Secrets::default();
        for value in values {
            secrets.insert(value);
        }
        secrets
    }

    #[test]
    fn every_occurrence_of_every_secret_is_redacted() {
        let s = secrets(&["tok-alpha", "hunter22"]);
        assert_eq!(
            s.redact("a tok-alpha b hunter22 c tok-alpha"),
            "a *** b *** c ***"
        );
        assert_eq!(
            s.redact("tok-alphatok-alpha"),
            "******",
            "adjacent stay apart"
        );
        assert_eq!(s.redact("nothing here"), "nothing here");
        let mut text = "header: hunter22".to_owned();
        s.redact_in_place(&mut text);
        assert_eq!(text, "header: ***");
        assert!(s.appear_in("xhunter22x"));
        assert!(!s.appear_in("hunter2"));
    }

    #[test]
    fn overlapping_secrets_leave_no_part_behind() {
        // A shorter secret that starts first must not leave the tail of a longer one.
        let s = secrets(&["abcdefgh", "xxab"]);
        assert_eq!(s.redact("1xxabcdefgh2"), "1***2");
        assert_eq!(s.mask("1xxabcdefgh2"), "1**********2");
        // One secret inside another.
        let s = secrets(&["secret-token", "token"]);
        assert_eq!(s.redact("[secret-token] [token]"), "[***] [***]");
    }

    #[test]
    fn masking_keeps_offsets_and_values_added_later_count() {
        let mut s = secrets(&["p4ssw0rd"]);
        assert_eq!(s.mask("pw = \"p4ssw0rd\""), "pw = \"********\"");
        let before = s.clone();
        assert_eq!(before.redact("captured-1"), "captured-1");
        s.insert("captured-1");
        assert_eq!(s.redact("captured-1 p4ssw0rd"), "*** ***");
        assert_eq!(
            before.redact("captured-1"),
            "captured-1",
            "clones are snapshots"
        );
        assert_eq!(
            secrets(&["abc"]).redact("abc"),
            "abc",
            "too short to be a secret"
        );
        assert_eq!(Secrets::default().redact("x"), "x");
    }

    #[test]
    fn multibyte_text_around_secrets_stays_valid() {
        let s = secrets(&["clé-secrète"]);
        assert_eq!(s.redact("« clé-secrète »"), "« *** »");
        assert_eq!(s.mask("é clé-secrète"), format!("é {}", "*".repeat(13)));
    }
}
