//! Reading files: discovery, TOML parsing, `${env:…}` interpolation and per-item
//! deserialization that keeps going after a problem, so every problem is reported at once.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{self, DeserializeOwned, Deserializer as _, Visitor};
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue, ValueDeserializer};

use crate::diagnostic::{Sink, SourceFile, did_you_mean};
use crate::secrets::Secrets;

/// The suite file's name inside a suite directory.
pub const SUITE_FILE: &str = "rolecall.toml";

type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// How to load a suite.
#[derive(Clone, Default)]
pub struct LoadOptions {
    pub(crate) target: Option<String>,
    pub(crate) env: Option<Arc<EnvFn>>,
}

impl std::fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions")
            .field("target", &self.target)
            .field("env", &self.env.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl LoadOptions {
    /// Options that read the process environment and select the default target.
    pub fn new() -> Self {
        Self::default()
    }

    /// Selects a target by name instead of `defaults.target`.
    pub fn target(mut self, name: impl Into<String>) -> Self {
        self.target = Some(name.into());
        self
    }

    /// Resolves `${env:NAME}` with `lookup` instead of the process environment.
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Some(Arc::new(lookup));
        self
    }

    pub(crate) fn lookup_env(&self, name: &str) -> Option<String> {
        match &self.env {
            Some(env) => env(name),
            None => std::env::var(name).ok(),
        }
    }
}

/// The largest file read as a scenario file, suite file or key. Real ones are kilobytes;
/// the limit keeps an endless or enormous file from being read into memory.
pub(crate) const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

/// The files of a suite, and what was found that cannot be one.
#[derive(Debug)]
pub(crate) struct Discovered {
    pub(crate) root: PathBuf,
    pub(crate) suite_file: PathBuf,
    /// Route file candidates, sorted, so that case order and names are stable.
    pub(crate) routes: Vec<PathBuf>,
    /// Paths that look like route files but cannot be read as one, with the reason.
    pub(crate) problems: Vec<(PathBuf, String)>,
}

/// The file `rolecall run --record` puts at the top of a directory of recordings: a suite
/// that holds one does not read its TOML files as route files.
pub const RECORDINGS_MARKER: &str = ".rolecall-recordings";

/// Finds the suite file and route files of `path` (a directory or a `rolecall.toml`).
/// Route files are every other `*.toml` below the suite directory, except `Cargo.toml`,
/// files named in `exclude` (mock configurations), and `snapshots/`, `target/`, hidden
/// directories and directories of recorded refusals (holding [`RECORDINGS_MARKER`]). Linked directories are walked once each, so a link loop ends the walk.
pub(crate) fn discover(path: &Path) -> Result<Discovered, String> {
    let metadata = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("no such file or directory: {}", path.display()),
        _ => format!("cannot read {}: {e}", path.display()),
    })?;
    let (root, suite_file) = if metadata.is_dir() {
        (path.to_path_buf(), path.join(SUITE_FILE))
    } else if metadata.is_file() {
        let root = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        (root, path.to_path_buf())
    } else {
        return Err(format!(
            "`{}` is {}, not a suite directory or file",
            path.display(),
            kind_of(&metadata.file_type())
        ));
    };
    // A suite file that exists but is not a regular file is refused when it is read.
    if std::fs::symlink_metadata(&suite_file).is_err() {
        return Err(format!(
            "no `{SUITE_FILE}` in {}: a suite directory holds a `{SUITE_FILE}` with defaults, targets and identities",
            root.display()
        ));
    }
    let mut found = Discovered {
        root: root.clone(),
        suite_file,
        routes: Vec::new(),
        problems: Vec::new(),
    };
    let mut walked: HashSet<PathBuf> = root.canonicalize().into_iter().collect();
    let entries =
        std::fs::read_dir(&root).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
    walk(entries, &mut found, &mut walked);
    let suite_file = found.suite_file.clone();
    found.routes.retain(|p| p != &suite_file);
    found.routes.sort();
    found.problems.sort();
    Ok(found)
}

