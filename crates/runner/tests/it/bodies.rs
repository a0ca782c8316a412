//! Large answers: huge, endless and compressed bodies and floods of headers cost a bounded
//! amount of memory, and a failing case keeps only an excerpt, saying what it left out.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rolecall_runner::{CaseResult, Outcome};

use crate::raw::{Next, RawServer};
use crate::{run_all, suite};

const MIB: usize = 1024 * 1024;

/// What a failing case may keep of a body, and of headers.
const KEPT: usize = 16 * 1024;

/// Runs one route that `viewer` must be refused (`deny = 403`) against `server`.
fn refused_route(server: &RawServer, route: &str) -> CaseResult {
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!(
                "[defaults]\ntimeout = \"5s\"\n[targets.t]\nbase_url = \"{}\"\n[identities.viewer]\nbearer = \"viewer-token-1\"\n",
                server.url()
            ),
        ),
        (
            "routes.toml",
            &format!("[[route]]\nrequest = \"GET {route}\"\ndeny = 403\n"),
        ),
    ]);
    let start = Instant::now();
    let mut run = run_all(&suite);
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{route} took {:?}",
        start.elapsed()
    );
    run.results.remove(0)
}

/// Writes a 200 head with `headers`, then `body`; closes when the client stops reading.
fn answer(stream: &mut TcpStream, headers: &str, body: &[u8]) -> Next {
    let head = format!("HTTP/1.1 200 OK\r\ncontent-type: text/html\r\n{headers}\r\n");
    match stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
    {
        Ok(()) => Next::KeepAlive,
        Err(_) => Next::Close,
    }
}

#[test]
fn a_failing_case_keeps_an_excerpt_of_an_8_mib_body_and_says_so() {
    let body = format!("<p>{}</p>", "x".repeat(8 * MIB - 7));
    let server = RawServer::start(move |_, _, stream| {
        answer(
            stream,
            &format!("content-length: {}\r\n", body.len()),
            body.as_bytes(),
        )
    });
    let result = refused_route(&server, "/huge");
    assert_eq!(result.outcome, Outcome::Fail);
    let observed = result.observed.unwrap();
    assert!(
        observed.body.len() <= KEPT,
        "kept {} bytes",
        observed.body.len()
    );
    assert!(observed.body.starts_with("<p>xxx"));
    let truncated = observed.truncated.unwrap();
    assert_eq!(
        truncated.describe(observed.body.len()),
        format!("body truncated: first {KEPT} of {} bytes kept", 8 * MIB)
    );
    let message = result.message.unwrap();
    assert!(
        message.contains(&format!("… ({} bytes)", 8 * MIB)),
        "{message}"
    );
}

#[test]
fn an_endless_body_is_read_up_to_a_limit_and_kept_as_an_excerpt() {
    let server = RawServer::start(|_, _, stream| {
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).is_err() {
            return Next::Close;
        }
        let chunk = format!("10000\r\n{}\r\n", "y".repeat(0x10000));
        // Endless as far as the client can tell: 4 GiB, until it stops reading.
        for _ in 0..65_536 {
            if stream.write_all(chunk.as_bytes()).is_err() {
                break;
            }
        }
        Next::Close
    });
    let result = refused_route(&server, "/endless");
    assert_eq!(result.outcome, Outcome::Fail);
    let observed = result.observed.unwrap();
    assert!(
        observed.body.len() <= KEPT,
        "kept {} bytes",
        observed.body.len()
    );
    let truncated = observed.truncated.unwrap();
    assert!(truncated.body_size_is_lower_bound);
    assert!(
        truncated
            .describe(observed.body.len())
            .starts_with(&format!("body truncated: first {KEPT} of more than ")),
        "{truncated:?}"
    );
}

#[test]
fn a_compression_bomb_is_never_expanded_beyond_the_read_limit() {
    // 16 MiB of `a` in about 100 KB of gzip. Decoded or not, at most the read limit is
    // read and an excerpt kept.
    let bomb = gzip_bomb(16 * MIB);
    assert!(bomb.len() < 120_000, "{}", bomb.len());
    let server = RawServer::start(move |_, _, stream| {
        answer(
            stream,
            &format!(
                "content-encoding: gzip\r\ncontent-length: {}\r\n",
                bomb.len()
            ),
            &bomb,
        )
    });
    let result = refused_route(&server, "/bomb");
    assert_eq!(result.outcome, Outcome::Fail);
    let observed = result.observed.unwrap();
    assert!(
        observed.body.len() <= KEPT,
        "kept {} bytes",
        observed.body.len()
    );
    assert!(observed.truncated.unwrap().body_size.is_some());
}

