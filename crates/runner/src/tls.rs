//! Certificate verification that costs nothing until a TLS handshake needs it.
//!
//! The platform verifier reads and parses the system's root certificates when it is
//! built, several milliseconds that a run against a plain-HTTP target (the common case
//! in CI) never needs. This wrapper builds it on the first handshake instead.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error, SignatureScheme};
use rustls_platform_verifier::Verifier;

pub(crate) struct LazyVerifier {
    provider: Arc<CryptoProvider>,
    extra_roots: Vec<CertificateDer<'static>>,
    inner: OnceLock<Result<Verifier, String>>,
}

impl LazyVerifier {
    pub(crate) fn new(
        provider: Arc<CryptoProvider>,
        extra_roots: Vec<CertificateDer<'static>>,
    ) -> Self {
        LazyVerifier {
            provider,
            extra_roots,
            inner: OnceLock::new(),
        }
    }

    fn verifier(&self) -> Result<&Verifier, Error> {
        self.inner
            .get_or_init(|| {
                let built = if self.extra_roots.is_empty() {
                    Verifier::new(self.provider.clone())
                } else {
                    Verifier::new_with_extra_roots(self.extra_roots.clone(), self.provider.clone())
                };
                built.map_err(|e| format!("cannot set up certificate verification: {e}"))
            })
            .as_ref()
            .map_err(|e| Error::General(e.clone()))
    }
}

impl fmt::Debug for LazyVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyVerifier")
            .field("extra_roots", &self.extra_roots.len())
            .field("built", &self.inner.get().is_some())
            .finish()
    }
}

impl ServerCertVerifier for LazyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.verifier()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.verifier()?.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        // The same list the platform verifier reports for this provider, without building it.
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