fn walk(entries: std::fs::ReadDir, found: &mut Discovered, walked: &mut HashSet<PathBuf>) {
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                found
                    .problems
                    .push((found.root.clone(), format!("cannot list a directory: {e}")));
                continue;
            }
        };
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let route_file = name.ends_with(".toml") && name != "Cargo.toml" && name != SUITE_FILE;
        // A link is judged by what it points to.
        let file_type = match std::fs::metadata(&path) {
            Ok(metadata) => metadata.file_type(),
            Err(e) => {
                if route_file {
                    found
                        .problems
                        .push((path, format!("cannot read `{name}`: {e}")));
                }
                continue;
            }
        };
        if !file_type.is_dir() {
            if route_file {
                // Anything but a regular file is refused, with its kind, when it is read.
                found.routes.push(path);
            }
            continue;
        }
        if name.starts_with('.')
            || name == "snapshots"
            || name == "target"
            || path.join(RECORDINGS_MARKER).exists()
        {
            continue;
        }
        if name.ends_with(".toml") {
            found
                .problems
                .push((path, format!("`{name}` is a directory, not a route file")));
            continue;
        }
        // Each directory is walked once, however many links lead to it.
        let Ok(real) = path.canonicalize() else {
            continue;
        };
        if !walked.insert(real) {
            continue;
        }
        match std::fs::read_dir(&path) {
            Ok(entries) => walk(entries, found, walked),
            Err(e) => found
                .problems
                .push((path, format!("cannot read the directory `{name}`: {e}"))),
        }
    }
}

/// Why a file could not be read as text.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// A FIFO, device, socket or directory: reading it could block or never end.
    NotRegular(&'static str),
    TooLarge,
    Io(std::io::Error),
    /// Not UTF-8: the text before the first bad byte, the byte, and whether the file
    /// ends inside a character.
    Utf8 {
        before: String,
        byte: u8,
        truncated: bool,
    },
}

impl ReadError {
    /// The reason, as the end of a sentence naming the file.
    pub(crate) fn reason(&self) -> String {
        match self {
            ReadError::NotRegular(kind) => format!("is {kind}, not a regular file"),
            ReadError::TooLarge => format!(
                "is larger than {} MiB, the limit for a scenario file",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
            ReadError::Io(e) => format!("cannot be read: {e}"),
            ReadError::Utf8 { .. } => "is not UTF-8".to_owned(),
        }
    }
}

fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads a regular file of at most [`MAX_FILE_BYTES`] as UTF-8 text. Anything else is
/// refused without blocking: the type is checked before opening, the file is opened
/// non-blocking (a FIFO swapped in meanwhile does not wait for a writer) and checked
/// again, and no more than the limit is read, whatever the file claims.
pub(crate) fn read_text(path: &Path) -> Result<String, ReadError> {
    use rustix::fs::{Mode, OFlags};
    use std::io::Read as _;
    let regular = |metadata: std::fs::Metadata| {
        if !metadata.is_file() {
            return Err(ReadError::NotRegular(kind_of(&metadata.file_type())));
        }
        if metadata.len() > MAX_FILE_BYTES as u64 {
            return Err(ReadError::TooLarge);
        }
        Ok(())
    };
    regular(std::fs::metadata(path).map_err(ReadError::Io)?)?;
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ReadError::Io(e.into()))?;
    let file = std::fs::File::from(fd);
    regular(file.metadata().map_err(ReadError::Io)?)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|e| {
        let error = e.utf8_error();
        let at = error.valid_up_to();
        let bytes = e.into_bytes();
        ReadError::Utf8 {
            before: String::from_utf8_lossy(&bytes[..at]).into_owned(),
            byte: bytes[at],
            truncated: error.error_len().is_none(),
        }
    })
}

