//! Located problems in scenario files, collected and rendered rustc-style.

use std::collections::{BTreeMap, HashMap};
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
    /// Characters before each [`BLOCK`]-byte boundary, so that a column costs at most one
    /// block of counting however long its line is.
    block_chars: Arc<[usize]>,
}

/// Bytes between two character-count checkpoints of a [`SourceFile`].
const BLOCK: usize = 4096;

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceFile")
            .field("path", &self.path)
            .field("bytes", &self.text.len())
            .finish()
    }
}

impl SourceFile {
    /// A file's text, named by `path` as the user should see it.
    pub fn new(path: PathBuf, text: impl Into<Arc<str>>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut chars = 0;
        let block_chars = text
            .as_bytes()
            .chunks(BLOCK)
            .map(|block| {
                let before = chars;
                chars += count_chars(block);
                before
            })
            .collect();
        SourceFile {
            path,
            text,
            line_starts,
            block_chars,
        }
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let start = self.line_starts[line];
        let column = if offset - start < BLOCK {
            count_chars(&self.text.as_bytes()[start..offset])
        } else {
            self.chars_before(offset) - self.chars_before(start)
        };
        (to_u32(line + 1), to_u32(column + 1))
    }

    /// Characters in `text[..offset]`; `offset` is a character boundary.
    fn chars_before(&self, offset: usize) -> usize {
        let block = offset / BLOCK;
        let counted = self.block_chars.get(block).copied().unwrap_or(0);
        counted + count_chars(&self.text.as_bytes()[block * BLOCK..offset])
    }

    /// The whole lines holding `span`, and the byte offset and 1-based number of the first.
    fn lines_of(&self, span: &Range<usize>) -> (Range<usize>, usize) {
        let first = self
            .line_starts
            .partition_point(|&start| start <= span.start)
            - 1;
        let last = self.line_starts.partition_point(|&start| start <= span.end) - 1;
        let end = self
            .line_starts
            .get(last + 1)
            .map_or(self.text.len(), |&next| next - 1);
        (self.line_starts[first]..end.max(span.end), first + 1)
    }
}

