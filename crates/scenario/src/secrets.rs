//! Secret values and their redaction: what must never reach an output.

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use aho_corasick::AhoCorasick;
use base64::Engine as _;

mod forms;
mod redacted;

pub use redacted::{CleanStrings, Redacted};

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

/// Secrets shorter than this many bytes are not redacted: they would mask ordinary text.
/// `rolecall check` refuses credentials this short, so only other values from the
/// environment (a region, a tenant) can be shorter.
pub const MIN_SECRET_LEN: usize = 4;

/// Header names (lowercase) whose value is a credential, wherever the header is set.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];
/// Parts of a header name that make its value a credential (`X-Auth-Token`, `X-Api-Key`,
/// `X-Session-Id`, `X-Signature` …). A false positive only redacts more.
const CREDENTIAL_NAME_PARTS: [&str; 11] = [
    "auth",
    "token",
    "secret",
    "key",
    "session",
    "passw",
    "signature",
    "credential",
    "cookie",
    "csrf",
    "xsrf",
];

/// Whether a header named `name` carries a credential: its value is then a secret, even
/// when written literally in a scenario file.
pub fn is_credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    CREDENTIAL_HEADERS.contains(&name.as_str())
        || CREDENTIAL_NAME_PARTS.iter().any(|part| name.contains(part))
}

/// Every secret value of a suite, for redaction, with the forms a service may echo it in
/// (percent-encoded, JSON- or HTML-escaped, base64): see `secrets/forms.rs`.
///
/// The forms are derived once, when a value is added, and all of them are searched in one
/// Aho-Corasick pass per text, ignoring ASCII case (so both hex cases of every escape are
/// found, and a secret a service upper-cases).
#[derive(Clone, Default)]
pub struct Secrets {
    /// Longest first.
    values: Vec<Arc<str>>,
    /// Every form of every value: what is searched for.
    patterns: Vec<Arc<str>>,
    /// Every pattern in one automaton, built on first use: texts are searched once, not
    /// once per secret, with what is known of the patterns. Clones share it; adding a
    /// value starts a new one.
    matcher: Arc<Compiled>,
}

/// The automaton of a set of patterns, and what is known of them.
#[derive(Default)]
struct Compiled {
    automaton: OnceLock<Option<AhoCorasick>>,
    /// The byte lengths of the shortest and the longest pattern (`0` without any): a
    /// text shorter than the shortest holds none, and a match never spans more than the
    /// longest (see [`Redacted::write_sealed`]).
    shortest: usize,
    longest: usize,
    /// Whether a pattern contains `*`, what a redaction writes (see
    /// [`Secrets::redacted_all_of`]).
    starred: bool,
    /// Every byte some pattern holds, in either ASCII case (matching ignores it), as a
    /// bit set: a match never holds any other byte, so a byte outside it (`<` and a line
    /// break, for most secrets) is a place no match crosses.
    bytes: [u64; 4],
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compiled")
            .field("built", &self.automaton.get().is_some())
            .field("longest", &self.longest)
            .finish_non_exhaustive()
    }
}

impl Clone for Compiled {
    /// What is known of the patterns, without the automaton: cloned to add patterns.
    fn clone(&self) -> Self {
        Compiled {
            automaton: OnceLock::new(),
            ..*self
        }
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Secrets({} values, {} forms)",
            self.values.len(),
            self.patterns.len()
        )
    }
}

impl Secrets {
    pub(crate) fn add(&mut self, value: &str) {
        if let Some(value) = self.remember(value) {
            for form in forms::derived_forms(&value, MIN_SECRET_LEN) {
                self.push_pattern(form.into());
            }
        }
    }

    fn push_pattern(&mut self, pattern: Arc<str>) {
        let len = pattern.len();
        // A new set of patterns: a new automaton, what is known carried over.
        let known = Arc::make_mut(&mut self.matcher);
        known.automaton = OnceLock::new();
        known.shortest = match self.patterns.is_empty() {
            true => len,
            false => known.shortest.min(len),
        };
        known.longest = known.longest.max(len);
        known.starred |= pattern.contains('*');
        for byte in pattern.bytes() {
            for b in [byte.to_ascii_lowercase(), byte.to_ascii_uppercase()] {
                known.bytes[usize::from(b / 64)] |= 1 << (b % 64);
            }
        }
        self.patterns.push(pattern);
    }

    /// Adds key material rolecall never sends (a private key): no service can echo it, so
    /// only its own text is searched for.
    pub(crate) fn add_unsent(&mut self, value: &str) {
        if let Some(value) = self.remember(value) {
            self.push_pattern(value);
        }
    }

    /// Records `value` unless it is too short or known; returns it when recorded.
    fn remember(&mut self, value: &str) -> Option<Arc<str>> {
        if value.len() < MIN_SECRET_LEN || self.values.iter().any(|s| &**s == value) {
            return None;
        }
        let value: Arc<str> = value.into();
        let at = self.values.partition_point(|s| s.len() >= value.len());
        self.values.insert(at, value.clone());
        self.matcher = Arc::new(Compiled::clone(&self.matcher));
        Some(value)
    }

