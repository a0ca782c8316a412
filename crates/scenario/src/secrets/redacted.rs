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
    /// The last answer of [`Secrets::redacted_all_of`] for
    /// [`write_sealed`](Self::write_sealed): the automata of the sealing set and of
    /// `secrets` it was asked for (held, so that neither address is reused), and the
    /// answer.
    trusted: Option<(Matcher, Matcher, bool)>,
}

/// What [`Redacted::write_small_json`] keeps from one value to the next: its text
/// buffer, and the short strings in which a set of secrets was found absent (a report
/// that writes the same keys and values case after case searches each once per set of
/// secrets, not once per case; forgotten when the set changes, and when full).
#[derive(Debug, Default)]
pub struct CleanStrings {
    /// The automaton of the set the strings were searched with.
    searched_with: Option<Matcher>,
    strings: std::collections::HashSet<Box<str>>,
    /// A value's JSON text, and its strings unescaped, each followed by [`SEPARATOR`]
    /// (both reused from one value to the next).
    text: Vec<u8>,
    strings_text: Vec<u8>,
}

/// What follows each string [`CollectingFormatter`] collects: not UTF-8, so in no form.
const SEPARATOR: u8 = 0xFF;

impl CleanStrings {
    /// The most strings remembered; past it all are forgotten.
    const CAPACITY: usize = 4096;
    /// The longest string remembered, in bytes.
    const LONGEST: usize = 64;

    /// Forgets every string unless they were searched with `secrets`.
    fn for_secrets(&mut self, secrets: &Secrets) {
        if !self
            .searched_with
            .as_ref()
            .is_some_and(|m| Arc::ptr_eq(m, &secrets.matcher))
        {
            self.strings.clear();
            self.searched_with = Some(secrets.matcher.clone());
        }
    }

    fn contains(&self, text: &str) -> bool {
        text.len() <= Self::LONGEST && self.strings.contains(text)
    }

    fn insert(&mut self, text: &str) {
        if text.len() <= Self::LONGEST {
            if self.strings.len() >= Self::CAPACITY {
                self.strings.clear();
            }
            self.strings.insert(text.into());
        }
    }
}

/// An automaton's cell, which identifies a set of secrets and its clones.
type Matcher = Arc<super::Compiled>;

