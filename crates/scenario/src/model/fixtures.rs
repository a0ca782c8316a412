//! Objects a suite creates itself: fixtures, what they capture, and their placeholders.

use std::borrow::Cow;

use crate::diagnostic::Location;
use crate::model::{Route, StatusMatch};

/// One `[[fixture]]`: a request run before the cases, as one identity or once per
/// identity (`per_identity`), whose captured values fill `{name.capture}` placeholders.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The name placeholders use: `{name.capture}`.
    pub name: String,
    /// The request, as a route: its method, path, query, headers and body. `{var}`
    /// placeholders are filled from the creating identity's variables.
    pub request: Route,
    /// Who creates it: one identity, or each identity of `per_identity`.
    pub identities: Vec<usize>,
    /// The request's path for each identity of `identities`, its `{var}`s filled in.
    pub paths: Vec<String>,
    /// The teardown's path for each identity of `identities` (empty without teardown).
    pub teardown_paths: Vec<String>,
    /// Whether each identity creates its own (`per_identity`).
    pub per_identity: bool,
    /// The status the request must get; anything else is a fixture error.
    pub status: StatusMatch,
    /// What to capture from the response.
    pub captures: Vec<Capture>,
    /// Fixtures this one needs first (indices into [`crate::Suite::fixtures`]): `needs`
    /// and every `{other.capture}` it uses.
    pub needs: Vec<usize>,
    /// The request that removes it, sent as the same identity after the cases, with the
    /// identity's credentials and the suite's headers (not the request's own).
    pub teardown: Option<Route>,
    /// Where the fixture is declared (its `name`).
    pub location: Location,
}

/// A value captured from a fixture's response.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The name after the dot: `{doc.id}` reads capture `id` of fixture `doc`.
    pub name: String,
    /// Where in the response it is read.
    pub source: CaptureSource,
    /// Whether the value is a credential: redacted from every output like any secret.
    pub secret: bool,
}

/// Where a captured value is read.
#[derive(Debug, Clone)]
pub enum CaptureSource {
    /// A JSON pointer into the body (a string, number or boolean there).
    Json(String),
    /// A response header, by name (lowercase).
    Header(String),
    /// The first group (or the whole match) of a regular expression on the body.
    Regex(regex::Regex),
}

impl CaptureSource {
    /// How the source reads in a message: `JSON pointer /id`, `header location` …
    pub fn describe(&self) -> String {
        match self {
            CaptureSource::Json(pointer) => format!("JSON pointer `{pointer}`"),
            CaptureSource::Header(name) => format!("header `{name}`"),
            CaptureSource::Regex(re) => format!("regex `{}`", re.as_str()),
        }
    }
}

/// One object a fixture creates: the fixture (an index into [`crate::Suite::fixtures`])
/// and the identity that creates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instance {
    /// Index into [`crate::Suite::fixtures`].
    pub fixture: usize,
    /// Index into [`crate::Suite::identities`].
    pub identity: usize,
}

/// The `{fixture.capture}` placeholders of `text`, in order (`{tenant}` is not one).
pub fn fixture_refs(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let open = rest.find('{')?;
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                rest = "";
                return None;
            };
            let inner = &after[..close];
            rest = &after[close + 1..];
            if let Some((fixture, capture)) = inner.split_once('.')
                && is_name(fixture)
                && is_name(capture)
            {
                return Some((fixture, capture));
            }
        }
    })
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `text` with every `{fixture.capture}` replaced by `value(fixture, capture)`; a
/// placeholder it has no value for is kept as written. Borrowed when there is none.
pub fn fill_refs<'a>(
    text: &'a str,
    value: &mut dyn FnMut(&str, &str) -> Option<String>,
) -> Cow<'a, str> {
    if fixture_refs(text).next().is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let inner = &after[..close];
        let filled = inner
            .split_once('.')
            .filter(|(f, c)| is_name(f) && is_name(c))
            .and_then(|(f, c)| value(f, c));
        out.push_str(&rest[..open]);
        match filled {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_with_a_dot_name_a_capture() {
        let refs: Vec<_> = fixture_refs("/t/{tenant}/d/{doc.id}?x={a.b}&{bad.}{.x}").collect();
        assert_eq!(refs, [("doc", "id"), ("a", "b")]);
    }

    #[test]
    fn filling_keeps_what_it_has_no_value_for() {
        let mut value = |f: &str, c: &str| (f == "doc" && c == "id").then(|| "42".to_owned());
        assert_eq!(
            fill_refs("/d/{doc.id}/{x.y}/{t}", &mut value),
            "/d/42/{x.y}/{t}"
        );
        assert!(matches!(
            fill_refs("/plain/{t}", &mut value),
            Cow::Borrowed(_)
        ));
    }
}
