//! The reporters every output of a run is written by, and the formats `--report` and
//! `ROLECALL_REPORT` name.
//!
//! A file report is prepared (its directory checked, a temporary file created beside it)
//! before anything is sent, written as events arrive, and put in place only when the run
//! finishes: a failed run leaves an earlier report as it was.

mod file;
mod finding;
mod github;
mod html;
mod json;
mod junit;
mod markdown;
mod sarif;
mod spool;
mod terminal;

use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::str::FromStr;

pub use file::ReportFile;
pub use github::GithubReporter;
pub use html::{HTML_EXCERPT, HtmlReporter};
pub use json::JsonReporter;
pub use junit::JunitReporter;
pub use markdown::{MARKDOWN_LIMIT, MarkdownReporter};
pub use sarif::SarifReporter;
pub use terminal::{TerminalOptions, TerminalReporter, line};

use crate::reporter::{CaseFinished, Reporter, RunFinished, RunStarted};

/// A report format written to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// The JSON report: the run's summary and every case, in suite order.
    Json,
    /// JUnit XML: a `<testsuite>` per route file, a `<testcase>` per case.
    Junit,
    /// SARIF 2.1.0: a result per finding, located at the scenario line.
    Sarif,
    /// The access matrix in Markdown, failures and escalations first, sized for a
    /// pull-request comment.
    Markdown,
    /// The access matrix as one self-contained HTML page: escalations first, filters by
    /// outcome, identity and layer.
    Html,
    /// GitHub workflow commands (`::error file=…`) on stdout: `github`, without a file.
    Github,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 6] = [
        Format::Json,
        Format::Junit,
        Format::Sarif,
        Format::Markdown,
        Format::Html,
        Format::Github,
    ];

    /// The name `--report` and `ROLECALL_REPORT` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Sarif => "sarif",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Github => "github",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<String> = Format::ALL
                    .iter()
                    .map(|f| match f {
                        Format::Github => format!("`{f}`"),
                        _ => format!("`{f}=FILE`"),
                    })
                    .collect();
                format!("unknown format `{name}`: expected {}", known.join(", "))
            })
    }
}

/// A report to write: `FORMAT=FILE`, as `--report` and `ROLECALL_REPORT` take it, or
/// `github` alone (its annotations go to stdout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSpec {
    /// What to write.
    pub format: Format,
    /// Where to write it, relative to the current directory; empty for `github`.
    pub path: PathBuf,
}

impl ReportSpec {
    /// GitHub annotations, on stdout.
    pub fn github() -> Self {
        ReportSpec {
            format: Format::Github,
            path: PathBuf::new(),
        }
    }
}

impl FromStr for ReportSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        if spec == Format::Github.as_str() {
            return Ok(ReportSpec::github());
        }
        let Some((format, file)) = spec.split_once('=') else {
            return Err("expected `FORMAT=FILE`, such as `json=FILE`, or `github`".to_owned());
        };
        let format: Format = format.parse()?;
        if format == Format::Github {
            return Err("`github` writes to stdout: give it without `=FILE`".to_owned());
        }
        if file.is_empty() {
            return Err(format!("no file after `{format}=`"));
        }
        Ok(ReportSpec {
            format,
            path: PathBuf::from(file),
        })
    }
}

/// The reporter that writes `format` to `out`, which it flushes when the run finishes.
pub fn file_reporter(format: Format, out: Box<dyn Write + Send>) -> Box<dyn Reporter + Send> {
    match format {
        Format::Json => Box::new(JsonReporter::new(out)),
        Format::Junit => Box::new(JunitReporter::new(out)),
        Format::Sarif => Box::new(SarifReporter::new(out)),
        Format::Markdown => Box::new(MarkdownReporter::new(out)),
        Format::Html => Box::new(HtmlReporter::new(out)),
        Format::Github => Box::new(GithubReporter::new(out)),
    }
}

/// Every reporter of a run, fed the same events in turn.
///
/// A reporter that fails (a full disk, a closed pipe) is dropped with its error, which
/// [`errors`](Self::errors) returns, and the others go on: the run and its other
/// outputs are not cut short by one output. A dropped file report is never put in place.
#[derive(Default)]
pub struct Reporters {
    list: Vec<(String, Box<dyn Reporter + Send>)>,
    errors: Vec<String>,
}

impl fmt::Debug for Reporters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.list.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Reporters")
            .field("list", &names)
            .field("errors", &self.errors)
            .finish()
    }
}

