//! Recording refusals (`rolecall run --record DIR`, `ROLECALL_RECORD=DIR`): every refusal
//! a run observes is saved as two files a person can read and edit, a TOML description and
//! the body, under `DIR/<route file>/<route>/<identity>.{toml,body}`. The mock's `replay`
//! layer answers matching requests with them, so a refusal seen in production reproduces
//! offline, byte for byte.
//!
//! What is written is what the run's result kept: secrets redacted (every form, through
//! [`Redacted`]), volatile values (the request id, dates, UUIDs, ports, long hex ids)
//! scrubbed as in snapshots ([`snapshot::scrub`]), and at most the 16 KiB excerpt of the
//! body a result keeps (a cut body says so in `truncated`). Bypass variants are not
//! recorded: their refusals repeat their case's.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rolecall_scenario::{Decision, Layer, RECORDINGS_MARKER, Redacted, Secrets, credential_digest};
use serde::Serialize;

use crate::errors::{RunnerError, RunnerErrorKind};
use crate::reporter::{CaseFinished, Reporter};
use crate::snapshot;

/// Response headers a recording leaves out: the framing hyper writes itself when the
/// mock replays the response, and the date, which is volatile and which it adds.
const FRAMING: [&str; 6] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "date",
    "upgrade",
];

/// How a recording recognises the identity that was refused, without its credentials.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Credential {
    /// The identity's credential headers, lowercase, in the order they are hashed; empty
    /// for an identity that sends none.
    headers: Vec<String>,
    /// Random per run; absent when `headers` is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    salt: Option<String>,
    /// [`credential_digest`] of the salt and the headers' values.
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

impl Credential {
    /// The credential of an identity that sends `headers` (name, value) as credentials.
    pub(crate) fn of(salt: &str, headers: &[(&str, &str)]) -> Self {
        if headers.is_empty() {
            return Credential {
                headers: Vec::new(),
                salt: None,
                sha256: None,
            };
        }
        let values: Vec<&str> = headers.iter().map(|(_, value)| *value).collect();
        Credential {
            headers: headers
                .iter()
                .map(|(name, _)| name.to_ascii_lowercase())
                .collect(),
            salt: Some(salt.to_owned()),
            sha256: Some(credential_digest(salt, &values)),
        }
    }
}

/// The TOML half of a recording; the mock reads it with `deny_unknown_fields`.
#[derive(Debug, Serialize)]
struct Metadata<'a> {
    case: &'a str,
    method: String,
    path: String,
    identity: &'a str,
    status: u16,
    recorded_at: &'a str,
    body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated: Option<String>,
    headers: Vec<Header>,
    credential: &'a Credential,
    verdict: Verdict<'a>,
}

/// One response header, in the order received (`[[headers]]`).
#[derive(Debug, Serialize)]
struct Header {
    name: String,
    value: String,
}

#[derive(Debug, Serialize)]
struct Verdict<'a> {
    layer: String,
    vendor: &'a str,
}

/// Writes a recording for every refusal of a run.
#[derive(Debug)]
pub(crate) struct Recorder {
    dir: PathBuf,
    recorded_at: String,
    /// Per identity, by index in the suite.
    credentials: Vec<Credential>,
}

/// A salt for this run's credential digests: random (std's hasher keys are seeded from
/// the operating system), so that equal credentials in two recordings do not compare.
pub(crate) fn salt() -> String {
    use std::hash::BuildHasher as _;
    (0..2)
        .map(|i| format!("{:016x}", std::hash::RandomState::new().hash_one(i)))
        .collect()
}

impl Recorder {
    /// Creates `dir` (and its parents) now, so a directory that cannot be written is an
    /// error before anything is sent. `credentials` holds each identity's credential.
    pub(crate) fn create(dir: &Path, credentials: Vec<Credential>) -> Result<Self, RunnerError> {
        // The marker keeps a suite that holds the recordings from reading them as routes.
        std::fs::create_dir_all(dir)
            .and_then(|()| {
                std::fs::File::create(dir.join(RECORDINGS_MARKER))?.write_all(
                    b"Refusals recorded by `rolecall run --record`, for a mock's `replay` layer.\n",
                )
            })
            .map_err(|e| {
                RunnerError::new(
                    RunnerErrorKind::Config,
                    format!("cannot record into `{}`: {e}", dir.display()),
                )
            })?;
        Ok(Recorder {
            dir: dir.to_owned(),
            recorded_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string(),
            credentials,
        })
    }

    fn write(&self, path: &Path, bytes: &[u8], secrets: &Arc<Secrets>) -> io::Result<()> {
        let mut out = Redacted::new(Arc::clone(secrets), std::fs::File::create(path)?);
        out.write_all(bytes)?;
        out.flush()
    }
}

