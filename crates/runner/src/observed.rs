//! What came back: the response evidence of one exchange.

use std::time::Duration;

/// What happened when a case was executed.
#[derive(Debug, Clone)]
pub(crate) enum Execution {
    /// A response came back.
    Observed(Observed),
    /// The case was deliberately not sent.
    Skipped(String),
    /// No response: connection refused, timeout, login failure …
    Error(String),
}

/// A response as the runner saw it. Header names are lowercase, in wire order.
///
/// A body is read up to 1 MiB when the case has body expectations (and for login
/// flows), else up to the 64 KiB that layer attribution reads; judged, a result keeps
/// at most its first 16 KiB and 16 KiB of headers. `truncated` says what was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Status code.
    pub status: u16,
    /// Headers as (lowercase name, value).
    pub headers: Vec<(String, String)>,
    /// The body, decoded lossily as UTF-8: its beginning only when `truncated` says so.
    pub body: String,
    /// What was left out of the body and headers, if anything.
    pub truncated: Option<Truncated>,
    /// Every `Location` followed before this response, when redirects were followed.
    pub redirects: Vec<String>,
    /// Time from sending to the end of the body (or to where reading stopped).
    pub elapsed: Duration,
}

/// What an [`Observed`] left out of a large response, so that memory stays bounded
/// however large the target's answers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    /// The size of the whole body in bytes, when more than `body` holds: what
    /// `Content-Length` announced, or else the bytes received before reading stopped
    /// (then the body is larger still).
    pub body_size: Option<u64>,
    /// Whether `body_size` only counts what arrived before reading stopped.
    pub body_size_is_lower_bound: bool,
    /// Headers left out, and header values cut short (those end in `…`).
    pub headers_cut: usize,
}

impl Truncated {
    /// One line for people: what was kept of what.
    pub fn describe(&self, kept: usize) -> String {
        let mut parts = Vec::new();
        if let Some(size) = self.body_size {
            let more = if self.body_size_is_lower_bound {
                "more than "
            } else {
                ""
            };
            parts.push(format!(
                "body truncated: first {kept} of {more}{size} bytes kept"
            ));
        }
        if self.headers_cut > 0 {
            parts.push(format!("{} headers cut", self.headers_cut));
        }
        parts.join("; ")
    }
}

/// Bodies are read up to this size for cases that assert on the body, and for login
/// flows: deny pages are small, and a huge response must not cost memory.
pub(crate) const BODY_LIMIT: usize = 1024 * 1024;

/// Bodies of other cases are read up to this size: all that layer attribution looks at.
pub(crate) const BODY_SCAN_LIMIT: usize = crate::classify::BODY_SCAN_LIMIT;

/// A judged result keeps at most this much of its body: the failure message quotes
/// 300 characters of it, and a snapshot this much, with a line saying what was left out.
pub(crate) const KEPT_BODY: usize = 16 * 1024;

/// A judged result keeps at most this many bytes of header names and values; a value
/// is cut to at most [`KEPT_HEADER_VALUE`] bytes.
const KEPT_HEADERS: usize = 16 * 1024;
const KEPT_HEADER_VALUE: usize = 4 * 1024;

/// Headers that carry a request or trace id, in the order they are preferred.
const REQUEST_ID_HEADERS: [&str; 9] = [
    "x-request-id",
    "x-amz-cf-id",
    "cf-ray",
    "x-amzn-requestid",
    "x-amzn-trace-id",
    "x-correlation-id",
    "request-id",
    "x-akamai-request-id",
    "x-reference-error",
];

#[cfg(test)]
impl Observed {
    /// A response for tests: no redirects, nothing truncated, no time taken.
    pub(crate) fn sample(status: u16, headers: &[(&str, &str)], body: &str) -> Self {
        Observed {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_owned(),
            truncated: None,
            redirects: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }
}

impl Observed {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The request id the way the answering layer reports it, with where it was found:
    /// a header (X-Request-Id, cf-ray, x-amz-cf-id …), Akamai's "Reference #" in the
    /// body, or a `request_id` member of a JSON body.
    pub fn request_id(&self) -> Option<(String, &'static str)> {
        for name in REQUEST_ID_HEADERS {
            if let Some(value) = self.header(name) {
                return Some((value.to_owned(), name));
            }
        }
        if let Some(at) = self
            .body
            .find("Reference&#32;&#35;")
            .map(|i| (i, 19))
            .or_else(|| self.body.find("Reference #").map(|i| (i, 11)))
        {
            let rest = &self.body[at.0 + at.1..];
            let id: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect();
            if !id.is_empty() {
                return Some((id, "body reference"));
            }
        }
        const BODY_KEYS: [&str; 3] = ["request_id", "requestId", "trace_id"];
        // Most bodies name none of the keys: parsing them would be wasted work.
        if self.body.trim_start().starts_with('{')
            && BODY_KEYS.iter().any(|key| self.body.contains(key))
            && let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&self.body)
        {
            for key in BODY_KEYS {
                if let Some(serde_json::Value::String(id)) = map.get(key) {
                    return Some((id.clone(), "body request_id"));
                }
            }
        }
        None
    }

