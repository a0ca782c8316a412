//! The proxies, caches and API gateways teams put in front of an app: HAProxy, Varnish,
//! Envoy, Kong, Amazon API Gateway and Caddy.
//!
//! HAProxy's and Varnish's pages are byte for byte what Debian bookworm's HAProxy 2.6 and
//! Varnish 7.1 send (the runner's real-server tests compare them); Envoy's, Kong's and API
//! Gateway's bodies are the fixed strings those products answer with.

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderMap, HeaderValue};

use super::{DenyReason, PageRequest, Rendered, header_value};
use crate::request_id;

/// HAProxy's built-in error messages (`http_err_msgs` in HAProxy 2.6) with the reason
/// phrases it sends; a status it has no page for gets the 500 page, as `deny_status`
/// accepts only these.
fn haproxy_text(status: StatusCode) -> (StatusCode, &'static str, &'static str) {
    match status.as_u16() {
        400 => (
            status,
            "Bad request",
            "Your browser sent an invalid request.",
        ),
        401 => (
            status,
            "Unauthorized",
            "You need a valid user and password to access this content.",
        ),
        403 => (
            status,
            "Forbidden",
            "Request forbidden by administrative rules.",
        ),
        404 => (status, "Not Found", "The resource could not be found."),
        405 => (
            status,
            "Method Not Allowed",
            "A request was made of a resource using a request method not supported by that resource",
        ),
        408 => (
            status,
            "Request Time-out",
            "Your browser didn't send a complete request in time.",
        ),
        410 => (
            status,
            "Gone",
            "The resource is no longer available and will not be available again.",
        ),
        413 => (
            status,
            "Payload Too Large",
            "The request entity exceeds the maximum allowed.",
        ),
        429 => (
            status,
            "Too Many Requests",
            "You have sent too many requests in a given amount of time.",
        ),
        501 => (
            status,
            "Not Implemented",
            ".The server does not support the functionality required to fulfill the request.",
        ),
        502 => (
            status,
            "Bad Gateway",
            "The server returned an invalid or incomplete response.",
        ),
        503 => (
            status,
            "Service Unavailable",
            "No server is available to handle this request.",
        ),
        504 => (
            status,
            "Gateway Time-out",
            "The server didn't respond in time.",
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "An internal server error occurred.",
        ),
    }
}

/// HAProxy names no vendor: no `Server`, a bare page, `cache-control: no-cache`.
pub(super) fn haproxy(status: StatusCode) -> Rendered {
    let (status, phrase, text) = haproxy_text(status);
    let code = status.as_str();
    let body = format!("<html><body><h1>{code} {phrase}</h1>\n{text}\n</body></html>\n");
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    if matches!(status.as_u16(), 400 | 408) {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Rendered {
        status,
        reason_phrase: (status.canonical_reason() != Some(phrase)).then_some(phrase),
        headers,
        body: Bytes::from(body),
        request_id: request_id::hex32(),
    }
}

/// Varnish's built-in `vcl_synth`: the transaction id (XID) in the page and in
/// `X-Varnish`, and `Retry-After: 5` on every synthetic response.
pub(super) fn varnish(status: StatusCode) -> Rendered {
    let xid = (fastrand::u32(1..1 << 30)).to_string();
    let code = status.as_str();
    let phrase = status.canonical_reason().unwrap_or("Unknown");
    let body = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <title>{code} {phrase}</title>\n  </head>\n  <body>\n    <h1>Error {code} {phrase}</h1>\n    <p>{phrase}</p>\n    <h3>Guru Meditation:</h3>\n    <p>XID: {xid}</p>\n    <hr>\n    <p>Varnish cache server</p>\n  </body>\n</html>\n"
    );
    let mut headers = HeaderMap::new();
    headers.insert(header::SERVER, HeaderValue::from_static("Varnish"));
    headers.insert("x-varnish", header_value(&xid));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    Rendered {
        status,
        reason_phrase: None,
        headers,
        body: Bytes::from(body),
        request_id: xid,
    }
}

