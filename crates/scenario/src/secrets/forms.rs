//! The forms a secret takes when a service writes it back: percent-encoded, JSON-escaped,
//! HTML-escaped and base64, each as the encoders real stacks use write it.
//!
//! Forms are matched ASCII-case-insensitively (see [`super::Secrets`]), so one spelling
//! per encoder covers both hex cases (`%2F` and `%2f`, `\u00E9` and `\u00e9`, `&#x2F;`
//! and `&#x2f;`). The set is fixed and small: [`MAX_FORMS`] bounds it, whatever the
//! secret, and ARCHITECTURE.md says why it is enough.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};

/// The most forms one value has, itself included: 1 raw, 8 percent-encoded, 8
/// JSON-escaped, 20 HTML-escaped (8 named styles twice, 4 numeric), 10 base64 and 21
/// encodings of the base64 forms.
pub(crate) const MAX_FORMS: usize = 1 + PERCENT.len() + JSON.len() + 20 + 10 + 21;

/// RFC 3986 unreserved characters kept: Go's `PathEscape`, Python's `quote(s, safe='')`.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// The WHATWG `application/x-www-form-urlencoded` serializer (Rust's `url`, Java's
/// `URLEncoder`, Ruby's `CGI.escape` but `~`); spaces become `+`.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');
/// JavaScript's `encodeURIComponent`.
const JS_COMPONENT: &AsciiSet = &STRICT
    .remove(b'!')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');
/// Python's `quote(s)`, whose default keeps `/`.
const PY_QUOTE: &AsciiSet = &STRICT.remove(b'/');
/// What a URL parser (WHATWG, the `url` crate) escapes in a query it normalises: a raw
/// secret in a `Location` comes out of reqwest's redirect chain like this.
const URL_QUERY: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'\'');
/// The same in a path.
const URL_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Percent-encoders: the set they escape and whether a space becomes `+`.
const PERCENT: [(&AsciiSet, bool); 8] = [
    // Everything but letters and digits: Rust's common `utf8_percent_encode(s,
    // NON_ALPHANUMERIC)`, which escapes even `-`, `.`, `_` and `~` (a JWT's dots).
    (NON_ALPHANUMERIC, false),
    (STRICT, false),
    (STRICT, true), // Go's `QueryEscape`, Python's `quote_plus`
    (FORM, true),
    (JS_COMPONENT, false),
    (PY_QUOTE, false),
    (URL_QUERY, false),
    (URL_PATH, false),
];

/// How a JSON encoder escapes, beyond what every encoder does (`"`, `\` and control
/// characters).
#[derive(Clone, Copy)]
struct JsonStyle {
    /// `/` as `\/` (PHP's default).
    slash: bool,
    /// Non-ASCII as `\uXXXX` (Python's `ensure_ascii`, PHP's default).
    non_ascii: bool,
    /// These ASCII characters as `\u00XX` (Go: `<>&`; Gson: `<>&='`).
    as_unicode: &'static [char],
    /// Every character any encoder escapes, as `\uXXXX`.
    all_unicode: bool,
}

const PLAIN_JSON: JsonStyle = JsonStyle {
    slash: false,
    non_ascii: false,
    as_unicode: &[],
    all_unicode: false,
};

const JSON: [JsonStyle; 8] = [
    // serde_json, JavaScript's JSON.stringify, Jackson.
    PLAIN_JSON,
    JsonStyle {
        slash: true,
        ..PLAIN_JSON
    },
    JsonStyle {
        non_ascii: true,
        ..PLAIN_JSON
    },
    JsonStyle {
        slash: true,
        non_ascii: true,
        ..PLAIN_JSON
    },
    JsonStyle {
        as_unicode: &['<', '>', '&', '\u{2028}', '\u{2029}'],
        ..PLAIN_JSON
    },
    JsonStyle {
        as_unicode: &['<', '>', '&', '=', '\''],
        ..PLAIN_JSON
    },
    // .NET's System.Text.Json.
    JsonStyle {
        non_ascii: true,
        as_unicode: &['"', '<', '>', '&', '\'', '+', '`'],
        ..PLAIN_JSON
    },
    JsonStyle {
        all_unicode: true,
        ..PLAIN_JSON
    },
];

