//! Identities (with `extends`), credentials and groups.

use super::values::{pairs, parse_body, parse_request_line, signed_seconds, toml_to_json};
use super::{Cx, JWT_ALGS, SuiteParts, backticked};
use crate::diagnostic::{SourceFile, did_you_mean};
use crate::load;
use crate::model::{Credentials, Identity, Jwt, JwtDefect, JwtKey, Login};
use crate::raw::{IdentityDef, JwtDef, LoginDef};
use crate::secrets::Secret;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::ops::Range;
use toml::Spanned;

pub(super) struct Resolved {
    pub(super) identity: Identity,
    pub(super) span: Range<usize>,
}

pub(super) fn resolve_identities(
    cx: &mut Cx,
    file: &SourceFile,
    parts: &SuiteParts,
) -> Vec<Resolved> {
    let index: HashMap<&str, usize> = parts
        .identities
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.get_ref().as_str(), i))
        .collect();
    let names: Vec<&str> = parts
        .identities
        .iter()
        .map(|(n, _)| n.get_ref().as_str())
        .collect();
    for (name, _) in &parts.identities {
        check_name(cx, file, name, "identity");
    }
    let mut merged: Vec<Option<IdentityDef>> = vec![None; parts.identities.len()];
    for i in 0..parts.identities.len() {
        let mut chain = vec![i];
        merge_identity(cx, file, parts, &index, &names, i, &mut chain, &mut merged);
    }
    parts
        .identities
        .iter()
        .zip(merged)
        .map(|((name, _), def)| {
            let def = def.unwrap_or_default();
            let identity = build_identity(cx, file, name, &def, &parts.vars);
            Resolved {
                identity,
                span: name.span(),
            }
        })
        .collect()
}

pub(super) fn check_name(cx: &mut Cx, file: &SourceFile, name: &Spanned<String>, what: &str) {
    let n = name.get_ref();
    let valid = !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && n.starts_with(|c: char| c.is_ascii_alphabetic());
    if !valid {
        cx.error(file, name.span(), format!("invalid {what} name `{n}`"))
            .label("names appear in test names")
            .help("start with a letter and use letters, digits, `_` or `-`");
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "a recursive walk over shared tables"
)]
pub(super) fn merge_identity(
    cx: &mut Cx,
    file: &SourceFile,
    parts: &SuiteParts,
    index: &HashMap<&str, usize>,
    names: &[&str],
    i: usize,
    chain: &mut Vec<usize>,
    merged: &mut Vec<Option<IdentityDef>>,
) -> IdentityDef {
    if let Some(done) = &merged[i] {
        return done.clone();
    }
    let own = parts.identities[i].1.clone();
    let result = match &own.extends {
        None => own,
        Some(parent) => match index.get(parent.get_ref().as_str()) {
            None => {
                let help = did_you_mean(parent.get_ref(), names.iter().copied());
                cx.error(
                    file,
                    parent.span(),
                    format!("unknown identity `{}`", parent.get_ref()),
                )
                .label("`extends` must name another identity")
                .help_opt(help);
                own
            }
            Some(&p) if chain.contains(&p) => {
                let mut cycle: Vec<&str> = chain.iter().map(|&c| names[c]).collect();
                cycle.push(names[p]);
                cx.error(
                    file,
                    parent.span(),
                    format!("identity `{}` extends itself", names[i]),
                )
                .label("cycle")
                .help(format!("`extends` forms a cycle: {}", cycle.join(" → ")));
                own
            }
            Some(&p) => {
                chain.push(p);
                let base = merge_identity(cx, file, parts, index, names, p, chain, merged);
                chain.pop();
                inherit(own, base)
            }
        },
    };
    merged[i] = Some(result.clone());
    result
}

pub(super) fn merge_maps(
    child: Option<BTreeMap<String, String>>,
    parent: Option<BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    match (child, parent) {
        (Some(c), Some(mut p)) => {
            p.extend(c);
            Some(p)
        }
        (c, p) => c.or(p),
    }
}

