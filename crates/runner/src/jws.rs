//! JWS compact signing (RFC 7515) with ring, the crypto rustls already builds: every
//! algorithm the scenario format accepts (HS*, RS*, PS*, ES256, ES384, EdDSA), without a
//! second crypto stack in a user's first build.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject as _;

/// What a token is signed with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key<'a> {
    /// HMAC secret (HS*).
    Secret(&'a [u8]),
    /// PEM private key: PKCS#8 for every algorithm, PKCS#1 also for RS* and PS*.
    Pem(&'a [u8]),
}

/// `header.claims.signature` for `alg`, with `typ: JWT` and `kid` when given.
pub(crate) fn sign(
    alg: &str,
    kid: Option<&str>,
    claims: &serde_json::Value,
    key: Key<'_>,
) -> Result<String, String> {
    let mut header = serde_json::Map::new();
    header.insert("typ".into(), "JWT".into());
    header.insert("alg".into(), alg.into());
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::Value::Object(header).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signature_of(alg, key, signing_input.as_bytes())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

fn signature_of(alg: &str, key: Key<'_>, message: &[u8]) -> Result<Vec<u8>, String> {
    let rng = SystemRandom::new();
    match (alg, key) {
        ("HS256" | "HS384" | "HS512", Key::Secret(secret)) => {
            let algorithm = match alg {
                "HS256" => hmac::HMAC_SHA256,
                "HS384" => hmac::HMAC_SHA384,
                _ => hmac::HMAC_SHA512,
            };
            let key = hmac::Key::new(algorithm, secret);
            Ok(hmac::sign(&key, message).as_ref().to_vec())
        }
        ("RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512", Key::Pem(pem)) => {
            let padding: &'static dyn signature::RsaEncoding = match alg {
                "RS256" => &signature::RSA_PKCS1_SHA256,
                "RS384" => &signature::RSA_PKCS1_SHA384,
                "RS512" => &signature::RSA_PKCS1_SHA512,
                "PS256" => &signature::RSA_PSS_SHA256,
                "PS384" => &signature::RSA_PSS_SHA384,
                _ => &signature::RSA_PSS_SHA512,
            };
            let pair = match private_key(pem)? {
                PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
                PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
                _ => return Err(not_fit(alg, "not an RSA key")),
            }
            .map_err(|e| not_fit(alg, &e.to_string()))?;
            let mut out = vec![0; pair.public().modulus_len()];
            pair.sign(padding, &rng, message, &mut out)
                .map_err(|_| format!("{alg} signing failed"))?;
            Ok(out)
        }
        ("ES256" | "ES384", Key::Pem(pem)) => {
            let algorithm = if alg == "ES256" {
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING
            } else {
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING
            };
            let PrivateKeyDer::Pkcs8(der) = private_key(pem)? else {
                return Err(not_fit(alg, "an EC key must be PKCS#8 (BEGIN PRIVATE KEY)"));
            };
            let pair = EcdsaKeyPair::from_pkcs8(algorithm, der.secret_pkcs8_der(), &rng)
                .map_err(|e| not_fit(alg, &e.to_string()))?;
            let signature = pair
                .sign(&rng, message)
                .map_err(|_| format!("{alg} signing failed"))?;
            Ok(signature.as_ref().to_vec())
        }
        ("EdDSA", Key::Pem(pem)) => {
            let PrivateKeyDer::Pkcs8(der) = private_key(pem)? else {
                return Err(not_fit(
                    alg,
                    "an Ed25519 key must be PKCS#8 (BEGIN PRIVATE KEY)",
                ));
            };
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_pkcs8_der())
                .map_err(|e| not_fit(alg, &e.to_string()))?;
            Ok(pair.sign(message).as_ref().to_vec())
        }
        _ => Err(format!("unsupported algorithm {alg} for this key")),
    }
}

fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("not a PEM private key: {e}"))
}

fn not_fit(alg: &str, detail: &str) -> String {
    format!("the private key does not fit {alg}: {detail}")
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    use ring::signature::KeyPair as _;

    use super::*;

    fn pem(der: &[u8]) -> String {
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(der)
        )
    }

    /// jsonwebtoken, an independent implementation, accepts what ring signed.
    fn verify(token: &str, key: &DecodingKey, alg: Algorithm) -> serde_json::Value {
        let mut validation = Validation::new(alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.set_audience(&["api"]);
        jsonwebtoken::decode::<serde_json::Value>(token, key, &validation)
            .unwrap_or_else(|e| panic!("{alg:?} token rejected: {e}"))
            .claims
    }

    #[test]
    fn tokens_verify_with_another_implementation() {
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let claims = serde_json::json!({ "sub": "alice", "aud": "api" });
        let rng = SystemRandom::new();

        let token = sign("HS384", Some("k1"), &claims, Key::Secret(b"s3cret")).unwrap();
        let key = DecodingKey::from_secret(b"s3cret");
        assert_eq!(verify(&token, &key, Algorithm::HS384)["sub"], "alice");
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some("k1"));

        let der = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let public = Ed25519KeyPair::from_pkcs8(der.as_ref()).unwrap();
        let token = sign(
            "EdDSA",
            None,
            &claims,
            Key::Pem(pem(der.as_ref()).as_bytes()),
        )
        .unwrap();
        let key = DecodingKey::from_ed_der(public.public_key().as_ref());
        assert_eq!(verify(&token, &key, Algorithm::EdDSA)["aud"], "api");

        let algorithm = &signature::ECDSA_P384_SHA384_FIXED_SIGNING;
        let der = EcdsaKeyPair::generate_pkcs8(algorithm, &rng).unwrap();
        let public = EcdsaKeyPair::from_pkcs8(algorithm, der.as_ref(), &rng).unwrap();
        let token = sign(
            "ES384",
            None,
            &claims,
            Key::Pem(pem(der.as_ref()).as_bytes()),
        )
        .unwrap();
        let key = DecodingKey::from_ec_der(public.public_key().as_ref());
        assert_eq!(verify(&token, &key, Algorithm::ES384)["sub"], "alice");

        // The wrong key kind is refused, naming the algorithm.
        let error = sign(
            "RS256",
            None,
            &claims,
            Key::Pem(pem(der.as_ref()).as_bytes()),
        );
        assert!(error.unwrap_err().contains("does not fit RS256"));
    }
}