/// Characters some JSON encoder writes as `\uXXXX`, beyond control characters and
/// non-ASCII.
const JSON_ESCAPABLE: &str = "\"\\/<>&'=+`";

/// How an HTML escaper writes `"`, `'` and `/`; `&`, `<` and `>` are always named.
#[derive(Clone, Copy)]
enum HtmlStyle {
    Named {
        quot: Option<&'static str>,
        apos: Option<&'static str>,
        slash: Option<&'static str>,
    },
    /// Every character but letters, digits and these as `&#N;` (OWASP ESAPI keeps
    /// ` ,.-_`; hand-written escapers often keep nothing).
    Decimal(&'static str),
    /// The same as `&#xH;`.
    Hex(&'static str),
}

const fn named(
    quot: Option<&'static str>,
    apos: Option<&'static str>,
    slash: Option<&'static str>,
) -> HtmlStyle {
    HtmlStyle::Named { quot, apos, slash }
}

const HTML: [HtmlStyle; 12] = [
    // Rails, lodash.
    named(Some("&quot;"), Some("&#39;"), None),
    // Python's html.escape.
    named(Some("&quot;"), Some("&#x27;"), None),
    // Go's html.EscapeString, MarkupSafe (Jinja).
    named(Some("&#34;"), Some("&#39;"), None),
    // PHP's htmlspecialchars with ENT_QUOTES.
    named(Some("&quot;"), Some("&#039;"), None),
    // The OWASP cheat sheet.
    named(Some("&quot;"), Some("&#x27;"), Some("&#x2F;")),
    named(Some("&quot;"), Some("&#39;"), Some("&#47;")),
    // XML, HTML5 entities.
    named(Some("&quot;"), Some("&apos;"), None),
    // Text-only escapers (`&`, `<`, `>`).
    named(None, None, None),
    HtmlStyle::Decimal(" ,.-_"),
    HtmlStyle::Decimal(""),
    HtmlStyle::Hex(" ,.-_"),
    HtmlStyle::Hex(""),
];

/// Every form of `value` worth matching, `value` itself first, without duplicates (ASCII
/// case aside) and without forms shorter than `min_len`. At most [`MAX_FORMS`].
pub(crate) fn derived_forms(value: &str, min_len: usize) -> Vec<String> {
    let mut forms: Vec<String> = Vec::with_capacity(16);
    let mut push = |form: String| {
        if form.len() >= min_len && !forms.iter().any(|f| f.eq_ignore_ascii_case(&form)) {
            forms.push(form);
        }
    };
    push(value.to_owned());
    for (set, plus) in PERCENT {
        push(percent(value, set, plus));
    }
    for style in JSON {
        push(json(value, style));
    }
    for style in HTML {
        push(html(value, style, false));
        if matches!(style, HtmlStyle::Named { .. }) {
            // Python's `xmlcharrefreplace` and its kind: named entities, and non-ASCII as
            // `&#N;` so that the page is ASCII.
            push(html(value, style, true));
        }
    }
    for form in base64_forms(value.as_bytes()) {
        // Standard base64 holds `+`, `/` and `=`, which travel escaped in URLs, JSON
        // (PHP) and HTML (OWASP); base64url only pads with `=`.
        push(percent(&form, STRICT, false));
        push(json(
            &form,
            JsonStyle {
                slash: true,
                ..PLAIN_JSON
            },
        ));
        push(html(&form, HTML[4], false));
        push(html(&form, HTML[5], false));
        push(form);
    }
    debug_assert!(forms.len() <= MAX_FORMS, "{} forms", forms.len());
    forms
}

fn percent(value: &str, set: &'static AsciiSet, plus: bool) -> String {
    let encoded = utf8_percent_encode(value, set).to_string();
    if plus {
        // `+` itself is escaped by every set used with `plus`, so this is unambiguous.
        encoded.replace("%20", "+")
    } else {
        encoded
    }
}

fn json(value: &str, style: JsonStyle) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let mut units = [0u16; 2];
    for c in value.chars() {
        let unicode = (style.all_unicode && (JSON_ESCAPABLE.contains(c) || !c.is_ascii()))
            || (style.non_ascii && !c.is_ascii())
            || style.as_unicode.contains(&c);
        if unicode {
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
            continue;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if style.slash => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

fn html(value: &str, style: HtmlStyle, non_ascii_decimal: bool) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match style {
            HtmlStyle::Named { .. } if non_ascii_decimal && !c.is_ascii() => {
                out.push_str(&format!("&#{};", u32::from(c)));
            }
            HtmlStyle::Decimal(kept) | HtmlStyle::Hex(kept)
                if c.is_ascii_alphanumeric() || kept.contains(c) =>
            {
                out.push(c);
            }
            HtmlStyle::Decimal(_) => out.push_str(&format!("&#{};", u32::from(c))),
            HtmlStyle::Hex(_) => out.push_str(&format!("&#x{:x};", u32::from(c))),
            HtmlStyle::Named { quot, apos, slash } => match (c, quot, apos, slash) {
                ('&', ..) => out.push_str("&amp;"),
                ('<', ..) => out.push_str("&lt;"),
                ('>', ..) => out.push_str("&gt;"),
                ('"', Some(quot), ..) => out.push_str(quot),
                ('\'', _, Some(apos), _) => out.push_str(apos),
                ('/', _, _, Some(slash)) => out.push_str(slash),
                _ => out.push(c),
            },
        }
    }
    out
}

/// Base64 and base64url of `bytes`, padded and not, and the part of each alphabet's
/// encoding that `bytes` alone decide when they sit at any of the three alignments inside
/// a longer encoded text (`Basic` of `user:password`, a whole header or body encoded):
/// the characters at the edges mix in bits of the neighbours and are left out.
fn base64_forms(bytes: &[u8]) -> Vec<String> {
    let mut forms = vec![
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        URL_SAFE.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
    ];
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for align in 0..3 {
            let mut padded = vec![0u8; align];
            padded.extend_from_slice(bytes);
            let encoded = engine.encode(&padded);
            // Character i covers bits [6i, 6i + 6); it is the secret's alone when they all
            // lie within the secret's bits [8 × align, 8 × (align + len)).
            let start = (8 * align).div_ceil(6);
            let end = 8 * (align + bytes.len()) / 6;
            if start < end {
                forms.push(encoded[start..end].to_owned());
            }
        }
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(value: &str) -> Vec<String> {
        derived_forms(value, 4)
    }

    #[track_caller]
    fn check_contains(value: &str, expected: &[&str]) {
        let forms = forms(value);
        for e in expected {
            assert!(
                forms.iter().any(|f| f.eq_ignore_ascii_case(e)),
                "{e:?} is not among the forms of {value:?}: {forms:#?}"
            );
        }
    }

    #[test]
    fn percent_forms_follow_real_encoders() {
        let v = "a/b+c&d \"é~*'";
        check_contains(
            v,
            &[
                // Go PathEscape, Python quote(safe='').
                "a%2Fb%2Bc%26d%20%22%C3%A9~%2A%27",
                // Python quote_plus, Go QueryEscape.
                "a%2Fb%2Bc%26d+%22%C3%A9~%2A%27",
                // WHATWG forms.
                "a%2Fb%2Bc%26d+%22%C3%A9%7E*%27",
                // encodeURIComponent.
                "a%2Fb%2Bc%26d%20%22%C3%A9~*'",
                // Python quote.
                "a/b%2Bc%26d%20%22%C3%A9~%2A%27",
                // The url crate's query set.
                "a/b+c&d%20%22%C3%A9~*%27",
            ],
        );
    }

    #[test]
    fn json_forms_cover_serde_and_the_other_stacks() {
        let v = "p/ss\"wörd<&>\n😀";
        let serde = serde_json::to_string(v).unwrap();
        check_contains(
            v,
            &[
                &serde[1..serde.len() - 1],
                "p\\/ss\\\"wörd<&>\\n😀",
                "p/ss\\\"w\\u00f6rd<&>\\n\\ud83d\\ude00",
                "p\\/ss\\\"w\\u00F6rd<&>\\n\\uD83D\\uDE00",
                "p/ss\\\"wörd\\u003c\\u0026\\u003e\\n😀",
                "p\\u002fss\\u0022w\\u00f6rd\\u003c\\u0026\\u003e\\n\\ud83d\\ude00",
            ],
        );
    }

    #[test]
    fn html_forms_cover_named_and_numeric_entities() {
        let v = "a&b<c>\"d'e/é f";
        check_contains(
            v,
            &[
                "a&amp;b&lt;c&gt;&quot;d&#39;e/é f",
                "a&amp;b&lt;c&gt;&quot;d&#x27;e/é f",
                "a&amp;b&lt;c&gt;&#34;d&#39;e/é f",
                "a&amp;b&lt;c&gt;&quot;d&#039;e/é f",
                "a&amp;b&lt;c&gt;&quot;d&#x27;e&#x2F;é f",
                "a&amp;b&lt;c&gt;&quot;d&#39;e&#47;é f",
                "a&amp;b&lt;c&gt;&quot;d&apos;e/é f",
                "a&amp;b&lt;c&gt;\"d'e/é f",
                "a&amp;b&lt;c&gt;&quot;d&#x27;e/&#233; f",
                "a&#38;b&#60;c&#62;&#34;d&#39;e&#47;&#233; f",
                "a&#38;b&#60;c&#62;&#34;d&#39;e&#47;&#233;&#32;f",
                "a&#x26;b&#x3C;c&#x3E;&#x22;d&#x27;e&#x2F;&#xE9; f",
                "a&#x26;b&#x3C;c&#x3E;&#x22;d&#x27;e&#x2F;&#xE9;&#x20;f",
            ],
        );
    }

    #[test]
    fn base64_forms_include_padding_alphabets_and_every_alignment() {
        let v = "p?ss>w~rd";
        check_contains(
            v,
            &[
                &STANDARD.encode(v),
                &STANDARD_NO_PAD.encode(v),
                &URL_SAFE.encode(v),
                &URL_SAFE_NO_PAD.encode(v),
            ],
        );
        // Wherever the secret sits inside a longer encoded text, a form of it is there.
        let forms = forms(v);
        for prefix in ["", "u", "us", "user:", "Bearer ", "{\"token\":\""] {
            for suffix in ["", "x", "\"}"] {
                let text = format!("{prefix}{v}{suffix}");
                for encoded in [STANDARD.encode(&text), URL_SAFE_NO_PAD.encode(&text)] {
                    assert!(
                        forms.iter().any(|f| encoded.contains(f.as_str())),
                        "no form of {v:?} in {encoded} ({text:?})"
                    );
                }
            }
        }
    }

    #[test]
    fn escaped_base64_is_a_form_too() {
        // `???` encodes as `Pz8/`, `>>>` as `Pj4+`.
        let v = "???>>>~~";
        let std = STANDARD.encode(v);
        assert!(std.contains('+') && std.contains('/'), "{std}");
        check_contains(
            v,
            &[
                &utf8_percent_encode(&std, NON_ALPHANUMERIC).to_string(),
                &std.replace('/', "\\/"),
                &std.replace('/', "&#x2F;"),
            ],
        );
    }

    #[test]
    fn plain_tokens_have_few_forms_and_none_is_short() {
        let forms = forms("tok-1");
        assert_eq!(forms[0], "tok-1");
        assert!(forms.len() <= 12, "{forms:#?}");
        assert!(forms.iter().all(|f| f.len() >= 4));
        // Forms differ beyond ASCII case: one spelling per hex case is enough.
        for (i, a) in forms.iter().enumerate() {
            for b in &forms[i + 1..] {
                assert!(!a.eq_ignore_ascii_case(b), "{a} twice");
            }
        }
    }

    #[test]
    fn the_number_of_forms_is_bounded_whatever_the_secret() {
        for value in [
            "a",
            "tok-1",
            " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
            "p@ss w/rd+é😀\u{1}\u{2028}",
            &"x/+?".repeat(100),
        ] {
            let n = derived_forms(value, 1).len();
            assert!(n <= MAX_FORMS, "{n} forms of {value:?}");
        }
    }
}