impl Reporters {
    /// No reporter yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Prepares a file reporter for each of `specs`: every report that cannot be written
    /// (a missing or read-only directory, a directory in the file's place) is an error,
    /// all of them at once, before anything is sent.
    ///
    /// In GitHub Actions (`GITHUB_ACTIONS=true`), GitHub annotations are added unless
    /// `specs` name them already.
    pub fn prepare(specs: &[ReportSpec]) -> Result<Self, String> {
        let mut reporters = Reporters::new();
        let mut problems = Vec::new();
        let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
            && !specs.iter().any(|s| s.format == Format::Github);
        let default = github.then(ReportSpec::github);
        for spec in specs.iter().chain(&default) {
            if spec.format == Format::Github {
                // Line by line, so annotations and the terminal's lines never interleave
                // within a line.
                let out = io::LineWriter::new(io::stdout());
                reporters.push(
                    "GitHub annotations",
                    file_reporter(spec.format, Box::new(out)),
                );
                continue;
            }
            match ReportFile::prepare(&spec.path) {
                Ok(file) => match file.writer() {
                    Ok(out) => {
                        let name = format!("report `{}`", spec.path.display());
                        let inner = file_reporter(spec.format, Box::new(io::BufWriter::new(out)));
                        reporters.push(
                            name,
                            Box::new(Persisting {
                                inner,
                                file: Some(file),
                            }),
                        );
                    }
                    Err(e) => problems.push(format!(
                        "cannot write report `{}`: {e}",
                        spec.path.display()
                    )),
                },
                Err(e) => problems.push(e),
            }
        }
        match problems.is_empty() {
            true => Ok(reporters),
            false => Err(problems.join("\n")),
        }
    }

    /// Adds `reporter`, named `name` in its errors.
    pub fn push(&mut self, name: impl Into<String>, reporter: Box<dyn Reporter + Send>) {
        self.list.push((name.into(), reporter));
    }

    /// Adds every reporter of `other`, after these.
    pub fn extend(&mut self, other: Reporters) {
        self.list.extend(other.list);
        self.errors.extend(other.errors);
    }

    /// Whether there is no reporter (left).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Why reporters were dropped, one line each.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    fn each(&mut self, mut call: impl FnMut(&mut (dyn Reporter + Send)) -> io::Result<()>) {
        let errors = &mut self.errors;
        self.list
            .retain_mut(|(name, reporter)| match call(reporter.as_mut()) {
                Ok(()) => true,
                Err(e) => {
                    errors.push(format!("cannot write {name}: {e}"));
                    false
                }
            });
    }
}

impl Reporter for Reporters {
    fn run_started(&mut self, event: &RunStarted<'_>) -> io::Result<()> {
        self.each(|r| r.run_started(event));
        Ok(())
    }

    fn case_finished(&mut self, event: &CaseFinished<'_>) -> io::Result<()> {
        self.each(|r| r.case_finished(event));
        Ok(())
    }

    fn run_finished(&mut self, event: &RunFinished<'_>) -> io::Result<()> {
        self.each(|r| r.run_finished(event));
        Ok(())
    }
}

/// A file reporter whose file is put in place once the run has finished and the report
/// is complete.
struct Persisting {
    inner: Box<dyn Reporter + Send>,
    file: Option<ReportFile>,
}

impl Reporter for Persisting {
    fn run_started(&mut self, event: &RunStarted<'_>) -> io::Result<()> {
        self.inner.run_started(event)
    }

    fn case_finished(&mut self, event: &CaseFinished<'_>) -> io::Result<()> {
        self.inner.case_finished(event)
    }

    fn run_finished(&mut self, event: &RunFinished<'_>) -> io::Result<()> {
        self.inner.run_finished(event)?;
        match self.file.take() {
            Some(file) => file.persist(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_a_known_format_and_a_file() {
        const KNOWN: &str =
            "`json=FILE`, `junit=FILE`, `sarif=FILE`, `markdown=FILE`, `html=FILE`, `github`";
        assert_eq!("github".parse::<ReportSpec>(), Ok(ReportSpec::github()));
        assert_eq!(
            "json=out.json".parse::<ReportSpec>(),
            Ok(ReportSpec {
                format: Format::Json,
                path: PathBuf::from("out.json")
            })
        );
        for (bad, message) in [
            ("json=", "no file after `json=`"),
            ("xml=out.xml", "unknown format `xml`: expected KNOWN"),
            (
                "out.json",
                "expected `FORMAT=FILE`, such as `json=FILE`, or `github`",
            ),
            ("=out.json", "unknown format ``: expected KNOWN"),
            (
                "github=out.txt",
                "`github` writes to stdout: give it without `=FILE`",
            ),
        ] {
            let message = message.replace("KNOWN", KNOWN);
            assert_eq!(bad.parse::<ReportSpec>(), Err(message), "{bad}");
        }
    }

    #[test]
    fn every_format_parses_from_its_name() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>(), Ok(format));
        }
    }
}
