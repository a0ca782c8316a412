//! A raw HTTP/1.x exchange for bypass variants whose request target must go out
//! byte-exact: reqwest and `url` normalise `/./`, `..`, `#` and the case of escapes, and
//! `http`'s URI drops a fragment. One request per connection (`Connection: close`); the
//! response head is parsed with `httparse`, and the body is read under the same limits as
//! the ordinary client's (see [`crate::observed::BODY_LIMIT`]).

use std::sync::Arc;

use reqwest::Url;
use reqwest::header::HeaderMap;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::observed::Truncated;

/// The most bytes a response head may take, as hyper allows the ordinary client.
const HEAD_LIMIT: usize = 400 * 1024;
/// The most headers a response head may have.
const MAX_HEADERS: usize = 100;

/// Headers [`encode`] writes itself, never from the request's headers.
const FRAMING: [reqwest::header::HeaderName; 4] = [
    reqwest::header::HOST,
    reqwest::header::CONTENT_LENGTH,
    reqwest::header::TRANSFER_ENCODING,
    reqwest::header::CONNECTION,
];

/// A request to write as it is.
pub(crate) struct RawRequest<'a> {
    pub(crate) method: &'a str,
    /// The request target, byte-exact.
    pub(crate) target: &'a str,
    /// HTTP/1.0 without `Host`.
    pub(crate) http10: bool,
    /// The request's headers; `Host`, `Content-Length`, `Transfer-Encoding` and
    /// `Connection` among them are not written as they are (see [`encode`]).
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: Option<&'a [u8]>,
}

/// A response as read.
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    pub(crate) truncated: Option<Truncated>,
}

/// The bytes of `request` to `host` (`name[:port]`) as they go on the wire.
pub(crate) fn encode(request: &RawRequest<'_>, host: &str) -> Vec<u8> {
    let version = if request.http10 {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    let mut out = Vec::with_capacity(256);
    for part in [request.method, " ", request.target, " ", version, "\r\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    // A route's or suite's `Host` names the virtual host: it is the one Host sent, and
    // HTTP/1.0 sends none. Framing is rolecall's alone: a user's `Content-Length`,
    // `Transfer-Encoding` or `Connection` beside the ones written here would be a
    // request two parsers read differently.
    if !request.http10 {
        out.extend_from_slice(b"host: ");
        match request.headers.get(reqwest::header::HOST) {
            Some(user) => out.extend_from_slice(user.as_bytes()),
            None => out.extend_from_slice(host.as_bytes()),
        }
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in request.headers {
        if FRAMING.contains(name) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(body) = request.body {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"connection: close\r\n\r\n");
    if let Some(body) = request.body {
        out.extend_from_slice(body);
    }
    out
}

/// Sends `request` to `url`'s origin and reads the answer, reading at most `limit` bytes
/// of body. TLS uses `tls` (the run's verified configuration); the caller bounds the
/// whole exchange with the run's timeout.
pub(crate) async fn send(
    url: &Url,
    tls: Option<&Arc<rustls::ClientConfig>>,
    request: &RawRequest<'_>,
    limit: usize,
) -> Result<RawResponse, String> {
    let host = url.host_str().ok_or("the target has no host")?;
    let port = url
        .port_or_known_default()
        .ok_or("the target has no port")?;
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let bytes = encode(request, &authority);
    let connect_host = host.trim_start_matches('[').trim_end_matches(']');
    let stream = tokio::net::TcpStream::connect((connect_host, port))
        .await
        .map_err(|e| format!("cannot connect to {authority}: {e} (is the target running?)"))?;
    let _ = stream.set_nodelay(true);
    let head_only = request.method == "HEAD";
    match url.scheme() {
        "https" => {
            let config = tls.ok_or(
                "a byte-exact variant over TLS needs certificate verification (the target is `insecure`)",
            )?;
            let name = rustls::pki_types::ServerName::try_from(connect_host.to_owned())
                .map_err(|e| format!("invalid TLS server name: {e}"))?;
            let stream = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS handshake with {authority} failed: {e}"))?;
            exchange(stream, &bytes, head_only, limit).await
        }
        _ => exchange(stream, &bytes, head_only, limit).await,
    }
}

/// Writes `bytes` and reads one response from `stream`.
pub(crate) async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    bytes: &[u8],
    head_only: bool,
    limit: usize,
) -> Result<RawResponse, String> {
    let io = |e: std::io::Error| format!("request failed: {e}");
    stream.write_all(bytes).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    let mut buf = Vec::with_capacity(8 * 1024);
    let (status, headers, consumed) = loop {
        if let Some(head) = parse_head(&buf)? {
            // An interim answer (100 Continue) is followed by the real one.
            if (100..200).contains(&head.0) {
                buf.drain(..head.2);
                continue;
            }
            break head;
        }
        if buf.len() > HEAD_LIMIT {
            return Err(format!(
                "the response head exceeds {} KiB",
                HEAD_LIMIT / 1024
            ));
        }
        if stream.read_buf(&mut buf).await.map_err(io)? == 0 {
            return Err("the connection closed before a complete response head".to_owned());
        }
    };
    let mut rest = buf.split_off(consumed);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let no_body = head_only || status == 204 || status == 304;
    let chunked =
        header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let (body, truncated) = if no_body {
        (Vec::new(), None)
    } else if chunked {
        read_chunked(&mut stream, rest, limit).await?
    } else {
        let want = length.map_or(limit, |l| l.min(limit as u64) as usize);
        while rest.len() < want {
            if stream.read_buf(&mut rest).await.map_err(io)? == 0 {
                break;
            }
        }
        let received = rest.len() as u64;
        rest.truncate(want);
        let truncated = match length {
            Some(size) if size > rest.len() as u64 => Some((size, false)),
            Some(_) => None,
            None if received >= limit as u64 => Some((received, true)),
            None => None,
        };
        (rest, truncated)
    };
    let truncated = truncated.map(|(size, lower_bound)| Truncated {
        body_size: Some(size),
        body_size_is_lower_bound: lower_bound,
        headers_cut: 0,
    });
    let body = String::from_utf8(body)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned());
    Ok(RawResponse {
        status,
        headers,
        body,
        truncated,
    })
}

type Head = (u16, Vec<(String, String)>, usize);

fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(consumed)) => {
            let status = response.code.unwrap_or(0);
            let headers = response
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            Ok(Some((status, headers, consumed)))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(format!("invalid response head: {e}")),
    }
}

