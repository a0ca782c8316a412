//! Command-line values, checked before any file is read or any request is sent: clap
//! reports a bad one as a usage error, which exits 2.

use clap::builder::RangedU64ValueParser;
use rolecall_runner::ReportSpec;
use rolecall_scenario::MAX_CONCURRENCY;

/// `--concurrency`: 1 to [`MAX_CONCURRENCY`], so an absurd value is a usage error, never a
/// panic or a runtime asked for millions of tasks.
pub(crate) fn concurrency() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..=MAX_CONCURRENCY as u64)
}

/// `--base-url`: an `http://` or `https://` URL that names its host, with no query or
/// fragment (paths are appended to it); the same check as `ROLECALL_BASE_URL`'s. The text
/// is kept as typed. A rejected URL is not repeated in the error (clap's own parsers
/// would): it may carry a credential in its user info or query.
#[derive(Clone)]
pub(crate) struct BaseUrl;

impl clap::builder::TypedValueParser for BaseUrl {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let text = value.to_str().unwrap_or("\u{fffd}");
        base_url(text).map_err(|problem| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for `--base-url`: {problem}\n"),
            )
            .with_cmd(cmd)
        })
    }
}

fn base_url(text: &str) -> Result<String, String> {
    rolecall_runner::check_base_url(text)
        .map(|()| text.to_owned())
        .map_err(|e| {
            format!("the URL {e}; expected e.g. `https://staging.example.com` or `http://127.0.0.1:8080`")
        })
}

/// `--report FORMAT=FILE`: a known format and a file name (whether it can be written is
/// checked before the run, with every other report).
pub(crate) fn report(spec: &str) -> Result<ReportSpec, String> {
    spec.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_name_a_host_after_the_scheme() {
        for ok in [
            "http://127.0.0.1:8080",
            "https://staging.example.com/",
            "https://staging.example.com/api",
            "http://[::1]:80",
        ] {
            assert_eq!(base_url(ok).as_deref(), Ok(ok));
        }
        for bad in [
            "",
            "staging.example.com",
            "127.0.0.1:8080",
            "ftp://example.com",
            "http://",
            "http:///example.com",
            "http:example.com",
            "http://:80",
            "https://exa mple.com",
            "http://example.com\n",
            "http://example.com/?a=1",
            "http://example.com/#top",
        ] {
            assert!(base_url(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
