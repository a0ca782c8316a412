//! Starting mock edges and talking to them over real loopback sockets.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rolecall_mock::{MockConfig, MockServer, Refusal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where relative key files of test configurations are found.
pub(crate) const FIXTURES: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures/mock.toml");

pub(crate) fn config(toml: &str) -> MockConfig {
    MockConfig::from_str(toml, Path::new(FIXTURES))
        .unwrap_or_else(|err| panic!("test config does not load: {err}"))
}

/// A running edge that records its refusals.
pub(crate) struct Edge {
    pub(crate) server: MockServer,
    pub(crate) refusals: Arc<Mutex<Vec<Refusal>>>,
}

impl Edge {
    pub(crate) async fn start(toml: &str) -> Self {
        let refusals = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&refusals);
        let server = MockServer::start_with_log(
            config(toml),
            "127.0.0.1:0".parse().unwrap(),
            move |refusal| {
                sink.lock().unwrap().push(refusal.clone());
            },
        )
        .await
        .unwrap();
        Self { server, refusals }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Sends `METHOD target` with extra header lines and returns the response.
    pub(crate) async fn send(&self, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
        self.send_body(method, target, headers, "").await
    }

    pub(crate) async fn send_body(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut request = format!("{method} {target} HTTP/1.1\r\nConnection: close\r\n");
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        {
            request.push_str("Host: shop.example\r\n");
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(body);
        raw(self.addr(), request.as_bytes())
            .await
            .expect("the edge answers")
    }

    pub(crate) fn last_refusal(&self) -> Refusal {
        self.refusals
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a refusal was logged")
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) reason: String,
    /// In wire order, names lowercased.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }
}

/// Writes raw bytes and reads the response until the server closes; `None` when the
/// connection ends without a response (reset or close).
pub(crate) async fn raw(addr: SocketAddr, request: &[u8]) -> Option<Reply> {
    match raw_outcome(addr, request).await {
        Outcome::Reply(reply) => Some(reply),
        _ => None,
    }
}

/// How a raw exchange ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    Reply(Reply),
    /// The server reset the connection.
    Reset,
    /// The server closed the connection without a response.
    Closed,
}

pub(crate) async fn raw_outcome(addr: SocketAddr, request: &[u8]) -> Outcome {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request).await.expect("write");
        let mut bytes = Vec::new();
        match stream.read_to_end(&mut bytes).await {
            Ok(_) => parse(&bytes).map_or(Outcome::Closed, Outcome::Reply),
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => Outcome::Reset,
            Err(err) => panic!("unexpected read error: {err}"),
        }
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("the exchange finishes within 10s")
}

fn parse(bytes: &[u8]) -> Option<Reply> {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    let _version = parts.next()?;
    let status = parts.next()?.parse().ok()?;
    let reason = parts.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut body = bytes[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Some(Reply {
        status,
        reason,
        headers,
        body,
    })
}

fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = bytes.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&bytes[..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&bytes[line_end + 2..line_end + 2 + size]);
        bytes = &bytes[line_end + 2 + size + 2..];
    }
    out
}

/// A response as a snapshot: status line, headers sorted with volatile values replaced,
/// and the body with the same values replaced.
pub(crate) fn snapshot_text(reply: &Reply) -> String {
    let volatile = [
        "date",
        "expires",
        "cf-ray",
        "x-amz-cf-id",
        "via",
        "x-request-id",
    ];
    let mut body = reply.text();
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .map(|(name, value)| {
            if volatile.contains(&name.as_str())
                && !(name == "expires" && value.starts_with("Thu, 01 Jan 1970"))
            {
                let token = format!("[{name}]");
                if value.len() > 8 {
                    body = body.replace(value.as_str(), &token);
                }
                (name.clone(), token)
            } else {
                (name.clone(), value.clone())
            }
        })
        .collect();
    headers.sort();
    let akamai = regex::Regex::new(r"(?:18|97)&#46;[0-9a-f]{8}&#46;\d+&#46;[0-9a-f]{8}").unwrap();
    body = akamai.replace_all(&body, "[akamai-reference]").into_owned();
    let request_id = regex::Regex::new(r#""request_id":"[0-9a-f]{32}""#).unwrap();
    body = request_id
        .replace_all(&body, r#""request_id":"[request-id]""#)
        .into_owned();
    let mut out = format!("HTTP/1.1 {} {}\n", reply.status, reply.reason);
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\n"));
    }
    out.push('\n');
    out.push_str(&body.replace("\r\n", "\u{240d}\n"));
    out
}
