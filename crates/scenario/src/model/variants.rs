//! Bypass variants: a refusal re-tried in the spellings real 403 bypasses use.
//!
//! A case that expects a refusal (401, 403, or 404 concealment) and opts in (`bypass` in
//! `[defaults]`, a `[[route]]` or a `[[route.case]]`) gets one more case per variant,
//! named `file::route::identity::variant`. This module says what each variant sends; the
//! runner sends it (path spellings and HTTP/1.0 byte-exact, on a raw connection) and a
//! variant that is granted fails as a possible bypass.

use std::fmt;
use std::sync::Arc;

use super::{Case, Method, StatusMatch};
use crate::Secrets;

/// A family of variants, as named in `bypass = ["path", …]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BypassFamily {
    /// Path spellings: trailing slash, `/.`, `//`, `/./`, case, percent-encoding …
    Path,
    /// Other methods and method-override headers or parameters.
    Method,
    /// Rewrite headers: `X-Original-URL`, `X-Rewrite-URL`, `X-Forwarded-Prefix`.
    Rewrite,
    /// Client-address headers with loopback and private addresses.
    ClientIp,
    /// HTTP/1.0 without `Host`.
    Protocol,
}

impl BypassFamily {
    /// Every family, in the order variants are generated.
    pub const ALL: [BypassFamily; 5] = [
        BypassFamily::Path,
        BypassFamily::Method,
        BypassFamily::Rewrite,
        BypassFamily::ClientIp,
        BypassFamily::Protocol,
    ];

    /// The name as written in `bypass = [...]`.
    pub fn as_str(self) -> &'static str {
        match self {
            BypassFamily::Path => "path",
            BypassFamily::Method => "method",
            BypassFamily::Rewrite => "rewrite",
            BypassFamily::ClientIp => "client_ip",
            BypassFamily::Protocol => "protocol",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for BypassFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The families a case is re-tried in; empty unless the suite opts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bypass(u8);

impl Bypass {
    /// No variants.
    pub const NONE: Bypass = Bypass(0);
    /// Every family.
    pub const ALL: Bypass = Bypass(0b1_1111);

    /// Whether `family` is selected.
    pub fn contains(self, family: BypassFamily) -> bool {
        self.0 & family.bit() != 0
    }

    /// Whether no family is selected.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn with(self, family: BypassFamily) -> Self {
        Bypass(self.0 | family.bit())
    }
}

/// One way of spelling a path that a normalising server should treat as the same path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathSpelling {
    /// `/admin/` (or `/admin` for `/admin/`).
    TrailingSlash,
    /// `/admin/.`
    DotSuffix,
    /// `//admin`
    LeadingDoubleSlash,
    /// `/v1//admin`
    InnerDoubleSlash,
    /// `/v1/./admin`
    DotSegment,
    /// `/v1/Admin`
    LetterCase,
    /// `/v1/%61dmin`
    PercentLetter,
    /// `/v1%2fadmin`
    EncodedSlash,
    /// `/v1/%2561dmin`
    DoubleEncoding,
    /// `/..;/v1/admin` (Tomcat and Spring read `..;` as `..`)
    DotDotSemicolon,
    /// `/v1/admin;rolecall`
    SemicolonParam,
    /// `/v1/admin%20`
    TrailingSpace,
    /// `/v1/admin%09`
    TrailingTab,
    /// `/v1/admin?`
    TrailingQuestion,
    /// `/v1/admin#`
    TrailingHash,
    /// `/v1/admin.json`
    JsonSuffix,
}

impl PathSpelling {
    /// Every spelling, in the order variants are generated.
    pub const ALL: [PathSpelling; 16] = [
        PathSpelling::TrailingSlash,
        PathSpelling::DotSuffix,
        PathSpelling::LeadingDoubleSlash,
        PathSpelling::InnerDoubleSlash,
        PathSpelling::DotSegment,
        PathSpelling::LetterCase,
        PathSpelling::PercentLetter,
        PathSpelling::EncodedSlash,
        PathSpelling::DoubleEncoding,
        PathSpelling::DotDotSemicolon,
        PathSpelling::SemicolonParam,
        PathSpelling::TrailingSpace,
        PathSpelling::TrailingTab,
        PathSpelling::TrailingQuestion,
        PathSpelling::TrailingHash,
        PathSpelling::JsonSuffix,
    ];