/// Reads a scenario file, reporting why it cannot be read: located at the first bad byte
/// for invalid UTF-8, never quoting the file (the line may hold a credential).
pub(crate) fn read_source(path: &Path, shown: PathBuf, sink: &mut Sink) -> Option<SourceFile> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    match read_text(path) {
        Ok(text) => Some(SourceFile::new(shown, text)),
        Err(ReadError::Utf8 {
            before,
            byte,
            truncated,
        }) => {
            let at = before.len();
            let file = SourceFile::new(shown, before);
            let message = if truncated {
                "invalid UTF-8: the file ends inside a character".to_owned()
            } else if (0x80..0xC2).contains(&byte) || byte >= 0xF5 {
                format!("invalid UTF-8: byte {byte:#04x} does not start a character")
            } else {
                format!("invalid UTF-8: byte {byte:#04x} starts an invalid character")
            };
            sink.error(&file, at..at, message)
                .label("")
                .help("scenario files are UTF-8 text: save the file as UTF-8");
            None
        }
        Err(e) => {
            let file = SourceFile::new(shown, "");
            let help = match e {
                ReadError::NotRegular(_) => {
                    Some("scenario files are regular files; remove it or rename it".to_owned())
                }
                ReadError::TooLarge => Some("split the routes over several files".to_owned()),
                _ => None,
            };
            sink.error(&file, 0..0, format!("`{name}` {}", e.reason()))
                .label("")
                .help_opt(help);
            None
        }
    }
}

/// Parses a file into a spanned tree, reporting every syntax error.
pub(crate) fn parse<'a>(file: &'a SourceFile, sink: &mut Sink) -> Spanned<DeTable<'a>> {
    let (table, errors) = DeTable::parse_recoverable(&file.text);
    for error in errors {
        let span = error.span().unwrap_or(0..0);
        sink.error(
            file,
            span,
            format!("invalid TOML: {}", first_line(error.message())),
        )
        .label("here");
    }
    table
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message).trim_end()
}

/// A variable's value inside an interpolated string.
#[derive(Debug)]
pub(crate) struct EnvPiece {
    /// The variable's name.
    pub(crate) name: String,
    /// Where the file names it (`env:NAME`).
    pub(crate) span: Range<usize>,
    /// Where its value sits in the interpolated string.
    pub(crate) range: Range<usize>,
}

/// Where `${env:…}` values landed in a file's interpolated strings, by the span start of
/// each string, so that a later check can blame a variable without showing its value.
#[derive(Debug, Default)]
pub(crate) struct EnvPieces(HashMap<usize, Vec<EnvPiece>>);

impl EnvPieces {
    /// The pieces of the string value whose span starts at `start`.
    pub(crate) fn of(&self, start: usize) -> &[EnvPiece] {
        self.0.get(&start).map_or(&[], Vec::as_slice)
    }

    /// Whether the string value whose span starts at `start` was interpolated.
    pub(crate) fn interpolated(&self, start: usize) -> bool {
        self.0.contains_key(&start)
    }
}

/// Replaces `${env:NAME}` in every string of `value` with the variable's value, recording
/// each value as a secret, where it landed in `pieces`, and each missing variable as a
/// diagnostic. `$${` is a literal `${`.
pub(crate) fn interpolate(
    value: &mut Spanned<DeValue<'_>>,
    file: &SourceFile,
    options: &crate::LoadOptions,
    secrets: &mut Secrets,
    pieces: &mut EnvPieces,
    sink: &mut Sink,
) {
    let span = value.span();
    match value.get_mut() {
        DeValue::String(s) if s.contains("${") => {
            let mut found = Vec::new();
            match interpolate_str(s, span.clone(), file, options, secrets, &mut found, sink) {
                Some(new) => {
                    *s = Cow::Owned(new);
                    // A string spelled `$${` has no pieces but moved: recorded all the same.
                    pieces.0.insert(span.start, found);
                }
                None => {
                    // Reported already: later checks of this value would only repeat it,
                    // and the unresolved text must never be sent or treated as a secret.
                    sink.poison(file, span);
                    *s = Cow::Borrowed("");
                }
            }
        }
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                interpolate(item, file, options, secrets, pieces, sink);
            }
        }
        DeValue::Table(table) => {
            for (_, item) in table.iter_mut() {
                interpolate(item, file, options, secrets, pieces, sink);
            }
        }
        _ => {}
    }
}

