//! What came back: the response evidence of one exchange.

use std::time::Duration;

/// A response as the runner saw it. Header names are lowercase, in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Status code.
    pub status: u16,
    /// Headers as (lowercase name, value).
    pub headers: Vec<(String, String)>,
    /// The body, decoded lossily as UTF-8 and capped at 1 MiB.
    pub body: String,
    /// Every `Location` followed before this response, when redirects were followed.
    pub redirects: Vec<String>,
    /// Time from sending to the end of the body.
    pub elapsed: Duration,
}

/// Bodies are read up to this size: deny pages are small, and a huge allowed response
/// must not cost memory.
pub(crate) const BODY_LIMIT: usize = 1024 * 1024;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(headers: &[(&str, &str)], body: &str) -> Observed {
        Observed {
            status: 403,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_owned(),
            redirects: Vec::new(),
            elapsed: Duration::ZERO,
        }
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