/// The child's settings win; maps and JWT fields are merged key by key.
pub(super) fn inherit(child: IdentityDef, parent: IdentityDef) -> IdentityDef {
    let jwt = match (child.jwt, parent.jwt) {
        (Some(c), Some(p)) => Some(JwtDef {
            secret: c.secret.or(p.secret),
            private_key: c.private_key.or(p.private_key),
            alg: c.alg.or(p.alg),
            kid: c.kid.or(p.kid),
            issuer: c.issuer.or(p.issuer),
            audience: c.audience.or(p.audience),
            subject: c.subject.or(p.subject),
            claims: match (c.claims, p.claims) {
                (Some(cc), Some(mut pc)) => {
                    pc.extend(cc);
                    Some(pc)
                }
                (cc, pc) => cc.or(pc),
            },
            expires_in: c.expires_in.or(p.expires_in),
            not_before: c.not_before.or(p.not_before),
            defect: c.defect.or(p.defect),
            header: c.header.or(p.header),
        }),
        (c, p) => c.or(p),
    };
    IdentityDef {
        description: child.description.or(parent.description),
        extends: child.extends,
        authenticated: child.authenticated.or(parent.authenticated),
        bearer: child.bearer.or(parent.bearer),
        basic: child.basic.or(parent.basic),
        cookies: merge_maps(child.cookies, parent.cookies),
        api_key: child.api_key.or(parent.api_key),
        headers: merge_maps(child.headers, parent.headers),
        user_agent: child.user_agent.or(parent.user_agent),
        referer: child.referer.or(parent.referer),
        origin: child.origin.or(parent.origin),
        client_ip: child.client_ip.or(parent.client_ip),
        country: child.country.or(parent.country),
        jwt,
        login: child.login.or(parent.login),
        vars: merge_maps(child.vars, parent.vars),
    }
}

pub(super) fn build_identity(
    cx: &mut Cx,
    file: &SourceFile,
    name: &Spanned<String>,
    def: &IdentityDef,
    suite_vars: &BTreeMap<String, String>,
) -> Identity {
    let mut creds = Credentials::default();
    let secret = |cx: &mut Cx, value: &str| {
        cx.secrets.add(value);
        Secret::new(value.to_owned())
    };
    creds.bearer = def.bearer.as_deref().map(|b| secret(cx, b));
    creds.basic = def
        .basic
        .as_ref()
        .map(|b| (b.username.clone(), secret(cx, &b.password)));
    creds.cookies = def
        .cookies
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), secret(cx, v)))
        .collect();
    creds.api_key = def.api_key.as_ref().map(|k| {
        (
            k.header.clone().unwrap_or_else(|| "X-API-Key".to_owned()),
            secret(cx, &k.value),
        )
    });
    creds.headers = pairs(def.headers.as_ref());
    creds.user_agent = def.user_agent.clone();
    creds.referer = def.referer.clone();
    creds.origin = def.origin.clone();
    creds.client_ip = def
        .client_ip
        .as_ref()
        .and_then(|ip| match ip.get_ref().parse::<IpAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                cx.error(
                    file,
                    ip.span(),
                    format!("invalid IP address `{}`", ip.get_ref()),
                )
                .label("not an IPv4 or IPv6 address")
                .help("e.g. \"203.0.113.7\" or \"2001:db8::1\"");
                None
            }
        });
    creds.country = def.country.as_ref().and_then(|c| {
        let code = c.get_ref();
        if code.len() == 2 && code.chars().all(|ch| ch.is_ascii_uppercase()) {
            Some(code.clone())
        } else {
            cx.error(file, c.span(), format!("invalid country code `{code}`"))
                .label("expected an ISO 3166-1 alpha-2 code")
                .help(format!(
                    "e.g. \"DE\" or \"US\"{}",
                    if code.len() == 2 {
                        format!("; codes are uppercase: \"{}\"", code.to_ascii_uppercase())
                    } else {
                        String::new()
                    }
                ));
            None
        }
    });
    let mut bad_jwt = false;
    creds.jwt = def.jwt.as_ref().and_then(|jwt| {
        let built = build_jwt(cx, file, name, jwt);
        if let Some(j) = &built {
            bad_jwt =
                j.defect.is_some() || j.expires_in <= 0 || j.not_before.is_some_and(|n| n > 0);
        }
        built
    });
    creds.login = def
        .login
        .as_ref()
        .and_then(|login| build_login(cx, file, name, login));
    let has_credentials = creds.bearer.is_some()
        || creds.basic.is_some()
        || !creds.cookies.is_empty()
        || creds.api_key.is_some()
        || def.jwt.is_some()
        || creds.login.is_some();
    let authenticated = def.authenticated.unwrap_or(has_credentials && !bad_jwt);
    let mut vars = suite_vars.clone();
    vars.extend(def.vars.clone().unwrap_or_default());
    Identity {
        name: name.get_ref().clone(),
        description: def.description.clone(),
        authenticated,
        credentials: creds,
        vars,
        location: cx.location(file, name.span().start),
    }
}