    /// Cuts what a judged result keeps to [`KEPT_BODY`] of body and [`KEPT_HEADERS`] of
    /// headers, giving the memory back, and notes what was left out. Judging has seen
    /// everything read; what is kept only explains.
    pub(crate) fn keep_excerpt(&mut self) {
        let body_len = self.body.len();
        if body_len > KEPT_BODY {
            let note = self.truncated.get_or_insert(Truncated {
                body_size: None,
                body_size_is_lower_bound: false,
                headers_cut: 0,
            });
            note.body_size.get_or_insert(body_len as u64);
            self.body
                .truncate(floor_char_boundary(&self.body, KEPT_BODY));
            self.body.shrink_to_fit();
        }
        let total: usize = self.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        if total <= KEPT_HEADERS {
            return;
        }
        let mut room = KEPT_HEADERS;
        let mut cut = 0;
        let mut kept = Vec::new();
        for (name, mut value) in std::mem::take(&mut self.headers) {
            let limit = KEPT_HEADER_VALUE.min(room.saturating_sub(name.len()));
            // Too little room left for the name and a useful part of the value.
            if name.len() >= room || (value.len() > limit && limit < 16) {
                cut += 1;
                continue;
            }
            if value.len() > limit {
                cut += 1;
                let end = floor_char_boundary(&value, limit - '…'.len_utf8());
                value.truncate(end);
                value.push('…');
            }
            room -= name.len() + value.len();
            kept.push((name, value));
        }
        kept.shrink_to_fit();
        self.headers = kept;
        self.truncated
            .get_or_insert(Truncated {
                body_size: None,
                body_size_is_lower_bound: false,
                headers_cut: 0,
            })
            .headers_cut += cut;
    }

    /// The body as pretty JSON when it is JSON.
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        let looks_json = self
            .header("content-type")
            .is_some_and(|ct| ct.contains("json"))
            || self.body.trim_start().starts_with(['{', '[']);
        if looks_json {
            serde_json::from_str(&self.body).ok()
        } else {
            None
        }
    }
}

/// The largest index at most `at` that starts a character of `text`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    (0..=at)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(headers: &[(&str, &str)], body: &str) -> Observed {
        Observed::sample(403, headers, body)
    }

    #[test]
    fn a_kept_excerpt_is_bounded_and_says_what_was_left_out() {
        let mut large = observed(&[("server", "nginx")], &"é".repeat(KEPT_BODY));
        large.keep_excerpt();
        assert!(large.body.len() <= KEPT_BODY && large.body.len() > KEPT_BODY - 2);
        assert!(large.body.capacity() <= KEPT_BODY + 16);
        let note = large.truncated.unwrap();
        assert_eq!(
            note.describe(large.body.len()),
            format!(
                "body truncated: first {} of {} bytes kept",
                KEPT_BODY,
                2 * KEPT_BODY
            )
        );
        // Many large headers: the budget holds, and the count says how many were cut.
        let value = "v".repeat(10_000);
        let headers: Vec<(String, &str)> = (0..50)
            .map(|i| (format!("x-junk-{i}"), value.as_str()))
            .collect();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        let mut junk = observed(&headers, "small");
        junk.keep_excerpt();
        let kept: usize = junk.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        assert!(kept <= KEPT_HEADERS, "{kept}");
        assert_eq!(junk.headers[0].1.len(), KEPT_HEADER_VALUE);
        assert!(junk.headers[0].1.ends_with('…'));
        assert_eq!(junk.truncated.unwrap().headers_cut, 50);
        assert_eq!(junk.body, "small");
        // A small response is left alone.
        let mut small = observed(&[("server", "nginx")], "denied");
        small.keep_excerpt();
        assert_eq!(small, observed(&[("server", "nginx")], "denied"));
    }

    #[test]
    fn request_ids_are_found_where_each_layer_puts_them() {
        let id = |o: Observed| o.request_id().map(|(id, from)| format!("{id} ({from})"));
        assert_eq!(
            id(observed(&[("cf-ray", "8f1c2a3b4d5e6f70-FRA")], "")).as_deref(),
            Some("8f1c2a3b4d5e6f70-FRA (cf-ray)")
        );
        assert_eq!(
            id(observed(&[], "<p>Reference&#32;&#35;18&#46;2f1e</p>")).as_deref(),
            Some("18 (body reference)")
        );
        assert_eq!(
            id(observed(&[], "Reference #18.2f1e3c17.1732362000.5a6b7c8 ")).as_deref(),
            Some("18.2f1e3c17.1732362000.5a6b7c8 (body reference)")
        );
        assert_eq!(
            id(observed(
                &[],
                r#"{"code":"forbidden","request_id":"req-1"}"#
            ))
            .as_deref(),
            Some("req-1 (body request_id)")
        );
        assert_eq!(id(observed(&[], "nothing")), None);
    }
}
