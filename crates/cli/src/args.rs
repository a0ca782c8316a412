//! Command-line values, checked before any file is read or any request is sent: clap
//! reports a bad one as a usage error, which exits 2.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use clap::builder::RangedU64ValueParser;
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

/// `--report FORMAT=FILE`: only `json` so far.
pub(crate) fn report(spec: &str) -> Result<PathBuf, String> {
    match spec.split_once('=') {
        Some(("json", file)) if !file.is_empty() => Ok(PathBuf::from(file)),
        Some(("json", _)) => Err("no file after `json=`".to_owned()),
        Some((format, _)) => Err(format!("unknown format `{format}`: expected `json=FILE`")),
        None => Err("expected `json=FILE`".to_owned()),
    }
}

/// A report file that is known to be writable before the run starts, and is never seen
/// half-written: the report goes to a temporary file beside it, which replaces the real
/// one only once complete (a failed run leaves an earlier report as it was).
#[derive(Debug)]
pub(crate) struct ReportFile {
    path: PathBuf,
    temp: tempfile::NamedTempFile,
}

impl ReportFile {
    /// Creates the temporary file now, so a missing or read-only directory is reported
    /// before anything is sent; it is removed again if the report is never written.
    pub(crate) fn prepare(path: &Path) -> Result<Self, String> {
        let cannot =
            |e: &dyn std::fmt::Display| format!("cannot write report `{}`: {e}", path.display());
        if path.is_dir() {
            return Err(cannot(&"it is a directory"));
        }
        // An existing report must stay writable; opening it to append changes nothing.
        if path.exists() {
            OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| cannot(&e))?;
        }
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            // Subject to the umask, as a file created the ordinary way.
            .permissions(std::fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(|e| cannot(&format!("cannot create a file in `{}`: {e}", dir.display())))?;
        Ok(ReportFile {
            path: path.to_owned(),
            temp,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the report and puts it in place.
    pub(crate) fn write(
        mut self,
        contents: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        {
            let mut out = io::BufWriter::new(self.temp.as_file_mut());
            contents(&mut out)?;
            out.flush()?;
        }
        self.temp.persist(&self.path).map(drop).map_err(|e| e.error)
    }
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

    #[test]
    fn report_specs_name_a_known_format_and_a_file() {
        assert_eq!(report("json=out.json"), Ok(PathBuf::from("out.json")));
        for bad in ["json=", "xml=out.xml", "out.json", "=out.json"] {
            assert!(report(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
