//! Per-case text that a report needs only when the run finishes (a failure's explanation,
//! a serialized case), kept in an anonymous temporary file instead of memory: a run of
//! 100,000 cases holds a few numbers per case, never every case's text.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt as _;

/// Where one piece of text lies in a [`Spool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    offset: u64,
    len: usize,
}

/// An append-only store of texts in an anonymous temporary file (created on the first
/// [`push`](Self::push), removed by the operating system when it is dropped).
#[derive(Debug, Default)]
pub(crate) struct Spool {
    file: Option<BufWriter<File>>,
    written: u64,
}

impl Spool {
    /// Appends `bytes`, returning where they lie.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> io::Result<Span> {
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(BufWriter::new(tempfile::tempfile()?)),
        };
        file.write_all(bytes)?;
        let span = Span {
            offset: self.written,
            len: bytes.len(),
        };
        self.written += bytes.len() as u64;
        Ok(span)
    }

    /// Writes out what is buffered, so that [`read`](Self::read) sees every push.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }

    /// Reads the bytes at `span` into `buf` (replacing its contents); call
    /// [`flush`](Self::flush) after the last push first.
    pub(crate) fn read(&self, span: Span, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.clear();
        buf.resize(span.len, 0);
        if span.len == 0 {
            return Ok(());
        }
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| io::Error::other("the spool holds nothing"))?;
        file.get_ref().read_exact_at(buf, span.offset)
    }

    /// The text at `span`, as pushed from a `&str`.
    pub(crate) fn read_string(&self, span: Span) -> io::Result<String> {
        let mut buf = Vec::new();
        self.read(span, &mut buf)?;
        String::from_utf8(buf).map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_come_back_as_pushed_also_between_pushes() {
        let mut spool = Spool::default();
        let empty = spool.push(b"").unwrap();
        let a = spool.push("première".as_bytes()).unwrap();
        spool.flush().unwrap();
        assert_eq!(spool.read_string(a).unwrap(), "première");
        let b = spool.push(b"second").unwrap();
        spool.flush().unwrap();
        assert_eq!(spool.read_string(b).unwrap(), "second");
        assert_eq!(spool.read_string(a).unwrap(), "première");
        assert_eq!(spool.read_string(empty).unwrap(), "");
    }
}
