//! A raw HTTP/1.1 server on loopback for targets that misbehave on the wire: hanging,
//! endless or huge bodies, floods of headers.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long a hanging connection is held: longer than any test waits.
const HOLD: Duration = Duration::from_secs(30);

/// What the server does after answering a request.
pub(crate) enum Next {
    /// Read the next request on the connection.
    KeepAlive,
    /// Close the connection.
    Close,
    /// Hold the connection without a word until [`HOLD`] has passed.
    Hang,
}

/// A raw HTTP/1.1 server on loopback. `answer` gets the request head, the number of
/// requests received before it and the connection to write its answer to (or nothing).
/// Counts the connections it accepted; at most 1,000, each for at most 1,000 requests.
pub(crate) struct RawServer {
    pub(crate) addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl RawServer {
    pub(crate) fn start(
        answer: impl Fn(&str, usize, &mut TcpStream) -> Next + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(answer);
        let count = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten().take(1_000) {
                count.fetch_add(1, Ordering::SeqCst);
                let (answer, received) = (answer.clone(), received.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream);
                    for _ in 0..1_000 {
                        let mut head = String::new();
                        loop {
                            let mut line = String::new();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            head.push_str(&line);
                            if line == "\r\n" {
                                break;
                            }
                        }
                        let n = received.fetch_add(1, Ordering::SeqCst);
                        match answer(&head, n, reader.get_mut()) {
                            Next::KeepAlive => {}
                            Next::Close => return,
                            Next::Hang => {
                                std::thread::sleep(HOLD);
                                return;
                            }
                        }
                    }
                });
            }
        });
        RawServer { addr, accepted }
    }

    /// A server that answers each request with `response`, or hangs when it gives none.
    pub(crate) fn answering(
        response: impl Fn(&str, usize) -> Option<&'static [u8]> + Send + Sync + 'static,
    ) -> Self {
        Self::start(move |head, n, stream| match response(head, n) {
            Some(bytes) => match stream.write_all(bytes) {
                Ok(()) => Next::KeepAlive,
                Err(_) => Next::Close,
            },
            None => Next::Hang,
        })
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}
