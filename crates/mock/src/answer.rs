//! What the mock app's routes and resources share: the request as the app sees it, its
//! answers and refusal bodies, and path segments with their matching.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::auth::Principal;

/// A piece of a route path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
}

/// Parses the path part of "METHOD /path/{param}".
pub(crate) fn parse_segments(path: &str) -> Result<Vec<Segment>, String> {
    if !path.starts_with('/') {
        return Err(format!("route path `{path}` must start with `/`"));
    }
    path[1..]
        .split('/')
        .map(
            |piece| match piece.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some("") => Err(format!("route path `{path}` has an unnamed parameter")),
                Some(name) => Ok(Segment::Param(name.to_owned())),
                None if piece.contains(['{', '}']) => Err(format!(
                    "route path `{path}`: a parameter must be a whole segment"
                )),
                None => Ok(Segment::Literal(piece.to_owned())),
            },
        )
        .collect()
}

/// The app's answer, and for refusals the rule that refused.
#[derive(Debug)]
pub(crate) struct AppAnswer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// The `code` of a refusal (401, 403, 404, 405).
    pub(crate) refusal: Option<&'static str>,
}

/// The request as the app sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AppRequest<'a> {
    pub(crate) method: &'a Method,
    /// Normalised path.
    pub(crate) path: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    pub(crate) request_id: &'a str,
}

/// The refusal of a caller outside the tenant named by the path parameter `param`: 404
/// when the route conceals, else 403.
pub(crate) fn check_tenant(
    param: Option<&str>,
    params: &BTreeMap<&str, &str>,
    principal: &Principal,
    conceal: bool,
    request: &AppRequest<'_>,
) -> Option<AppAnswer> {
    let owner = params.get(param?).copied();
    if owner.is_some() && principal.tenant.as_deref() == owner {
        return None;
    }
    Some(if conceal {
        not_found(request)
    } else {
        refuse(
            StatusCode::FORBIDDEN,
            "tenant_mismatch",
            "This resource belongs to another tenant. Switch to the tenant that owns it, or ask its owner to share it.",
            request,
        )
    })
}

/// Matches the start of a normalised path against segments: the parameters, and what
/// follows them ("" or "/…").
pub(crate) fn match_prefix<'p>(
    segments: &'p [Segment],
    path: &'p str,
) -> Option<(BTreeMap<&'p str, &'p str>, &'p str)> {
    let mut params = BTreeMap::new();
    let mut rest = path;
    for segment in segments {
        let tail = rest.strip_prefix('/')?;
        let (piece, after) = tail.split_at(tail.find('/').unwrap_or(tail.len()));
        match segment {
            Segment::Literal(literal) if literal == piece => {}
            Segment::Param(name) if !piece.is_empty() => {
                params.insert(name.as_str(), piece);
            }
            _ => return None,
        }
        rest = after;
    }
    Some((params, rest))
}

/// 405 with the methods the path accepts, in the body and in `Allow`.
pub(crate) fn method_not_allowed(allow: &str, request: &AppRequest<'_>) -> AppAnswer {
    let mut answer = refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!(
            "This resource does not accept {}. Use one of: {allow}.",
            request.method
        ),
        request,
    );
    answer.headers.insert(
        header::ALLOW,
        HeaderValue::from_str(allow).unwrap_or(HeaderValue::from_static("")),
    );
    answer
}

/// Concealment must look exactly like a route that does not exist.
pub(crate) fn not_found(request: &AppRequest<'_>) -> AppAnswer {
    refuse(
        StatusCode::NOT_FOUND,
        "not_found",
        "There is nothing at this address. Check the URL.",
        request,
    )
}

pub(crate) fn refuse(
    status: StatusCode,
    code: &'static str,
    message: &str,
    request: &AppRequest<'_>,
) -> AppAnswer {
    let body = json!({ "code": code, "message": message, "request_id": request.request_id });
    let mut answer = json_answer(status, &body, request);
    answer.refusal = Some(code);
    answer
}

pub(crate) fn json_answer(status: StatusCode, body: &Value, request: &AppRequest<'_>) -> AppAnswer {
    answer(status, Bytes::from(body.to_string()), request)
}

pub(crate) fn answer(status: StatusCode, body: Bytes, request: &AppRequest<'_>) -> AppAnswer {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("x-request-id", header_value(request.request_id));
    AppAnswer {
        status,
        headers,
        body,
        refusal: None,
    }
}

pub(crate) fn header_value(text: &str) -> HeaderValue {
    // Realms, scopes and descriptions come from validated config and fixed texts.
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static(""))
}

/// Matches a normalised path against route segments, collecting parameters.
pub(crate) fn match_path<'p>(
    segments: &'p [Segment],
    path: &'p str,
) -> Option<BTreeMap<&'p str, &'p str>> {
    let (params, rest) = match_prefix(segments, path)?;
    rest.is_empty().then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_paths_parse() {
        assert_eq!(
            parse_segments("/v1/{tenant}/projects").unwrap(),
            [
                Segment::Literal("v1".into()),
                Segment::Param("tenant".into()),
                Segment::Literal("projects".into())
            ]
        );
        assert!(parse_segments("v1").is_err());
        assert!(parse_segments("/v1/{}").is_err());
        assert!(parse_segments("/v1/x{id}").is_err());
    }

    #[test]
    fn paths_match_segment_by_segment() {
        let segments = parse_segments("/v1/tenants/{tenant}/projects").unwrap();
        let params = match_path(&segments, "/v1/tenants/acme/projects").unwrap();
        assert_eq!(params.get("tenant"), Some(&"acme"));
        assert!(match_path(&segments, "/v1/tenants//projects").is_none());
        assert!(match_path(&segments, "/v1/tenants/acme/projects/").is_none());
        assert!(match_path(&segments, "/v1/tenants/acme").is_none());
        assert!(match_path(&parse_segments("/").unwrap(), "/").is_some());
    }
}
