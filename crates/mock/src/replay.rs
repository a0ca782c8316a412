//! The `replay` layer: answers a request with the refusal `rolecall run --record DIR`
//! recorded for it (status, headers and body exactly as in the files); a request without
//! a recording passes to the next layer.
//!
//! A recording is matched on method, request target (path and query as sent) and the
//! caller: a recording's `[credential]` names the identity's credential headers and a
//! salted SHA-256 of their values (`rolecall_scenario::credential_digest`), which the
//! layer computes from the request's values of the same headers. An empty `headers` list
//! is the identity without credentials (it answers a request carrying no credential
//! header), and a recording without `[credential]` answers every caller. A recording of
//! the same caller wins over one without credentials, which wins over one for everyone.
//!
//! Every recording is read and checked when the configuration loads: a problem in any of
//! them (bad TOML, a missing body file, an unknown layer, a status out of range) is an
//! error at its file, line and column, all of them at once.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use rolecall_scenario::{Diagnostic, Layer, SourceFile, credential_digest};
use serde::Deserialize;
use toml::Spanned;

/// A recording larger than this (TOML or body) is a mistake, not a refusal.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Headers that carry credentials whatever the recordings say: a request carrying one is
/// not the identity without credentials.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// A recording's description, as `rolecall run --record` writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordingFile {
    /// The case that was recorded, for people.
    #[serde(rename = "case")]
    _case: Option<String>,
    method: Spanned<String>,
    path: Spanned<String>,
    /// The identity that was refused, for people.
    #[serde(rename = "identity")]
    _identity: Option<String>,
    status: Spanned<i64>,
    #[serde(rename = "recorded_at")]
    _recorded_at: Option<String>,
    /// The body's file, beside this one.
    body: Spanned<String>,
    #[serde(rename = "truncated")]
    _truncated: Option<String>,
    #[serde(default)]
    headers: Vec<Spanned<HeaderFile>>,
    credential: Option<CredentialFile>,
    verdict: VerdictFile,
}

/// `[[headers]]`: one response header, in the order it was received.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderFile {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialFile {
    headers: Vec<Spanned<String>>,
    salt: Option<String>,
    sha256: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerdictFile {
    layer: Spanned<String>,
    #[serde(rename = "vendor")]
    _vendor: Option<String>,
}

/// Who a recording answers.
#[derive(Debug)]
enum Caller {
    /// Everyone (no `[credential]`).
    Anyone,
    /// A request carrying no credential header.
    Anonymous,
    /// A request whose values of `headers` have this digest.
    Digest {
        headers: Vec<HeaderName>,
        salt: String,
        sha256: String,
    },
}

/// One recorded refusal, ready to serve.
#[derive(Debug)]
pub(crate) struct Recording {
    /// The TOML file, as the refusal log names it.
    pub(crate) file: PathBuf,
    method: Method,
    target: String,
    caller: Caller,
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
    pub(crate) layer: Layer,
}

/// Every recording of a directory.
#[derive(Debug)]
pub(crate) struct Replay {
    recordings: Vec<Arc<Recording>>,
    /// Headers whose presence means a request has credentials.
    credential_headers: Vec<HeaderName>,
}

/// Problems found in recordings, with the files they are in.
#[derive(Debug, Default)]
pub(crate) struct ReplayProblems {
    pub(crate) files: Vec<SourceFile>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl ReplayProblems {
    fn error(&mut self, file: &SourceFile, span: Range<usize>, message: String, label: &str) {
        let (line, column) = file.line_col(span.start);
        self.diagnostics.push(Diagnostic {
            message,
            path: file.path.clone(),
            span,
            label: label.to_owned(),
            help: None,
            line,
            column,
        });
    }
}

impl Replay {
    /// Reads every `*.toml` under `dir` (recursively, in path order) and its body file.
    /// `shown` is how `dir` is named in messages.
    pub(crate) fn load(dir: &Path, shown: &Path) -> Result<Replay, ReplayProblems> {
        let mut files = Vec::new();
        let mut problems = ReplayProblems::default();
        collect(dir, &mut files, &mut problems, shown);
        files.sort();
        let mut recordings = Vec::new();
        for path in &files {
            let name = shown.join(path.strip_prefix(dir).unwrap_or(path));
            match read(path) {
                Ok(text) => {
                    let file = SourceFile::new(name, text);
                    if let Some(recording) = parse(path, &file, &mut problems) {
                        recordings.push(Arc::new(recording));
                    }
                    problems.files.push(file);
                }
                Err(e) => {
                    let file = SourceFile::new(name, "");
                    problems.error(&file, 0..0, e, "");
                    problems.files.push(file);
                }
            }
        }
        if !problems.diagnostics.is_empty() {
            return Err(problems);
        }
        let mut credential_headers: Vec<HeaderName> = CREDENTIAL_HEADERS
            .iter()
            .map(|h| HeaderName::from_static(h))
            .collect();
        for recording in &recordings {
            if let Caller::Digest { headers, .. } = &recording.caller {
                for header in headers {
                    if !credential_headers.contains(header) {
                        credential_headers.push(header.clone());
                    }
                }
            }
        }
        Ok(Replay {
            recordings,
            credential_headers,
        })
    }

    /// How many recordings there are.
    pub(crate) fn len(&self) -> usize {
        self.recordings.len()
    }