impl<W: Write> Redacted<W> {
    /// A writer to `out` that redacts `secrets`.
    pub fn new(secrets: impl Into<Arc<Secrets>>, out: W) -> Self {
        Redacted {
            secrets: secrets.into(),
            out: Some(out),
            pending: Vec::new(),
            trusted: None,
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

    /// Writes `piece`, text sealed with `sealed_with`: redacted with it as a whole, exactly
    /// as it is written here (what [`Secrets::redact`] returned; text sealed with a set
    /// that [`redacted_all_of`](Secrets::redacted_all_of) a later one is sealed with that
    /// one too). Only the bytes near its two ends are searched again, not the whole of
    /// it, when `sealed_with` redacted every form the secrets now held do; otherwise it
    /// is written as any text is.
    ///
    /// Why that is enough: no form of the current secrets lies inside the piece (the
    /// seal found every one, and none holds the `*` a redaction writes), so a form that
    /// appears once the piece is joined to what comes before or after it crosses one of
    /// its ends. Such a form reaches into the piece at most `L - 1` bytes, `L` being the
    /// longest form ([`Secrets::longest_form`]), and never past a byte that no form holds
    /// ([`Secrets::may_hold`]: for most secrets `<`, `>` and line breaks, so markup that
    /// starts and ends with a tag has no window at all). The bytes up to the first such
    /// limit are therefore redacted together with the text before the piece, the bytes
    /// from the last one together with the text after it, and only the middle, which no
    /// form can touch, is written as it is. Nothing is assumed of what separates two
    /// pieces: markup and pieces written back to back are searched across.
    pub fn write_sealed(&mut self, piece: &str, sealed_with: &Secrets) -> io::Result<()> {
        if !self.trusts(sealed_with) {
            return self.write_all(piece.as_bytes());
        }
        let bytes = piece.as_bytes();
        let window = self.secrets.longest_form().saturating_sub(1);
        let limit = |b: &u8| !self.secrets.may_hold(*b);
        let head = bytes
            .iter()
            .position(limit)
            .unwrap_or(bytes.len())
            .min(window);
        let tail = bytes
            .iter()
            .rposition(limit)
            .map_or(0, |at| at + 1)
            .max(bytes.len().saturating_sub(window));
        // Char boundaries, as the pending text is redacted as UTF-8.
        let head = ceil_char_boundary(piece, head);
        let tail = floor_char_boundary(piece, tail);
        if head >= tail {
            return self.write_all(bytes);
        }
        self.pending.extend_from_slice(&bytes[..head]);
        self.write_pending()?;
        self.out_mut().write_all(&bytes[head..tail])?;
        self.write_all(&bytes[tail..])
    }

    /// Writes `json`, JSON text written by [`write_json`](Self::write_json) with
    /// `redacted_with` (every string redacted before it was escaped), as it is when
    /// `redacted_with` redacted every form the secrets now held do; otherwise redacted as
    /// text, as [`write_json_redacted_with`](Self::write_json_redacted_with) does with a
    /// raw fragment. Never through the line redaction, which could break its structure.
    pub fn write_json_sealed(&mut self, json: &str, redacted_with: &Secrets) -> io::Result<()> {
        self.write_pending()?;
        if self.trusts(redacted_with) {
            self.out_mut().write_all(json.as_bytes())
        } else {
            let redacted = self.secrets.redact(json);
            self.out_mut().write_all(redacted.as_bytes())
        }
    }

    /// Whether text sealed with `sealed_with` needs no second pass with the secrets now
    /// held; remembered for the last set asked about.
    fn trusts(&mut self, sealed_with: &Secrets) -> bool {
        match &self.trusted {
            Some((sealed, now, answer))
                if Arc::ptr_eq(sealed, &sealed_with.matcher)
                    && Arc::ptr_eq(now, &self.secrets.matcher) =>
            {
                *answer
            }
            _ => {
                let answer = sealed_with.redacted_all_of(&self.secrets);
                self.trusted = Some((
                    sealed_with.matcher.clone(),
                    self.secrets.matcher.clone(),
                    answer,
                ));
                answer
            }
        }
    }

    /// Writes `value` as pretty-printed JSON, every string (keys included) redacted before
    /// it is escaped.
    pub fn write_json<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        self.serialize(value, false, None)
    }

    /// [`write_json`](Self::write_json), remembering in `clean` the short strings in
    /// which no secret was found, and not searching those again.
    pub fn write_json_remembering<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        clean: &mut CleanStrings,
    ) -> io::Result<()> {
        clean.for_secrets(&self.secrets);
        self.serialize(value, false, Some(clean))
    }

    /// [`write_json`](Self::write_json) of a small value (one report case): the same
    /// bytes, found faster. `value` is serialized as it is into a buffer of `clean`'s,
    /// its strings (keys, and raw fragments, included) collected unescaped beside it,
    /// each followed by `0xFF`, which no form of a secret holds (forms are UTF-8): one
    /// search of the collection finds exactly the strings that hold a secret, where
    /// `write_json` searches each string on its own. Only when one does is `value` written
    /// again by [`write_json_remembering`](Self::write_json_remembering), string by
    /// string. The whole text is held in memory: not for a whole report.
    pub fn write_small_json<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        clean: &mut CleanStrings,
    ) -> io::Result<()> {
        self.write_pending()?;
        let mut text = std::mem::take(&mut clean.text);
        let mut strings = std::mem::take(&mut clean.strings_text);
        text.clear();
        strings.clear();
        let formatter = CollectingFormatter {
            inner: PrettyFormatter::new(),
            strings: &mut strings,
            in_string: false,
        };
        let mut serializer = serde_json::Serializer::with_formatter(&mut text, formatter);
        let serialized = value.serialize(&mut serializer).map_err(io::Error::other);
        let written = match serialized {
            Err(e) => Err(e),
            Ok(()) if !self.secrets.appear_in_bytes(&strings) => self.out_mut().write_all(&text),
            Ok(()) => self.write_json_remembering(value, clean),
        };
        clean.text = text;
        clean.strings_text = strings;
        written
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
        self.serialize(value, verbatim, None)
    }

    fn serialize<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        verbatim: bool,
        clean: Option<&mut CleanStrings>,
    ) -> io::Result<()> {
        self.write_pending()?;
        let secrets = self.secrets.clone();
        let formatter = RedactingFormatter {
            inner: PrettyFormatter::new(),
            secrets: &secrets,
            string: String::new(),
            in_string: false,
            verbatim,
            clean,
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

/// The first char boundary of `text` at or after `at`.
fn ceil_char_boundary(text: &str, at: usize) -> usize {
    (at..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len())
}

/// The last char boundary of `text` at or before `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len()))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
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
    /// Strings known to hold no secret of `secrets`, and where to add more.
    clean: Option<&'s mut CleanStrings>,
}

/// serde_json's pretty printer, which also collects every string it writes (keys, and
/// raw fragments, included) unescaped, each followed by [`SEPARATOR`], for one search.
struct CollectingFormatter<'s> {
    inner: PrettyFormatter<'static>,
    strings: &'s mut Vec<u8>,
    /// Whether a string is being written.
    in_string: bool,
}