/// Decodes a chunked body, keeping at most `limit` bytes; `buf` holds what was read
/// after the head.
async fn read_chunked<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
    limit: usize,
) -> Result<(Vec<u8>, Option<(u64, bool)>), String> {
    let io = |e: std::io::Error| format!("reading the body failed: {e}");
    let mut body = Vec::new();
    loop {
        let (start, size) = loop {
            match httparse::parse_chunk_size(&buf) {
                Ok(httparse::Status::Complete(found)) => break found,
                Ok(httparse::Status::Partial) => {
                    if buf.len() > HEAD_LIMIT {
                        return Err("invalid chunk size line".to_owned());
                    }
                    if stream.read_buf(&mut buf).await.map_err(io)? == 0 {
                        return Ok((body, None));
                    }
                }
                Err(_) => return Err("invalid chunk size".to_owned()),
            }
        };
        if size == 0 {
            return Ok((body, None));
        }
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let room = limit - body.len();
        if size >= room {
            // The limit is reached: what is left is not read.
            let have = buf.len() - start;
            let take = room.min(have);
            body.extend_from_slice(&buf[start..start + take]);
            while body.len() < limit {
                let mut more = Vec::with_capacity(limit - body.len());
                if stream.read_buf(&mut more).await.map_err(io)? == 0 {
                    break;
                }
                let take = more.len().min(limit - body.len());
                body.extend_from_slice(&more[..take]);
            }
            let seen = body.len() as u64;
            return Ok((body, Some((seen, true))));
        }
        // The chunk and its CRLF.
        while buf.len() < start + size + 2 {
            if stream.read_buf(&mut buf).await.map_err(io)? == 0 {
                body.extend_from_slice(&buf[start..buf.len().min(start + size)]);
                return Ok((body, None));
            }
        }
        body.extend_from_slice(&buf[start..start + size]);
        buf.drain(..start + size + 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(response: &[u8], head_only: bool, limit: usize) -> RawResponse {
        const REQUEST: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let response = response.to_vec();
        // The server reads the request, answers and closes, as a server would.
        let served = tokio::spawn(async move {
            let mut request = vec![0; REQUEST.len()];
            server.read_exact(&mut request).await.unwrap();
            server.write_all(&response).await.unwrap();
        });
        let answer = exchange(client, REQUEST, head_only, limit).await.unwrap();
        served.await.unwrap();
        answer
    }

    #[tokio::test]
    async fn bodies_are_read_by_length_by_chunks_and_to_the_end() {
        let r = answer(
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!extra",
            false,
            1024,
        )
        .await;
        assert_eq!((r.status, r.body.as_str()), (403, "nope!"));
        let r = answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n",
            false,
            1024,
        )
        .await;
        assert_eq!((r.status, r.body.as_str()), (200, "abcde"));
        let r = answer(b"HTTP/1.0 200 OK\r\n\r\nuntil close", false, 1024).await;
        assert_eq!(r.body, "until close");
        let r = answer(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            false,
            1024,
        )
        .await;
        assert_eq!(r.status, 404);
        let r = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true, 1024).await;
        assert_eq!(r.body, "");
    }

    #[tokio::test]
    async fn bodies_stop_at_the_limit() {
        let r = answer(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
            false,
            4,
        )
        .await;
        assert_eq!(r.body, "0123");
        assert_eq!(r.truncated.unwrap().body_size, Some(10));
        let r = answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n",
            false,
            4,
        )
        .await;
        assert_eq!(r.body, "0123");
        assert!(r.truncated.unwrap().body_size_is_lower_bound);
    }
}
