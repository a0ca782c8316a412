//! Values as written: statuses, durations, regexes, request lines, bodies.

use super::{Cx, backticked};
use crate::diagnostic::{SourceFile, did_you_mean};
use crate::load::locate;
use crate::model::{Body, Identity, Method, StatusMatch};
use crate::raw::{BodyDef, StatusValue};
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;
use toml::Spanned;

pub(super) fn parse_status(
    cx: &mut Cx,
    file: &SourceFile,
    value: &Spanned<StatusValue>,
) -> Option<StatusMatch> {
    match value.get_ref() {
        StatusValue::Code(code) if (100..=599).contains(code) => {
            Some(StatusMatch::Exact(u16::try_from(*code).ok()?))
        }
        StatusValue::Code(code) => {
            cx.error(file, value.span(), format!("invalid status {code}"))
                .label("not an HTTP status")
                .help(
                    "statuses are 100-599; write a class such as \"4xx\" to accept any of a class",
                );
            None
        }
        StatusValue::Text(text) => {
            let bytes = text.as_bytes();
            if bytes.len() == 3 && (b'1'..=b'5').contains(&bytes[0]) && &text[1..] == "xx" {
                Some(StatusMatch::Class(bytes[0] - b'0'))
            } else {
                let help = text
                    .parse::<i64>()
                    .ok()
                    .map(|n| format!("write the number without quotes: `{n}`"))
                    .unwrap_or_else(|| {
                        "write a status such as 403 or a class such as \"2xx\"".to_owned()
                    });
                cx.error(file, value.span(), format!("invalid status `{text}`"))
                    .label("not a status or status class")
                    .help(help);
                None
            }
        }
    }
}

/// Parses "5s", "1h 30m" or, when `signed`, "-1h" into seconds.
pub(super) fn parse_duration(
    cx: &mut Cx,
    file: &SourceFile,
    value: &Spanned<String>,
    signed: bool,
) -> Option<(Duration, bool)> {
    let text = value.get_ref().trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) if signed => (true, rest.trim_start()),
        _ => (false, text),
    };
    match humantime::parse_duration(digits) {
        Ok(d) => Some((d, negative)),
        Err(e) => {
            cx.error(
                file,
                value.span(),
                format!("invalid duration `{text}`: {e}"),
            )
            .label("not a duration")
            .help(if signed {
                "write a duration such as \"30s\", \"5m\", \"1h\" or \"-1h\""
            } else {
                "write a duration such as \"500ms\", \"5s\" or \"1m\""
            });
            None
        }
    }
}

pub(super) fn signed_seconds(
    cx: &mut Cx,
    file: &SourceFile,
    value: &Spanned<String>,
) -> Option<i64> {
    const HUNDRED_YEARS: u64 = 100 * 365 * 24 * 3600;
    let (d, negative) = parse_duration(cx, file, value, true)?;
    if d.as_secs() > HUNDRED_YEARS {
        cx.error(file, value.span(), "a token lifetime beyond 100 years")
            .label("too long")
            .help("JWT times are seconds since 1970; use a realistic lifetime such as \"1h\"");
        return None;
    }
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    Some(if negative { -secs } else { secs })
}

pub(super) fn positive_duration(
    cx: &mut Cx,
    file: &SourceFile,
    value: &Spanned<String>,
) -> Option<Duration> {
    let (d, _) = parse_duration(cx, file, value, false)?;
    if d.is_zero() {
        cx.error(file, value.span(), "a timeout must be longer than zero")
            .label("zero");
        return None;
    }
    Some(d)
}

pub(super) fn compile_regex(
    cx: &mut Cx,
    file: &SourceFile,
    value: &Spanned<String>,
) -> Option<regex::Regex> {
    match regex::Regex::new(value.get_ref()) {
        Ok(re) => Some(re),
        Err(e) => {
            let detail = e.to_string();
            let last = detail.lines().last().unwrap_or("").trim().to_owned();
            cx.error(file, value.span(), "invalid regular expression")
                .label(last);
            None
        }
    }
}

pub(super) fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => serde_json::Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => serde_json::Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

pub(super) fn pairs(map: Option<&BTreeMap<String, String>>) -> Vec<(String, String)> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// A request line: `METHOD /path?query`.
pub(super) struct RequestLine {
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) placeholders: Vec<String>,
}

