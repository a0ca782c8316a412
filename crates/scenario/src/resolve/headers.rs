//! Header names and values, checked where they are written: what the wire would refuse
//! (or split into two headers) is reported when the suite loads, at the character at
//! fault, or at the `${env:NAME}` whose value holds it (never showing that value).

use super::Cx;
use crate::diagnostic::SourceFile;
use std::borrow::Cow;
use std::ops::Range;
use toml::Spanned;
use toml::de::DeValue;

use crate::load::EnvPieces;

/// What a string in an item is sent as.
#[derive(Debug, Clone, Copy)]
pub(super) enum Field {
    /// A table of header names and values.
    Headers,
    /// A header name.
    Name,
    /// The value of the named header.
    Value(&'static str),
    /// The value of the API key header, named by the sibling `header`.
    ApiKeyValue,
    /// A table of cookie names and values.
    Cookies,
    /// A cookie name.
    CookieName,
    /// A table whose keys are header names (response header matchers).
    HeaderNames,
    /// A Basic authentication user name.
    BasicUser,
}

/// Where suite defaults set headers.
pub(super) const DEFAULTS: &[(&[&str], Field)] = &[
    (&["headers"], Field::Headers),
    (&["client_ip_header"], Field::Name),
    (&["country_header"], Field::Name),
];

/// Where an identity sets headers, directly or through a credential.
pub(super) const IDENTITY: &[(&[&str], Field)] = &[
    (&["headers"], Field::Headers),
    (&["bearer"], Field::Value("Authorization")),
    (&["user_agent"], Field::Value("User-Agent")),
    (&["referer"], Field::Value("Referer")),
    (&["origin"], Field::Value("Origin")),
    (&["cookies"], Field::Cookies),
    (&["api_key", "header"], Field::Name),
    (&["api_key", "value"], Field::ApiKeyValue),
    (&["basic", "username"], Field::BasicUser),
    (&["jwt", "header"], Field::Name),
    (&["login", "headers"], Field::Headers),
    (&["login", "cookie"], Field::CookieName),
    (
        &["login", "body", "content_type"],
        Field::Value("Content-Type"),
    ),
];

/// Where a route sets headers.
pub(super) const ROUTE: &[(&[&str], Field)] = &[
    (&["headers"], Field::Headers),
    (&["body", "content_type"], Field::Value("Content-Type")),
];

/// Where a `[[route.case]]` names headers.
pub(super) const CASE: &[(&[&str], Field)] = &[(&["headers"], Field::HeaderNames)];

/// What is wrong with a name or value, and at which byte of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flaw {
    Empty,
    TooLong,
    LineBreak,
    Control(char),
    NonAscii,
    /// A character a header name may not hold.
    NotToken(char),
    /// `;` in a cookie value.
    Semicolon,
    /// `:` in a Basic user name.
    Colon,
}

/// The longest header name the wire accepts.
const MAX_NAME_BYTES: usize = (1 << 16) - 1;

