//! A tiny origin app behind the real proxies: it refuses with its own JSON, like an API
//! does, so the tests can check that a relayed refusal is still the app's.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The app's refusal body, byte for byte.
pub(crate) const DENY_BODY: &str =
    r#"{"code":"forbidden","message":"the app refused: role viewer may not read /api/private"}"#;

/// A running app on 127.0.0.1, stopped when dropped.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) address: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl App {
    pub(crate) fn start() -> std::io::Result<App> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    thread::spawn(move || {
                        // A broken connection only fails the request that used it, which
                        // the test then reports; the app itself keeps serving.
                        let _ = serve(stream);
                    });
                }
            }
        });
        Ok(App {
            address,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so that the thread sees the flag.
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The proxies send no request body on GET; the head ends at the first empty line.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/api/ok" => ("200 OK", r#"{"ok":true}"#),
        "/api/internal" => ("200 OK", r#"{"page":"internal"}"#),
        "/api/private" => ("403 Forbidden", DENY_BODY),
        // Like most routers, the app serves a path with or without a trailing slash.
        "/exact/admin" | "/exact/admin/" => ("200 OK", r#"{"page":"admin"}"#),
        _ => ("404 Not Found", r#"{"code":"not_found"}"#),
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}
