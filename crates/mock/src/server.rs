//! The HTTP server: accepts connections, runs each request through the layers and the
//! origin, and stamps the personas' headers on the way out.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rolecall_scenario::Layer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::AppRequest;
use crate::body::{self, PrefixedBody, ResponseBody};
use crate::config::{Edge, MockConfig, Origin};
use crate::edge::{Denial, Exchange, FaultEnd, Outcome};
use crate::errors::{InjectedAbort, MockServerError};
use crate::path::normalize_path;
use crate::persona::{self, DenyReason, PageRequest, Persona, Rendered};
use crate::proxy::ProxyFailure;
use crate::replay::Recording;
use crate::request_id;
use crate::store::Store;

/// Largest request body the mock app reads (login forms); larger ones get 413.
const APP_BODY_LIMIT: usize = 1 << 20;
/// How long a graceful shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// One refusal, as logged by `rolecall mock serve`: who said no, by which rule, under
/// which request id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// The control plane that refused.
    pub layer: Layer,
    /// The vendor imitated; `None` for the mock app.
    pub persona: Option<Persona>,
    /// The layer's name in `mock.toml` (its kind unless named), or "app".
    pub name: String,
    /// What matched: the rule, CIDR, country, anomaly score, or the app's error code.
    pub rule: String,
    /// The status sent.
    pub status: u16,
    /// The id the response carries (cf-ray, x-amz-cf-id, Akamai reference, X-Request-Id).
    pub request_id: String,
    /// The request method.
    pub method: String,
    /// The request target as received.
    pub target: String,
    /// The client address after trusted-proxy resolution.
    pub client_ip: IpAddr,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let persona = self.persona.map_or("mock app", Persona::name);
        write!(
            f,
            "{} {} {} refused by {} ({persona}) layer `{}`: {} [request id {}, client {}]",
            self.status,
            self.method,
            self.target,
            self.layer,
            self.name,
            self.rule,
            self.request_id,
            self.client_ip
        )
    }
}

type LogFn = dyn Fn(&Refusal) + Send + Sync;

struct State {
    edge: Arc<Edge>,
    log: Box<LogFn>,
    /// The app's objects: one store per running server, so each run starts empty.
    store: Store,
}

impl State {
    /// A server's state, with an empty store for the app's objects.
    fn new(config: MockConfig, log: impl Fn(&Refusal) + Send + Sync + 'static) -> Arc<Self> {
        let resources = match &config.edge.origin {
            Origin::App(app) => app.resources.len(),
            Origin::Proxy(_) => 0,
        };
        Arc::new(Self {
            edge: config.edge,
            log: Box::new(log),
            store: Store::new(resources),
        })
    }
}

