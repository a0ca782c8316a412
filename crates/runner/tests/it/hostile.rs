//! A hostile target on loopback: it echoes every credential it receives back, encoded the
//! way real stacks encode it, and records each encoded form it sent, so that a test can
//! look for them in rolecall's output. Its encoders are written here, independently of
//! the redaction's own.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// The credentials the hostile-target tests send, with characters every encoding changes:
/// `/`, `+`, `&`, `"`, `<`, `>`, a space and (where a header may carry it, inside `Basic`)
/// non-ASCII. The bearer token and the password are read from the environment
/// (`HOSTILE_BEARER`, `HOSTILE_PASSWORD`), the others are written in the file.
pub(crate) const BEARER: &str = "tok/en +&\"<42>";
pub(crate) const PASSWORD: &str = "p@ss w/rd+&\"<é>";
pub(crate) const API_KEY: &str = "k3y/+&\"<v>=";
pub(crate) const AUTH_TOKEN: &str = "hdr/tok+&<x>";
pub(crate) const COOKIE: &str = "ck/v+&x<1>";

/// A suite file whose target is `url` and whose identities send every credential above.
pub(crate) fn suite_file(url: &str) -> String {
    format!(
        r#"
[targets.t]
base_url = "{url}"
[identities.bearer]
bearer = "${{env:HOSTILE_BEARER}}"
[identities.basic]
basic = {{ username = "alice", password = "${{env:HOSTILE_PASSWORD}}" }}
[identities.keyed]
api_key = {{ header = "X-Api-Key", value = {API_KEY:?} }}
headers = {{ X-Auth-Token = {AUTH_TOKEN:?} }}
[identities.cookie]
cookies = {{ sid = {COOKIE:?} }}
"#
    )
}

/// One way the target writes a credential back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Percent-encoded, upper-case hex, in a redirect's query (`Location`).
    PercentUpper,
    /// Percent-encoded, lower-case hex, in a redirect's query.
    PercentLower,
    /// Encoding-encoded (`+` for a space) in a redirect's query.
    FormEncoded,
    /// In a JSON error body, PHP-style: `\/` and `\uxxxx` for non-ASCII.
    JsonSlash,
    /// In a JSON error body, .NET-style: `\u0022`, `\u002B` … and `\uXXXX`.
    JsonUnicode,
    /// Base64 and base64url of what was sent (`user:password`, the whole header value),
    /// alone and inside a longer encoded text.
    Base64,
    /// HTML entities in an error page, named and numeric.
    Html,
    /// In response headers the failure message quotes (`WWW-Authenticate`, `Server`,
    /// `Location`, `X-Cache`, `Via`).
    Headers,
}

impl Encoding {
    pub(crate) const ALL: [Encoding; 8] = [
        Encoding::PercentUpper,
        Encoding::PercentLower,
        Encoding::FormEncoded,
        Encoding::JsonSlash,
        Encoding::JsonUnicode,
        Encoding::Base64,
        Encoding::Html,
        Encoding::Headers,
    ];

    pub(crate) fn path(self) -> &'static str {
        match self {
            Encoding::PercentUpper => "/percent-upper",
            Encoding::PercentLower => "/percent-lower",
            Encoding::FormEncoded => "/form-encoded",
            Encoding::JsonSlash => "/json-slash",
            Encoding::JsonUnicode => "/json-unicode",
            Encoding::Base64 => "/base64",
            Encoding::Html => "/html",
            Encoding::Headers => "/headers",
        }
    }

    fn from_path(path: &str) -> Option<Encoding> {
        Encoding::ALL.into_iter().find(|f| f.path() == path)
    }
}

/// An encoded credential the target sent back.
#[derive(Debug, Clone)]
pub(crate) struct Echo {
    pub(crate) form: Encoding,
    /// The text as sent.
    pub(crate) text: String,
    /// Whether every character of `text` depends on the secret alone. Base64 of a longer
    /// text is recorded by its secret part only (`strict = false`): its edges also
    /// encode the bytes around the secret.
    pub(crate) strict: bool,
}

