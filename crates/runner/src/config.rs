//! How a run differs from what the suite says: the environment and the command line,
//! checked before anything is sent.

use std::ffi::OsString;
use std::path::PathBuf;

use rolecall_scenario::MAX_CONCURRENCY;

use crate::errors::{RunnerError, RunnerErrorKind};
use crate::reporters::ReportSpec;

/// How a run differs from what the suite says.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    /// Requests in flight at once, from 1 to [`MAX_CONCURRENCY`]; the suite's
    /// `defaults.concurrency` when absent.
    pub concurrency: Option<usize>,
    /// Send to this base URL (`http://` or `https://`) instead of the selected target's
    /// endpoint.
    pub base_url: Option<String>,
    /// Whether writes may be sent to `base_url`. A URL given here never inherits the
    /// target's permission to write, so with `base_url` this defaults to `false`. Without
    /// `base_url` only `Some(false)` counts (it forbids writes the target allows): the
    /// target's own `allow_mutations = false` always holds.
    pub allow_mutations: Option<bool>,
    /// Reports to write (`ROLECALL_REPORT`); `rolecall run` and `rolecall test` replace
    /// them with their `--report` flags when given.
    pub reports: Vec<ReportSpec>,
    /// Record every refusal observed into this directory (`ROLECALL_RECORD`, `rolecall run
    /// --record`), for the mock's `replay` layer: see the README.
    pub record: Option<PathBuf>,
}

/// The environment variables [`RunConfig::from_env`] reads.
const CONCURRENCY: &str = "ROLECALL_CONCURRENCY";
const BASE_URL: &str = "ROLECALL_BASE_URL";
const ALLOW_MUTATIONS: &str = "ROLECALL_ALLOW_MUTATIONS";
const REPORT: &str = "ROLECALL_REPORT";
const RECORD: &str = "ROLECALL_RECORD";

impl RunConfig {
    /// The configuration the environment asks for: `ROLECALL_CONCURRENCY` (1 to
    /// [`MAX_CONCURRENCY`]), `ROLECALL_BASE_URL` (an `http://` or `https://` URL) and
    /// `ROLECALL_ALLOW_MUTATIONS` (`1`/`true` or `0`/`false`), `ROLECALL_REPORT`
    /// (`FORMAT=FILE` pairs separated by commas, in existing directories) and
    /// `ROLECALL_RECORD` (a directory to record refusals in). An empty variable counts as
    /// unset; any other value that is not one of these is an error, every one of them
    /// reported at once, so that a typo never runs a suite against the wrong place or with
    /// the wrong permission.
    pub fn from_env() -> Result<Self, RunnerError> {
        Self::from_vars(|name| std::env::var_os(name))
    }

    fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Result<Self, RunnerError> {
        let mut problems = Vec::new();
        let mut text = |name: &'static str| match var(name) {
            None => None,
            Some(value) if value.is_empty() => None,
            Some(value) => match value.into_string() {
                Ok(value) => Some(value),
                Err(_) => {
                    problems.push(format!("{name} is not valid UTF-8"));
                    None
                }
            },
        };
        let (concurrency, base_url, allow, reports, record) = (
            text(CONCURRENCY),
            text(BASE_URL),
            text(ALLOW_MUTATIONS),
            text(REPORT),
            text(RECORD),
        );
        let config = RunConfig {
            concurrency: concurrency.and_then(|value| match parse_concurrency(&value) {
                Ok(n) => Some(n),
                Err(e) => {
                    problems.push(format!("{CONCURRENCY} {e}"));
                    None
                }
            }),
            base_url: base_url.and_then(|url| match check_base_url(&url) {
                Ok(()) => Some(url),
                Err(e) => {
                    problems.push(format!("{BASE_URL} {e}"));
                    None
                }
            }),
            allow_mutations: allow.and_then(|value| match parse_switch(&value) {
                Some(allow) => Some(allow),
                None => {
                    problems.push(format!(
                        "{ALLOW_MUTATIONS} is {}: expected 1, true, 0 or false",
                        shown(&value)
                    ));
                    None
                }
            }),
            reports: reports.map_or_else(Vec::new, |value| {
                parse_reports(&value).unwrap_or_else(|e| {
                    problems.push(format!("{REPORT} is invalid: {}", e.join("; ")));
                    Vec::new()
                })
            }),
            record: record.map(PathBuf::from),
        };
        match problems.len() {
            0 => Ok(config),
            1 => Err(config_error(problems.remove(0))),
            n => Err(config_error(format!(
                "{n} invalid environment variables:\n  {}",
                problems.join("\n  ")
            ))),
        }
    }

    /// Checks what any source may have put here (the engine does before it starts): a
    /// concurrency from 1 to [`MAX_CONCURRENCY`] and an `http://` or `https://` base URL.
    pub fn validate(&self) -> Result<(), RunnerError> {
        if let Some(n) = self.concurrency
            && !(1..=MAX_CONCURRENCY).contains(&n)
        {
            return Err(config_error(format!(
                "concurrency {n} is out of range: expected 1 to {MAX_CONCURRENCY}"
            )));
        }
        if let Some(url) = &self.base_url {
            check_base_url(url).map_err(|e| config_error(format!("base URL {e}")))?;
        }
        Ok(())
    }
}