    fn name(self) -> &'static str {
        match self {
            PathSpelling::TrailingSlash => "path-trailing-slash",
            PathSpelling::DotSuffix => "path-dot-suffix",
            PathSpelling::LeadingDoubleSlash => "path-leading-double-slash",
            PathSpelling::InnerDoubleSlash => "path-inner-double-slash",
            PathSpelling::DotSegment => "path-dot-segment",
            PathSpelling::LetterCase => "path-letter-case",
            PathSpelling::PercentLetter => "path-percent-letter",
            PathSpelling::EncodedSlash => "path-encoded-slash",
            PathSpelling::DoubleEncoding => "path-double-encoding",
            PathSpelling::DotDotSemicolon => "path-dotdot-semicolon",
            PathSpelling::SemicolonParam => "path-semicolon-param",
            PathSpelling::TrailingSpace => "path-trailing-space",
            PathSpelling::TrailingTab => "path-trailing-tab",
            PathSpelling::TrailingQuestion => "path-trailing-question",
            PathSpelling::TrailingHash => "path-trailing-hash",
            PathSpelling::JsonSuffix => "path-json-suffix",
        }
    }

    /// The request target for `path` (as the client would send it, starting with `/`)
    /// and its query, spelled this way; `None` where the spelling does not apply (a
    /// path of one segment has no inner slash, a path without letters no case).
    ///
    /// A secret in the path (an `${env:…}` segment) is never cut apart: a letter is
    /// changed outside every secret's span, and a spelling that would split a secret
    /// (one holding a `/`) does not apply, since redaction finds a secret whole.
    pub fn apply(self, path: &str, query: Option<&str>, secrets: &Secrets) -> Option<String> {
        if !path.starts_with('/') {
            return None;
        }
        let trimmed = path.trim_end_matches('/');
        // The last segment: where letters are changed and a slash is encoded.
        let last = trimmed.rfind('/').map_or(0, |i| i + 1);
        let spans = secrets.spans(path);
        let free = |i: &usize| !spans.iter().any(|r| r.contains(i));
        let letters = |range: std::ops::Range<usize>| {
            range.filter(|&i| path.as_bytes()[i].is_ascii_alphabetic())
        };
        // A letter of the last segment that no secret covers; where a secret covers
        // them all, one of an earlier segment.
        let letter = match letters(last..trimmed.len()).next() {
            None => None,
            Some(_) => letters(last..trimmed.len())
                .find(free)
                .or_else(|| letters(1..last).find(free)),
        };
        let mut out = match self {
            PathSpelling::TrailingSlash if path.ends_with('/') => {
                (!trimmed.is_empty()).then(|| trimmed.to_owned())?
            }
            PathSpelling::TrailingSlash => format!("{path}/"),
            PathSpelling::DotSuffix if path.ends_with('/') => format!("{path}."),
            PathSpelling::DotSuffix => format!("{path}/."),
            PathSpelling::LeadingDoubleSlash => format!("/{path}"),
            PathSpelling::InnerDoubleSlash => {
                let inner = 1 + path[1..].find('/')?;
                (inner + 1 < path.len())
                    .then(|| format!("{}/{}", &path[..inner], &path[inner..]))?
            }
            PathSpelling::DotSegment if trimmed.is_empty() => return None,
            PathSpelling::DotSegment => format!("{}./{}", &path[..last], &path[last..]),
            PathSpelling::LetterCase => {
                let i = letter?;
                let c = path.as_bytes()[i] as char;
                let flipped = if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                };
                format!("{}{flipped}{}", &path[..i], &path[i + 1..])
            }
            PathSpelling::PercentLetter | PathSpelling::DoubleEncoding => {
                let i = letter?;
                let escape = if self == PathSpelling::PercentLetter {
                    "%"
                } else {
                    "%25"
                };
                format!(
                    "{}{escape}{:02X}{}",
                    &path[..i],
                    path.as_bytes()[i],
                    &path[i + 1..]
                )
            }
            PathSpelling::EncodedSlash if last > 1 => {
                format!("{}%2f{}", &path[..last - 1], &path[last..])
            }
            PathSpelling::EncodedSlash => format!("/%2f{}", &path[1..]),
            PathSpelling::DotDotSemicolon => format!("/..;{path}"),
            PathSpelling::SemicolonParam => format!("{path};rolecall"),
            PathSpelling::TrailingSpace => format!("{path}%20"),
            PathSpelling::TrailingTab => format!("{path}%09"),
            PathSpelling::TrailingQuestion if query.is_some() => return None,
            PathSpelling::TrailingQuestion => format!("{path}?"),
            PathSpelling::TrailingHash => format!("{path}#"),
            PathSpelling::JsonSuffix => (!trimmed.is_empty()).then(|| format!("{trimmed}.json"))?,
        };
        // Every secret must come out whole (a letter's case aside: redaction ignores it).
        let lower = out.to_ascii_lowercase();
        if spans
            .iter()
            .any(|r| !lower.contains(&path[r.clone()].to_ascii_lowercase()))
        {
            return None;
        }
        if let Some(query) = query {
            out.push('?');
            out.push_str(query);
        }
        Some(out)
    }
}

