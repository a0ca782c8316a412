//! Whether a redirect only sends a request back to the path it was refused on.

use percent_encoding::percent_decode_str;

/// Whether `location` (absolute or relative to `refused`) names the same resource as
/// `refused`: the same path once the spellings a server canonicalises are undone (case,
/// percent-encoding, doubled slashes, dot segments, `;` parameters, a trailing slash,
/// space or tab, a `.json` suffix), on any host and scheme (an http→https redirect).
pub(super) fn back_to(location: &str, refused: &str) -> bool {
    let Ok(base) = url::Url::parse("http://rolecall.invalid/").and_then(|b| b.join(refused)) else {
        return false;
    };
    let Ok(target) = base.join(location.trim()) else {
        return false;
    };
    matches!(target.scheme(), "http" | "https")
        && canonical(target.path()) == canonical(base.path())
}

/// `path` with every spelling a server canonicalises undone.
fn canonical(path: &str) -> Vec<String> {
    let once = percent_decode_str(path).decode_utf8_lossy();
    let twice = percent_decode_str(&once).decode_utf8_lossy().to_lowercase();
    let mut segments: Vec<String> = Vec::new();
    for segment in twice.split('/') {
        let segment = segment.split(';').next().unwrap_or_default();
        let segment = segment.trim_end_matches([' ', '\t']);
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment.to_owned()),
        }
    }
    if let Some(last) = segments.last_mut()
        && let Some(stem) = last.strip_suffix(".json")
        && !stem.is_empty()
    {
        *last = stem.to_owned();
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::back_to;

    #[test]
    fn canonicalising_redirects_lead_back_to_the_refused_path() {
        let refused = "/v1/admin/users";
        for location in [
            "/v1/admin/users",
            "/v1/admin/users/",
            "/v1/admin/users?next=1",
            "https://api.example.test/v1/admin/users",
            "http://api.example.test/v1/admin/users/",
            "/v1//admin/users",
            "/V1/Admin/Users",
            "/v1/%61dmin/users",
            "/v1/%2561dmin/users",
            "/v1/./admin/users",
            "/..;/v1/admin/users",
            "/v1/admin/users;jsessionid=1",
            "/v1/admin/users.json",
            "/v1/admin/users%20",
            "users",
            "./users/",
        ] {
            assert!(back_to(location, refused), "{location}");
        }
    }

    #[test]
    fn a_redirect_elsewhere_is_not_back_to_the_refused_path() {
        let refused = "/v1/admin/users";
        for location in [
            "/v1/admin/users/42",
            "/v1/admin",
            "/home",
            "https://api.example.test/v1/admin/users/export",
            "../dashboard",
            "javascript:alert(1)",
            "/v1/admin/users.json/x",
        ] {
            assert!(!back_to(location, refused), "{location}");
        }
        assert!(back_to("/", "/") && !back_to("/login", "/"));
    }
}
