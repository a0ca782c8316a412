//! HAR 1.2 captures (browser dev tools, proxies): the requests they hold.
//!
//! Only requests are read (method, URL, headers, cookies) and each response's status.
//! Credentials are kept only to recognise a suite identity; nothing here prints them. A
//! URL may hold one too (a password-reset token, a webhook secret, a magic link): a path
//! segment that looks like one is replaced by `{token}` as it is read, and a query item
//! without `=` (a value with no name) is not kept as a parameter name.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::document::read;
use crate::errors::{InputError, Place};

/// What replaces a captured path segment that looks like a credential or a one-time
/// token: a parameter, as in an API description's path template.
pub(crate) const TOKEN: &str = "{token}";

/// One captured request.
#[derive(Clone)]
pub struct Capture {
    /// The method, uppercase.
    pub method: String,
    /// The URL's path, as sent (percent-encoded), with each segment that looks like a
    /// credential or a one-time token replaced by `{token}`.
    pub path: String,
    /// The names of the query parameters, in order; an item without `=` is a value, not a
    /// name, and is left out, as is a name that looks like a token.
    pub query_names: Vec<String>,
    /// Request headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Request cookies (from `cookies` and the `Cookie` header).
    pub cookies: Vec<(String, String)>,
    /// The response status, when there was one.
    pub status: Option<u16>,
    /// The JSON pointer of the entry.
    pub pointer: String,
}

impl std::fmt::Debug for Capture {
    /// Never shows header or cookie values: they are credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A read HAR file.
#[derive(Debug, Clone)]
pub struct Har {
    /// The file.
    pub file: PathBuf,
    /// Every request, in capture order.
    pub captures: Vec<Capture>,
}

/// Reads a HAR file; every problem is returned, each at its entry's pointer.
pub fn read_har(path: &Path) -> Result<Har, Vec<InputError>> {
    let value = read(path).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let mut error = |at: String, message: String| {
        errors.push(InputError {
            file: path.to_owned(),
            place: Place::Pointer(at),
            message,
        })
    };
    let Some(entries) = value.pointer("/log/entries").and_then(Value::as_array) else {
        let at = if value.get("log").is_some() {
            "/log"
        } else {
            ""
        };
        error(
            at.into(),
            "not a HAR file: expected `log.entries`, a list of requests".into(),
        );
        return Err(errors);
    };
    let mut captures = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("/log/entries/{i}");
        let request = entry.get("request");
        let method = request
            .and_then(|r| r.get("method"))
            .and_then(Value::as_str);
        let url = request.and_then(|r| r.get("url")).and_then(Value::as_str);
        let (Some(method), Some(url)) = (method, url) else {
            error(
                at,
                "an entry needs `request.method` and `request.url`".into(),
            );
            continue;
        };
        let Ok(parsed) = url::Url::parse(url) else {
            error(format!("{at}/request/url"), "not an absolute URL".into());
            continue;
        };
        let pairs = |key: &str| -> Vec<(String, String)> {
            request
                .and_then(|r| r.get(key))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|h| {
                    Some((
                        h.get("name")?.as_str()?.to_owned(),
                        h.get("value")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        };
        let headers: Vec<(String, String)> = pairs("headers")
            .into_iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v))
            .collect();
        let mut cookies = pairs("cookies");
        for (_, value) in headers.iter().filter(|(n, _)| n == "cookie") {
            for pair in value.split(';') {
                if let Some((n, v)) = pair.trim().split_once('=')
                    && !cookies.iter().any(|(cn, _)| cn == n)
                {
                    cookies.push((n.to_owned(), v.to_owned()));
                }
            }
        }
        let status = entry
            .pointer("/response/status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| *s > 0);
        captures.push(Capture {
            method: method.to_ascii_uppercase(),
            path: path_without_tokens(parsed.path()),
            query_names: query_names(parsed.query().unwrap_or("")),
            headers,
            cookies,
            status,
            pointer: at,
        });
    }
    if errors.is_empty() {
        Ok(Har {
            file: path.to_owned(),
            captures,
        })
    } else {
        Err(errors)
    }
}

/// `path` with every segment that looks like a credential replaced by [`TOKEN`].
fn path_without_tokens(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
            if token_like(&decoded) { TOKEN } else { segment }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The names of a query's parameters: items with `=`, whose name is not token-like.
fn query_names(query: &str) -> Vec<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .zip(query.split('&').filter(|item| !item.is_empty()))
        .filter(|((name, _), item)| item.contains('=') && !token_like(name))
        .map(|((name, _), _)| name.into_owned())
        .collect()
}

/// Whether `text` (a decoded path segment or query name) looks like a credential, a signed
/// link or a one-time token rather than a name or an id: 32 characters or more (unless a
/// slug of lowercase words), or 12 or more that switch between lowercase, uppercase and
/// digits as often as random text does (words and camelCase names switch far less; a
/// capital followed by lowercase, as in a word, does not count).
pub(crate) fn token_like(text: &str) -> bool {
    let len = text.chars().count();
    if len >= 32 {
        return !text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-' || c == '_');
    }
    if len < 12 {
        return false;
    }
    let class = |c: char| match c {
        '0'..='9' => 1,
        'a'..='z' => 2,
        'A'..='Z' => 3,
        _ => 0,
    };
    let switches = text
        .chars()
        .zip(text.chars().skip(1))
        .filter(|&(a, b)| {
            let (a, b) = (class(a), class(b));
            // A capital starting a word is followed by lowercase: not a switch.
            a != 0 && b != 0 && a != b && (a, b) != (3, 2)
        })
        .count();
    switches * 4 >= len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_told_from_names_and_ids() {
        for token in [
            "9f3c2e7a4b1d8c6f",
            "Xk3pQ_9zLmN2vR8sT1wY",
            "550e8400-e29b-41d4-a716-446655440000",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            "whsec_Ab9XyZ0123456789abcdefGHIJ",
        ] {
            assert!(token_like(token), "{token}");
        }
        for name in [
            "42",
            "v1",
            "reset-password",
            "user-settings-v2",
            "getUserAccountSettingsById",
            "photo.png",
            "1234567890123456789",
            "how-to-configure-your-account-settings",
        ] {
            assert!(!token_like(name), "{name}");
        }
    }

    #[test]
    fn token_segments_and_nameless_query_items_are_left_out() {
        assert_eq!(
            path_without_tokens("/api/webhooks/123/whsec_Ab9XyZ0123456789abcdefGHIJ/"),
            "/api/webhooks/123/{token}/"
        );
        assert_eq!(path_without_tokens("/v1/pets/42"), "/v1/pets/42");
        assert_eq!(
            query_names("page=2&eyJhbGciOiJIUzI1NiJ9&sort=&&Xk3pQ9zLmN2vR8sT1wY=1"),
            ["page", "sort"]
        );
    }
}