/// Where a method override is carried.
pub const OVERRIDE_CARRIERS: [&str; 4] = [
    "X-HTTP-Method-Override",
    "X-HTTP-Method",
    "X-Method-Override",
    "_method",
];

/// Client-address headers a proxy may trust.
pub const CLIENT_IP_HEADERS: [&str; 6] = [
    "X-Forwarded-For",
    "X-Real-IP",
    "X-Client-IP",
    "True-Client-IP",
    "CF-Connecting-IP",
    "Forwarded",
];

/// Loopback and one address of each private range, with the name a variant uses.
pub const CLIENT_IP_ADDRESSES: [(&str, &str); 4] = [
    ("loopback", "127.0.0.1"),
    ("10", "10.0.0.1"),
    ("172", "172.16.0.1"),
    ("192", "192.168.0.1"),
];

/// Where rewrite headers point: a path no deny rule names and no app serves, so a 2xx
/// there means the header, not the path, was routed on.
pub const REWRITE_PROBE: &str = "/rolecall-rewrite-probe";

/// What a variant changes in the refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariantKind {
    /// The path spelled another way, sent byte-exact.
    Path(PathSpelling),
    /// The same request with another method.
    Method(Method),
    /// Sent with `method`, carrying an override (a header, or `_method` in the query)
    /// naming `names`.
    Override {
        /// The method on the request line.
        method: Method,
        /// A header name, or `_method` for the query parameter.
        carrier: &'static str,
        /// The method the override names.
        names: Method,
    },
    /// A rewrite header: `X-Original-URL` and `X-Rewrite-URL` name the refused path on a
    /// request for [`REWRITE_PROBE`]; `X-Forwarded-Prefix: /` rides the refused request.
    Rewrite(&'static str),
    /// A client-address header with this value (`Forwarded: for=…`).
    ClientIp {
        /// The header.
        header: &'static str,
        /// The address.
        address: &'static str,
    },
    /// HTTP/1.0 without `Host`, sent byte-exact.
    Http10,
}

/// One variant of a refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The last part of the case name, e.g. `path-trailing-slash`.
    pub name: String,
    /// The family it belongs to.
    pub family: BypassFamily,
    /// What it changes.
    pub kind: VariantKind,
}

impl Variant {
    /// The method on the request line, for a route sent with `route`.
    pub fn method(&self, route: Method) -> Method {
        match self.kind {
            VariantKind::Method(m) | VariantKind::Override { method: m, .. } => m,
            _ => route,
        }
    }

    /// Whether the variant writes: an unsafe method, or an override naming one.
    pub fn writes(&self, route: Method) -> bool {
        let names_write =
            matches!(self.kind, VariantKind::Override { names, .. } if !names.is_safe());
        !self.method(route).is_safe() || names_write
    }

    /// The method it sends and the override it carries, as a skip reason names them:
    /// `POST`, or `POST with X-HTTP-Method-Override: GET`.
    pub fn describe(&self, route: Method) -> String {
        match self.kind {
            VariantKind::Override {
                method,
                carrier: "_method",
                names,
            } => format!("{method} with `_method={names}`"),
            VariantKind::Override {
                method,
                carrier,
                names,
            } => {
                format!("{method} with {carrier}: {names}")
            }
            _ => self.method(route).as_str().to_owned(),
        }
    }

    /// Whether it goes out on a raw connection (byte-exact target, HTTP/1.0).
    pub fn raw(&self) -> bool {
        matches!(self.kind, VariantKind::Path(_) | VariantKind::Http10)
    }