/// Characters in UTF-8 bytes: every byte that does not continue a character starts one.
fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
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
    /// repeat the same problem in other words: per file, span start → end. The spans are
    /// whole string values, so they never overlap.
    poisoned: HashMap<PathBuf, BTreeMap<usize, usize>>,
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
        let end = diagnostic.span.end.max(diagnostic.span.start + 1);
        // The last poisoned span starting before this one ends is the only one that can
        // overlap it.
        let repeats = self
            .sink
            .poisoned
            .get(&diagnostic.path)
            .and_then(|spans| spans.range(..end).next_back())
            .is_some_and(|(_, &poisoned_end)| diagnostic.span.start < poisoned_end);
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
        self.poisoned
            .entry(file.path.clone())
            .or_default()
            .insert(span.start, span.end);
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
    /// What could not be loaded, for the closing line.
    subject: &'static str,
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
            subject: "the suite",
        }
    }

    /// The problems of another file that rolecall reads (a mock configuration), so that it
    /// reports them exactly as a suite does. `subject` ends the closing line, "could not
    /// load {subject} due to N previous errors"; `secrets` are redacted as in a suite.
    pub fn from_diagnostics(
        subject: &'static str,
        diagnostics: Vec<Diagnostic>,
        files: Vec<SourceFile>,
        secrets: Secrets,
    ) -> Self {
        LoadError {
            subject,
            ..LoadError::new(diagnostics, files, secrets)
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
        // Each file is masked once, whatever the number of its problems: secrets are
        // masked with as many bytes as they have, so that carets stay aligned.
        let mut masked: HashMap<&Path, Option<SourceFile>> = HashMap::new();
        let mut out = String::new();
        for diagnostic in &self.diagnostics {
            let file = masked.entry(&diagnostic.path).or_insert_with(|| {
                let file = self.files.iter().find(|f| f.path == diagnostic.path)?;
                Some(SourceFile::new(
                    file.path.clone(),
                    self.secrets.mask(&file.text),
                ))
            });
            out.push_str(&render_one(&renderer, diagnostic, file.as_ref()));
            out.push_str("\n\n");
        }
        let n = self.diagnostics.len();
        out.push_str(&format!(
            "error: could not load {} due to {n} previous error{}\n",
            self.subject,
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
            // Only the lines of the span are handed over: the renderer reads all it is
            // given, and a file with many problems would be read once per problem.
            let (lines, first_line) = file.lines_of(&span);
            if lines.len() <= LONG_EXCERPT {
                let span = span.start - lines.start..span.end - lines.start;
                title.element(
                    Snippet::source(&file.text[lines])
                        .path(path.as_str())
                        .line_start(first_line)
                        .fold(true)
                        .annotation(AnnotationKind::Primary.span(span).label(d.label.as_str())),
                )
            } else {
                return render_long_line(renderer, d, file, &path, span, lines, first_line);
            }
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

/// A long line is quoted only around its span: the renderer reads every character it is
/// given (and would cut the line to the terminal's width anyway). The renderer places
/// the `-->` line from the quoted text, so the snippet is rendered without a path and
/// the location line, rendered on its own, is put where it belongs.
fn render_long_line(
    renderer: &Renderer,
    d: &Diagnostic,
    file: &SourceFile,
    path: &str,
    span: Range<usize>,
    lines: Range<usize>,
    first_line: usize,
) -> String {
    let start =
        floor_char_boundary(&file.text, span.start.saturating_sub(CONTEXT)).max(lines.start);
    let end = floor_char_boundary(&file.text, (span.start + CONTEXT).min(lines.end)).max(start);
    let quoted = span.start - start..span.end.min(end) - start;
    let mut group = Level::ERROR.primary_title(d.message.as_str()).element(
        Snippet::source(&file.text[start..end])
            .line_start(first_line)
            .fold(true)
            .annotation(AnnotationKind::Primary.span(quoted).label(d.label.as_str())),
    );
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    let body = renderer.render(&[group]);
    let origin = renderer.render(&[Level::ERROR.primary_title("").element(
        annotate_snippets::Origin::path(path)
            .line(d.line as usize)
            .char_column(d.column as usize),
    )]);
    let location = origin.lines().nth(1).unwrap_or_default().trim_start();
    let last_line = file.line_col(span.end.min(end)).0;
    let gutter = " ".repeat(last_line.to_string().len());
    match body.split_once('\n') {
        Some((title, rest)) => format!("{title}\n{gutter}{location}\n{rest}"),
        None => body,
    }
}

/// Lines longer than this (in bytes) are quoted only around the span.
const LONG_EXCERPT: usize = 1024;
/// Bytes quoted on each side of a span in a long line.
const CONTEXT: usize = 256;

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

/// Suggests the closest known name, rustc-style: "did you mean `admin`?".
pub fn did_you_mean<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_across_checkpoints() {
        // Long lines of two- and three-byte characters, so that lines, characters and
        // checkpoints all straddle each other.
        let text: String = (0..3 * BLOCK)
            .map(|i| match i % 7 {
                0 => 'é',
                1 => '€',
                // Short lines first, then lines longer than a block.
                _ if (i < BLOCK && i % 300 == 299) || i % 5000 == 4999 => '\n',
                _ => 'a',
            })
            .collect();
        let file = SourceFile::new(PathBuf::from("x.toml"), text.as_str());
        for (offset, _) in text.char_indices().step_by(13).chain([(text.len(), ' ')]) {
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
            assert_eq!(
                file.line_col(offset),
                (to_u32(line), to_u32(column)),
                "{offset}"
            );
        }
    }

    #[test]
    fn long_lines_are_quoted_around_the_span() {
        let text = format!("a = [{}\"bad\", 1]\n", "\"ok\", ".repeat(400));
        let file = SourceFile::new(PathBuf::from("x.toml"), text.as_str());
        let at = text.find("\"bad\"").unwrap();
        let mut sink = Sink::default();
        sink.error(&file, at..at + 5, "unknown identity `bad`")
            .label("here");
        let error = LoadError::new(sink.diagnostics, vec![file], Secrets::default());
        let rendered = error.render(RenderStyle::Plain);
        let expected = format!(
            "error: unknown identity `bad`\n --> x.toml:1:2406\n  |\n1 | ...{}\"bad\", 1]\n  | {}^^^^^ here\n",
            "\"ok\", ".repeat(10),
            " ".repeat(63),
        );
        assert!(rendered.starts_with(&expected), "{rendered}");
    }
}