#[test]
fn a_flood_of_large_headers_is_kept_within_bounds() {
    // 90 headers of 4 KB: within what the client accepts (100 headers, ~400 KB).
    let headers: String = (0..90)
        .map(|i| format!("x-junk-{i}: {}\r\n", "h".repeat(4_000)))
        .collect();
    let server = RawServer::start(move |_, _, stream| {
        answer(stream, &format!("{headers}content-length: 2\r\n"), b"ok")
    });
    let result = refused_route(&server, "/headers");
    assert_eq!(result.outcome, Outcome::Fail);
    let observed = result.observed.unwrap();
    let kept: usize = observed
        .headers
        .iter()
        .map(|(n, v)| n.len() + v.len())
        .sum();
    assert!(kept <= KEPT, "kept {kept} bytes of headers");
    assert!(observed.truncated.unwrap().headers_cut >= 80);
    assert_eq!(observed.header("content-type"), Some("text/html"));
}

#[test]
fn a_response_head_too_large_to_read_is_an_error_not_a_hang() {
    // 2.4 MB of headers: refused by the client as it reads them.
    let headers: String = (0..600)
        .map(|i| format!("x-junk-{i}: {}\r\n", "h".repeat(4_000)))
        .collect();
    let server = RawServer::start(move |_, _, stream| {
        answer(stream, &format!("{headers}content-length: 2\r\n"), b"ok")
    });
    let result = refused_route(&server, "/head");
    assert_eq!(result.outcome, Outcome::Error);
    assert!(
        result
            .message
            .as_deref()
            .unwrap()
            .contains("failed: message head is too large"),
        "{:?}",
        result.message
    );
}

#[test]
fn body_expectations_are_judged_on_the_whole_body_read_not_on_the_excerpt() {
    // A needle 600 KB in: beyond what is kept and what attribution reads, within the
    // 1 MiB that body expectations read.
    let body = format!("{}needle-5e1f{}", "z".repeat(600_000), "z".repeat(100_000));
    let server = RawServer::start(move |_, _, stream| {
        answer(
            stream,
            &format!("content-length: {}\r\n", body.len()),
            body.as_bytes(),
        )
    });
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!(
                "[targets.t]\nbase_url = \"{}\"\n[identities.viewer]\nbearer = \"viewer-token-1\"\n",
                server.url()
            ),
        ),
        (
            "routes.toml",
            "[[route]]\nname = \"found\"\nrequest = \"GET /found\"\nallow = [\"viewer\"]\n[[route.case]]\nidentity = \"viewer\"\nbody = { contains = \"needle-5e1f\" }\n\n[[route]]\nname = \"absent\"\nrequest = \"GET /absent\"\nallow = [\"viewer\"]\n[[route.case]]\nidentity = \"viewer\"\nbody = { not_contains = \"needle-5e1f\" }\n",
        ),
    ]);
    let run = run_all(&suite);
    assert_eq!(
        run.results[0].outcome,
        Outcome::Pass,
        "{:?}",
        run.results[0]
    );
    let absent = &run.results[1];
    assert_eq!(absent.outcome, Outcome::Fail);
    assert!(absent.observed.as_ref().unwrap().body.len() <= KEPT);
}

/// A gzip member that expands to `size` bytes of `a`: one literal, then back-references
/// of 258 bytes at distance 1, in one fixed-Huffman deflate block (RFC 1951, 1952).
fn gzip_bomb(size: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// Appends `count` bits of `value`, least significant first.
        fn put(&mut self, value: u64, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// Appends a Huffman code, which deflate stores most significant bit first.
        fn code(&mut self, code: u64, len: u32) {
            let reversed = (0..len).fold(0, |r, i| r | (((code >> i) & 1) << (len - 1 - i)));
            self.put(reversed, len);
        }
    }
    let mut bits = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
        acc: 0,
        n: 0,
    };
    bits.put(1, 1); // the final block
    bits.put(1, 2); // fixed Huffman codes
    let literal = 0x30 + u64::from(b'a'); // literals 0-143: 8-bit codes from 0x30
    bits.code(literal, 8);
    let mut left = size - 1;
    while left >= 258 {
        bits.code(0b1100_0101, 8); // length code 285: 258 bytes, no extra bits
        bits.code(0, 5); // distance code 0: distance 1
        left -= 258;
    }
    for _ in 0..left {
        bits.code(literal, 8);
    }
    bits.code(0, 7); // end of block
    if bits.n > 0 {
        bits.out.push(bits.acc as u8);
    }
    let crc = crc32(std::iter::repeat_n(b'a', size));
    bits.out.extend_from_slice(&crc.to_le_bytes());
    bits.out.extend_from_slice(&(size as u32).to_le_bytes());
    bits.out
}

fn crc32(bytes: impl Iterator<Item = u8>) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|n| {
            (0..8).fold(n, |c, _| {
                if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                }
            })
        })
        .collect();
    !bytes.fold(!0u32, |c, b| {
        table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}
