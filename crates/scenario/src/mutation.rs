//! What makes a request a write: an unsafe method, or a method override that names one.
//!
//! Many stacks let a request claim another method than the one on its request line:
//! gateways and frameworks read `X-HTTP-Method-Override`, `X-HTTP-Method` or
//! `X-Method-Override`, and Rails, Laravel, Symfony and Express's `method-override` read
//! a `_method` query parameter or body field. A GET that carries `_method=DELETE` may
//! delete, so a target that does not allow mutations must not receive it either.
//! Names are compared without regard to case; a value counts as a write unless it is a
//! safe method (`GET`, `HEAD`, `OPTIONS`, `TRACE`, in any case, surrounding spaces
//! ignored), so `delete`, ` PATCH`, `GET, DELETE`, an empty value or anything unknown
//! all count: an override that cannot be read is not assumed harmless.

use std::fmt;

use crate::model::{Body, Identity, Login, Method, Route, Settings};

/// Headers that stacks read as the request's real method.
pub const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// The query parameter or body field that stacks read as the request's real method.
pub const METHOD_OVERRIDE_FIELD: &str = "_method";

/// Why a request would change state on the target: what `allow_mutations` guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// The method itself writes: POST, PUT, PATCH or DELETE.
    Method(Method),
    /// A method override that names anything but a safe method.
    Override {
        /// Where the override is.
        carrier: Carrier,
        /// The header or field name, as written.
        name: String,
        /// The method it names, as written.
        value: String,
    },
}

/// Where a method override is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
    /// A field of a form body (urlencoded or multipart).
    Form,
    /// A top-level member of a JSON body.
    Json,
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mutation::Method(method) => write!(f, "{method}"),
            Mutation::Override {
                carrier,
                name,
                value,
            } => {
                let value = shown(value);
                match carrier {
                    Carrier::Header => write!(f, "method override `{name}: {value}`"),
                    Carrier::Query => write!(f, "method override `{name}={value}` in the query"),
                    Carrier::Form => {
                        write!(f, "method override `{name}={value}` in the form body")
                    }
                    Carrier::Json => write!(
                        f,
                        "method override `\"{name}\": \"{value}\"` in the JSON body"
                    ),
                }
            }
        }
    }
}

/// A value as shown in a reason: escaped and cut short (a header value may be anything).
fn shown(value: &str) -> String {
    const MAX: usize = 24;
    match value.char_indices().nth(MAX) {
        None => value.escape_debug().to_string(),
        Some((at, _)) => format!("{}…", value[..at].escape_debug()),
    }
}

/// Whether a method override's value names a safe method.
fn names_safe_method(value: &str) -> bool {
    let value = value.trim_matches([' ', '\t']);
    ["GET", "HEAD", "OPTIONS", "TRACE"]
        .iter()
        .any(|safe| safe.eq_ignore_ascii_case(value))
}

fn overriding(carrier: Carrier, name: &str, value: &str) -> Option<Mutation> {
    let is_override = match carrier {
        Carrier::Header => METHOD_OVERRIDE_HEADERS
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name.trim())),
        _ => name.trim().eq_ignore_ascii_case(METHOD_OVERRIDE_FIELD),
    };
    (is_override && !names_safe_method(value)).then(|| Mutation::Override {
        carrier,
        name: name.to_owned(),
        value: value.to_owned(),
    })
}

/// The write a set of request headers asks for, if any.
pub fn headers_mutation<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<Mutation> {
    headers
        .into_iter()
        .find_map(|(name, value)| overriding(Carrier::Header, name, value))
}

/// The write the query of `path` (what follows `?`, percent-decoded) asks for, if any.
pub fn query_mutation(path: &str) -> Option<Mutation> {
    let (_, query) = path.split_once('?')?;
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    form_mutation(Carrier::Query, query)
}

fn form_mutation(carrier: Carrier, text: &str) -> Option<Mutation> {
    // Only a text that mentions the field is decoded: `_method` may be percent-encoded,
    // but never so that none of its letters shows.
    if !text.to_ascii_lowercase().contains("method") {
        return None;
    }
    form_urlencoded::parse(text.as_bytes())
        .find_map(|(name, value)| overriding(carrier, &name, &value))
}

