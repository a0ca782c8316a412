//! The writer every output of rolecall goes through: text and JSON reach the terminal or
//! a file only after every secret, in every form, is redacted.

use std::io::{self, Write};
use std::sync::Arc;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, PrettyFormatter};

use super::Secrets;

/// A writer that redacts every secret before its bytes reach `out`.
///
/// Text is redacted a line at a time, so a secret is found whatever the pieces it is
/// written in; [`flush`](Write::flush) (and dropping the writer) redacts and writes an
/// unfinished line too. Structured output goes through [`write_json`](Self::write_json),
/// which redacts each string before it is escaped instead of the JSON text, whose
/// structure a secret such as `true` could break.
///
/// A new report format writes through this type, or hands its text to
/// [`Secrets::redact`] when a library prints it (libtest, insta): a test of the `rolecall`
/// crate fails on any other way out.
///
/// ```
/// use std::io::Write as _;
/// # let suite = rolecall_scenario::Secrets::default();
/// let mut secrets = suite.clone();
/// secrets.insert("s3cr3t/token");
/// let mut out = rolecall_scenario::Redacted::new(secrets, Vec::new());
/// write!(out, "echoed s3cr3t%2Ftoken and ").unwrap();
/// writeln!(out, "s3cr3t\\/token").unwrap();
/// out.write_json(&serde_json::json!({ "token": "s3cr3t/token", "ok": true })).unwrap();
/// assert_eq!(
///     String::from_utf8(out.into_inner().unwrap()).unwrap(),
///     "echoed *** and ***\n{\n  \"ok\": true,\n  \"token\": \"***\"\n}",
/// );
/// ```
#[derive(Debug)]
pub struct Redacted<W: Write> {
    secrets: Arc<Secrets>,
    /// Always `Some` until [`into_inner`](Self::into_inner).
    out: Option<W>,
    /// The unfinished line.
    pending: Vec<u8>,
}

impl<W: Write> Redacted<W> {
    /// A writer to `out` that redacts `secrets`.
    pub fn new(secrets: impl Into<Arc<Secrets>>, out: W) -> Self {
        Redacted {
            secrets: secrets.into(),
            out: Some(out),
            pending: Vec::new(),
        }
    }

    /// The secrets redacted, for text handed to a library that prints it.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Redacts `secrets` from now on: a run learns values as it goes (minted JWTs,
    /// captured login tokens). Cheap when they are the ones already held.
    pub fn learn(&mut self, secrets: &Arc<Secrets>) {
        if !Arc::ptr_eq(&self.secrets, secrets) {
            self.secrets = secrets.clone();
        }
    }

    /// Writes `value` as pretty-printed JSON, every string (keys included) redacted before
    /// it is escaped.
    pub fn write_json<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        self.serialize(value, false)
    }

    /// [`write_json`](Self::write_json), except that raw JSON fragments in `value`
    /// (`serde_json::value::RawValue`) are written as they are, unredacted, when
    /// `redacted_with` redacted all these secrets (see [`Secrets::redacted_all_of`]);
    /// otherwise they are redacted as text, as `write_json` does.
    ///
    /// Every raw fragment must be JSON written by [`write_json`](Self::write_json) with
    /// `redacted_with`: a report that spools its cases as they finish copies them back
    /// without parsing them again, unless secrets were learned since.
    pub fn write_json_redacted_with<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        redacted_with: &Secrets,
    ) -> io::Result<()> {
        let verbatim = redacted_with.redacted_all_of(&self.secrets);
        self.serialize(value, verbatim)
    }

    fn serialize<T: Serialize + ?Sized>(&mut self, value: &T, verbatim: bool) -> io::Result<()> {
        self.write_pending()?;
        let secrets = self.secrets.clone();
        let formatter = RedactingFormatter {
            inner: PrettyFormatter::new(),
            secrets: &secrets,
            string: String::new(),
            in_string: false,
            verbatim,
        };
        let mut serializer = serde_json::Serializer::with_formatter(self.out_mut(), formatter);
        value.serialize(&mut serializer).map_err(io::Error::other)
    }

    /// Writes what is pending and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.write_pending()?;
        Ok(self.out.take().expect("the writer is taken once"))
    }

    fn out_mut(&mut self) -> &mut W {
        self.out.as_mut().expect("the writer is taken once")
    }

    /// Redacts and writes the complete lines of `pending`, or all of it with `all`.
    fn write_lines(&mut self, all: bool) -> io::Result<()> {
        let end = if all {
            self.pending.len()
        } else {
            match self.pending.iter().rposition(|&b| b == b'\n') {
                Some(at) => at + 1,
                None => return Ok(()),
            }
        };
        if end == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.pending[..end]);
        let out = self.out.as_mut().expect("the writer is taken once");
        // Copies nothing when no secret appears, the common case.
        match self.secrets.replace(&text, |_| "***".to_owned()) {
            Some(redacted) => out.write_all(redacted.as_bytes())?,
            None => out.write_all(text.as_bytes())?,
        }
        self.pending.drain(..end);
        Ok(())
    }

    fn write_pending(&mut self) -> io::Result<()> {
        self.write_lines(true)
    }
}

