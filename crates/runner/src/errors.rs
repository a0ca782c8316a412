//! The runner's errors: a struct with a kind and a lowercase message.

/// What went wrong before any case could be judged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunnerErrorKind {
    /// The run's configuration (environment variables, arguments) is invalid.
    Config,
    /// The suite could not be loaded.
    Suite,
    /// The target could not be started or reached.
    Target,
    /// An identity's credentials could not be prepared.
    Credentials,
    /// The HTTP client could not be built.
    Client,
    /// A report could not be written.
    Report,
}

/// An error of the runner, with a message that names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RunnerError {
    kind: RunnerErrorKind,
    message: String,
}

impl RunnerError {
    pub(crate) fn new(kind: RunnerErrorKind, message: impl Into<String>) -> Self {
        RunnerError {
            kind,
            message: message.into(),
        }
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> &RunnerErrorKind {
        &self.kind
    }
}