/// Whether a response is a refusal worth recording: any status of 400 or more, a block
/// page served with 2xx (a refusal in disguise), and a redirect where the case expected a
/// refusal (to a login page) or that a layer in front of the app sent.
pub(crate) fn is_refusal(status: u16, layer: Layer, decision: Decision) -> bool {
    match status {
        400.. => true,
        200..=299 => layer == Layer::Waf,
        300..=399 => decision != Decision::Allow || layer != Layer::App,
        _ => false,
    }
}

/// A file or folder name made of the name's letters, digits, `-`, `_` and `.`; anything
/// else becomes `_`, so a name can never leave its folder.
fn file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    match cleaned.trim_matches('.') {
        "" => "_".to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

/// The request target as the runner's client sends it: the path and the query.
fn target(path: &str, query: &[(String, String)]) -> String {
    let Ok(mut url) = url::Url::parse(&format!("http://recorded.invalid{path}")) else {
        return path.to_owned();
    };
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    url[url::Position::BeforePath..].to_owned()
}

impl Reporter for Recorder {
    fn case_finished(&mut self, event: &CaseFinished<'_>) -> io::Result<()> {
        let (suite, result) = (event.suite, event.result);
        let case = &suite.cases[result.index];
        let (Some(observed), Some(attribution)) = (&result.observed, &result.attribution) else {
            return Ok(());
        };
        if case.variant.is_some()
            || !is_refusal(observed.status, attribution.layer, case.expect.decision)
        {
            return Ok(());
        }
        let route = suite.route(case);
        let identity = &suite.identity(case).name;
        let folder = self
            .dir
            .join(file_name(&route.file_name))
            .join(file_name(&route.name));
        std::fs::create_dir_all(&folder)?;
        let stem = file_name(identity);
        let request_id = observed.request_id().map(|(id, _)| id);
        let scrub = |text: &str| snapshot::scrub(text, request_id.as_deref());
        let metadata = Metadata {
            case: &case.name,
            method: route.method.to_string(),
            path: target(&case.path, &route.query),
            identity,
            status: observed.status,
            recorded_at: &self.recorded_at,
            body: format!("{stem}.body"),
            truncated: observed
                .truncated
                .map(|t| t.describe(observed.body.len()))
                .filter(|t| !t.is_empty()),
            headers: observed
                .headers
                .iter()
                .filter(|(name, _)| !FRAMING.contains(&name.as_str()))
                .map(|(name, value)| Header {
                    name: name.clone(),
                    value: scrub(value),
                })
                .collect(),
            credential: &self.credentials[case.identity],
            verdict: Verdict {
                layer: attribution.layer.to_string(),
                vendor: &attribution.vendor,
            },
        };
        let toml = toml::to_string_pretty(&metadata).map_err(io::Error::other)?;
        let text = format!(
            "# A refusal rolecall recorded: the mock's `replay` layer answers `method path`\n\
             # with it. Edit freely; the body file is served byte for byte. Without\n\
             # [credential], it answers every identity.\n{toml}"
        );
        let secrets = event.secrets;
        self.write(
            &folder.join(format!("{stem}.body")),
            scrub(&observed.body).as_bytes(),
            secrets,
        )?;
        self.write(
            &folder.join(format!("{stem}.toml")),
            text.as_bytes(),
            secrets,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_what_is_not_granted() {
        let check = |status, layer, decision, refusal| {
            assert_eq!(
                is_refusal(status, layer, decision),
                refusal,
                "{status} {layer} {decision:?}"
            );
        };
        check(403, Layer::Server, Decision::Deny, true);
        check(500, Layer::App, Decision::Allow, true);
        check(200, Layer::App, Decision::Deny, false);
        check(200, Layer::Waf, Decision::Allow, true);
        check(302, Layer::App, Decision::Unauthenticated, true);
        check(302, Layer::App, Decision::Allow, false);
        check(302, Layer::Cdn, Decision::Allow, true);
    }

    #[test]
    fn names_never_leave_their_folder() {
        assert_eq!(file_name("../etc/passwd"), "_etc_passwd");
        assert_eq!(file_name(".."), "_");
        assert_eq!(file_name("get_admin"), "get_admin");
    }

    #[test]
    fn the_target_is_the_path_and_query_as_sent() {
        assert_eq!(target("/a b", &[]), "/a%20b");
        assert_eq!(
            target("/s", &[("q".to_owned(), "x y&z".to_owned())]),
            "/s?q=x+y%26z"
        );
    }
}
