//! Problems with an API description or a HAR file: each located by a JSON pointer, or by
//! line and column where the file does not parse, and all collected before any is shown.

use std::fmt;
use std::path::PathBuf;

/// Where in a file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The file as a whole (it cannot be read).
    File,
    /// A 1-based line and column: the file does not parse.
    LineCol(usize, usize),
    /// A JSON pointer (RFC 6901) into the parsed document; `""` is the root.
    Pointer(String),
}

/// One problem with an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The file at fault.
    pub file: PathBuf,
    /// Where in it.
    pub place: Place,
    /// What is wrong, lowercase, without the location.
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match &self.place {
            Place::File => write!(f, "{file}: {}", self.message),
            Place::LineCol(line, col) => write!(f, "{file}:{line}:{col}: {}", self.message),
            Place::Pointer(p) if p.is_empty() => {
                write!(f, "{file} (at the root): {}", self.message)
            }
            Place::Pointer(p) => write!(f, "{file} at `{p}`: {}", self.message),
        }
    }
}

/// Every problem found in the inputs, in the order found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InputErrors(pub Vec<InputError>);

impl fmt::Display for InputErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}

/// Escapes one reference token of a JSON pointer.
pub(crate) fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// `base` with `keys` appended as pointer tokens.
pub(crate) fn pointer(base: &str, keys: &[&str]) -> String {
    let mut p = base.to_owned();
    for k in keys {
        p.push('/');
        p.push_str(&token(k));
    }
    p
}
