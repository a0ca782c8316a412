//! Reading files: discovery, TOML parsing, `${env:…}` interpolation and per-item
//! deserialization that keeps going after a problem, so every problem is reported at once.

use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{self, DeserializeOwned, Visitor};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

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

/// Finds the suite file and route files of `path` (a directory or a `rolecall.toml`).
/// Route files are every other `*.toml` below the suite directory, except `Cargo.toml`,
/// files named in `exclude` (mock configurations), and `snapshots/`, `target/` and hidden
/// directories. The order is sorted, so case order and names are stable.
pub(crate) fn discover(path: &Path) -> Result<(PathBuf, Vec<PathBuf>), String> {
    let (root, suite_file) = if path.is_dir() {
        (path.to_path_buf(), path.join(SUITE_FILE))
    } else if path.is_file() {
        let root = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        (root, path.to_path_buf())
    } else {
        return Err(format!("no such file or directory: {}", path.display()));
    };
    if !suite_file.is_file() {
        return Err(format!(
            "no `{SUITE_FILE}` in {}: a suite directory holds a `{SUITE_FILE}` with defaults, targets and identities",
            root.display()
        ));
    }
    let mut routes = Vec::new();
    walk(&root, &mut routes).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
    routes.retain(|p| p != &suite_file);
    routes.sort();
    Ok((root, routes))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir() {
            if !(name.starts_with('.') || name == "snapshots" || name == "target") {
                walk(&path, out)?;
            }
        } else if name.ends_with(".toml") && name != "Cargo.toml" && name != SUITE_FILE {
            out.push(path);
        }
    }
    Ok(())
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

/// Replaces `${env:NAME}` in every string of `value` with the variable's value, recording
/// each value as a secret and each missing variable as a diagnostic. `$${` is a literal `${`.
pub(crate) fn interpolate(
    value: &mut Spanned<DeValue<'_>>,
    file: &SourceFile,
    options: &crate::LoadOptions,
    secrets: &mut Secrets,
    sink: &mut Sink,
) {
    let span = value.span();
    match value.get_mut() {
        DeValue::String(s) if s.contains("${") => {
            match interpolate_str(s, span.clone(), file, options, secrets, sink) {
                Some(new) => *s = Cow::Owned(new),
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
                interpolate(item, file, options, secrets, sink);
            }
        }
        DeValue::Table(table) => {
            for (_, item) in table.iter_mut() {
                interpolate(item, file, options, secrets, sink);
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
/// hints can never drift from the real format.
pub(crate) fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe;
    #[derive(Debug)]
    struct Found(&'static [&'static str]);
    impl std::fmt::Display for Found {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Found {}
    impl de::Error for Found {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Found(&[])
        }
    }
    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Found;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Found(fields)) => fields,
        Ok(_) => &[],
    }
}

/// Deserializes one item of a file. Type errors are reported and yield `None`; unknown
/// keys are reported (with the closest known key) and otherwise ignored, so one typo does
/// not hide the other problems of the same item.
pub(crate) fn deserialize_item<T: DeserializeOwned>(
    value: &Spanned<DeValue<'_>>,
    file: &SourceFile,
    sink: &mut Sink,
    known_fields: &dyn Fn(&[Seg]) -> &'static [&'static str],
) -> Option<T> {
    let mut unknown: Vec<Vec<Seg>> = Vec::new();
    let result: Result<T, toml::de::Error> =
        serde_ignored::deserialize(ValueDeserializer::from(value.clone()), |path| {
            let mut segs = Vec::new();
            segments(&path, &mut segs);
            unknown.push(segs);
        });
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
    match result {
        Ok(v) => Some(v),
        Err(error) => {
            let span = error.span().unwrap_or(value.span());
            sink.error(file, span, first_line(error.message()).to_owned())
                .label("here");
            None
        }
    }
}