pub(super) fn build_jwt(
    cx: &mut Cx,
    file: &SourceFile,
    name: &Spanned<String>,
    def: &JwtDef,
) -> Option<Jwt> {
    let key = match (&def.secret, &def.private_key) {
        (Some(secret), None) => {
            cx.secrets.add(secret);
            JwtKey::Secret(Secret::new(secret.clone()))
        }
        (None, Some(path)) => {
            let full = cx.root.join(path.get_ref());
            match load::read_text(&full) {
                Ok(pem) => {
                    cx.secrets.add_unsent(pem.trim());
                    JwtKey::PrivateKeyPem(Secret::new(pem))
                }
                Err(e) => {
                    cx.error(
                        file,
                        path.span(),
                        format!("private key `{}` {}", path.get_ref(), e.reason()),
                    )
                    .label("unreadable key file")
                    .help("the path is relative to the suite directory");
                    return None;
                }
            }
        }
        (Some(_), Some(path)) => {
            cx.error(
                file,
                path.span(),
                "a JWT has either `secret` or `private_key`, not both",
            )
            .label("second key");
            return None;
        }
        (None, None) => {
            cx.error(file, name.span(), format!("identity `{}` has a `jwt` without a key", name.get_ref()))
                .label("no `jwt.secret` or `jwt.private_key`")
                .help("add `jwt.secret = \"${env:JWT_SECRET}\"` or `jwt.private_key = \"keys/rs256.pem\"`");
            return None;
        }
    };
    let alg = match &def.alg {
        Some(alg) if JWT_ALGS.contains(&alg.get_ref().as_str()) => {
            let hmac = alg.get_ref().starts_with("HS");
            if hmac != matches!(key, JwtKey::Secret(_)) {
                cx.error(
                    file,
                    alg.span(),
                    format!("`{}` does not fit the key", alg.get_ref()),
                )
                .label("wrong key kind for this algorithm")
                .help("HS* algorithms use `secret`; RS*, PS*, ES* and EdDSA use `private_key`");
                return None;
            }
            alg.get_ref().clone()
        }
        Some(alg) => {
            let help = if alg.get_ref().eq_ignore_ascii_case("none") {
                Some("to send an unsigned token, set `defect = \"alg_none\"`".to_owned())
            } else {
                did_you_mean(&alg.get_ref().to_ascii_uppercase(), JWT_ALGS)
            };
            cx.error(
                file,
                alg.span(),
                format!("unknown JWT algorithm `{}`", alg.get_ref()),
            )
            .label("not a supported algorithm")
            .help(help.unwrap_or_else(|| format!("expected one of {}", backticked(&JWT_ALGS))));
            return None;
        }
        None if matches!(key, JwtKey::Secret(_)) => "HS256".to_owned(),
        None => "RS256".to_owned(),
    };
    let defect = match &def.defect {
        None => None,
        Some(d) => match JwtDefect::parse(d.get_ref()) {
            Some(defect) => Some(defect),
            None => {
                let help = did_you_mean(d.get_ref(), JwtDefect::NAMES).unwrap_or_else(|| {
                    format!("expected one of {}", backticked(&JwtDefect::NAMES))
                });
                cx.error(
                    file,
                    d.span(),
                    format!("unknown JWT defect `{}`", d.get_ref()),
                )
                .label("not a known defect")
                .help(help);
                return None;
            }
        },
    };
    let mut expires_in = match &def.expires_in {
        Some(e) => signed_seconds(cx, file, e)?,
        None => 3600,
    };
    let mut not_before = match &def.not_before {
        Some(n) => Some(signed_seconds(cx, file, n)?),
        None => None,
    };
    match defect {
        Some(JwtDefect::Expired) if expires_in > 0 => expires_in = -3600,
        Some(JwtDefect::NotYetValid) if not_before.is_none_or(|n| n <= 0) => {
            not_before = Some(3600);
            expires_in = expires_in.max(7200);
        }
        _ => {}
    }
    let mut claims: serde_json::Map<String, serde_json::Value> = def
        .claims
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), toml_to_json(v)))
        .collect();
    if let Some(iss) = &def.issuer {
        claims.insert("iss".into(), iss.clone().into());
    }
    if let Some(aud) = &def.audience {
        claims.insert("aud".into(), aud.clone().into());
    }
    if let Some(sub) = &def.subject {
        claims.insert("sub".into(), sub.clone().into());
    }
    if defect == Some(JwtDefect::WrongAudience) {
        claims.insert("aud".into(), "rolecall-wrong-audience".into());
    }
    Some(Jwt {
        key,
        alg,
        kid: def.kid.clone(),
        claims,
        expires_in,
        not_before,
        defect,
        header: def
            .header
            .clone()
            .unwrap_or_else(|| "Authorization".to_owned()),
    })
}