    /// Adds a value learned at run time, such as a token captured by a login flow.
    pub fn insert(&mut self, value: &str) {
        self.add(value);
    }

    /// Adds the value of a header that carries a credential, as it is sent: the whole
    /// value; for `Scheme token` (`Bearer …`, `Basic …`) the token; for `Basic` the decoded
    /// `user:password` and the password; for `Cookie` each `name=value` and value.
    pub fn insert_header(&mut self, name: &str, value: &str) {
        self.add(value);
        if name.eq_ignore_ascii_case("cookie") {
            for pair in value.split(';').map(str::trim) {
                self.add(pair);
                if let Some((_, v)) = pair.split_once('=') {
                    self.add(v);
                }
            }
            return;
        }
        let Some((scheme, token)) = value.split_once(' ') else {
            return;
        };
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return;
        }
        let token = token.trim();
        self.add(token);
        if scheme.eq_ignore_ascii_case("basic")
            && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token)
            && let Ok(pair) = String::from_utf8(decoded)
        {
            self.add(&pair);
            if let Some((_, password)) = pair.split_once(':') {
                self.add(password);
            }
        }
    }

    /// The values, longest first.
    pub fn values(&self) -> &[Arc<str>] {
        &self.values
    }

    /// How many forms of the values are searched for.
    pub fn form_count(&self) -> usize {
        self.patterns.len()
    }

    /// The byte length of the longest form searched for (`0` without any): no match
    /// spans more bytes.
    pub fn longest_form(&self) -> usize {
        self.matcher.longest
    }

    /// Whether some form searched for holds `byte` (in either ASCII case): a match never
    /// crosses a byte for which this is false.
    pub fn may_hold(&self, byte: u8) -> bool {
        self.matcher.bytes[usize::from(byte / 64)] & (1 << (byte % 64)) != 0
    }

    fn matcher(&self) -> Option<&AhoCorasick> {
        self.matcher
            .automaton
            .get_or_init(|| {
                if self.patterns.is_empty() {
                    return None;
                }
                // Standard semantics report every occurrence, overlapping ones included.
                // Building only fails past size limits that no suite's secrets reach; the
                // plain search below is the fallback all the same.
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(self.patterns.iter().map(|v| v.as_bytes()))
                    .ok()
            })
            .as_ref()
    }

    /// Every byte range of `text` covered by a secret, in any form, sorted and merged:
    /// where a rewrite of `text` must not cut a secret apart.
    pub fn spans(&self, text: &str) -> Vec<Range<usize>> {
        self.covered(text)
    }

    /// Every byte range of `text` covered by a secret, sorted; ranges that overlap are
    /// merged, so that no part of any secret survives redaction.
    fn covered(&self, text: &str) -> Vec<Range<usize>> {
        // No pattern fits in a text shorter than the shortest (JSON keys, `GET`, `deny`):
        // exact, and much cheaper than starting a search.
        if text.len() < self.matcher.shortest || self.patterns.is_empty() {
            return Vec::new();
        }
        let mut ranges: Vec<Range<usize>> = match self.matcher() {
            // Most texts hold no secret: a plain search (which can skip ahead with a
            // prefilter) says so faster than the overlapping one, which finds the same.
            Some(matcher) if !matcher.is_match(text) => return Vec::new(),
            Some(matcher) => matcher
                .find_overlapping_iter(text)
                .map(|m| m.range())
                .collect(),
            None if self.patterns.is_empty() => return Vec::new(),
            None => {
                // ASCII lowercasing keeps every byte offset.
                let lower = text.to_ascii_lowercase();
                self.patterns
                    .iter()
                    .flat_map(|v| {
                        let v = v.to_ascii_lowercase();
                        lower
                            .match_indices(&v)
                            .map(|(at, v)| at..at + v.len())
                            .collect::<Vec<_>>()
                    })
                    .collect()
            }
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

    /// Whether text redacted with these secrets needs no second pass with `later`: every
    /// form `later` searches for was searched for, and no form contains `*` (what a
    /// redaction writes). A form found by a second pass would either lie in text the
    /// first pass kept, where the first pass found it, or overlap a `***` it wrote, which
    /// needs a `*` in the form: so redacting again changes nothing.
    pub fn redacted_all_of(&self, later: &Secrets) -> bool {
        if Arc::ptr_eq(&self.matcher, &later.matcher) && self.patterns.len() == later.patterns.len()
        {
            return !self.matcher.starred;
        }
        if later.matcher.starred {
            return false;
        }
        later.patterns.iter().all(|p| {
            !p.contains('*')
                && self
                    .patterns
                    .iter()
                    .any(|q| Arc::ptr_eq(p, q) || q.eq_ignore_ascii_case(p))
        })
    }

    /// Whether `bytes` contain any secret value, in any form; `true` too when that cannot
    /// be said without an automaton. A byte that is not UTF-8 (`0xFF`) separates texts:
    /// no form, being UTF-8, holds it, so no match crosses it.
    pub(crate) fn appear_in_bytes(&self, bytes: &[u8]) -> bool {
        if self.patterns.is_empty() || bytes.len() < self.matcher.shortest {
            return false;
        }
        self.matcher().is_none_or(|matcher| matcher.is_match(bytes))
    }

    /// Whether `text` contains any secret value, in any form.
    pub fn appear_in(&self, text: &str) -> bool {
        if text.len() < self.matcher.shortest {
            return false;
        }
        match self.matcher() {
            Some(matcher) => matcher.is_match(text),
            None => !self.covered(text).is_empty(),
        }
    }

    /// Replaces every secret value in `text` with as many `*` as it has bytes, keeping
    /// offsets valid (for quoting source lines under carets).
    pub fn mask(&self, text: &str) -> String {
        self.replace(text, |range| "*".repeat(range.len()))
            .unwrap_or_else(|| text.to_owned())
    }

    /// Replaces every secret value in `text`, in any form, with `***`.
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
    use super::{Secrets, is_credential_header};

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
    fn text_redacted_once_needs_no_second_pass_only_with_the_same_or_fewer_forms() {
        let s = secrets(&["tok-alpha"]);
        assert!(s.redacted_all_of(&s.clone()));
        assert!(s.redacted_all_of(&Secrets::default()));
        let mut grown = s.clone();
        grown.insert("captured-1");
        assert!(!s.redacted_all_of(&grown), "a value learned since");
        assert!(grown.redacted_all_of(&s));
        // A form with `*` may appear across a `***` the first pass wrote.
        let starred = secrets(&["k***", "zzzz"]);
        assert!(!starred.redacted_all_of(&starred.clone()));
        let once = starred.redact("kzzzz");
        assert_eq!(
            (once.as_str(), starred.redact(&once).as_str()),
            ("k***", "***")
        );
    }

    #[test]
    fn encoded_forms_are_redacted_in_either_case() {
        let s = secrets(&["p@ss w/rd+é"]);
        for echoed in [
            "next=%2Flogin%3Ft%3Dp%40ss%20w%2Frd%2B%C3%A9",
            "next=%2flogin%3ft%3dp%40ss%20w%2frd%2b%c3%a9",
            "t=p%40ss+w%2Frd%2B%C3%A9",
            r#"{"error":"bad token p@ss w\/rd+\u00e9"}"#,
            r#"{"error":"bad token p@ss w/rd\u002B\u00E9"}"#,
            "<p>p@ss w&#x2F;rd+é</p>",
            "<p>p@ss w/rd+&#233;</p>",
            "<p>p&#64;ss w&#47;rd&#43;&#233;</p>",
            "cEBzcyB3L3JkK8Op",
            "P@SS W/RD+é",
        ] {
            let redacted = s.redact(echoed);
            assert!(redacted.contains("***"), "{echoed} → {redacted}");
            assert!(!redacted.contains("ss"), "{echoed} → {redacted}");
        }
    }

    #[test]
    fn header_values_add_what_was_sent() {
        let mut s = Secrets::default();
        // `Basic` of `alice:s3cret/pw`.
        s.insert_header("Authorization", "Basic YWxpY2U6czNjcmV0L3B3");
        assert_eq!(s.redact("pw s3cret/pw"), "pw ***");
        assert_eq!(s.redact("alice:s3cret/pw"), "***");
        assert_eq!(s.redact("Basic YWxpY2U6czNjcmV0L3B3"), "***");
        s.insert_header("x-auth-token", "Token tok-abcdef");
        assert_eq!(s.redact("Token=tok-abcdef"), "Token=***");
        s.insert_header("Cookie", "theme=dark; sid=cookie-1234");
        assert_eq!(s.redact("sid: cookie-1234, theme=dark"), "sid: ***, ***");
    }

    #[test]
    fn credential_headers_are_known_by_name() {
        for name in [
            "Authorization",
            "Proxy-Authorization",
            "Cookie",
            "X-Auth-Token",
            "X-API-Key",
            "X-Session-Id",
            "X-Amz-Security-Token",
            "X-Hub-Signature-256",
            "X-CSRF-Token",
            "X-Client-Secret",
            "X-Password",
        ] {
            assert!(is_credential_header(name), "{name}");
        }
        for name in ["Accept", "X-Request-Id", "User-Agent", "X-Tenant"] {
            assert!(!is_credential_header(name), "{name}");
        }
    }

    #[test]
    fn multibyte_text_around_secrets_stays_valid() {
        let s = secrets(&["clé-secrète"]);
        assert_eq!(s.redact("« clé-secrète »"), "« *** »");
        assert_eq!(s.mask("é clé-secrète"), format!("é {}", "*".repeat(13)));
    }
}
