//! Which values of the files are credentials: each becomes a secret, wherever it is set
//! and however it is written, and one too short to be kept out of the output is an error.

use super::Cx;
use crate::diagnostic::SourceFile;
use toml::Spanned;
use toml::de::DeValue;

use crate::secrets::{MIN_SECRET_LEN, is_credential_header};

/// The kind of item whose credentials [`collect_credentials`] finds.
#[derive(Clone, Copy)]
pub(super) enum Item {
    /// `[identities.NAME]`: `bearer`, `basic.password`, `cookies`, `api_key.value`,
    /// `jwt.secret`, credential headers, and a login flow's credential headers and
    /// credential-named body fields.
    Identity,
    /// `[defaults]` and `[[route]]`: credential headers.
    Headers,
}

/// Records every credential of `item` (after `${env:…}` interpolation) as a secret and
/// reports those shorter than [`MIN_SECRET_LEN`] at their place in the file: redaction
/// finds a secret by its text, and text that short would match ordinary words, so such a
/// credential would reach the output.
pub(super) fn collect_credentials(
    cx: &mut Cx,
    file: &SourceFile,
    item: &Spanned<DeValue<'_>>,
    kind: Item,
) {
    let Some(table) = item.get_ref().as_table() else {
        return;
    };
    let field = |key: &str| table.get(key);
    headers(cx, file, field("headers"));
    if let Item::Headers = kind {
        return;
    }
    credential(cx, file, field("bearer"), None);
    for (outer, inner) in [
        ("basic", "password"),
        ("api_key", "value"),
        ("jwt", "secret"),
    ] {
        let value = field(outer)
            .and_then(|v| v.get_ref().as_table())
            .and_then(|t| t.get(inner));
        credential(cx, file, value, None);
    }
    if let Some(cookies) = field("cookies").and_then(|v| v.get_ref().as_table()) {
        for (_, value) in cookies.iter() {
            credential(cx, file, Some(value), None);
        }
    }
    if let Some(login) = field("login").and_then(|v| v.get_ref().as_table()) {
        headers(cx, file, login.get("headers"));
        if let Some(body) = login.get("body").and_then(|v| v.get_ref().as_table()) {
            for key in ["form", "json"] {
                if let Some(fields) = body.get(key) {
                    body_fields(cx, file, fields);
                }
            }
        }
    }
}

/// Headers whose name says they carry a credential (see [`is_credential_header`]).
fn headers(cx: &mut Cx, file: &SourceFile, headers: Option<&Spanned<DeValue<'_>>>) {
    let Some(headers) = headers.and_then(|h| h.get_ref().as_table()) else {
        return;
    };
    for (name, value) in headers.iter() {
        if is_credential_header(name.get_ref()) {
            credential(cx, file, Some(value), Some(name.get_ref()));
        }
    }
}

/// Fields of a login body named like credentials (`password`, `client_secret`,
/// `api_key` …), at any depth.
fn body_fields(cx: &mut Cx, file: &SourceFile, value: &Spanned<DeValue<'_>>) {
    match value.get_ref() {
        DeValue::Table(table) => {
            for (key, value) in table.iter() {
                if is_credential_header(key.get_ref()) && value.get_ref().as_str().is_some() {
                    credential(cx, file, Some(value), None);
                } else {
                    body_fields(cx, file, value);
                }
            }
        }
        DeValue::Array(items) => {
            for item in items.iter() {
                body_fields(cx, file, item);
            }
        }
        _ => {}
    }
}

/// One credential value; `header` names the header that carries it, if any.
fn credential(
    cx: &mut Cx,
    file: &SourceFile,
    value: Option<&Spanned<DeValue<'_>>>,
    header: Option<&str>,
) {
    // Values of the wrong type are the deserializer's to report.
    let Some((text, span)) = value.and_then(|v| Some((v.get_ref().as_str()?, v.span()))) else {
        return;
    };
    if text.len() < MIN_SECRET_LEN {
        cx.error(
            file,
            span,
            format!(
                "credential of {} byte{} is too short to keep out of the output",
                text.len(),
                if text.len() == 1 { "" } else { "s" }
            ),
        )
        .label(format!("at least {MIN_SECRET_LEN} bytes"))
        .help(
            "redaction finds a credential by its text, and text this short matches ordinary words; use a longer one (a deliberately invalid one too, e.g. \"invalid-token\")",
        );
        return;
    }
    match header {
        Some(name) => cx.secrets.insert_header(name, text),
        None => cx.secrets.add(text),
    }
}
