//! Per-case text that a report needs only when the run finishes (a failure's explanation,
//! a serialized case), kept in an anonymous temporary file instead of memory: a run of
//! 100,000 cases holds a few numbers per case, never every case's text.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt as _;

/// Where one piece of text lies in a [`Spool`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

/// How many bytes a [`Cursor`] reads at once.
const WINDOW: usize = 16 * 1024;

/// Reads pieces back from a [`Spool`] a window at a time: pieces read in an order close
/// to the one they were pushed in (suite order against arrival order) cost one read per
/// window, not one per piece.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    spool: &'a Spool,
    window: Vec<u8>,
    /// Where `window` starts in the spool, and how many of its bytes are the spool's.
    start: u64,
    held: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor on `spool`; call [`Spool::flush`] after the last push first.
    pub(crate) fn new(spool: &'a Spool) -> Self {
        Cursor {
            spool,
            window: Vec::new(),
            start: 0,
            held: 0,
        }
    }

    /// The bytes at `span`.
    pub(crate) fn read(&mut self, span: Span) -> io::Result<&[u8]> {
        let end = span.offset + span.len as u64;
        let held = self.start + self.held as u64;
        if span.offset < self.start || end > held {
            // A little before the piece too: pieces come back roughly in order.
            let start = span.offset.saturating_sub(WINDOW as u64 / 8);
            let want = WINDOW.max(span.len) as u64 + (span.offset - start);
            let len = usize::try_from((self.spool.written - start).min(want))
                .map_err(io::Error::other)?;
            if self.window.len() < len {
                self.window.resize(len, 0);
            }
            let file = self
                .spool
                .file
                .as_ref()
                .ok_or_else(|| io::Error::other("the spool holds nothing"))?;
            file.get_ref()
                .read_exact_at(&mut self.window[..len], start)?;
            self.start = start;
            self.held = len;
        }
        let at = usize::try_from(span.offset - self.start).map_err(io::Error::other)?;
        Ok(&self.window[at..at + span.len])
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

    #[test]
    fn a_cursor_reads_pieces_back_in_any_order_across_windows() {
        let mut spool = Spool::default();
        let pieces: Vec<(Span, String)> = (0..5_000)
            .map(|i| {
                let text = format!("piece {i} {}", "x".repeat(i % 97));
                (spool.push(text.as_bytes()).unwrap(), text)
            })
            .collect();
        let big = "y".repeat(3 * WINDOW);
        let at = spool.push(big.as_bytes()).unwrap();
        spool.flush().unwrap();
        let mut cursor = Cursor::new(&spool);
        assert_eq!(cursor.read(at).unwrap(), big.as_bytes());
        for i in (0..pieces.len()).rev().step_by(7).chain(0..pieces.len()) {
            let (span, text) = &pieces[i];
            assert_eq!(cursor.read(*span).unwrap(), text.as_bytes(), "{i}");
        }
    }
}
