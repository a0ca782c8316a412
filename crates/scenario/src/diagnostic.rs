//! Located problems in scenario files, collected and rendered rustc-style.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use crate::secrets::Secrets;

/// A file that was read, kept so diagnostics and reports can quote it. `Debug` shows the
/// path and size only: the text may hold literal credentials.
#[derive(Clone)]
pub struct SourceFile {
    /// The path as the user should see it (relative to the working directory when possible).
    pub path: PathBuf,
    /// The whole text of the file.
    pub text: Arc<str>,
    line_starts: Arc<[usize]>,
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceFile")
            .field("path", &self.path)
            .field("bytes", &self.text.len())
            .finish()
    }
}

impl SourceFile {
    pub(crate) fn new(path: PathBuf, text: impl Into<Arc<str>>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            path,
            text,
            line_starts,
        }
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let start = self.line_starts[line];
        let column = self.text[start..floor_char_boundary(&self.text, offset)]
            .chars()
            .count();
        (to_u32(line + 1), to_u32(column + 1))
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A position in a scenario file, for failure messages and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, as shown to the user.
    pub path: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// One problem found in the scenario files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, as a short lowercase sentence.
    pub message: String,
    /// The file the problem is in.
    pub path: PathBuf,
    /// Byte range in the file; empty when the problem concerns the whole file.
    pub span: Range<usize>,
    /// Text printed under the carets.
    pub label: String,
    /// A suggestion such as "did you mean `admin`?".
    pub help: Option<String>,
    /// 1-based line and column of the span's start.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

/// Collects diagnostics while files are read, validated and expanded.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// Values already reported (such as a missing `${env:…}`) whose later checks would only
    /// repeat the same problem in other words.
    poisoned: Vec<(PathBuf, Range<usize>)>,
}

/// A builder for one diagnostic; see [`Sink::error`].
pub(crate) struct Report<'a> {
    sink: &'a mut Sink,
    diagnostic: Diagnostic,
}

impl Report<'_> {
    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        self.diagnostic.label = label.into();
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.diagnostic.help = Some(help.into());
        self
    }

    pub(crate) fn help_opt(mut self, help: Option<String>) -> Self {
        self.diagnostic.help = help;
        self
    }
}

impl Drop for Report<'_> {
    fn drop(&mut self) {
        let diagnostic = std::mem::replace(
            &mut self.diagnostic,
            Diagnostic {
                message: String::new(),
                path: PathBuf::new(),
                span: 0..0,
                label: String::new(),
                help: None,
                line: 0,
                column: 0,
            },
        );
        let repeats = self.sink.poisoned.iter().any(|(path, span)| {
            path == &diagnostic.path
                && span.start < diagnostic.span.end.max(diagnostic.span.start + 1)
                && diagnostic.span.start < span.end
        });
        if !repeats {
            self.sink.diagnostics.push(diagnostic);
        }
    }
}

impl Sink {
    /// Starts a diagnostic at `span` of `file`; it is recorded when the builder drops.
    pub(crate) fn error(
        &mut self,
        file: &SourceFile,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Report<'_> {
        let (line, column) = file.line_col(span.start);
        Report {
            sink: self,
            diagnostic: Diagnostic {
                message: message.into(),
                path: file.path.clone(),
                span,
                label: String::new(),
                help: None,
                line,
                column,
            },
        }
    }

    /// Suppresses later diagnostics overlapping `span`: its problem is already reported.
    pub(crate) fn poison(&mut self, file: &SourceFile, span: Range<usize>) {
        self.poisoned.push((file.path.clone(), span));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }
}

/// Everything wrong with a suite: returned instead of a [`Suite`](crate::Suite) when any
/// file has a problem, so that no request is ever sent from a half-valid suite.
///
/// Messages are redacted when the error is built; `Debug` shows only the diagnostics,
/// never the files (which may hold literal credentials).
#[derive(Clone)]
pub struct LoadError {
    diagnostics: Vec<Diagnostic>,
    files: Vec<SourceFile>,
    secrets: Secrets,
}