/// `tchar` of RFC 9110: what a header (or cookie) name is made of.
fn is_token(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// The first flaw of a header value: it holds visible ASCII, spaces and tabs. Other bytes
/// (obs-text) are refused too: HTTP deprecates them and the runner sends text only.
pub(crate) fn value_flaw(value: &str) -> Option<(usize, Flaw)> {
    value.char_indices().find_map(|(i, c)| {
        let flaw = match c {
            '\r' | '\n' => Flaw::LineBreak,
            '\t' | ' '..='~' => return None,
            c if c.is_ascii() => Flaw::Control(c),
            _ => Flaw::NonAscii,
        };
        Some((i, flaw))
    })
}

/// The first flaw of a header name: one or more token characters.
pub(crate) fn name_flaw(name: &str) -> Option<(usize, Flaw)> {
    if name.is_empty() {
        return Some((0, Flaw::Empty));
    }
    if name.len() > MAX_NAME_BYTES {
        return Some((0, Flaw::TooLong));
    }
    name.char_indices()
        .find(|&(_, c)| !is_token(c))
        .map(|(i, c)| {
            let flaw = match value_flaw(c.encode_utf8(&mut [0; 4])) {
                Some((_, flaw)) => flaw,
                None => Flaw::NotToken(c),
            };
            (i, flaw)
        })
}

fn cookie_value_flaw(value: &str) -> Option<(usize, Flaw)> {
    let semicolon = value.find(';').map(|i| (i, Flaw::Semicolon));
    match (value_flaw(value), semicolon) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

impl Flaw {
    /// Under the carets.
    fn label(self) -> String {
        match self {
            Flaw::Empty => "empty name".to_owned(),
            Flaw::TooLong => "longer than 65,535 bytes".to_owned(),
            Flaw::LineBreak => "line break".to_owned(),
            Flaw::Control(c) => format!("control character U+{:04X}", u32::from(c)),
            Flaw::NonAscii => "non-ASCII character".to_owned(),
            Flaw::NotToken(c) => format!("`{}` is not allowed in a name", c.escape_debug()),
            Flaw::Semicolon => "`;` ends a cookie value".to_owned(),
            Flaw::Colon => "`:` ends the user name".to_owned(),
        }
    }

    /// After "the value of `NAME` contains".
    fn described(self) -> String {
        match self {
            Flaw::LineBreak => "a line break".to_owned(),
            Flaw::NonAscii => "a non-ASCII character".to_owned(),
            Flaw::NotToken(c) => format!("`{}`", c.escape_debug()),
            Flaw::Semicolon => "`;`".to_owned(),
            Flaw::Colon => "`:`".to_owned(),
            other => other.label(),
        }
    }

    fn help(self, name: bool) -> &'static str {
        match self {
            Flaw::LineBreak => "a line break would end the header and start another one; remove it",
            Flaw::Semicolon => {
                "`;` would end the cookie and start its attributes; percent-encode it"
            }
            Flaw::Colon => "Basic authentication cannot send a user name with `:` (RFC 7617)",
            _ if name => "header and cookie names are letters, digits and any of !#$%&'*+-.^_`|~",
            Flaw::NonAscii => {
                "header values hold visible ASCII characters, spaces and tabs; percent-encode other characters"
            }
            _ => "header values hold visible ASCII characters, spaces and tabs",
        }
    }
}

/// Checks every string of `item` that `fields` says is sent in a header.
pub(super) fn check_headers(
    cx: &mut Cx,
    file: &SourceFile,
    pieces: &EnvPieces,
    item: &Spanned<DeValue<'_>>,
    fields: &[(&[&str], Field)],
) {
    let mut check = Check { cx, file, pieces };
    for (path, field) in fields {
        let Some(value) = lookup(item, path) else {
            continue;
        };
        let at = || path.join(".");
        match (field, value.get_ref()) {
            (Field::Headers, DeValue::Table(table)) => {
                for (name, value) in table {
                    let shown = name.get_ref().escape_debug().to_string();
                    check.key(name, || format!("invalid header name `{shown}`"), name_flaw);
                    check.string(
                        value,
                        || format!("invalid value for header `{shown}`"),
                        value_flaw,
                    );
                }
            }
            (Field::HeaderNames, DeValue::Table(table)) => {
                for (name, _) in table {
                    let shown = name.get_ref().escape_debug().to_string();
                    check.key(name, || format!("invalid header name `{shown}`"), name_flaw);
                }
            }
            (Field::Cookies, DeValue::Table(table)) => {
                for (name, value) in table {
                    let shown = name.get_ref().escape_debug().to_string();
                    check.key(name, || format!("invalid cookie name `{shown}`"), name_flaw);
                    check.string(
                        value,
                        || format!("invalid value for cookie `{shown}`"),
                        cookie_value_flaw,
                    );
                }
            }
            (Field::Name, _) => {
                check.string(
                    value,
                    || format!("invalid header name in `{}`", at()),
                    name_flaw,
                );
            }
            (Field::CookieName, _) => {
                check.string(
                    value,
                    || format!("invalid cookie name in `{}`", at()),
                    name_flaw,
                );
            }
            (Field::Value(header), _) => {
                check.string(
                    value,
                    || format!("invalid value for header `{header}`"),
                    value_flaw,
                );
            }
            (Field::ApiKeyValue, _) => {
                let header = lookup(item, &["api_key", "header"])
                    .and_then(|h| h.get_ref().as_str())
                    .unwrap_or("X-API-Key")
                    .escape_debug()
                    .to_string();
                check.string(
                    value,
                    || format!("invalid value for header `{header}`"),
                    value_flaw,
                );
            }
            (Field::BasicUser, _) => {
                let colon = |user: &str| user.find(':').map(|i| (i, Flaw::Colon));
                check.string(value, || format!("invalid user name in `{}`", at()), colon);
            }
            _ => {}
        }
    }
}

fn lookup<'a, 'i>(
    item: &'a Spanned<DeValue<'i>>,
    path: &[&str],
) -> Option<&'a Spanned<DeValue<'i>>> {
    path.iter().try_fold(item, |at, key| match at.get_ref() {
        DeValue::Table(table) => table.get(*key),
        _ => None,
    })
}

struct Check<'a> {
    cx: &'a mut Cx,
    file: &'a SourceFile,
    pieces: &'a EnvPieces,
}