pub(super) fn parse_request_line(
    cx: &mut Cx,
    file: &SourceFile,
    value: &Spanned<String>,
) -> Option<RequestLine> {
    let text = value.get_ref();
    let mut parts = text.split_whitespace();
    let (Some(method), Some(path), None) = (parts.next(), parts.next(), parts.next()) else {
        cx.error(file, value.span(), format!("invalid request line `{text}`"))
            .label("expected `METHOD /path`")
            .help("write a method and a path separated by one space, e.g. \"GET /v1/projects\"");
        return None;
    };
    let method_span = locate(file, value.span(), method);
    let method =
        match Method::parse(method) {
            Some(m) => m,
            None => {
                let upper = method.to_ascii_uppercase();
                let help = if Method::parse(&upper).is_some() {
                    Some(format!("methods are uppercase: `{upper}`"))
                } else {
                    did_you_mean(&upper, Method::NAMES)
                };
                cx.error(file, method_span, format!("unknown method `{method}`"))
                    .label("not an HTTP method rolecall sends")
                    .help(help.unwrap_or_else(|| {
                        format!("expected one of {}", backticked(&Method::NAMES))
                    }));
                return None;
            }
        };
    let path_span = locate(file, value.span(), path);
    if !path.starts_with('/') {
        cx.error(
            file,
            path_span,
            format!("path `{path}` must start with `/`"),
        )
        .label("not an absolute path")
        .help("paths are relative to the target's base URL, e.g. \"/v1/projects\"");
        return None;
    }
    let is_dot = |segment: &str| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    };
    let path_only = path.split(['?', '#']).next().unwrap_or(path);
    if path_only.split('/').any(is_dot) {
        cx.error(file, path_span, format!("path `{path}` has a `.` or `..` segment"))
            .label("removed before sending")
            .help("URLs drop dot segments (RFC 3986), so this path would be sent normalised and test nothing; write the normalised path, or test traversal with an encoded form such as `..%2f`");
        return None;
    }
    let mut placeholders = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}');
        let name = close.map(|c| &after[..c]);
        match name {
            Some(name)
                if name.split('.').count() <= 2
                    && name.split('.').all(|part| {
                        !part.is_empty()
                            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    }) =>
            {
                placeholders.push(name.to_owned());
                rest = &after[name.len() + 1..];
            }
            _ => {
                cx.error(file, path_span, "invalid placeholder in path")
                    .label("expected `{name}` or `{fixture.capture}` with letters, digits or `_`")
                    .help("placeholders are filled from identity variables, e.g. `/v1/tenants/{tenant}`, or from a fixture's captures, e.g. `/v1/docs/{doc.id}`");
                return None;
            }
        }
    }
    if rest.contains('}') {
        cx.error(file, path_span, "unmatched `}` in path")
            .label("here");
        return None;
    }
    Some(RequestLine {
        method,
        path: path.to_owned(),
        placeholders,
    })
}

pub(super) fn parse_body(
    cx: &mut Cx,
    file: &SourceFile,
    def: &BodyDef,
    span: Range<usize>,
) -> Option<Body> {
    let count = usize::from(def.json.is_some())
        + usize::from(def.form.is_some())
        + usize::from(def.raw.is_some());
    if count != 1 {
        cx.error(
            file,
            span,
            "a body has exactly one of `json`, `form` or `raw`",
        )
        .label(if count == 0 {
            "empty body"
        } else {
            "more than one kind of body"
        });
        return None;
    }
    if let Some(json) = &def.json {
        return Some(Body::Json(toml_to_json(json.get_ref())));
    }
    if let Some(form) = &def.form {
        return Some(Body::Form(pairs(Some(form))));
    }
    def.raw.as_ref().map(|raw| Body::Raw {
        text: raw.clone(),
        content_type: def.content_type.clone(),
    })
}

/// Reports each `{var}` of a request that some of `identities` have no value for;
/// `false` when one is missing.
pub(super) fn check_vars(
    cx: &mut Cx,
    file: &SourceFile,
    span: Range<usize>,
    placeholders: &[String],
    identities: &[&Identity],
) -> bool {
    let mut ok = true;
    for var in placeholders.iter().filter(|v| !v.contains('.')) {
        let missing: Vec<&str> = identities
            .iter()
            .filter(|i| var != "identity" && !i.vars.contains_key(var))
            .map(|i| i.name.as_str())
            .collect();
        if missing.is_empty() {
            continue;
        }
        ok = false;
        let at = locate(file, span.clone(), &format!("{{{var}}}"));
        let shown: Vec<&str> = missing.iter().take(3).copied().collect();
        let more = if missing.len() > 3 {
            format!(" and {} more", missing.len() - 3)
        } else {
            String::new()
        };
        cx.error(
            file,
            at,
            format!(
                "no value for `{{{var}}}` for identity {}{more}",
                backticked(&shown)
            ),
        )
        .label("placeholder without a value")
        .help(format!(
            "set `{var}` in the suite's `[vars]` or in each identity's `vars`"
        ));
    }
    ok
}

pub(super) fn render_path(path: &str, identity: &str, vars: &BTreeMap<String, String>) -> String {
    if !path.contains('{') {
        return path.to_owned();
    }
    let mut out = String::with_capacity(path.len() + 16);
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').unwrap_or(after.len());
        let var = &after[..close];
        match vars.get(var) {
            Some(v) => out.push_str(v),
            None if var == "identity" => out.push_str(identity),
            // A fixture's capture is only known once the fixture ran.
            None if var.contains('.') => {
                out.push('{');
                out.push_str(var);
                out.push('}');
            }
            None => {}
        }
        rest = after.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}
