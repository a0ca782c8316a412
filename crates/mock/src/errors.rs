//! Errors of loading a `mock.toml` and of running the mock edge.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use rolecall_scenario::{Diagnostic, LoadError, RenderStyle};

/// A `mock.toml` that cannot be used: every problem in it, each at its file, line and
/// column, rendered rustc-style exactly as a suite's problems are.
#[derive(Debug, Clone)]
pub struct MockConfigError {
    error: LoadError,
}

impl MockConfigError {
    pub(crate) fn new(error: LoadError) -> Self {
        Self { error }
    }

    /// Every problem found, ordered by position.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        self.error.diagnostics()
    }

    /// Every problem rustc-style: `error: …`, `--> mock.toml:line:col`, the source line
    /// with carets and a `help:` line, then how many there were. Credentials the file
    /// holds are masked.
    pub fn render(&self, style: RenderStyle) -> String {
        self.error.render(style)
    }
}

impl fmt::Display for MockConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(RenderStyle::Plain))
    }
}

impl std::error::Error for MockConfigError {}

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