/// Numbers in a string (map keys that are numbers) are collected too.
macro_rules! collected_numbers {
    ($($method:ident: $ty:ty),* $(,)?) => {$(
        fn $method<W: ?Sized + Write>(&mut self, writer: &mut W, value: $ty) -> io::Result<()> {
            if self.in_string {
                self.strings.extend_from_slice(value.to_string().as_bytes());
            }
            self.inner.$method(writer, value)
        }
    )*};
}

/// The pretty printer's layout, for a formatter holding one as `inner`.
macro_rules! pretty_layout {
    () => {
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
    };
}

impl Formatter for CollectingFormatter<'_> {
    collected_numbers! {
        write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_i128: i128,
        write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64, write_u128: u128,
        write_f32: f32, write_f64: f64,
    }

    fn begin_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.in_string = true;
        self.inner.begin_string(writer)
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        self.strings.extend_from_slice(fragment.as_bytes());
        self.inner.write_string_fragment(writer, fragment)
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let mut utf8 = [0; 4];
        self.strings
            .extend_from_slice(unescaped(&escape).encode_utf8(&mut utf8).as_bytes());
        self.inner.write_char_escape(writer, escape)
    }

    fn end_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.in_string = false;
        self.strings.push(SEPARATOR);
        self.inner.end_string(writer)
    }

    fn write_raw_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        self.strings.extend_from_slice(fragment.as_bytes());
        self.strings.push(SEPARATOR);
        self.inner.write_raw_fragment(writer, fragment)
    }

    pretty_layout!();
}