    /// A header it adds (replacing any the request had by that name): name and value.
    /// `path` is the refused request's target, for rewrite headers.
    pub fn header(&self, path: &str) -> Option<(&'static str, String)> {
        match &self.kind {
            VariantKind::Override { carrier, names, .. } if *carrier != "_method" => {
                Some((carrier, names.as_str().to_owned()))
            }
            VariantKind::Rewrite(h) if *h == "X-Forwarded-Prefix" => Some((h, "/".to_owned())),
            VariantKind::Rewrite(h) => Some((h, path.to_owned())),
            VariantKind::ClientIp { header, address } if *header == "Forwarded" => {
                Some((header, format!("for={address}")))
            }
            VariantKind::ClientIp { header, address } => Some((header, (*address).to_owned())),
            _ => None,
        }
    }
}

/// Every variant of a route sent with `method`, before filtering by family and path.
pub(crate) fn templates(method: Method) -> Vec<Arc<Variant>> {
    let mut out = Vec::new();
    let mut push = |name: String, family, kind| {
        out.push(Arc::new(Variant { name, family, kind }));
    };
    for spelling in PathSpelling::ALL {
        push(
            spelling.name().to_owned(),
            BypassFamily::Path,
            VariantKind::Path(spelling),
        );
    }
    let others: &[Method] = match method {
        Method::Get => &[Method::Head, Method::Post],
        Method::Head => &[Method::Get],
        Method::Post => &[Method::Get],
        _ => &[Method::Get, Method::Post],
    };
    for &other in others {
        push(
            format!("method-{}", other.as_str().to_ascii_lowercase()),
            BypassFamily::Method,
            VariantKind::Method(other),
        );
    }
    // The edge sees one method, the app the one the override names.
    let carrier_method = if method.is_safe() {
        Method::Post
    } else {
        Method::Get
    };
    for carrier in OVERRIDE_CARRIERS {
        let suffix = if carrier == "_method" {
            "param".to_owned()
        } else {
            carrier.to_ascii_lowercase()
        };
        push(
            format!("method-override-{suffix}"),
            BypassFamily::Method,
            VariantKind::Override {
                method: carrier_method,
                carrier,
                names: method,
            },
        );
    }
    for header in ["X-Original-URL", "X-Rewrite-URL", "X-Forwarded-Prefix"] {
        push(
            format!("rewrite-{}", header.to_ascii_lowercase()),
            BypassFamily::Rewrite,
            VariantKind::Rewrite(header),
        );
    }
    for header in CLIENT_IP_HEADERS {
        for (short, address) in CLIENT_IP_ADDRESSES {
            push(
                format!("client-ip-{}-{short}", header.to_ascii_lowercase()),
                BypassFamily::ClientIp,
                VariantKind::ClientIp { header, address },
            );
        }
    }
    push(
        "protocol-http10-no-host".to_owned(),
        BypassFamily::Protocol,
        VariantKind::Http10,
    );
    out
}

/// Whether a case expects a refusal that variants re-try: 401, 403 or 404.
pub(crate) fn refuses(case: &Case) -> bool {
    case.expect.skip.is_none() && matches!(case.expect.status, StatusMatch::Exact(401 | 403 | 404))
}