impl Echo {
    /// How this echo shows in `output`, if it does: whole, or for a strict echo any
    /// 12-character piece of it.
    pub(crate) fn leak_in(&self, output: &str) -> Option<String> {
        if output.contains(&self.text) {
            return Some(format!("{:?} {}", self.form, self.text));
        }
        if !self.strict {
            return None;
        }
        let starts: Vec<usize> = self.text.char_indices().map(|(i, _)| i).collect();
        (0..starts.len().saturating_sub(11))
            .map(|i| &self.text[starts[i]..starts.get(i + 12).copied().unwrap_or(self.text.len())])
            .find(|piece| output.contains(piece))
            .map(|piece| format!("{:?} {piece} (of {})", self.form, self.text))
    }
}

#[derive(Clone, Default)]
struct Echoes(Arc<Mutex<Vec<Echo>>>);

/// A running hostile target; stops with its runtime when dropped.
pub(crate) struct Hostile {
    addr: std::net::SocketAddr,
    echoes: Echoes,
    _runtime: tokio::runtime::Runtime,
}

impl Hostile {
    pub(crate) fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let echoes = Echoes::default();
        let app = Router::new().fallback(answer).with_state(echoes.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Hostile {
            addr,
            echoes,
            _runtime: runtime,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every encoded credential sent back so far.
    pub(crate) fn echoes(&self) -> Vec<Echo> {
        self.echoes.0.lock().unwrap().clone()
    }
}

/// The credentials of a request, as the target can read them: each credential header
/// whole, the token after an authentication scheme, `Basic` decoded into `user:password`
/// and the password, and each cookie.
fn credentials(headers: &HeaderMap) -> Vec<String> {
    let mut found = Vec::new();
    for name in ["authorization", "x-api-key", "x-auth-token", "cookie"] {
        let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        found.push(value.to_owned());
        if let Some(("Basic", token)) = value.split_once(' ') {
            let pair = String::from_utf8(STANDARD.decode(token).unwrap()).unwrap();
            found.push(pair.split_once(':').unwrap().1.to_owned());
            found.push(pair);
        } else if let Some(("Bearer", token)) = value.split_once(' ') {
            found.push(token.to_owned());
        } else if name == "cookie" {
            found.extend(
                value
                    .split("; ")
                    .filter_map(|c| c.split_once('=').map(|(_, v)| v.to_owned())),
            );
        }
    }
    found
}

fn percent(text: &str, upper: bool) -> String {
    text.bytes()
        .map(|b| match b {
            b if b.is_ascii_alphanumeric() => char::from(b).to_string(),
            b if upper => format!("%{b:02X}"),
            b => format!("%{b:02x}"),
        })
        .collect()
}

fn form_encoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn json_slash(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            c if c.is_ascii() => out.push(c),
            c => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out
}

fn json_unicode(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii() && !"\"<>&'+`".contains(c) => out.push(c),
            c => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
    }
    out
}

fn html_named(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#x27;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn html_numeric(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("&#{};", u32::from(c))
            }
        })
        .collect()
}

/// `text` inside a longer base64 text: the whole encoding, and the characters only
/// `text` decides (those whose six bits all fall within its bytes).
fn base64_inside(before: &str, text: &str, after: &str, url: bool) -> (String, String) {
    let whole = format!("{before}{text}{after}");
    let encoded = if url {
        URL_SAFE_NO_PAD.encode(&whole)
    } else {
        STANDARD.encode(&whole)
    };
    let start = (8 * before.len()).div_ceil(6);
    let end = 8 * (before.len() + text.len()) / 6;
    let core = encoded[start..end].to_owned();
    (encoded, core)
}

