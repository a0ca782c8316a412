//! Request paths as nginx and Apache see them when they match `location` and `<Location>`.
//!
//! A path-deny rule that only holds for one spelling of a path is not a control, so every
//! path rule matches the normalised path: percent-escapes decoded (all of them, as nginx does,
//! so `%2F` becomes a slash), runs of slashes merged, and `.` and `..` segments resolved.
//! `..` above the root stays at the root (nginx answers 400 there; refusing is the safe side).

use std::borrow::Cow;

/// The path nginx would match locations against.
pub(crate) fn normalize_path(raw: &str) -> Cow<'_, str> {
    if raw.starts_with('/') && !needs_work(raw) {
        return Cow::Borrowed(raw);
    }
    let decoded = percent_decode(raw, false);
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in decoded.split('/') {
        trailing_slash = false;
        match segment {
            "" => trailing_slash = true,
            "." => trailing_slash = true,
            ".." => {
                segments.pop();
                trailing_slash = true;
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(decoded.len() + 1);
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if trailing_slash || segments.is_empty() {
        out.push('/');
    }
    Cow::Owned(out)
}

/// Whether a path that starts with `/` has anything to decode, merge or resolve.
fn needs_work(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.contains(&b'%') || bytes.windows(2).any(|w| w == b"//" || w == b"/.")
}

/// Decodes `%XX` escapes; malformed escapes stay as they are, like in nginx. With
/// `plus_as_space`, `+` is a space as in `application/x-www-form-urlencoded`.
pub(crate) fn percent_decode(raw: &str, plus_as_space: bool) -> Cow<'_, str> {
    let bytes = raw.as_bytes();
    if !(bytes.contains(&b'%') || plus_as_space && bytes.contains(&b'+')) {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push(high << 4 | low);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(text) => Cow::Owned(text),
        Err(err) => Cow::Owned(String::from_utf8_lossy(err.as_bytes()).into_owned()),
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Whether `path` is `prefix` or lies below it, on a segment boundary (`/admin` covers
/// `/admin`, `/admin/` and `/admin/x`, not `/administrator`), as Apache's `<Location>` does.
pub(crate) fn under_prefix(path: &str, prefix: &str, case_insensitive: bool) -> bool {
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    if path.len() < prefix.len() {
        return false;
    }
    let (head, rest) = path.split_at(prefix.len());
    let head_matches = if case_insensitive {
        head.eq_ignore_ascii_case(prefix)
    } else {
        head == prefix
    };
    head_matches && (rest.is_empty() || rest.starts_with('/') || prefix.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(raw: &str, expected: &str) {
        assert_eq!(normalize_path(raw), expected, "normalising {raw:?}");
    }

    #[test]
    fn plain_paths_are_untouched() {
        check("/", "/");
        check("/admin", "/admin");
        check("/admin/", "/admin/");
        check("/v1/projects/123", "/v1/projects/123");
    }

    #[test]
    fn spellings_of_admin_collapse() {
        check("//admin", "/admin");
        check("/./admin", "/admin");
        check("/%61dmin", "/admin");
        check("/x/../admin", "/admin");
        check("/%2e/admin", "/admin");
        check("/%2fadmin", "/admin");
        check("/admin%2f", "/admin/");
        check("/admin/.", "/admin/");
        check("///admin///users//", "/admin/users/");
    }

    #[test]
    fn dot_dot_stops_at_the_root() {
        check("/../../etc/passwd", "/etc/passwd");
        check("/a/b/../..", "/");
        check("/..", "/");
    }

    #[test]
    fn malformed_escapes_stay() {
        check("/a%zz", "/a%zz");
        check("/a%4", "/a%4");
        check("/a%", "/a%");
    }

    #[test]
    fn relative_and_empty_paths_become_absolute() {
        check("", "/");
        check("admin", "/admin");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        check("/%ff", "/\u{fffd}");
    }

    #[test]
    fn query_decoding_turns_plus_into_space() {
        assert_eq!(percent_decode("a+b%27", true), "a b'");
        assert_eq!(percent_decode("a+b", false), "a+b");
    }

    #[test]
    fn prefixes_respect_segments() {
        assert!(under_prefix("/admin", "/admin", false));
        assert!(under_prefix("/admin/", "/admin", false));
        assert!(under_prefix("/admin/users", "/admin/", false));
        assert!(!under_prefix("/administrator", "/admin", false));
        assert!(!under_prefix("/ADMIN", "/admin", false));
        assert!(under_prefix("/ADMIN/x", "/admin", true));
        assert!(under_prefix("/anything", "/", false));
    }
}
