//! Problems found in a `mock.toml`, each at its place in the file, all collected before
//! anything is reported, then rendered by the scenario crate's renderer: a mock
//! configuration reports its mistakes exactly as a suite does.

use std::cell::RefCell;
use std::ops::Range;

use rolecall_scenario::{Diagnostic, LoadError, Secrets, SourceFile};

use crate::errors::MockConfigError;

/// What the closing line says could not be loaded.
const SUBJECT: &str = "the mock configuration";

/// Collects the problems of one file. Shared by reference: compiling a configuration
/// reports from closures and nested helpers alike.
#[derive(Debug)]
pub(crate) struct Problems {
    file: SourceFile,
    diagnostics: RefCell<Vec<Diagnostic>>,
    /// Credentials of the file (tokens, passwords, keys, and every `${env:…}` value),
    /// masked wherever a diagnostic would quote them.
    secrets: RefCell<Secrets>,
    /// Other files a problem was found in (recordings a `replay` layer reads).
    others: RefCell<Vec<SourceFile>>,
}

impl Problems {
    pub(crate) fn new(file: SourceFile) -> Self {
        Problems {
            file,
            diagnostics: RefCell::new(Vec::new()),
            secrets: RefCell::new(Secrets::default()),
            others: RefCell::new(Vec::new()),
        }
    }

    pub(crate) fn file(&self) -> &SourceFile {
        &self.file
    }

    /// Starts a problem at `span`; it is recorded when the builder is dropped.
    pub(crate) fn error(&self, span: Range<usize>, message: impl Into<String>) -> Problem<'_> {
        let (line, column) = self.file.line_col(span.start);
        Problem {
            diagnostics: &self.diagnostics,
            diagnostic: Some(Diagnostic {
                message: message.into(),
                path: self.file.path.clone(),
                span,
                label: String::new(),
                help: None,
                line,
                column,
            }),
        }
    }

    /// A value that must never be shown.
    pub(crate) fn secret(&self, value: &str) {
        self.secrets.borrow_mut().insert(value);
    }

    /// Problems found in other files, which are quoted from `files`.
    pub(crate) fn adopt(&self, files: Vec<SourceFile>, diagnostics: Vec<Diagnostic>) {
        self.others.borrow_mut().extend(files);
        self.diagnostics.borrow_mut().extend(diagnostics);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.diagnostics.borrow().is_empty()
    }

    pub(crate) fn into_error(self) -> MockConfigError {
        MockConfigError::new(LoadError::from_diagnostics(
            SUBJECT,
            self.diagnostics.into_inner(),
            std::iter::once(self.file)
                .chain(self.others.into_inner())
                .collect(),
            self.secrets.into_inner(),
        ))
    }
}

/// A problem with nothing to quote: the file could not be read at all.
pub(crate) fn unreadable(file: SourceFile, message: String) -> MockConfigError {
    let diagnostic = Diagnostic {
        message,
        path: file.path.clone(),
        span: 0..0,
        label: String::new(),
        help: None,
        line: 1,
        column: 1,
    };
    MockConfigError::new(LoadError::from_diagnostics(
        SUBJECT,
        vec![diagnostic],
        vec![file],
        Secrets::default(),
    ))
}

/// A builder for one problem; see [`Problems::error`].
#[derive(Debug)]
pub(crate) struct Problem<'a> {
    diagnostics: &'a RefCell<Vec<Diagnostic>>,
    diagnostic: Option<Diagnostic>,
}

impl Problem<'_> {
    /// Text printed under the carets.
    pub(crate) fn label(mut self, label: impl Into<String>) -> Self {
        if let Some(d) = &mut self.diagnostic {
            d.label = label.into();
        }
        self
    }

    /// A suggestion, printed as `= help: …`.
    pub(crate) fn help(self, help: impl Into<String>) -> Self {
        self.help_opt(Some(help.into()))
    }

    pub(crate) fn help_opt(mut self, help: Option<String>) -> Self {
        if let Some(d) = &mut self.diagnostic {
            d.help = help;
        }
        self
    }
}

impl Drop for Problem<'_> {
    fn drop(&mut self) {
        if let Some(diagnostic) = self.diagnostic.take() {
            self.diagnostics.borrow_mut().push(diagnostic);
        }
    }
}