impl<W: Write> Write for Redacted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if buf.contains(&b'\n') {
            self.write_lines(false)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.out_mut().flush()
    }
}

impl<W: Write> Drop for Redacted<W> {
    fn drop(&mut self) {
        if self.out.is_some() {
            // As `BufWriter` does: a failure here has nowhere to go.
            let _ = self.flush();
        }
    }
}

/// serde_json's pretty printer, except that each string is collected, redacted, and only
/// then escaped and written.
struct RedactingFormatter<'s> {
    inner: PrettyFormatter<'static>,
    secrets: &'s Secrets,
    /// The string being written, unescaped (reused from one string to the next).
    string: String,
    /// Whether a string is being written.
    in_string: bool,
    /// Whether raw fragments are known to be redacted already.
    verbatim: bool,
}

/// Numbers are written into the open string when there is one (map keys that are
/// numbers), else as serde_json writes them.
macro_rules! numbers {
    ($($method:ident: $ty:ty),* $(,)?) => {$(
        fn $method<W: ?Sized + Write>(&mut self, writer: &mut W, value: $ty) -> io::Result<()> {
            match self.in_string {
                true => {
                    self.string.push_str(&value.to_string());
                    Ok(())
                }
                false => self.inner.$method(writer, value),
            }
        }
    )*};
}

impl Formatter for RedactingFormatter<'_> {
    numbers! {
        write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_i128: i128,
        write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64, write_u128: u128,
        write_f32: f32, write_f64: f64,
    }

    fn begin_string<W: ?Sized + Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.string.clear();
        self.in_string = true;
        Ok(())
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        _: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if self.in_string {
            self.string.push_str(fragment);
        }
        Ok(())
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        _: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let c = match escape {
            CharEscape::Quote => '"',
            CharEscape::ReverseSolidus => '\\',
            CharEscape::Solidus => '/',
            CharEscape::Backspace => '\u{8}',
            CharEscape::FormFeed => '\u{c}',
            CharEscape::LineFeed => '\n',
            CharEscape::CarriageReturn => '\r',
            CharEscape::Tab => '\t',
            CharEscape::AsciiControl(byte) => char::from(byte),
        };
        if self.in_string {
            self.string.push(c);
        }
        Ok(())
    }

    fn end_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.in_string = false;
        // Allocates only when a secret appears.
        let written = match self.secrets.replace(&self.string, |_| "***".to_owned()) {
            Some(redacted) => serde_json::to_writer(writer, &redacted),
            None => serde_json::to_writer(writer, &self.string),
        };
        written.map_err(io::Error::other)
    }

    fn write_raw_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        match self.verbatim {
            true => writer.write_all(fragment.as_bytes()),
            false => writer.write_all(self.secrets.redact(fragment).as_bytes()),
        }
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.begin_array(writer)
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.inner.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.begin_object(writer)
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.inner.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.inner.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Write as _;

    use super::*;

    fn secrets() -> Secrets {
        let mut secrets = Secrets::default();
        secrets.insert("p\"ss/wörd");
        secrets.insert("true");
        secrets
    }

    fn written(f: impl FnOnce(&mut Redacted<Vec<u8>>)) -> String {
        let mut out = Redacted::new(secrets(), Vec::new());
        f(&mut out);
        String::from_utf8(out.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn text_is_redacted_whatever_the_pieces_it_is_written_in() {
        let text = written(|out| {
            for piece in ["a p\"s", "s/w", "ö", "rd b\nc p%22ss%2Fw%C3", "%B6rd"] {
                out.write_all(piece.as_bytes()).unwrap();
            }
        });
        assert_eq!(text, "a *** b\nc ***");
    }

    #[test]
    fn json_strings_are_redacted_before_escaping_and_structure_stays_valid() {
        let text = written(|out| {
            let mut map = BTreeMap::new();
            map.insert("p\"ss/wörd", vec!["x p\"ss/wörd y", "true"]);
            out.write_json(&(map, true, 7, BTreeMap::from([(42, "true")])))
                .unwrap();
        });
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(
            value,
            serde_json::json!([{ "***": ["x *** y", "***"] }, true, 7, { "42": "***" }])
        );
    }

    #[test]
    fn values_learned_later_are_redacted_from_then_on() {
        let mut out = Redacted::new(Secrets::default(), Vec::new());
        out.write_all(b"captured-token-1\n").unwrap();
        let mut more = Secrets::default();
        more.insert("captured-token-1");
        out.learn(&Arc::new(more));
        out.write_all(b"captured-token-1").unwrap();
        let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
        assert_eq!(text, "captured-token-1\n***");
    }
}