    /// The recording that answers `method target` from a caller sending `headers`.
    pub(crate) fn find(
        &self,
        method: &Method,
        target: &str,
        headers: &HeaderMap,
    ) -> Option<Arc<Recording>> {
        let candidates = || {
            self.recordings
                .iter()
                .filter(|r| r.method == method && r.target == target)
        };
        let same_caller = candidates().find(|r| match &r.caller {
            Caller::Digest {
                headers: names,
                salt,
                sha256,
            } => {
                let values: Option<Vec<&str>> = names
                    .iter()
                    .map(|name| headers.get(name).and_then(|v| v.to_str().ok()))
                    .collect();
                values.is_some_and(|values| credential_digest(salt, &values) == *sha256)
            }
            _ => false,
        });
        let anonymous = || {
            let bare = !self
                .credential_headers
                .iter()
                .any(|h| headers.contains_key(h));
            candidates().find(|r| bare && matches!(r.caller, Caller::Anonymous))
        };
        let anyone = || candidates().find(|r| matches!(r.caller, Caller::Anyone));
        same_caller.or_else(anonymous).or_else(anyone).cloned()
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>, problems: &mut ReplayProblems, shown: &Path) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            let file = SourceFile::new(shown.to_path_buf(), "");
            problems.error(&file, 0..0, format!("cannot read recordings: {e}"), "");
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => collect(&path, out, problems, shown),
            Ok(kind) if kind.is_file() && path.extension().is_some_and(|e| e == "toml") => {
                out.push(path);
            }
            _ => {}
        }
    }
}

/// A regular file of at most [`MAX_FILE_BYTES`], as text.
fn read(path: &Path) -> Result<String, String> {
    read_bytes(path).and_then(|bytes| {
        String::from_utf8(bytes.to_vec()).map_err(|_| "not valid UTF-8".to_owned())
    })
}

fn read_bytes(path: &Path) -> Result<Bytes, String> {
    let metadata = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        _ => format!("cannot read: {e}"),
    })?;
    if !metadata.is_file() {
        return Err("not a regular file".to_owned());
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} bytes: larger than the {MAX_FILE_BYTES} a recording may be",
            metadata.len()
        ));
    }
    std::fs::read(path)
        .map(Bytes::from)
        .map_err(|e| format!("cannot read: {e}"))
}

/// Checks one recording; every problem is reported, not only the first.
fn parse(path: &Path, file: &SourceFile, problems: &mut ReplayProblems) -> Option<Recording> {
    let raw: RecordingFile = match toml::from_str(&file.text) {
        Ok(raw) => raw,
        Err(e) => {
            let message = e.message().lines().next().unwrap_or_default().to_owned();
            problems.error(
                file,
                e.span().unwrap_or(0..0),
                format!("invalid recording: {message}"),
                "here",
            );
            return None;
        }
    };
    let before = problems.diagnostics.len();
    let method = Method::from_bytes(raw.method.get_ref().as_bytes()).ok();
    if method.is_none() {
        problems.error(
            file,
            raw.method.span(),
            format!("`{}` is not an HTTP method", raw.method.get_ref()),
            "not a method",
        );
    }
    if !raw.path.get_ref().starts_with('/') {
        problems.error(
            file,
            raw.path.span(),
            "the path must start with `/`".to_owned(),
            "not a path",
        );
    }
    let status = u16::try_from(*raw.status.get_ref())
        .ok()
        .filter(|s| (100..=599).contains(s))
        .and_then(|s| StatusCode::from_u16(s).ok());
    if status.is_none() {
        problems.error(
            file,
            raw.status.span(),
            format!(
                "status {} is out of range: expected 100 to 599",
                raw.status.get_ref()
            ),
            "out of range",
        );
    }
    let layer = raw.verdict.layer.get_ref().parse::<Layer>().ok();
    if layer.is_none() {
        problems.error(
            file,
            raw.verdict.layer.span(),
            format!(
                "unknown layer `{}`: expected app, waf, cdn or server",
                raw.verdict.layer.get_ref()
            ),
            "not a layer",
        );
    }
    let mut headers = Vec::new();
    for header in &raw.headers {
        let HeaderFile { name, value } = header.get_ref();
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => headers.push((name, value)),
            _ => problems.error(
                file,
                header.span(),
                format!("`{name}` cannot be sent as a header with this value"),
                "not a header",
            ),
        }
    }
    let caller = match raw.credential {
        None => Some(Caller::Anyone),
        Some(credential) if credential.headers.is_empty() => Some(Caller::Anonymous),
        Some(credential) => {
            let names: Vec<Option<HeaderName>> = credential
                .headers
                .iter()
                .map(|h| {
                    let name = HeaderName::from_bytes(h.get_ref().as_bytes()).ok();
                    if name.is_none() {
                        problems.error(
                            file,
                            h.span(),
                            format!("`{}` is not a header name", h.get_ref()),
                            "not a header name",
                        );
                    }
                    name
                })
                .collect();
            match (credential.salt, credential.sha256) {
                (Some(salt), Some(sha256)) => {
                    names
                        .into_iter()
                        .collect::<Option<Vec<_>>>()
                        .map(|headers| Caller::Digest {
                            headers,
                            salt,
                            sha256,
                        })
                }
                _ => {
                    problems.error(
                        file,
                        0..0,
                        "`[credential]` names headers but has no `salt` and `sha256`: remove the table to answer every caller".to_owned(),
                        "",
                    );
                    None
                }
            }
        }
    };
    let body_path = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(raw.body.get_ref());
    let body = match read_bytes(&body_path) {
        Ok(body) => Some(body),
        Err(e) => {
            problems.error(
                file,
                raw.body.span(),
                format!("body file `{}`: {e}", raw.body.get_ref()),
                "no such body",
            );
            None
        }
    };
    if problems.diagnostics.len() > before {
        return None;
    }
    Some(Recording {
        file: file.path.clone(),
        method: method?,
        target: raw.path.into_inner(),
        caller: caller?,
        status: status?,
        headers,
        body: body?,
        layer: layer?,
    })
}