fn interpolate_str(
    s: &str,
    span: Range<usize>,
    file: &SourceFile,
    options: &crate::LoadOptions,
    secrets: &mut Secrets,
    pieces: &mut Vec<EnvPiece>,
    sink: &mut Sink,
) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut ok = true;
    while let Some(at) = rest.find("${") {
        if rest[..at].ends_with('$') {
            out.push_str(&rest[..at - 1]);
            out.push_str("${");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            sink.error(file, span.clone(), "unterminated `${` in string")
                .label("expected `${env:NAME}`")
                .help("write `$${` for a literal `${`");
            return None;
        };
        let inner = &after[..end];
        let var_span = locate(file, span.clone(), inner);
        match inner.strip_prefix("env:") {
            Some(name) if is_env_name(name) => match options.lookup_env(name) {
                Some(value) => {
                    secrets.add(&value);
                    pieces.push(EnvPiece {
                        name: name.to_owned(),
                        span: var_span,
                        range: out.len()..out.len() + value.len(),
                    });
                    out.push_str(&value);
                }
                None => {
                    ok = false;
                    sink.error(
                        file,
                        var_span,
                        format!("environment variable `{name}` is not set"),
                    )
                    .label("used here")
                    .help(format!(
                        "export {name}=… before running, or remove this reference"
                    ));
                }
            },
            _ => {
                ok = false;
                sink.error(
                    file,
                    var_span,
                    format!("unsupported interpolation `${{{inner}}}`"),
                )
                .label("expected `${env:NAME}`")
                .help("only `${env:NAME}` is supported; write `$${` for a literal `${`");
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    ok.then_some(out)
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// Narrows a string value's span to `needle` inside it when the source spells it plainly.
pub(crate) fn locate(file: &SourceFile, span: Range<usize>, needle: &str) -> Range<usize> {
    let hay = file.text.get(span.clone()).unwrap_or("");
    match hay.find(needle) {
        Some(at) if !needle.is_empty() => span.start + at..span.start + at + needle.len(),
        _ => span,
    }
}

/// A segment of the path to an unknown key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

fn segments(path: &serde_ignored::Path<'_>, out: &mut Vec<Seg>) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            segments(parent, out);
            out.push(Seg::Index(*index));
        }
        Path::Map { parent, key } => {
            segments(parent, out);
            out.push(Seg::Key(key.clone()));
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => {
            segments(parent, out);
        }
    }
}

/// Span of the key at `path` below `value`.
fn key_span(value: &Spanned<DeValue<'_>>, path: &[Seg]) -> Option<Range<usize>> {
    let (first, rest) = path.split_first()?;
    match (value.get_ref(), first) {
        (DeValue::Table(table), Seg::Key(key)) => {
            let (k, v) = table.get_key_value(key.as_str())?;
            if rest.is_empty() {
                Some(k.span())
            } else {
                key_span(v, rest)
            }
        }
        (DeValue::Array(items), Seg::Index(i)) => {
            let item = items.get(*i)?;
            if rest.is_empty() {
                Some(item.span())
            } else {
                key_span(item, rest)
            }
        }
        _ => None,
    }
}

/// Field names of a struct, read from its `Deserialize` impl so that "did you mean"
/// hints can never drift from the real format; empty for anything else.
pub fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    match serde_names::<T>() {
        Names::Fields(names) => names,
        _ => &[],
    }
}

/// Variant names of an enum, read from its `Deserialize` impl like [`fields_of`]; empty
/// for anything else.
pub fn variants_of<T: DeserializeOwned>() -> &'static [&'static str] {
    match serde_names::<T>() {
        Names::Variants(names) => names,
        _ => &[],
    }
}