/// Envoy's own answers are short plain text with `server: envoy`: the RBAC filter's
/// denial (Istio's AuthorizationPolicy), the local rate limit's, and "no healthy upstream".
pub(super) fn envoy(reason: DenyReason, status: StatusCode) -> Rendered {
    let body = match reason {
        DenyReason::RateLimited => "local_rate_limited",
        DenyReason::Fault => "no healthy upstream",
        _ => "RBAC: access denied",
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::SERVER, HeaderValue::from_static("envoy"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Rendered {
        status,
        reason_phrase: None,
        headers,
        body: Bytes::from_static(body.as_bytes()),
        request_id: request_id::hex32(),
    }
}

/// Kong 3's plugin refusals: `{"message", "request_id"}` in Kong's two-space layout,
/// `Server: kong/…` and `X-Kong-Response-Latency`, which Kong sets only on responses it
/// produced itself.
pub(super) fn kong(reason: DenyReason, status: StatusCode, request: &PageRequest<'_>) -> Rendered {
    let id = request_id::hex32();
    let message = match reason {
        DenyReason::IpBlocked => format!("IP address not allowed: {}", request.client_ip),
        DenyReason::UserAgentBlocked => "Forbidden".to_owned(),
        DenyReason::RateLimited => "API rate limit exceeded".to_owned(),
        DenyReason::Fault => "failure to get a peer from the ring-balancer".to_owned(),
        _ => "You cannot consume this service".to_owned(),
    };
    let body = format!("{{\n  \"message\":\"{message}\",\n  \"request_id\":\"{id}\"\n}}");
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(header::SERVER, HeaderValue::from_static("kong/3.6.1"));
    headers.insert("x-kong-response-latency", HeaderValue::from_static("0"));
    headers.insert("x-kong-request-id", header_value(&id));
    Rendered {
        status,
        reason_phrase: None,
        headers,
        body: Bytes::from(body),
        request_id: id,
    }
}

/// Amazon API Gateway's gateway responses: a JSON message with `x-amzn-ErrorType` naming
/// the response type, `x-amzn-RequestId` and `x-amz-apigw-id`.
pub(super) fn aws_api_gateway(reason: DenyReason, status: StatusCode) -> Rendered {
    let id = uuid();
    let (error_type, body) = match reason {
        DenyReason::RateLimited => (
            "TooManyRequestsException",
            r#"{"message":"Too Many Requests"}"#,
        ),
        DenyReason::Fault => (
            "InternalServerErrorException",
            r#"{"message": "Internal server error"}"#,
        ),
        // A resource policy's IP condition denies the anonymous caller.
        DenyReason::IpBlocked => (
            "AccessDeniedException",
            r#"{"Message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:eu-central-1:123456789012:abcdef1234/prod/GET/ with an explicit deny"}"#,
        ),
        _ => ("ForbiddenException", r#"{"message":"Forbidden"}"#),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("x-amzn-requestid", header_value(&id));
    headers.insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    headers.insert(
        "x-amz-apigw-id",
        header_value(&format!("{:016X}=", fastrand::u64(..))),
    );
    Rendered {
        status,
        reason_phrase: None,
        headers,
        body: Bytes::from_static(body.as_bytes()),
        request_id: id,
    }
}

/// Caddy's `respond` and `error` directives answer with no body of their own; Caddy
/// names itself in `Server` on every response.
pub(super) fn caddy(status: StatusCode) -> Rendered {
    let mut headers = HeaderMap::new();
    headers.insert(header::SERVER, HeaderValue::from_static("Caddy"));
    Rendered {
        status,
        reason_phrase: None,
        headers,
        body: Bytes::new(),
        request_id: request_id::hex32(),
    }
}

/// A request id in UUID form, as AWS writes them.
fn uuid() -> String {
    let hex = request_id::hex32();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
