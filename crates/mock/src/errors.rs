//! Errors of loading a `mock.toml` and of running the mock edge.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A `mock.toml` that cannot be used, with the place in the file that says why.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {kind}", path.display(), location(*line_col))]
pub struct MockConfigError {
    path: PathBuf,
    line_col: Option<(usize, usize)>,
    #[source]
    kind: MockConfigErrorKind,
}

fn location(line_col: Option<(usize, usize)>) -> String {
    match line_col {
        Some((line, col)) => format!(":{line}:{col}"),
        None => String::new(),
    }
}

impl MockConfigError {
    pub(crate) fn new(
        path: &Path,
        line_col: Option<(usize, usize)>,
        kind: MockConfigErrorKind,
    ) -> Self {
        Self {
            path: path.to_owned(),
            line_col,
            kind,
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The 1-based line of the offending value, when the error has a place in the file.
    pub fn line(&self) -> Option<usize> {
        self.line_col.map(|(line, _)| line)
    }

    /// The 1-based column (in characters) of the offending value.
    pub fn column(&self) -> Option<usize> {
        self.line_col.map(|(_, col)| col)
    }

    /// What is wrong.
    pub fn kind(&self) -> &MockConfigErrorKind {
        &self.kind
    }
}

/// What is wrong with a `mock.toml`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockConfigErrorKind {
    /// The file could not be read.
    #[error("cannot read the file")]
    Read(#[source] io::Error),
    /// The file is not valid TOML or does not match the format (unknown key, wrong type …).
    #[error("{0}")]
    Syntax(String),
    /// A value is well-formed TOML but not acceptable (a bad CIDR, regex, glob, duration …).
    #[error("{0}")]
    Invalid(String),
    /// A key file named by the configuration could not be read or parsed.
    #[error("cannot load key file `{file}`: {reason}")]
    Key {
        /// The key file as resolved against the configuration's folder.
        file: PathBuf,
        /// Why it could not be used.
        reason: String,
    },
    /// A `${env:NAME}` reference names a variable that is not set.
    #[error("environment variable `{0}` is not set")]
    MissingEnv(String),
}

/// The mock edge could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct MockServerError {
    #[source]
    kind: MockServerErrorKind,
}

impl MockServerError {
    pub(crate) fn bind(addr: SocketAddr, source: io::Error) -> Self {
        Self {
            kind: MockServerErrorKind::Bind { addr, source },
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &MockServerErrorKind {
        &self.kind
    }
}

/// What went wrong while running the mock edge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockServerErrorKind {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
}

/// The error type of response bodies: a body streamed from an upstream can fail midway.
pub(crate) type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// Why the server aborts a connection on purpose (fault injection), reported to hyper.
#[derive(Debug)]
pub(crate) struct InjectedAbort;

impl fmt::Display for InjectedAbort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection aborted by fault injection")
    }
}

impl std::error::Error for InjectedAbort {}