#[derive(Debug)]
enum Names {
    Fields(&'static [&'static str]),
    Variants(&'static [&'static str]),
    None,
}

/// What `T`'s `Deserialize` impl names when it asks for a struct or an enum.
fn serde_names<T: DeserializeOwned>() -> Names {
    struct Probe;
    #[derive(Debug)]
    struct Found(Names);
    impl std::fmt::Display for Found {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Found {}
    impl de::Error for Found {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Found(Names::None)
        }
    }
    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Found;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(Names::None))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(Names::Fields(fields)))
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(Names::Variants(variants)))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map identifier ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Found(names)) => names,
        Ok(_) => Names::None,
    }
}

/// Deserializes one item of a file, reporting every problem in it: unknown keys (with the
/// closest known key) and every type error, however many.
///
/// serde stops at the first type error, so the item is read again without the value at
/// fault (the innermost key holding the error) until it reads through; unknown keys are
/// collected on every pass. A wrong value in a map whose values all have one type (such
/// as `headers`) is reported together with every sibling of the same kind, which would
/// fail the same way, so a map with many wrong values costs one pass, not one each. An
/// item with any type error yields `None`: its other checks would only guess.
pub(crate) fn deserialize_item<T: DeserializeOwned>(
    value: &Spanned<DeValue<'_>>,
    file: &SourceFile,
    sink: &mut Sink,
    known_fields: &dyn Fn(&[Seg]) -> &'static [&'static str],
) -> Option<T> {
    let mut work = value.clone();
    let mut unknown: Vec<Vec<Seg>> = Vec::new();
    let mut seen: HashSet<Vec<Seg>> = HashSet::new();
    // Keys taken out of the item, by the span of the table that held them.
    let mut removed: Vec<Removed> = Vec::new();
    // Required keys taken out, standing in with a value of each kind in turn until one
    // reads: serde names only the first missing field, and another may be missing too.
    let mut stand_ins: Vec<StandIn> = Vec::new();
    let mut failed = false;
    let result = loop {
        let attempt: Result<T, toml::de::Error> =
            serde_ignored::deserialize(ValueDeserializer::from(work.clone()), |path| {
                let mut segs = Vec::new();
                segments(&path, &mut segs);
                if seen.insert(segs.clone()) {
                    unknown.push(segs);
                }
            });
        let error = match attempt {
            Ok(v) => break Some(v),
            Err(error) => error,
        };
        failed = true;
        let span = error.span().unwrap_or(work.span());
        let message = first_line(error.message());
        // A stand-in of the wrong kind: try the next.
        if let Some(i) = stand_ins.iter().position(|s| s.value_span == span) {
            if stand_ins[i].next(&mut work) {
                continue;
            }
            stand_ins.remove(i);
            let path = path_to(&work, &span);
            if !take_out(&mut work, &path, &mut removed) {
                break None;
            }
            continue;
        }
        // A required key taken out on an earlier pass is missing now: its own problem is
        // reported already.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'));
        if let Some(taken) = missing.and_then(|field| {
            removed
                .iter()
                .position(|r| r.table_span == span && r.key == field)
        }) {
            let taken = removed.remove(taken);
            let mut stand_in = StandIn {
                table: path_to_exact(&work, &span),
                key: taken.key,
                value_span: taken.value_span,
                kind: 0,
            };
            if stand_in.next(&mut work) {
                stand_ins.push(stand_in);
                continue;
            }
        } else {
            sink.error(file, span.clone(), message.to_owned())
                .label("here");
        }
        let path = path_to(&work, &span);
        if message.starts_with("invalid type: ")
            && let Some(expected) = message.rsplit_once(", expected ").map(|(_, e)| e)
        {
            // A value of the wrong kind: its siblings of the same kind in a map of one
            // value type, or in an array, would fail the same way.
            report_siblings(
                &mut work,
                &path,
                &span,
                expected,
                file,
                sink,
                known_fields,
                &mut removed,
            );
        }
        if !take_out(&mut work, &path, &mut removed) {
            break None;
        }
    };
    for path in unknown {
        let Some((Seg::Key(key), parent)) = path.split_last() else {
            continue;
        };
        let span = key_span(value, &path).unwrap_or(value.span());
        let known = known_fields(parent);
        let help = did_you_mean(key, known.iter().copied()).or_else(|| {
            (!known.is_empty()).then(|| {
                let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                format!("expected one of {}", list.join(", "))
            })
        });
        sink.error(file, span, format!("unknown key `{key}`"))
            .label("not a known key here")
            .help_opt(help);
    }
    result.filter(|_| !failed)
}