/// The character a JSON escape stands for.
fn unescaped(escape: &CharEscape) -> char {
    match *escape {
        CharEscape::Quote => '"',
        CharEscape::ReverseSolidus => '\\',
        CharEscape::Solidus => '/',
        CharEscape::Backspace => '\u{8}',
        CharEscape::FormFeed => '\u{c}',
        CharEscape::LineFeed => '\n',
        CharEscape::CarriageReturn => '\r',
        CharEscape::Tab => '\t',
        CharEscape::AsciiControl(byte) => char::from(byte),
    }
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
        if self.in_string {
            self.string.push(unescaped(&escape));
        }
        Ok(())
    }

    fn end_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.in_string = false;
        if self
            .clean
            .as_ref()
            .is_some_and(|clean| clean.contains(&self.string))
        {
            return serde_json::to_writer(writer, &self.string).map_err(io::Error::other);
        }
        // Allocates only when a secret appears.
        let written = match self.secrets.replace(&self.string, |_| "***".to_owned()) {
            Some(redacted) => serde_json::to_writer(writer, &redacted),
            None => {
                if let Some(clean) = &mut self.clean {
                    clean.insert(&self.string);
                }
                serde_json::to_writer(writer, &self.string)
            }
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

    pretty_layout!();
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
    fn a_secret_split_across_sealed_pieces_or_markup_is_still_redacted() {
        let secrets = Arc::new(secrets());
        // Longer than twice the longest form: each piece has a middle that is trusted.
        let fill = "-".repeat(2 * secrets.longest_form() + 10);
        let pieces = [
            format!("<td>{fill}p\"s"),
            format!("s/wörd</td><td>{fill}</td>"),
            format!("<td>é {fill} a secret's head: p\"ss"),
            format!("örd, and a tail {fill}\n"),
        ];
        // Each piece alone holds no secret: sealing changes nothing.
        for piece in &pieces {
            assert_eq!(secrets.redact(piece), *piece);
        }
        let mut out = Redacted::new(secrets.clone(), Vec::new());
        out.write_all(b"<tr>").unwrap();
        // Back to back, and with markup between two pieces.
        out.write_sealed(&pieces[0], &secrets).unwrap();
        out.write_sealed(&pieces[1], &secrets).unwrap();
        out.write_sealed(&pieces[2], &secrets).unwrap();
        out.write_all(b"/w").unwrap();
        out.write_sealed(&pieces[3], &secrets).unwrap();
        let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
        assert_eq!(
            text,
            format!(
                "<tr><td>{fill}***</td><td>{fill}</td><td>é {fill} a secret's head: ***, and \
                 a tail {fill}\n"
            )
        );
        // A byte no form holds limits the windows: what lies between the first and the
        // last `<` or `>` of a piece is not searched, what lies outside them is, across
        // the piece's ends.
        assert!(!secrets.may_hold(b'<') && !secrets.may_hold(b'>') && secrets.may_hold(b'P'));
        let mut out = Redacted::new(secrets.clone(), Vec::new());
        out.write_all(b"p\"ss/").unwrap();
        out.write_sealed("wörd<td>x</td>p\"s", &secrets).unwrap();
        out.write_all("s/wörd".as_bytes()).unwrap();
        let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
        assert_eq!(text, "***<td>x</td>***");
        // Only the ends are searched: a middle is taken as sealed (here, falsely) …
        let lying = format!("<{fill}p\"ss/wörd{fill}>");
        let mut out = Redacted::new(secrets.clone(), Vec::new());
        out.write_sealed(&lying, &secrets).unwrap();
        assert_eq!(out.into_inner().unwrap(), lying.as_bytes());
        // … but only when it was sealed with every form held now: a piece sealed before
        // a value was learned is searched whole.
        let mut out = Redacted::new(secrets.clone(), Vec::new());
        out.write_sealed(&lying, &Secrets::default()).unwrap();
        let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
        assert_eq!(text, format!("<{fill}***{fill}>"));
    }

    #[test]
    fn strings_remembered_clean_are_searched_again_once_a_secret_is_learned() {
        let mut clean = CleanStrings::default();
        let mut out = Redacted::new(Secrets::default(), Vec::new());
        out.write_json_remembering(&["tok-learned", "tok-learned"], &mut clean)
            .unwrap();
        assert!(clean.contains("tok-learned"));
        let mut learned = Secrets::default();
        learned.insert("tok-learned");
        out.learn(&Arc::new(learned));
        out.write_json_remembering(&["tok-learned"], &mut clean)
            .unwrap();
        let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
        assert_eq!(
            text,
            "[\n  \"tok-learned\",\n  \"tok-learned\"\n][\n  \"***\"\n]"
        );
    }

    #[test]
    fn a_value_searched_as_one_text_is_redacted_in_every_encoding_as_write_json_does() {
        let mut secrets = Secrets::default();
        secrets.insert("p@ss w/rd+é");
        // A private key: only its own text, and the form serde_json writes it in.
        secrets.add_unsent("-----BEGIN KEY-----\nmaterial\n-----END KEY-----");
        let secrets = Arc::new(secrets);
        let echoes = [
            "p@ss w/rd+é",
            "P@SS W/RD+é",
            "next=%2Flogin%3Ft%3Dp%40ss%20w%2Frd%2B%C3%A9",
            "t=p%40ss+w%2Frd%2B%C3%A9",
            r#"{"error":"bad token p@ss w\/rd+\u00e9"}"#,
            "<p>p&#64;ss w&#47;rd&#43;&#233;</p>",
            "cEBzcyB3L3JkK8Op",
            "key: -----BEGIN KEY-----\nmaterial\n-----END KEY-----",
        ];
        let mut clean = CleanStrings::default();
        for echoed in echoes {
            let value = serde_json::json!({ "body": format!("x {echoed} y"), "ok": true });
            let mut fast = Redacted::new(secrets.clone(), Vec::new());
            fast.write_small_json(&value, &mut clean).unwrap();
            let fast = String::from_utf8(fast.into_inner().unwrap()).unwrap();
            let mut slow = Redacted::new(secrets.clone(), Vec::new());
            slow.write_json(&value).unwrap();
            let slow = String::from_utf8(slow.into_inner().unwrap()).unwrap();
            assert_eq!(fast, slow, "{echoed}");
            assert!(fast.contains("***"), "{echoed} → {fast}");
            assert!(!fast.contains("ss") && !fast.contains("material"), "{fast}");
        }
        // Without a secret, the text is the plain pretty JSON, unsearched string by string.
        let value = serde_json::json!({ "body": "nothing", "ids": [1, 2], "ok": true });
        let mut out = Redacted::new(secrets.clone(), Vec::new());
        out.write_small_json(&value, &mut clean).unwrap();
        let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
        assert_eq!(text, serde_json::to_string_pretty(&value).unwrap());
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