impl LoadError {
    pub(crate) fn new(
        mut diagnostics: Vec<Diagnostic>,
        files: Vec<SourceFile>,
        secrets: Secrets,
    ) -> Self {
        diagnostics.sort_by(|a, b| {
            (&a.path, a.span.start, &a.message).cmp(&(&b.path, b.span.start, &b.message))
        });
        diagnostics.dedup();
        for d in &mut diagnostics {
            // A type error quotes the value it saw, which may come from `${env:…}`.
            d.message = secrets.redact(&d.message);
            d.label = secrets.redact(&d.label);
            d.help = d.help.as_deref().map(|h| secrets.redact(h));
        }
        LoadError {
            diagnostics,
            files,
            secrets,
        }
    }

    /// Every problem found, ordered by file and position.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Renders every diagnostic rustc-style: `error: …`, `--> file:line:col`, the source
    /// line in a numbered gutter, carets under the span and a `help:` line. Credential
    /// values that appear literally in a quoted line are shown as `***`.
    pub fn render(&self, style: RenderStyle) -> String {
        let renderer = match style {
            RenderStyle::Plain => Renderer::plain(),
            RenderStyle::Color => Renderer::styled(),
        };
        let mut out = String::new();
        for diagnostic in &self.diagnostics {
            let file = self.files.iter().find(|f| f.path == diagnostic.path);
            // Mask secrets with as many bytes as they have, so that carets stay aligned.
            let masked = file.map(|f| SourceFile::new(f.path.clone(), self.secrets.mask(&f.text)));
            out.push_str(&render_one(&renderer, diagnostic, masked.as_ref()));
            out.push_str("\n\n");
        }
        let n = self.diagnostics.len();
        out.push_str(&format!(
            "error: could not load the suite due to {n} previous error{}\n",
            if n == 1 { "" } else { "s" }
        ));
        self.secrets.redact(&out)
    }
}

fn render_one(renderer: &Renderer, d: &Diagnostic, file: Option<&SourceFile>) -> String {
    let path = d.path.display().to_string();
    let title = Level::ERROR.primary_title(d.message.as_str());
    let mut group = match file {
        // A problem with no place in the file (an unknown `--target`) names the file only.
        Some(file) if !file.text.is_empty() && !unplaced(d) => {
            let span = clamp_span(&file.text, d.span.clone());
            title.element(
                Snippet::source(&*file.text)
                    .path(path.as_str())
                    .fold(true)
                    .annotation(AnnotationKind::Primary.span(span).label(d.label.as_str())),
            )
        }
        _ => title.element(
            annotate_snippets::Origin::path(path.as_str())
                .line(d.line as usize)
                .char_column(d.column as usize),
        ),
    };
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    let report: [Group<'_>; 1] = [group];
    renderer.render(&report)
}

/// A problem with an empty span and no label concerns the file, not a place in it.
fn unplaced(d: &Diagnostic) -> bool {
    d.span.is_empty() && d.label.is_empty()
}

fn clamp_span(text: &str, span: Range<usize>) -> Range<usize> {
    let start = floor_char_boundary(text, span.start.min(text.len()));
    let end = floor_char_boundary(text, span.end.min(text.len())).max(start);
    start..end
}

/// How [`LoadError::render`] decorates its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderStyle {
    /// No escape codes: for files, snapshots and CI logs.
    Plain,
    /// ANSI colors: for terminals.
    Color,
}

impl fmt::Debug for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadError")
            .field("diagnostics", &self.diagnostics)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(RenderStyle::Plain))
    }
}

impl std::error::Error for LoadError {}

/// Suggests the closest known name, rustc-style.
pub(crate) fn did_you_mean<'a>(
    unknown: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(unknown, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("did you mean `{k}`?"))
}

pub(crate) fn display_path(path: &Path) -> PathBuf {
    let cwd = std::env::current_dir().ok();
    let shown = cwd
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf());
    // `./a.toml` reads better, and greps better, as `a.toml`.
    shown
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}
