//! What an identity adds to a request: JWTs minted once per run, headers prepared once.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rolecall_scenario::{
    Identity, Jwt, JwtDefect, JwtKey, Secrets, Settings, is_credential_header,
};

use crate::errors::{RunnerError, RunnerErrorKind};
use crate::jws;

/// One header an identity sends, and whether its value is a credential.
#[derive(Debug, Clone)]
pub(crate) struct IdentityHeader {
    pub(crate) name: String,
    pub(crate) value: String,
    /// Shown as `***` in failure messages: it carries a credential.
    pub(crate) secret: bool,
}

/// Mints the identity's JWT, if any, registering it as a secret.
pub(crate) fn mint(
    identity: &Identity,
    jwt: &Jwt,
    secrets: &mut Secrets,
) -> Result<String, RunnerError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let mut claims = jwt.claims.clone();
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), now.saturating_add(jwt.expires_in).into());
    if let Some(nbf) = jwt.not_before {
        claims.insert("nbf".into(), now.saturating_add(nbf).into());
    }
    let error = |detail: String| {
        RunnerError::new(
            RunnerErrorKind::Credentials,
            format!(
                "cannot mint the JWT of identity `{}`: {detail}",
                identity.name
            ),
        )
    };
    let token = if jwt.defect == Some(JwtDefect::AlgNone) {
        // A signer refuses to produce unsigned tokens, which is right for it and
        // exactly what this test needs: build `alg: none` by hand.
        let header = serde_json::json!({ "alg": "none", "typ": "JWT" });
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(serde_json::Value::Object(claims).to_string())
        )
    } else {
        let key = match &jwt.key {
            JwtKey::Secret(secret) => jws::Key::Secret(secret.expose().as_bytes()),
            JwtKey::PrivateKeyPem(pem) => jws::Key::Pem(pem.expose().as_bytes()),
        };
        let token = jws::sign(
            &jwt.alg,
            jwt.kid.as_deref(),
            &serde_json::Value::Object(claims),
            key,
        )
        .map_err(error)?;
        if jwt.defect == Some(JwtDefect::WrongSignature) {
            corrupt_signature(&token)
        } else {
            token
        }
    };
    secrets.insert(&token);
    Ok(token)
}

/// Replaces the signature with a same-length one that cannot verify.
fn corrupt_signature(token: &str) -> String {
    let Some((signed, signature)) = token.rsplit_once('.') else {
        return token.to_owned();
    };
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
    for b in &mut bytes {
        *b ^= 0x5a;
    }
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The headers an identity sends with every request, in a stable order. `token` is the
/// minted JWT.
pub(crate) fn headers(
    identity: &Identity,
    token: Option<&str>,
    settings: &Settings,
) -> Vec<IdentityHeader> {
    let c = &identity.credentials;
    let mut out = Vec::new();
    let mut secret = |name: &str, value: String| {
        out.push(IdentityHeader {
            name: name.to_owned(),
            value,
            secret: true,
        })
    };
    if let Some(bearer) = &c.bearer {
        secret("authorization", format!("Bearer {}", bearer.expose()));
    }
    if let Some((user, password)) = &c.basic {
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", password.expose()));
        secret("authorization", format!("Basic {encoded}"));
    }
    if let (Some(jwt), Some(token)) = (&c.jwt, token) {
        if jwt.header.eq_ignore_ascii_case("authorization") {
            secret("authorization", format!("Bearer {token}"));
        } else {
            secret(&jwt.header, token.to_owned());
        }
    }
    if let Some((name, value)) = &c.api_key {
        secret(name, value.expose().to_owned());
    }
    let mut push = |name: &str, value: String| {
        out.push(IdentityHeader {
            name: name.to_owned(),
            value,
            secret: false,
        })
    };
    if let Some(ua) = &c.user_agent {
        push("user-agent", ua.clone());
    }
    if let Some(referer) = &c.referer {
        push("referer", referer.clone());
    }
    if let Some(origin) = &c.origin {
        push("origin", origin.clone());
    }
    if let Some(ip) = &c.client_ip {
        push(&settings.client_ip_header, ip.to_string());
    }
    if let Some(country) = &c.country {
        push(&settings.country_header, country.clone());
    }
    for (name, value) in &c.headers {
        out.push(IdentityHeader {
            name: name.clone(),
            value: value.clone(),
            secret: is_credential_header(name),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupted_signatures_keep_their_shape() {
        let token = "aGVhZA.Ym9keQ.c2lnbmF0dXJl";
        let bad = corrupt_signature(token);
        assert!(bad.starts_with("aGVhZA.Ym9keQ."));
        assert_ne!(bad, token);
        assert_eq!(bad.len(), token.len());
    }
}