pub(super) fn build_login(
    cx: &mut Cx,
    file: &SourceFile,
    name: &Spanned<String>,
    def: &LoginDef,
) -> Option<Login> {
    let line = parse_request_line(cx, file, &def.request)?;
    if !line.placeholders.is_empty() {
        cx.error(
            file,
            def.request.span(),
            "a login request cannot use `{…}` placeholders",
        )
        .label("placeholder in login path");
        return None;
    }
    if def.token.is_none() && def.cookie.is_none() {
        cx.error(
            file,
            def.request.span(),
            format!("the login of `{}` captures nothing", name.get_ref()),
        )
        .label("no `token` or `cookie`")
        .help("add `token = \"/access_token\"` (a JSON pointer) or `cookie = \"session\"`");
        return None;
    }
    if let Some(token) = &def.token
        && !(token.get_ref().is_empty() || token.get_ref().starts_with('/'))
    {
        cx.error(
            file,
            token.span(),
            format!("invalid JSON pointer `{}`", token.get_ref()),
        )
        .label("a JSON pointer starts with `/`")
        .help(format!("did you mean `/{}`?", token.get_ref()));
        return None;
    }
    let body = match &def.body {
        Some(b) => Some(parse_body(cx, file, b, def.request.span())?),
        None => None,
    };
    Some(Login {
        method: line.method,
        path: line.path,
        headers: pairs(def.headers.as_ref()),
        body,
        token: def.token.as_ref().map(|t| t.get_ref().clone()),
        cookie: def.cookie.clone(),
    })
}

pub(super) fn resolve_groups(
    cx: &mut Cx,
    file: &SourceFile,
    parts: &SuiteParts,
    identities: &[Resolved],
) -> Vec<(String, Vec<usize>)> {
    let names: Vec<&str> = identities
        .iter()
        .map(|i| i.identity.name.as_str())
        .collect();
    parts
        .groups
        .iter()
        .map(|(group, members)| {
            check_name(cx, file, group, "group");
            if let Some(clash) = identities
                .iter()
                .find(|i| &i.identity.name == group.get_ref())
            {
                let (line, _) = file.line_col(clash.span.start);
                cx.error(
                    file,
                    group.span(),
                    format!("group `{}` has the name of an identity", group.get_ref()),
                )
                .label("ambiguous name")
                .help(format!(
                    "identity `{}` is declared on line {line}; rename one of them",
                    group.get_ref()
                ));
            }
            let mut indices = Vec::new();
            for member in members {
                match names.iter().position(|n| n == member.get_ref()) {
                    Some(i) if indices.contains(&i) => {
                        cx.error(
                            file,
                            member.span(),
                            format!("identity `{}` is listed twice", member.get_ref()),
                        )
                        .label("duplicate");
                    }
                    Some(i) => indices.push(i),
                    None => {
                        let help = did_you_mean(member.get_ref(), names.iter().copied());
                        cx.error(
                            file,
                            member.span(),
                            format!("unknown identity `{}`", member.get_ref()),
                        )
                        .label("groups list identities")
                        .help_opt(help);
                    }
                }
            }
            (group.get_ref().clone(), indices)
        })
        .collect()
}

/// Identity and group names, for resolving lists such as `allow`.
pub(super) struct Names<'a> {
    pub(super) identities: Vec<&'a str>,
    pub(super) groups: &'a [(String, Vec<usize>)],
}

impl<'a> Names<'a> {
    pub(super) fn new(identities: &'a [Resolved], groups: &'a [(String, Vec<usize>)]) -> Self {
        Names {
            identities: identities
                .iter()
                .map(|i| i.identity.name.as_str())
                .collect(),
            groups,
        }
    }

    /// Identity indices named by `name` (an identity or a group).
    pub(super) fn resolve(
        &self,
        cx: &mut Cx,
        file: &SourceFile,
        name: &Spanned<String>,
    ) -> Option<Vec<usize>> {
        if let Some(i) = self.identities.iter().position(|n| n == name.get_ref()) {
            return Some(vec![i]);
        }
        if let Some((_, members)) = self.groups.iter().find(|(g, _)| g == name.get_ref()) {
            return Some(members.clone());
        }
        let all = self
            .identities
            .iter()
            .copied()
            .chain(self.groups.iter().map(|(g, _)| g.as_str()));
        let help = did_you_mean(name.get_ref(), all)
            .unwrap_or_else(|| format!("known identities: {}", backticked(&self.identities)));
        cx.error(
            file,
            name.span(),
            format!("unknown identity `{}`", name.get_ref()),
        )
        .label("not an identity or group")
        .help(help);
        None
    }
}