impl Check<'_> {
    /// A table key (never interpolated).
    fn key(
        &mut self,
        key: &Spanned<Cow<'_, str>>,
        what: impl Fn() -> String,
        flaw_of: impl Fn(&str) -> Option<(usize, Flaw)>,
    ) {
        let Some((at, flaw)) = flaw_of(key.get_ref()) else {
            return;
        };
        let span = literal_span(self.file, key.span(), key.get_ref(), at).unwrap_or(key.span());
        let message = match flaw {
            // "invalid header name ``" reads as a typo of the message.
            Flaw::Empty => what().replace("invalid ", "empty ").replace(" ``", ""),
            _ => what(),
        };
        self.cx
            .error(self.file, span, message)
            .label(flaw.label())
            .help(flaw.help(true));
    }

    /// A string value, possibly interpolated; other kinds are left to deserialization.
    fn string(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        what: impl Fn() -> String,
        flaw_of: impl Fn(&str) -> Option<(usize, Flaw)>,
    ) {
        let Some(text) = value.get_ref().as_str() else {
            return;
        };
        let Some((at, flaw)) = flaw_of(text) else {
            return;
        };
        let is_name = matches!(flaw, Flaw::Empty | Flaw::TooLong | Flaw::NotToken(_));
        let pieces = self.pieces.of(value.span().start);
        if let Some(piece) = pieces.iter().find(|p| p.range.contains(&at)) {
            // The value may be a secret: the message names the variable and the kind of
            // character, never the value.
            self.cx
                .error(
                    self.file,
                    piece.span.clone(),
                    format!(
                        "{}: the value of `{}` contains {}",
                        what(),
                        piece.name,
                        flaw.described()
                    ),
                )
                .label("from the environment")
                .help("environment values are sent as they are: remove the character where the variable is set");
            return;
        }
        // Interpolation moved the text: point at the whole value.
        let moved = self.pieces.interpolated(value.span().start);
        let span = (!moved)
            .then(|| literal_span(self.file, value.span(), text, at))
            .flatten()
            .unwrap_or(value.span());
        self.cx
            .error(self.file, span, what())
            .label(flaw.label())
            .help(flaw.help(is_name));
    }
}

