//! HAR 1.2 captures (browser dev tools, proxies): the requests they hold.
//!
//! Only requests are read (method, URL, headers, cookies) and each response's status.
//! Credentials are kept only to recognise a suite identity; nothing here prints them.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::document::read;
use crate::errors::{InputError, Place};

/// One captured request.
#[derive(Clone)]
pub struct Capture {
    /// The method, uppercase.
    pub method: String,
    /// The URL's path, as sent (percent-encoded).
    pub path: String,
    /// The names of the query parameters, in order.
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
            path: parsed.path().to_owned(),
            query_names: parsed.query_pairs().map(|(k, _)| k.into_owned()).collect(),
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