/// A running mock edge on the caller's tokio runtime.
///
/// Dropping it stops accepting connections; [`MockServer::shutdown`] also waits for
/// requests in flight.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Binds `addr` (port 0 picks a free port) and serves in a background task.
    pub async fn start(config: MockConfig, addr: SocketAddr) -> Result<Self, MockServerError> {
        Self::start_with_log(config, addr, |_| {}).await
    }

    /// Like [`MockServer::start`], calling `log` once for every refusal.
    pub async fn start_with_log(
        config: MockConfig,
        addr: SocketAddr,
        log: impl Fn(&Refusal) + Send + Sync + 'static,
    ) -> Result<Self, MockServerError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|err| MockServerError::bind(addr, err))?;
        let addr = listener
            .local_addr()
            .map_err(|err| MockServerError::bind(addr, err))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let state = State::new(config, log);
        let task = tokio::spawn(run(listener, state, async {
            // A dropped sender stops the server too.
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish (up to five seconds) and returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves on `listen` until `shutdown` completes, then drains requests in flight.
/// `log` is called once per refusal. This is what `rolecall mock serve` runs.
pub async fn serve(
    config: MockConfig,
    listen: SocketAddr,
    log: impl Fn(&Refusal) + Send + Sync + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), MockServerError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|err| MockServerError::bind(listen, err))?;
    let state = State::new(config, log);
    run(listener, state, shutdown).await;
    Ok(())
}

async fn run(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .title_case_headers(true);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let reset = Arc::new(AtomicBool::new(false));
                let io = TokioIo::new(ResettableStream { stream, reset: Arc::clone(&reset) });
                let state = Arc::clone(&state);
                let service = service_fn(move |request| {
                    let state = Arc::clone(&state);
                    let reset = Arc::clone(&reset);
                    async move { handle(&state, peer, &reset, request).await }
                });
                let connection = graceful.watch(builder.serve_connection(io, service));
                tokio::spawn(async move {
                    // Client disconnects and injected aborts end here; neither is news.
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
}

/// A TCP stream that can end with a reset instead of a close: fault injection sets the
/// flag, the service fails, hyper drops the connection, and the drop sets SO_LINGER 0.
struct ResettableStream {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Host name and port as Apache reports them: from `Host`, port 80 when it names none.
fn host_and_port<'h>(
    headers: &'h HeaderMap,
    uri: &'h http::Uri,
    fallback: &'h str,
) -> (&'h str, u16) {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return (fallback, 80);
    };
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((name, after)) => (name, after.strip_prefix(':')),
            None => (host, None),
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    (name, port.and_then(|p| p.parse().ok()).unwrap_or(80))
}

async fn handle(
    state: &State,
    peer: SocketAddr,
    reset: &AtomicBool,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, InjectedAbort> {
    let edge = &state.edge;
    let (parts, incoming) = request.into_parts();
    let client_ip = edge.client_ip.resolve(peer.ip(), &parts.headers);
    let (prefix, rest) = if edge.body_limit > 0 {
        body::read_prefix(incoming, edge.body_limit)
            .await
            .map_err(|_| InjectedAbort)?
    } else {
        (Bytes::new(), Some(incoming))
    };
    let raw_path = parts.uri.path();
    let path = normalize_path(raw_path);
    let target = parts
        .uri
        .path_and_query()
        .map_or(raw_path, |pq| pq.as_str());
    let (host, port) = host_and_port(&parts.headers, &parts.uri, &edge.settings.server_name);
    let exchange = Exchange {
        method: &parts.method,
        raw_path,
        path: &path,
        query: parts.uri.query(),
        headers: &parts.headers,
        host,
        client_ip,
        body: &prefix,
    };
    let page_request = PageRequest {
        host,
        port,
        target,
        client_ip,
        country: parts
            .headers
            .get("cf-ipcountry")
            .and_then(|v| v.to_str().ok()),
    };
    let now = Instant::now();
    for layer in &edge.layers {
        let (reason, denial_status, rule, retry_after) = match layer.check(&exchange, now) {
            Outcome::Pass => continue,
            Outcome::Deny(Denial {
                reason,
                status,
                rule,
                retry_after,
            }) => (reason, status, rule, retry_after),
            Outcome::Replay(recording) => {
                (state.log)(&Refusal {
                    layer: recording.layer,
                    persona: None,
                    name: layer.name.clone(),
                    rule: format!("recorded in {}", recording.file.display()),
                    status: recording.status.as_u16(),
                    request_id: String::new(),
                    method: parts.method.to_string(),
                    target: target.to_owned(),
                    client_ip,
                });
                return Ok(replayed(&recording));
            }
            Outcome::Fault(fault) => {
                if let Some(delay) = fault.delay {
                    tokio::time::sleep(delay).await;
                }
                match fault.end {
                    None => continue,
                    Some(FaultEnd::Reset) => {
                        reset.store(true, Ordering::Relaxed);
                        return Err(InjectedAbort);
                    }
                    Some(FaultEnd::Close) => return Err(InjectedAbort),
                    Some(FaultEnd::Status(status)) => (
                        DenyReason::Fault,
                        status,
                        format!("injected {status}"),
                        None,
                    ),
                }
            }
        };
        let mut page = persona::render(
            layer.persona,
            reason,
            denial_status,
            retry_after,
            &page_request,
            &edge.settings,
        );
        if let Some((name, value)) = &layer.mark {
            page.headers.insert(name.clone(), value.clone());
        }
        let refusal = Refusal {
            layer: layer.attribution(),
            persona: Some(layer.persona),
            name: layer.name.clone(),
            rule,
            status: page.status.as_u16(),
            request_id: page.request_id.clone(),
            method: parts.method.to_string(),
            target: target.to_owned(),
            client_ip,
        };
        (state.log)(&refusal);
        return Ok(page_response(
            page,
            layer
                .persona
                .behind_cdn()
                .then_some(edge)
                .and_then(|e| e.cdn),
            edge,
        ));
    }

    match &edge.origin {
        Origin::App(app) => {
            let Some(body) = body::read_all(prefix, rest, APP_BODY_LIMIT)
                .await
                .map_err(|_| InjectedAbort)?
            else {
                let mut response = Response::new(body::empty());
                *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                return Ok(response);
            };
            let request_id = request_id::hex32();
            let answer = app.handle(
                &AppRequest {
                    method: &parts.method,
                    path: &path,
                    headers: &parts.headers,
                    body: &body,
                    request_id: &request_id,
                },
                &state.store,
            );
            if let Some(code) = answer.refusal {
                (state.log)(&Refusal {
                    layer: Layer::App,
                    persona: None,
                    name: "app".to_owned(),
                    rule: code.to_owned(),
                    status: answer.status.as_u16(),
                    request_id: request_id.clone(),
                    method: parts.method.to_string(),
                    target: target.to_owned(),
                    client_ip,
                });
            }
            let mut response = Response::new(body::full(answer.body));
            *response.status_mut() = answer.status;
            *response.headers_mut() = answer.headers;
            decorate_passing(response.headers_mut(), edge);
            Ok(response)
        }
        Origin::Proxy(proxy) => {
            let method = parts.method.to_string();
            let target = target.to_owned();
            let (host, country) = (host.to_owned(), page_request.country.map(str::to_owned));
            let body = PrefixedBody::new(prefix, rest);
            match proxy.forward(parts, body, peer.ip()).await {
                Ok(mut response) => {
                    decorate_passing(response.headers_mut(), edge);
                    Ok(response)
                }
                Err(failure) => {
                    // The web server in front reports the upstream failure; without one,
                    // nginx's words are as good as any.
                    let persona = edge.server.unwrap_or(Persona::Nginx);
                    let (status, rule) = match failure {
                        ProxyFailure::Timeout => {
                            (StatusCode::GATEWAY_TIMEOUT, "upstream timed out".to_owned())
                        }
                        ProxyFailure::Unreachable(reason) => (
                            StatusCode::BAD_GATEWAY,
                            format!("upstream failed: {reason}"),
                        ),
                    };
                    let page_request = PageRequest {
                        host: &host,
                        port,
                        target: &target,
                        client_ip,
                        country: country.as_deref(),
                    };
                    let page = persona::render(
                        persona,
                        DenyReason::Fault,
                        status,
                        None,
                        &page_request,
                        &edge.settings,
                    );
                    (state.log)(&Refusal {
                        layer: persona.layer(),
                        persona: Some(persona),
                        name: "proxy".to_owned(),
                        rule,
                        status: page.status.as_u16(),
                        request_id: page.request_id.clone(),
                        method,
                        target,
                        client_ip,
                    });
                    Ok(page_response(page, edge.cdn, edge))
                }
            }
        }
    }
}

/// A recorded response, exactly as recorded: no persona decorates it.
fn replayed(recording: &Recording) -> Response<ResponseBody> {
    let mut response = Response::new(body::full(recording.body.clone()));
    *response.status_mut() = recording.status;
    for (name, value) in &recording.headers {
        response.headers_mut().append(name.clone(), value.clone());
    }
    response
}

/// Headers the web server and CDN personas put on responses they pass through.
fn decorate_passing(headers: &mut HeaderMap, edge: &Edge) {
    if let Some(server) = edge.server {
        persona::decorate(server, headers, &edge.settings);
    }
    if let Some(cdn) = edge.cdn {
        persona::decorate(cdn, headers, &edge.settings);
    }
}

fn page_response(page: Rendered, cdn: Option<Persona>, edge: &Edge) -> Response<ResponseBody> {
    let mut response = Response::new(body::full(page.body));
    *response.status_mut() = page.status;
    *response.headers_mut() = page.headers;
    if let Some(phrase) = page.reason_phrase {
        response
            .extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(phrase.as_bytes()));
    }
    if let Some(cdn) = cdn {
        persona::decorate(cdn, response.headers_mut(), &edge.settings);
    }
    if !response.headers().contains_key(header::CONTENT_TYPE) {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(host: Option<&'static str>, expected: (&str, u16)) {
        let mut headers = HeaderMap::new();
        if let Some(host) = host {
            headers.insert(header::HOST, HeaderValue::from_static(host));
        }
        let uri = http::Uri::from_static("/x");
        assert_eq!(host_and_port(&headers, &uri, "localhost"), expected);
    }

    #[test]
    fn hosts_and_ports_read_like_apache() {
        check(Some("example.com"), ("example.com", 80));
        check(Some("example.com:8080"), ("example.com", 8080));
        check(Some("[::1]:8443"), ("::1", 8443));
        check(Some("[::1]"), ("::1", 80));
        check(None, ("localhost", 80));
    }
}