fn config_error(message: String) -> RunnerError {
    RunnerError::new(RunnerErrorKind::Config, message)
}

/// A value quoted for an error message. Values of these variables are numbers and
/// switches, but a long one is cut: a mistaken paste may be anything.
fn shown(value: &str) -> String {
    const MAX: usize = 24;
    match value.char_indices().nth(MAX) {
        None => format!("`{}`", value.escape_debug()),
        Some((at, _)) => format!("`{}…`", value[..at].escape_debug()),
    }
}

/// `FORMAT=FILE,FORMAT=FILE`: every problem, each spec's directory checked to exist.
/// Whether it is writable is found when the reports are prepared, still before anything
/// is sent.
fn parse_reports(value: &str) -> Result<Vec<ReportSpec>, Vec<String>> {
    let mut problems = Vec::new();
    let mut specs = Vec::new();
    for spec in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match spec.parse::<ReportSpec>() {
            Ok(spec) => {
                let dir = match spec.path.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => dir,
                    _ => std::path::Path::new("."),
                };
                if dir.is_dir() {
                    specs.push(spec);
                } else {
                    problems.push(format!(
                        "no directory `{}` for report `{}`",
                        dir.display(),
                        spec.path.display()
                    ));
                }
            }
            Err(e) => problems.push(e),
        }
    }
    match problems.is_empty() {
        true => Ok(specs),
        false => Err(problems),
    }
}

fn parse_concurrency(value: &str) -> Result<usize, String> {
    let expected = format!("expected a whole number from 1 to {MAX_CONCURRENCY}");
    // Digits only: `+4`, ` 4` and `4.0` are typos, not numbers of requests. A number too
    // large for `usize` is out of range like any other.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("is {}: {expected}", shown(value)));
    }
    match value.parse::<usize>() {
        Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => Ok(n),
        _ => Err(format!("is {}, out of range: {expected}", shown(value))),
    }
}

/// Why `url` cannot be a base URL, as a phrase that follows its name ("ROLECALL_BASE_URL
/// has no host"). The URL itself is not repeated: it may carry a credential (user info, a
/// token in the query). Stricter than URL parsing, which forgives text that was not meant
/// as it reads.
pub fn check_base_url(url: &str) -> Result<(), String> {
    // URL parsing drops tabs, newlines and surrounding spaces silently.
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("has spaces or control characters".to_owned());
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("is not a valid URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "has scheme `{}`: expected an http:// or https:// URL",
            parsed.scheme()
        ));
    }
    // WHATWG parsing also forgives `http:///host` and `http:host`: the host must follow `//`.
    let authority = url.split_once("://").map_or("", |(_, rest)| rest);
    if parsed.host_str().is_none_or(str::is_empty)
        || authority.is_empty()
        || authority.starts_with('/')
    {
        return Err("has no host after `//`".to_owned());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("has a `?query` or `#fragment`: request paths are appended to it".to_owned());
    }
    Ok(())
}