/// Appends the variants of `case` (one of `templates`) to `cases`.
pub(crate) fn expand(
    case: &Case,
    templates: &[Arc<Variant>],
    secrets: &Secrets,
    cases: &mut Vec<Case>,
) {
    let families = case.expect.bypass;
    if families.is_empty() || !refuses(case) {
        return;
    }
    let (path, query) = match case.path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (case.path.as_str(), None),
    };
    for variant in templates {
        if !families.contains(variant.family) {
            continue;
        }
        if let VariantKind::Path(spelling) = variant.kind
            && spelling.apply(path, query, secrets).is_none()
        {
            continue;
        }
        let mut expect = case.expect.clone();
        expect.snapshot = false;
        expect.body = Vec::new();
        expect.headers = Vec::new();
        expect.set_at.body = Vec::new();
        expect.set_at.headers = Vec::new();
        cases.push(Case {
            name: format!("{}::{}", case.name, variant.name),
            route: case.route,
            identity: case.identity,
            path: case.path.clone(),
            expect,
            variant: Some(variant.clone()),
            fixtures: case.fixtures.clone(),
            owner: case.owner,
            journey: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(spelling: PathSpelling, path: &str, query: Option<&str>, expect: Option<&str>) {
        assert_eq!(
            spelling.apply(path, query, &Secrets::default()).as_deref(),
            expect,
            "{spelling:?}"
        );
    }

    #[test]
    fn paths_are_spelled_as_bypasses_write_them() {
        use PathSpelling as S;
        let p = "/v1/admin";
        check(S::TrailingSlash, p, None, Some("/v1/admin/"));
        check(S::TrailingSlash, "/v1/admin/", None, Some("/v1/admin"));
        check(S::TrailingSlash, "/", None, None);
        check(S::DotSuffix, p, None, Some("/v1/admin/."));
        check(S::LeadingDoubleSlash, p, None, Some("//v1/admin"));
        check(S::InnerDoubleSlash, p, None, Some("/v1//admin"));
        check(S::InnerDoubleSlash, "/admin", None, None);
        check(S::DotSegment, p, None, Some("/v1/./admin"));
        check(S::LetterCase, p, None, Some("/v1/Admin"));
        check(S::LetterCase, "/v1/42", None, None);
        check(S::PercentLetter, p, None, Some("/v1/%61dmin"));
        check(S::EncodedSlash, p, None, Some("/v1%2fadmin"));
        check(S::EncodedSlash, "/admin", None, Some("/%2fadmin"));
        check(S::DoubleEncoding, p, None, Some("/v1/%2561dmin"));
        check(S::DotDotSemicolon, p, None, Some("/..;/v1/admin"));
        check(S::SemicolonParam, p, None, Some("/v1/admin;rolecall"));
        check(S::TrailingSpace, p, Some("a=1"), Some("/v1/admin%20?a=1"));
        check(S::TrailingTab, p, None, Some("/v1/admin%09"));
        check(S::TrailingQuestion, p, None, Some("/v1/admin?"));
        check(S::TrailingQuestion, p, Some("a=1"), None);
        check(S::TrailingHash, p, None, Some("/v1/admin#"));
        check(S::JsonSuffix, "/v1/admin/", None, Some("/v1/admin.json"));
    }

    #[test]
    fn a_secret_in_the_path_is_never_cut_apart() {
        use PathSpelling as S;
        let mut secrets = Secrets::default();
        secrets.insert("abcdSECRET");
        secrets.insert("ab/cdef");
        let spell = |s: S, path| s.apply(path, None, &secrets);
        let p = "/v1/invites/abcdSECRET";
        assert_eq!(
            spell(S::PercentLetter, p).as_deref(),
            Some("/%761/invites/abcdSECRET")
        );
        assert_eq!(
            spell(S::DoubleEncoding, p).as_deref(),
            Some("/%25761/invites/abcdSECRET")
        );
        assert_eq!(
            spell(S::LetterCase, p).as_deref(),
            Some("/V1/invites/abcdSECRET")
        );
        // A letter of the last segment outside the secret is the one changed.
        assert_eq!(
            spell(S::PercentLetter, "/v1/x-abcdSECRET").as_deref(),
            Some("/v1/%78-abcdSECRET")
        );
        // Nothing outside the secret to change; a slash inside one is not split.
        assert_eq!(spell(S::PercentLetter, "/abcdSECRET"), None);
        assert_eq!(spell(S::EncodedSlash, "/v1/ab/cdef"), None);
        assert_eq!(spell(S::DotSegment, "/v1/ab/cdef"), None);
        for spelling in PathSpelling::ALL {
            for path in [p, "/abcdSECRET", "/v1/ab/cdef"] {
                if let Some(out) = spell(spelling, path) {
                    assert!(secrets.appear_in(&out), "{spelling:?} {out}");
                }
            }
        }
    }

    #[test]
    fn the_root_has_no_dot_segment() {
        check(PathSpelling::DotSegment, "/", None, None);
    }

    #[test]
    fn writes_are_known_per_variant() {
        let all = templates(Method::Get);
        let writes: Vec<&str> = all
            .iter()
            .filter(|v| v.writes(Method::Get))
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(
            writes,
            [
                "method-post",
                "method-override-x-http-method-override",
                "method-override-x-http-method",
                "method-override-x-method-override",
                "method-override-param",
            ]
        );
        assert_eq!(all.len(), 16 + 2 + 4 + 3 + 24 + 1);
    }
}
