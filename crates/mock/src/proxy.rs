//! Proxy mode: the edge in front of a team's real app, forwarding what passes.

use std::net::IpAddr;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::uri::{PathAndQuery, Uri};
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::body::{PrefixedBody, ResponseBody};
use crate::errors::BodyError;

type ProxyBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, BodyError>;

/// Forwards requests to one upstream over plain HTTP/1.1 with pooled connections.
#[derive(Debug)]
pub(crate) struct Proxy {
    upstream: Uri,
    timeout: Duration,
    client: Client<HttpConnector, ProxyBody>,
}

/// Why forwarding failed; the edge answers 502 or 504 in the server persona's words.
#[derive(Debug)]
pub(crate) enum ProxyFailure {
    Unreachable(String),
    Timeout,
}

/// Headers that describe one hop, not the message (RFC 9110 section 7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

impl Proxy {
    pub(crate) fn new(upstream: Uri, timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Self {
            upstream,
            timeout,
            client,
        }
    }

    pub(crate) fn upstream(&self) -> &Uri {
        &self.upstream
    }

    /// Forwards a request and streams the answer back. The client's `Host` is kept, as
    /// apps behind a CDN see it; the peer is appended to `X-Forwarded-For`.
    pub(crate) async fn forward(
        &self,
        mut parts: Parts,
        body: PrefixedBody,
        peer: IpAddr,
    ) -> Result<Response<ResponseBody>, ProxyFailure> {
        parts.uri = self.upstream_uri(parts.uri.path_and_query())?;
        strip_hop_by_hop(&mut parts.headers);
        append_forwarded_for(&mut parts.headers, peer);
        parts.headers.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("http"),
        );
        let request = Request::from_parts(parts, body.map_err(BodyError::from).boxed_unsync());
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| ProxyFailure::Timeout)?
            .map_err(|err| ProxyFailure::Unreachable(err.to_string()))?;
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(
            parts,
            body.map_err(BodyError::from).boxed_unsync(),
        ))
    }

    fn upstream_uri(&self, target: Option<&PathAndQuery>) -> Result<Uri, ProxyFailure> {
        let base = self.upstream.path().trim_end_matches('/');
        let target = target.map_or("/", PathAndQuery::as_str);
        let mut parts = self.upstream.clone().into_parts();
        parts.path_and_query = Some(
            format!("{base}{target}")
                .parse()
                .map_err(|err: http::uri::InvalidUri| ProxyFailure::Unreachable(err.to_string()))?,
        );
        Uri::from_parts(parts).map_err(|err| ProxyFailure::Unreachable(err.to_string()))
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named in Connection are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
}

fn append_forwarded_for(headers: &mut HeaderMap, peer: IpAddr) {
    let name = HeaderName::from_static("x-forwarded-for");
    let previous: Vec<&str> = headers
        .get_all(&name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let value = if previous.is_empty() {
        peer.to_string()
    } else {
        format!("{}, {peer}", previous.join(", "))
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_go_including_named_ones() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(
            headers.keys().map(HeaderName::as_str).collect::<Vec<_>>(),
            ["x-kept"]
        );
    }

    #[test]
    fn forwarded_for_is_appended() {
        let mut headers = HeaderMap::new();
        append_forwarded_for(&mut headers, "127.0.0.1".parse().unwrap());
        assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        append_forwarded_for(&mut headers, "127.0.0.2".parse().unwrap());
        assert_eq!(headers["x-forwarded-for"], "127.0.0.1, 10.0.0.1, 127.0.0.2");
    }

    #[test]
    fn the_upstream_base_path_is_kept() {
        let proxy = Proxy::new(
            "http://127.0.0.1:9/base/".parse().unwrap(),
            Duration::from_secs(1),
        );
        let uri = proxy
            .upstream_uri(Some(&"/v1/x?y=1".parse().unwrap()))
            .unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:9/base/v1/x?y=1");
    }
}