/// A key taken out of an item.
struct Removed {
    table_span: Range<usize>,
    key: String,
    value_span: Range<usize>,
}

/// A required key taken out of the table at `table`, put back with a value of the next
/// kind (string, boolean, table, array) on each pass.
struct StandIn {
    table: Vec<Seg>,
    key: String,
    value_span: Range<usize>,
    kind: usize,
}

impl StandIn {
    /// Puts the next kind of value in; `false` (and the key out) when none is left.
    fn next(&mut self, work: &mut Spanned<DeValue<'_>>) -> bool {
        let Some(DeValue::Table(table)) = get_mut(work, &self.table).map(|t| t.get_mut()) else {
            return false;
        };
        let value = match self.kind {
            0 => DeValue::String(Cow::Borrowed("")),
            1 => DeValue::Boolean(false),
            2 => DeValue::Table(DeTable::new()),
            3 => DeValue::Array(DeArray::new()),
            _ => {
                table.remove(self.key.as_str());
                return false;
            }
        };
        self.kind += 1;
        let key = Spanned::new(self.value_span.clone(), Cow::Owned(self.key.clone()));
        table.insert(key, Spanned::new(self.value_span.clone(), value));
        true
    }
}

/// The path from `value` to the value whose span is `span`, or to the deepest one
/// holding it.
fn path_to_exact(value: &Spanned<DeValue<'_>>, span: &Range<usize>) -> Vec<Seg> {
    let mut path = path_to(value, span);
    while !path.is_empty() && get(value, &path).is_some_and(|v| v.span() != *span) {
        path.pop();
    }
    path
}

/// The path from `value` to the deepest value holding `span`.
fn path_to(value: &Spanned<DeValue<'_>>, span: &Range<usize>) -> Vec<Seg> {
    let holds = |v: &Spanned<DeValue<'_>>| v.span().start <= span.start && span.end <= v.span().end;
    let mut path = Vec::new();
    let mut at = value;
    loop {
        let next = match at.get_ref() {
            DeValue::Table(table) => table
                .iter()
                .find(|(_, v)| holds(v))
                .map(|(k, v)| (Seg::Key(k.get_ref().to_string()), v)),
            DeValue::Array(items) => items
                .iter()
                .enumerate()
                .find(|(_, v)| holds(v))
                .map(|(i, v)| (Seg::Index(i), v)),
            _ => None,
        };
        match next {
            Some((seg, v)) => {
                path.push(seg);
                at = v;
            }
            None => return path,
        }
    }
}

fn get<'a, 'i>(value: &'a Spanned<DeValue<'i>>, path: &[Seg]) -> Option<&'a Spanned<DeValue<'i>>> {
    path.iter()
        .try_fold(value, |at, seg| match (at.get_ref(), seg) {
            (DeValue::Table(table), Seg::Key(key)) => table.get(key.as_str()),
            (DeValue::Array(items), Seg::Index(i)) => items.get(*i),
            _ => None,
        })
}