fn parse_switch(value: &str) -> Option<bool> {
    if value == "1" || value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value == "0" || value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a configuration holds: concurrency, base URL, permission to write.
    type Read<'a> = (Option<usize>, Option<&'a str>, Option<bool>);

    #[track_caller]
    fn check(vars: &[(&str, &str)], expect: Result<Read<'_>, &str>) {
        let got = RunConfig::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        });
        match (got, expect) {
            (Ok(config), Ok((concurrency, base_url, allow))) => assert_eq!(
                (
                    config.concurrency,
                    config.base_url.as_deref(),
                    config.allow_mutations
                ),
                (concurrency, base_url, allow)
            ),
            (Err(e), Err(message)) => {
                assert_eq!(e.kind(), &RunnerErrorKind::Config);
                assert_eq!(e.to_string(), message);
            }
            (got, expect) => panic!("got {got:?}, expected {expect:?}"),
        }
    }

    #[test]
    fn valid_and_empty_values_are_read() {
        check(&[], Ok((None, None, None)));
        check(
            &[(CONCURRENCY, ""), (BASE_URL, ""), (ALLOW_MUTATIONS, "")],
            Ok((None, None, None)),
        );
        check(
            &[
                (CONCURRENCY, "4096"),
                (BASE_URL, "https://staging.example.com/api"),
                (ALLOW_MUTATIONS, "1"),
            ],
            Ok((
                Some(4096),
                Some("https://staging.example.com/api"),
                Some(true),
            )),
        );
        check(
            &[(CONCURRENCY, "1"), (ALLOW_MUTATIONS, "TRUE")],
            Ok((Some(1), None, Some(true))),
        );
        check(&[(ALLOW_MUTATIONS, "0")], Ok((None, None, Some(false))));
        check(&[(ALLOW_MUTATIONS, "false")], Ok((None, None, Some(false))));
    }

    #[test]
    fn every_invalid_concurrency_is_an_error() {
        let range = "expected a whole number from 1 to 4096";
        for (value, problem) in [
            ("0", format!("is `0`, out of range: {range}")),
            ("4097", format!("is `4097`, out of range: {range}")),
            (
                "18446744073709551616",
                format!("is `18446744073709551616`, out of range: {range}"),
            ),
            (
                "99999999999999999999999999999",
                format!("is `999999999999999999999999…`, out of range: {range}"),
            ),
            ("-1", format!("is `-1`: {range}")),
            ("+4", format!("is `+4`: {range}")),
            (" 4", format!("is ` 4`: {range}")),
            ("4.0", format!("is `4.0`: {range}")),
            ("many", format!("is `many`: {range}")),
            ("4\n", format!("is `4\\n`: {range}")),
        ] {
            check(
                &[(CONCURRENCY, value)],
                Err(&format!("{CONCURRENCY} {problem}")),
            );
        }
    }

    #[test]
    fn every_invalid_base_url_is_an_error_that_does_not_repeat_it() {
        for (value, problem) in [
            (
                "staging.example.com",
                "is not a valid URL (relative URL without a base)",
            ),
            ("http://", "is not a valid URL (empty host)"),
            (
                "ftp://files.example.com",
                "has scheme `ftp`: expected an http:// or https:// URL",
            ),
            (
                "file:///etc/passwd",
                "has scheme `file`: expected an http:// or https:// URL",
            ),
            ("http://[::1", "is not a valid URL (invalid IPv6 address)"),
            (
                "http://user:hunter22@exa mple.com",
                "has spaces or control characters",
            ),
            ("http:///example.com", "has no host after `//`"),
            ("http:example.com", "has no host after `//`"),
            (
                "http://example.com/?token=abcd",
                "has a `?query` or `#fragment`: request paths are appended to it",
            ),
        ] {
            check(&[(BASE_URL, value)], Err(&format!("{BASE_URL} {problem}")));
        }
    }

    #[test]
    fn an_allow_mutations_value_that_is_not_a_switch_is_an_error() {
        for value in ["yes", "2", " 1", "on", "truee"] {
            check(
                &[(ALLOW_MUTATIONS, value)],
                Err(&format!(
                    "{ALLOW_MUTATIONS} is `{}`: expected 1, true, 0 or false",
                    value.escape_debug()
                )),
            );
        }
    }

    #[test]
    fn every_invalid_variable_is_reported_at_once() {
        check(
            &[
                (CONCURRENCY, "0"),
                (BASE_URL, "nope"),
                (ALLOW_MUTATIONS, "yes"),
            ],
            Err("3 invalid environment variables:\n  \
                 ROLECALL_CONCURRENCY is `0`, out of range: expected a whole number from 1 to 4096\n  \
                 ROLECALL_BASE_URL is not a valid URL (relative URL without a base)\n  \
                 ROLECALL_ALLOW_MUTATIONS is `yes`: expected 1, true, 0 or false"),
        );
    }

    #[test]
    fn reports_are_read_with_every_problem_at_once() {
        let read = |value: &str| {
            RunConfig::from_vars(|name| (name == REPORT).then(|| OsString::from(value)))
        };
        let config = read("json=a.json, json=./b.json,").unwrap();
        let paths: Vec<_> = config.reports.iter().map(|r| r.path.clone()).collect();
        assert_eq!(
            paths,
            [
                std::path::PathBuf::from("a.json"),
                std::path::PathBuf::from("./b.json")
            ]
        );
        assert_eq!(
            read("xml=a.xml,json=,json=no-such-directory/a.json")
                .unwrap_err()
                .to_string(),
            "ROLECALL_REPORT is invalid: unknown format `xml`: expected `json=FILE`, `junit=FILE`, `sarif=FILE`, `markdown=FILE`, `html=FILE`, `github`; \
             no file after `json=`; \
             no directory `no-such-directory` for report `no-such-directory/a.json`"
        );
    }

    #[test]
    fn validate_holds_any_source_to_the_same_bounds() {
        let config = |concurrency, base_url: Option<&str>| RunConfig {
            concurrency,
            base_url: base_url.map(str::to_owned),
            allow_mutations: None,
            reports: Vec::new(),
            record: None,
        };
        assert!(
            config(Some(64), Some("http://127.0.0.1:8080"))
                .validate()
                .is_ok()
        );
        for bad in [
            config(Some(0), None),
            config(Some(usize::MAX), None),
            config(None, Some("127.0.0.1:8080")),
        ] {
            assert_eq!(bad.validate().unwrap_err().kind(), &RunnerErrorKind::Config);
        }
    }
}