async fn answer(
    axum::extract::State(echoes): axum::extract::State<Echoes>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path();
    if path == "/landing" {
        return (StatusCode::OK, "landed").into_response();
    }
    // `/unreachable`: the percent-encoded redirect, to a port nothing listens on. Followed,
    // it is an error, not a response, whose text must not carry a credential either.
    let unreachable = path == "/unreachable";
    let form = if unreachable {
        Encoding::PercentUpper
    } else {
        match Encoding::from_path(path) {
            Some(form) => form,
            None => return (StatusCode::NOT_FOUND, "no such form").into_response(),
        }
    };
    let credentials = credentials(&headers);
    let mut sent = Vec::new();
    let mut echo = |text: String, strict: bool| {
        sent.push(Echo {
            form,
            text: text.clone(),
            strict,
        });
        text
    };
    let response = match form {
        Encoding::PercentUpper | Encoding::PercentLower | Encoding::FormEncoded => {
            let query: Vec<String> = credentials
                .iter()
                .map(|c| match form {
                    Encoding::PercentUpper => echo(percent(c, true), true),
                    Encoding::PercentLower => echo(percent(c, false), true),
                    _ => echo(form_encoded(c), true),
                })
                .map(|c| format!("c={c}"))
                .collect();
            let query = query.join("&");
            let location = if unreachable {
                format!("http://127.0.0.1:9/next?{query}")
            } else {
                format!("/login?{query}")
            };
            (StatusCode::FOUND, [("location", location)], "see other").into_response()
        }
        Encoding::JsonSlash | Encoding::JsonUnicode => {
            let echoed: Vec<String> = credentials
                .iter()
                .map(|c| match form {
                    Encoding::JsonSlash => echo(json_slash(c), true),
                    _ => echo(json_unicode(c), true),
                })
                .map(|c| format!("\"{c}\""))
                .collect();
            let body = format!(
                r#"{{"error":"invalid_token","received":[{}]}}"#,
                echoed.join(",")
            );
            (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/json")],
                body,
            )
                .into_response()
        }
        Encoding::Base64 => {
            let mut lines = Vec::new();
            for c in &credentials {
                lines.push(echo(STANDARD.encode(c), true));
                lines.push(echo(URL_SAFE_NO_PAD.encode(c), true));
                for url in [false, true] {
                    let (whole, core) = base64_inside("auth=", c, ";", url);
                    echo(core, false);
                    lines.push(whole);
                }
            }
            (StatusCode::BAD_REQUEST, lines.join("\n")).into_response()
        }
        Encoding::Html => {
            let items: String = credentials
                .iter()
                .map(|c| {
                    format!(
                        "<li>{}</li><li>{}</li>",
                        echo(html_named(c), true),
                        echo(html_numeric(c), true)
                    )
                })
                .collect();
            let body = format!(
                "<html><body><h1>400 Bad Request</h1><p>Rejected credentials:</p><ul>{items}</ul></body></html>"
            );
            (
                StatusCode::BAD_REQUEST,
                [("content-type", "text/html")],
                body,
            )
                .into_response()
        }
        Encoding::Headers => {
            let mut response = (StatusCode::BAD_REQUEST, "see the headers").into_response();
            let h = response.headers_mut();
            for c in &credentials {
                let mut put = |name: &'static str, value: String| {
                    if let Ok(value) = HeaderValue::from_str(&value) {
                        h.append(name, value);
                    }
                };
                put(
                    "www-authenticate",
                    format!(
                        "Bearer error=\"invalid_token\", error_description=\"{}\"",
                        echo(percent(c, true), true)
                    ),
                );
                put(
                    "server",
                    format!("echo/{}", echo(URL_SAFE_NO_PAD.encode(c), true)),
                );
                put("x-cache", echo(percent(c, false), true));
                put("via", echo(html_numeric(c), true));
                put("location", format!("/?t={}", echo(form_encoded(c), true)));
            }
            response
        }
    };
    echoes.0.lock().unwrap().extend(sent);
    response
}