fn get_mut<'a, 'i>(
    value: &'a mut Spanned<DeValue<'i>>,
    path: &[Seg],
) -> Option<&'a mut Spanned<DeValue<'i>>> {
    path.iter()
        .try_fold(value, |at, seg| match (at.get_mut(), seg) {
            (DeValue::Table(table), Seg::Key(key)) => table.get_mut(key.as_str()),
            (DeValue::Array(items), Seg::Index(i)) => items.get_mut(*i),
            _ => None,
        })
}

/// Removes the innermost key on `path` (array values stay: removing one would renumber
/// the others), recording it in `removed`. `false` when the path holds no key.
fn take_out(value: &mut Spanned<DeValue<'_>>, path: &[Seg], removed: &mut Vec<Removed>) -> bool {
    let Some(last_key) = path.iter().rposition(|seg| matches!(seg, Seg::Key(_))) else {
        return false;
    };
    let Seg::Key(key) = &path[last_key] else {
        return false;
    };
    let Some(table) = get_mut(value, &path[..last_key]) else {
        return false;
    };
    let span = table.span();
    let DeValue::Table(table) = table.get_mut() else {
        return false;
    };
    match table.remove(key.as_str()) {
        Some(value) => {
            removed.push(Removed {
                table_span: span,
                key: key.clone(),
                value_span: value.span(),
            });
            true
        }
        None => false,
    }
}

/// Reports every sibling of the value at `path` (whose kind was refused) that has the same
/// kind, when the value sits in an array or in a map of one value type (a table with no
/// known fields), and takes those in a table out of the item.
#[expect(
    clippy::too_many_arguments,
    reason = "one step of deserialize_item's loop, over its state"
)]
fn report_siblings(
    work: &mut Spanned<DeValue<'_>>,
    path: &[Seg],
    span: &Range<usize>,
    expected: &str,
    file: &SourceFile,
    sink: &mut Sink,
    known_fields: &dyn Fn(&[Seg]) -> &'static [&'static str],
    removed: &mut Vec<Removed>,
) {
    let Some((last, container)) = path.split_last() else {
        return;
    };
    let Some(faulty) = get(work, path).filter(|v| v.span() == *span) else {
        return;
    };
    let Some(parent) = get(work, container) else {
        return;
    };
    let same_kind =
        |v: &Spanned<DeValue<'_>>| v.span() != *span && same_kind_of(v.get_ref(), faulty.get_ref());
    let siblings: Vec<(Option<String>, Spanned<DeValue<'_>>)> = match (parent.get_ref(), last) {
        (DeValue::Array(items), Seg::Index(_)) => items
            .iter()
            .filter(|v| same_kind(v))
            .map(|v| (None, v.clone()))
            .collect(),
        (DeValue::Table(table), Seg::Key(_)) if known_fields(container).is_empty() => table
            .iter()
            .filter(|(_, v)| same_kind(v))
            .map(|(k, v)| (Some(k.get_ref().to_string()), v.clone()))
            .collect(),
        _ => return,
    };
    let parent_span = parent.span();
    for (key, sibling) in siblings {
        let span = sibling.span();
        let message = match ValueDeserializer::from(sibling).deserialize_any(Refuse(expected)) {
            Err(e) => first_line(e.message()).to_owned(),
            Ok(()) => continue,
        };
        sink.error(file, span.clone(), message).label("here");
        if let Some(key) = key
            && let Some(DeValue::Table(table)) = get_mut(work, container).map(|t| t.get_mut())
        {
            table.remove(key.as_str());
            removed.push(Removed {
                table_span: parent_span.clone(),
                key,
                value_span: span,
            });
        }
    }
}

fn same_kind_of(a: &DeValue<'_>, b: &DeValue<'_>) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// A visitor that accepts nothing, so that serde words the refusal of a value exactly as
/// it worded the refusal of its sibling.
struct Refuse<'a>(&'a str);

impl Visitor<'_> for Refuse<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