fn body_mutation(body: &Body) -> Option<Mutation> {
    match body {
        Body::Form(pairs) => pairs
            .iter()
            .find_map(|(name, value)| overriding(Carrier::Form, name, value)),
        Body::Json(json) => json_mutation(json),
        Body::Raw { text, content_type } => {
            let content_type = content_type.as_deref().unwrap_or("").to_ascii_lowercase();
            if content_type.contains("json") {
                serde_json::from_str(text)
                    .ok()
                    .and_then(|json| json_mutation(&json))
            } else if content_type.starts_with("multipart/") {
                multipart_mutation(text)
            } else {
                // Urlencoded, or no type at all: servers that guess read it as a form.
                form_mutation(Carrier::Form, text)
            }
        }
    }
}

fn json_mutation(json: &serde_json::Value) -> Option<Mutation> {
    let serde_json::Value::Object(members) = json else {
        return None;
    };
    members.iter().find_map(|(name, value)| {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        overriding(Carrier::Json, name, &text)
    })
}

/// A multipart body is not parsed: a part named `_method` counts as a write whatever
/// it holds, since reading the value right would take a multipart parser.
fn multipart_mutation(text: &str) -> Option<Mutation> {
    let lower = text.to_ascii_lowercase();
    let named = [r#"name="_method""#, "name=_method"]
        .iter()
        .any(|needle| lower.contains(needle));
    named.then(|| Mutation::Override {
        carrier: Carrier::Form,
        name: METHOD_OVERRIDE_FIELD.to_owned(),
        value: "(a multipart part)".to_owned(),
    })
}

impl Route {
    /// Why sending this route writes, if it does: its method, or a method override in
    /// its headers, query (the request line's or `query`) or body. A path with
    /// `{placeholders}` is only known per identity: check each case's path with
    /// [`query_mutation`] too.
    pub fn mutation(&self) -> Option<Mutation> {
        if !self.method.is_safe() {
            return Some(Mutation::Method(self.method));
        }
        headers_mutation(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .or_else(|| {
                // Placeholders are filled per identity: each case's path says.
                (!self.path.contains('{'))
                    .then(|| query_mutation(&self.path))
                    .flatten()
            })
            .or_else(|| {
                self.query
                    .iter()
                    .find_map(|(name, value)| overriding(Carrier::Query, name, value))
            })
            .or_else(|| self.body.as_ref().and_then(body_mutation))
    }
}

impl Login {
    /// Why running this login flow writes, if it does (see [`Route::mutation`]).
    pub fn mutation(&self) -> Option<Mutation> {
        if !self.method.is_safe() {
            return Some(Mutation::Method(self.method));
        }
        headers_mutation(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .or_else(|| query_mutation(&self.path))
            .or_else(|| self.body.as_ref().and_then(body_mutation))
    }
}

impl Identity {
    /// The method override among the headers this identity adds to every request, if
    /// any. A credential header named like an override (an API key or a JWT sent in
    /// `X-HTTP-Method-Override`) counts: its value is not a safe method.
    pub fn mutation(&self, settings: &Settings) -> Option<Mutation> {
        let c = &self.credentials;
        let credential = c
            .api_key
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose()))
            .chain(c.jwt.iter().map(|jwt| (jwt.header.as_str(), "(a JWT)")));
        let plain = c.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        let addresses = c
            .client_ip
            .map(|_| (settings.client_ip_header.as_str(), "(an address)"))
            .into_iter()
            .chain(
                c.country
                    .as_ref()
                    .map(|country| (settings.country_header.as_str(), country.as_str())),
            );
        let found = headers_mutation(credential.chain(plain).chain(addresses));
        // A credential's value is a secret: the reason names the header, not the value.
        match found {
            Some(Mutation::Override { carrier, name, .. })
                if c.api_key.as_ref().is_some_and(|(n, _)| *n == name) =>
            {
                Some(Mutation::Override {
                    carrier,
                    name,
                    value: "(a credential)".to_owned(),
                })
            }
            other => other,
        }
    }
}

impl Settings {
    /// The method override among the suite's `defaults.headers`, if any.
    pub fn mutation(&self) -> Option<Mutation> {
        headers_mutation(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn header(name: &str, value: &str, expect: Option<&str>) {
        assert_eq!(
            headers_mutation([(name, value)])
                .map(|m| m.to_string())
                .as_deref(),
            expect
        );
    }

    #[test]
    fn override_headers_count_unless_they_name_a_safe_method() {
        header(
            "X-HTTP-Method-Override",
            "DELETE",
            Some("method override `X-HTTP-Method-Override: DELETE`"),
        );
        header(
            "x-http-method",
            "delete",
            Some("method override `x-http-method: delete`"),
        );
        header(
            "X-METHOD-OVERRIDE",
            " PATCH",
            Some("method override `X-METHOD-OVERRIDE:  PATCH`"),
        );
        header(
            "X-HTTP-Method-Override",
            "GET, DELETE",
            Some("method override `X-HTTP-Method-Override: GET, DELETE`"),
        );
        header(
            "X-HTTP-Method-Override",
            "",
            Some("method override `X-HTTP-Method-Override: `"),
        );
        header(
            "X-HTTP-Method-Override",
            "PURGE",
            Some("method override `X-HTTP-Method-Override: PURGE`"),
        );
        for safe in ["GET", "get", " Head ", "OPTIONS", "trace"] {
            header("X-HTTP-Method-Override", safe, None);
        }
        header("X-Request-Method", "DELETE", None);
        header("Accept", "DELETE", None);
    }

    #[track_caller]
    fn query(path: &str, expect: Option<&str>) {
        assert_eq!(
            query_mutation(path).map(|m| m.to_string()).as_deref(),
            expect
        );
    }

    #[test]
    fn a_method_field_in_the_query_counts_however_it_is_spelled() {
        query(
            "/a?_method=DELETE",
            Some("method override `_method=DELETE` in the query"),
        );
        query(
            "/a?x=1&_METHOD=put",
            Some("method override `_METHOD=put` in the query"),
        );
        query(
            "/a?%5Fmethod=DEL%45TE",
            Some("method override `_method=DELETE` in the query"),
        );
        query(
            "/a?_method=+patch+",
            Some("method override `_method= patch ` in the query"),
        );
        query("/a?_method=get", None);
        query("/a?_method=GET#_method=DELETE", None);
        query("/a?method=DELETE", None);
        query("/_method=DELETE", None);
    }

    #[test]
    fn bodies_carry_overrides_in_forms_json_and_multipart() {
        let form = Body::Form(vec![("_Method".into(), "delete".into())]);
        assert_eq!(
            body_mutation(&form).unwrap().to_string(),
            "method override `_Method=delete` in the form body"
        );
        let json = Body::Json(serde_json::json!({ "name": "x", "_method": "PUT" }));
        assert_eq!(
            body_mutation(&json).unwrap().to_string(),
            "method override `\"_method\": \"PUT\"` in the JSON body"
        );
        let raw = |text: &str, ct: Option<&str>| Body::Raw {
            text: text.into(),
            content_type: ct.map(str::to_owned),
        };
        assert!(body_mutation(&raw("a=1&_method=DELETE", None)).is_some());
        assert!(
            body_mutation(&raw(
                "a=1&_method=DELETE",
                Some("application/x-www-form-urlencoded")
            ))
            .is_some()
        );
        assert!(body_mutation(&raw(r#"{"_method":"delete"}"#, Some("application/json"))).is_some());
        let multipart =
            "--b\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--b--\r\n";
        assert!(body_mutation(&raw(multipart, Some("multipart/form-data; boundary=b"))).is_some());
        assert!(body_mutation(&raw(r#"{"_method":"GET"}"#, Some("application/json"))).is_none());
        assert!(
            body_mutation(&Body::Json(
                serde_json::json!({ "nested": { "_method": "DELETE" } })
            ))
            .is_none()
        );
    }

    #[test]
    fn long_values_are_cut_in_reasons() {
        header(
            "X-HTTP-Method",
            &"A".repeat(100),
            Some(&format!(
                "method override `X-HTTP-Method: {}…`",
                "A".repeat(24)
            )),
        );
    }
}
