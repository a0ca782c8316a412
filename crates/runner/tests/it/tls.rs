//! TLS targets: an extra CA is trusted when named, and `insecure` is an explicit switch.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rolecall_runner::Outcome;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::{run_all, suite};

/// An HTTPS server on loopback with a certificate for `localhost` signed by a fresh CA.
struct TlsServer {
    port: u16,
    ca_pem: String,
    _runtime: tokio::runtime::Runtime,
}

impl TlsServer {
    fn start() -> Self {
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(|_request| async {
                        Ok::<_, Infallible>(hyper::Response::new(body()))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        TlsServer {
            port,
            ca_pem: ca.pem(),
            _runtime: runtime,
        }
    }
}

fn body() -> String {
    "secure".to_owned()
}

fn target(server: &TlsServer, extra: &str) -> String {
    format!(
        "[targets.t]\nbase_url = \"https://localhost:{}\"\n{extra}\n[identities.anonymous]\n",
        server.port
    )
}

const ROUTES: &str = "[[route]]\nrequest = \"GET /\"\npublic = true\n";

#[test]
fn an_unknown_certificate_authority_is_refused() {
    let server = TlsServer::start();
    let (_dir, suite) = suite(&[
        ("rolecall.toml", &target(&server, "")),
        ("routes.toml", ROUTES),
    ]);
    let run = run_all(&suite);
    assert_eq!(run.results[0].outcome, Outcome::Error);
    let message = run.results[0].message.as_deref().unwrap();
    assert!(message.to_lowercase().contains("certificate"), "{message}");
}

#[test]
fn an_extra_ca_is_trusted() {
    let server = TlsServer::start();
    let (_dir, suite) = suite(&[
        ("rolecall.toml", &target(&server, "ca_cert = \"ca.pem\"")),
        ("routes.toml", ROUTES),
        ("ca.pem", &server.ca_pem),
    ]);
    let run = run_all(&suite);
    assert_eq!(
        run.results[0].outcome,
        Outcome::Pass,
        "{:?}",
        run.results[0].message
    );
}

#[test]
fn insecure_accepts_any_certificate() {
    let server = TlsServer::start();
    let (_dir, suite) = suite(&[
        ("rolecall.toml", &target(&server, "insecure = true")),
        ("routes.toml", ROUTES),
    ]);
    let run = run_all(&suite);
    assert_eq!(
        run.results[0].outcome,
        Outcome::Pass,
        "{:?}",
        run.results[0].message
    );
}