/// The source of the character at byte `at` of `text`, a string written at `span`:
/// plain, quoted, literal or basic with escapes. `None` for forms it does not map
/// (multi-line basic strings).
fn literal_span(
    file: &SourceFile,
    span: Range<usize>,
    text: &str,
    at: usize,
) -> Option<Range<usize>> {
    let source = file.text.get(span.clone())?;
    let c = text[at..].chars().next()?;
    // A line break written as one is shown as a caret at the end of its line.
    let char_len = if c == '\n' || c == '\r' {
        0
    } else {
        c.len_utf8()
    };
    let plain = |offset: usize| Some(span.start + offset + at..span.start + offset + at + char_len);
    if let Some(rest) = source.strip_prefix("'''") {
        // A newline right after the opening delimiter is not part of the string.
        let skip = if rest.starts_with("\r\n") {
            2
        } else {
            usize::from(rest.starts_with('\n'))
        };
        return plain(3 + skip);
    }
    if source.starts_with("\"\"\"") {
        return None;
    }
    if source.starts_with('\'') {
        return plain(1);
    }
    let Some(body) = source.strip_prefix('"') else {
        return plain(0);
    };
    // A basic string: walk its escapes, counting the bytes each one stands for.
    let mut decoded = 0;
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        let (len, end) = if c == '\\' {
            let (_, kind) = chars.next()?;
            let hex = match kind {
                'u' => 4,
                'U' => 8,
                'x' => 2,
                _ => 0,
            };
            let mut end = i + 2;
            let mut code = String::new();
            for _ in 0..hex {
                let (j, h) = chars.next()?;
                code.push(h);
                end = j + 1;
            }
            let len = if hex == 0 {
                1
            } else {
                char::from_u32(u32::from_str_radix(&code, 16).ok()?)?.len_utf8()
            };
            (len, end)
        } else {
            (c.len_utf8(), i + c.len_utf8())
        };
        if decoded <= at && at < decoded + len {
            return Some(span.start + 1 + i..span.start + 1 + end);
        }
        decoded += len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn names_and_values_are_what_the_wire_accepts() {
        assert_eq!(value_flaw("a\tb ~!"), None);
        assert_eq!(value_flaw(""), None);
        assert_eq!(value_flaw("a\r\nb"), Some((1, Flaw::LineBreak)));
        assert_eq!(value_flaw("a\u{7f}"), Some((1, Flaw::Control('\u{7f}'))));
        assert_eq!(value_flaw("é"), Some((0, Flaw::NonAscii)));
        assert_eq!(name_flaw("X-Api_Key.1"), None);
        assert_eq!(name_flaw(""), Some((0, Flaw::Empty)));
        assert_eq!(name_flaw("X Y"), Some((1, Flaw::NotToken(' '))));
        assert_eq!(name_flaw("X:Y"), Some((1, Flaw::NotToken(':'))));
        assert_eq!(name_flaw("X\nY"), Some((1, Flaw::LineBreak)));
        assert_eq!(name_flaw("Xé"), Some((1, Flaw::NonAscii)));
        assert_eq!(
            name_flaw(&"x".repeat(MAX_NAME_BYTES + 1)),
            Some((0, Flaw::TooLong))
        );
        assert_eq!(
            cookie_value_flaw("a=b; Domain=x"),
            Some((3, Flaw::Semicolon))
        );
    }

    #[track_caller]
    fn check_span(source: &str, text: &str, at: usize, expected: &str) {
        let file = SourceFile::new(PathBuf::from("x.toml"), source);
        let span = literal_span(&file, 0..source.len(), text, at);
        assert_eq!(span.map(|s| &source[s]), Some(expected));
    }

    #[test]
    fn the_character_at_fault_is_found_in_the_source() {
        check_span(r#""a\r\nb""#, "a\r\nb", 1, r"\r");
        check_span(r#""é\u0000""#, "é\0", 2, r"\u0000");
        check_span(r#""\x7f\U0001F600é""#, "\u{7f}😀é", 5, "é");
        check_span(r#""\"x y""#, "\"x y", 2, " ");
        check_span("'a b'", "a b", 1, " ");
        check_span("'''\nab\nc'''", "ab\nc", 2, "");
        check_span("X Y", "X Y", 1, " ");
    }
}
