//! The compiled edge layers and the decision each takes on a request.
//!
//! Deciding is synchronous and pure but for the rate limiter's counters; waiting (fault
//! delays) and answering are left to the server.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use globset::GlobSet;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use ipnet::IpNet;
use regex::RegexSet;
use rolecall_scenario::Layer;

use crate::path::under_prefix;
use crate::persona::{DenyReason, Persona};
use crate::rate_limit::RateLimiter;
use crate::replay::{Recording, Replay};
use crate::waf::{Waf, WafInput};

/// One configured layer.
#[derive(Debug)]
pub(crate) struct EdgeLayer {
    /// The name in the refusal log: the configured name or the kind.
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) persona: Persona,
    /// Only requests whose normalised path matches are checked; `None` checks all.
    pub(crate) paths: Option<GlobSet>,
    pub(crate) check: Check,
    /// A header this layer adds to its refusals (a WAF marking its blocks).
    pub(crate) mark: Option<(HeaderName, HeaderValue)>,
}

/// What a layer checks.
#[derive(Debug)]
pub(crate) enum Check {
    Ip {
        allow: Vec<IpNet>,
        deny: Vec<IpNet>,
    },
    Geo {
        header: HeaderName,
        allow: Vec<String>,
        block: Vec<String>,
        block_unknown: bool,
    },
    Waf(Waf),
    UserAgent {
        block: RegexSet,
        block_empty: bool,
    },
    Hotlink {
        allow_hosts: Vec<String>,
        allow_empty: bool,
    },
    PathDeny {
        prefixes: Vec<String>,
        globs: Option<GlobSet>,
        case_insensitive: bool,
    },
    DirectoryListing {
        prefixes: Vec<String>,
    },
    Method {
        allow: Vec<Method>,
        deny: Vec<Method>,
    },
    RateLimit {
        limiter: RateLimiter,
        status: StatusCode,
        describe: String,
    },
    Fault(Fault),
    Replay(Replay),
}

/// An injected fault: wait, then maybe end badly.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub(crate) delay: Option<Duration>,
    pub(crate) end: Option<FaultEnd>,
    pub(crate) probability: f64,
}

/// How a fault ends the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultEnd {
    Reset,
    Close,
    Status(StatusCode),
}

/// The request as the layers see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exchange<'a> {
    pub(crate) method: &'a Method,
    pub(crate) raw_path: &'a str,
    /// After nginx-style normalisation.
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
    /// Host name of the request, without port.
    pub(crate) host: &'a str,
    pub(crate) client_ip: IpAddr,
    /// The body's first bytes, when a layer reads the body.
    pub(crate) body: &'a [u8],
}

/// A layer's decision.
#[derive(Debug)]
pub(crate) enum Outcome {
    Pass,
    Deny(Denial),
    Fault(Fault),
    /// A recorded response, served as it is.
    Replay(Arc<Recording>),
}

/// A refusal before it is rendered.
#[derive(Debug, Clone)]
pub(crate) struct Denial {
    pub(crate) reason: DenyReason,
    pub(crate) status: StatusCode,
    pub(crate) rule: String,
    pub(crate) retry_after: Option<u64>,
}

impl Denial {
    fn new(reason: DenyReason, rule: String) -> Self {
        Self {
            reason,
            status: reason.default_status(),
            rule,
            retry_after: None,
        }
    }
}

impl EdgeLayer {
    /// The control plane a refusal by this layer is attributed to, as the vendors file it
    /// (and as rolecall's classifier reads their pages): WAF rules are the WAF whoever
    /// runs them; at Cloudflare, IP, user-agent, path, method and rate-limit rules are WAF
    /// tools while country blocks and hotlink protection are zone (CDN) settings; behind
    /// CloudFront everything but its own geo restriction is AWS WAF; Akamai refusals come
    /// from its security products.
    pub(crate) fn attribution(&self) -> Layer {
        let zone_setting = matches!(self.check, Check::Geo { .. } | Check::Hotlink { .. });
        match (&self.check, self.persona) {
            (Check::Waf(_), _) => Layer::Waf,
            (Check::Fault(_), persona) => persona.layer(),
            (_, Persona::Cloudflare) if !zone_setting => Layer::Waf,
            (_, Persona::Cloudfront) if !matches!(self.check, Check::Geo { .. }) => Layer::Waf,
            (_, Persona::Akamai) => Layer::Waf,
            (_, persona) => persona.layer(),
        }
    }

    /// How many body bytes this layer wants to see.
    pub(crate) fn body_limit(&self) -> usize {
        match &self.check {
            Check::Waf(waf) if waf.reads_body() => waf.body_limit,
            _ => 0,
        }
    }

    pub(crate) fn check(&self, exchange: &Exchange<'_>, now: Instant) -> Outcome {
        if let Some(paths) = &self.paths
            && !paths.is_match(exchange.path)
        {
            return Outcome::Pass;
        }
        match &self.check {
            Check::Ip { allow, deny } => check_ip(allow, deny, exchange.client_ip),
            Check::Geo {
                header,
                allow,
                block,
                block_unknown,
            } => check_geo(exchange.headers, header, allow, block, *block_unknown),
            Check::Waf(waf) => {
                let input = WafInput {
                    raw_path: exchange.raw_path,
                    query: exchange.query,
                    headers: exchange.headers,
                    body: exchange.body,
                };
                match waf.inspect(&input) {
                    Some(verdict) => Outcome::Deny(Denial::new(
                        DenyReason::WafRule,
                        format!(
                            "anomaly score {} >= {}: {}",
                            verdict.score,
                            verdict.threshold,
                            verdict.rules.join(", ")
                        ),
                    )),
                    None => Outcome::Pass,
                }
            }
            Check::UserAgent { block, block_empty } => {
                match exchange
                    .headers
                    .get(header::USER_AGENT)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()))
                {
                    None if *block_empty => Outcome::Deny(Denial::new(
                        DenyReason::UserAgentBlocked,
                        "empty user agent".to_owned(),
                    )),
                    Some(agent) if agent.is_empty() && *block_empty => Outcome::Deny(Denial::new(
                        DenyReason::UserAgentBlocked,
                        "empty user agent".to_owned(),
                    )),
                    Some(agent) => match block.matches(&agent).iter().next() {
                        Some(index) => Outcome::Deny(Denial::new(
                            DenyReason::UserAgentBlocked,
                            format!("user agent matches `{}`", block.patterns()[index]),
                        )),
                        None => Outcome::Pass,
                    },
                    None => Outcome::Pass,
                }
            }
            Check::Hotlink {
                allow_hosts,
                allow_empty,
            } => check_hotlink(exchange, allow_hosts, *allow_empty),
            Check::PathDeny {
                prefixes,
                globs,
                case_insensitive,
            } => {
                if let Some(prefix) = prefixes
                    .iter()
                    .find(|p| under_prefix(exchange.path, p, *case_insensitive))
                {
                    return Outcome::Deny(Denial::new(
                        DenyReason::PathDenied,
                        format!("prefix {prefix}"),
                    ));
                }
                match globs.as_ref().map(|g| g.matches(exchange.path)) {
                    Some(hits) if !hits.is_empty() => Outcome::Deny(Denial::new(
                        DenyReason::PathDenied,
                        format!("glob #{}", hits[0] + 1),
                    )),
                    _ => Outcome::Pass,
                }
            }
            Check::DirectoryListing { prefixes } => {
                let listing = exchange.path.ends_with('/')
                    && prefixes
                        .iter()
                        .any(|prefix| under_prefix(exchange.path, prefix, false));
                if listing {
                    Outcome::Deny(Denial::new(
                        DenyReason::DirectoryListing,
                        format!("listing of {}", exchange.path),
                    ))
                } else {
                    Outcome::Pass
                }
            }
            Check::Method { allow, deny } => {
                let method = exchange.method;
                if deny.contains(method) || (!allow.is_empty() && !allow.contains(method)) {
                    Outcome::Deny(Denial::new(
                        DenyReason::MethodDenied,
                        format!("method {method}"),
                    ))
                } else {
                    Outcome::Pass
                }
            }
            Check::RateLimit {
                limiter,
                status,
                describe,
            } => match limiter.acquire(exchange.client_ip, now) {
                Ok(()) => Outcome::Pass,
                Err(retry_after) => Outcome::Deny(Denial {
                    reason: DenyReason::RateLimited,
                    status: *status,
                    rule: describe.clone(),
                    retry_after: Some(retry_after),
                }),
            },
            Check::Replay(replay) => {
                let target = match exchange.query {
                    Some(query) => format!("{}?{query}", exchange.raw_path),
                    None => exchange.raw_path.to_owned(),
                };
                match replay.find(exchange.method, &target, exchange.headers) {
                    Some(recording) => Outcome::Replay(recording),
                    None => Outcome::Pass,
                }
            }
            Check::Fault(fault) => {
                if fault.probability >= 1.0 || fastrand::f64() < fault.probability {
                    Outcome::Fault(fault.clone())
                } else {
                    Outcome::Pass
                }
            }
        }
    }
}

fn check_ip(allow: &[IpNet], deny: &[IpNet], ip: IpAddr) -> Outcome {
    if let Some(net) = deny.iter().find(|net| net.contains(&ip)) {
        return Outcome::Deny(Denial::new(
            DenyReason::IpBlocked,
            format!("{ip} in deny {net}"),
        ));
    }
    if !allow.is_empty() && !allow.iter().any(|net| net.contains(&ip)) {
        return Outcome::Deny(Denial::new(
            DenyReason::IpBlocked,
            format!("{ip} not in allow list"),
        ));
    }
    Outcome::Pass
}

fn check_geo(
    headers: &HeaderMap,
    header: &HeaderName,
    allow: &[String],
    block: &[String],
    block_unknown: bool,
) -> Outcome {
    let country = headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let Some(country) = country else {
        return if block_unknown {
            Outcome::Deny(Denial::new(
                DenyReason::CountryBlocked,
                format!("no {header} header"),
            ))
        } else {
            Outcome::Pass
        };
    };
    let listed = |list: &[String]| list.iter().any(|c| c.eq_ignore_ascii_case(country));
    if listed(block) {
        return Outcome::Deny(Denial::new(
            DenyReason::CountryBlocked,
            format!("country {country} blocked"),
        ));
    }
    if !allow.is_empty() && !listed(allow) {
        return Outcome::Deny(Denial::new(
            DenyReason::CountryBlocked,
            format!("country {country} not allowed"),
        ));
    }
    Outcome::Pass
}

fn check_hotlink(exchange: &Exchange<'_>, allow_hosts: &[String], allow_empty: bool) -> Outcome {
    let referer = exchange
        .headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .filter(|r| !r.is_empty());
    let Some(referer) = referer else {
        return if allow_empty {
            Outcome::Pass
        } else {
            Outcome::Deny(Denial::new(DenyReason::Hotlink, "no referer".to_owned()))
        };
    };
    let host = referer_host(referer).map(str::to_ascii_lowercase);
    let allowed = host.as_deref().is_some_and(|host| {
        host.eq_ignore_ascii_case(exchange.host)
            || allow_hosts
                .iter()
                .any(|pattern| host_matches(pattern, host))
    });
    if allowed {
        Outcome::Pass
    } else {
        Outcome::Deny(Denial::new(
            DenyReason::Hotlink,
            format!(
                "referer host {} not allowed",
                host.as_deref().unwrap_or("?")
            ),
        ))
    }
}

/// The host of an absolute URL: after `scheme://` and any `user@`, before port, path, query.
fn referer_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split_once(']')?.0
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// `example.com` exactly, `*.example.com` any subdomain, `.example.com` both (nginx style).
pub(crate) fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    if let Some(domain) = pattern.strip_prefix("*.") {
        host.len() > domain.len() + 1
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
    } else if let Some(domain) = pattern.strip_prefix('.') {
        host == domain || host_matches(&format!("*.{domain}"), host)
    } else {
        host == pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::net::Ipv4Addr;

    fn exchange<'a>(headers: &'a HeaderMap, path: &'a str) -> Exchange<'a> {
        Exchange {
            method: &Method::GET,
            raw_path: path,
            path,
            query: None,
            headers,
            host: "shop.example",
            client_ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
            body: b"",
        }
    }

    fn layer(check: Check) -> EdgeLayer {
        EdgeLayer {
            name: "t".to_owned(),
            kind: "t",
            persona: Persona::Nginx,
            paths: None,
            check,
            mark: None,
        }
    }

    fn denied(layer: &EdgeLayer, exchange: &Exchange<'_>) -> Option<String> {
        match layer.check(exchange, Instant::now()) {
            Outcome::Deny(denial) => Some(denial.rule),
            _ => None,
        }
    }

    #[test]
    fn ip_deny_beats_allow() {
        let headers = HeaderMap::new();
        let ex = exchange(&headers, "/");
        let l = layer(Check::Ip {
            allow: vec!["203.0.113.0/24".parse().unwrap()],
            deny: vec![],
        });
        assert_eq!(denied(&l, &ex), None);
        let l = layer(Check::Ip {
            allow: vec!["203.0.113.0/24".parse().unwrap()],
            deny: vec!["203.0.113.7/32".parse().unwrap()],
        });
        assert_eq!(
            denied(&l, &ex).unwrap(),
            "203.0.113.7 in deny 203.0.113.7/32"
        );
        let l = layer(Check::Ip {
            allow: vec!["10.0.0.0/8".parse().unwrap()],
            deny: vec![],
        });
        assert_eq!(denied(&l, &ex).unwrap(), "203.0.113.7 not in allow list");
    }

    #[test]
    fn geo_reads_the_country_header() {
        let header = HeaderName::from_static("cf-ipcountry");
        let l = layer(Check::Geo {
            header,
            allow: vec![],
            block: vec!["DE".to_owned()],
            block_unknown: false,
        });
        let mut headers = HeaderMap::new();
        assert_eq!(denied(&l, &exchange(&headers, "/")), None);
        headers.insert("cf-ipcountry", HeaderValue::from_static("de"));
        assert_eq!(
            denied(&l, &exchange(&headers, "/")).unwrap(),
            "country de blocked"
        );
        headers.insert("cf-ipcountry", HeaderValue::from_static("FR"));
        assert_eq!(denied(&l, &exchange(&headers, "/")), None);
    }

    #[test]
    fn user_agents_match_by_regex() {
        let l = layer(Check::UserAgent {
            block: RegexSet::new(["(?i)sqlmap"]).unwrap(),
            block_empty: true,
        });
        let mut headers = HeaderMap::new();
        assert_eq!(
            denied(&l, &exchange(&headers, "/")).unwrap(),
            "empty user agent"
        );
        headers.insert(header::USER_AGENT, HeaderValue::from_static("sqlmap/1.7"));
        assert!(denied(&l, &exchange(&headers, "/")).is_some());
        headers.insert(header::USER_AGENT, HeaderValue::from_static("curl/8"));
        assert_eq!(denied(&l, &exchange(&headers, "/")), None);
    }

    #[test]
    fn hotlinks_need_an_allowed_referer() {
        let l = layer(Check::Hotlink {
            allow_hosts: vec!["*.partner.example".to_owned()],
            allow_empty: true,
        });
        let mut headers = HeaderMap::new();
        assert_eq!(denied(&l, &exchange(&headers, "/img/a.png")), None);
        headers.insert(
            header::REFERER,
            HeaderValue::from_static("https://evil.example/page"),
        );
        assert_eq!(
            denied(&l, &exchange(&headers, "/img/a.png")).unwrap(),
            "referer host evil.example not allowed"
        );
        headers.insert(
            header::REFERER,
            HeaderValue::from_static("https://cdn.partner.example:8443/x"),
        );
        assert_eq!(denied(&l, &exchange(&headers, "/img/a.png")), None);
        headers.insert(
            header::REFERER,
            HeaderValue::from_static("http://shop.example/cart"),
        );
        assert_eq!(denied(&l, &exchange(&headers, "/img/a.png")), None);
    }

    #[test]
    fn host_patterns() {
        assert!(host_matches("example.com", "example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(!host_matches("*.example.com", "aexample.com"));
        assert!(host_matches(".example.com", "example.com"));
        assert!(host_matches(".example.com", "a.b.example.com"));
        assert_eq!(referer_host("https://u:p@[::1]:8080/x"), Some("::1"));
        assert_eq!(referer_host("not a url"), None);
    }

    #[test]
    fn directory_listings_end_in_a_slash() {
        let l = layer(Check::DirectoryListing {
            prefixes: vec!["/static".to_owned()],
        });
        let headers = HeaderMap::new();
        assert!(denied(&l, &exchange(&headers, "/static/")).is_some());
        assert!(denied(&l, &exchange(&headers, "/static/css/")).is_some());
        assert_eq!(denied(&l, &exchange(&headers, "/static/app.css")), None);
        assert_eq!(denied(&l, &exchange(&headers, "/v1/")), None);
    }

    #[test]
    fn methods_allow_and_deny() {
        let l = layer(Check::Method {
            allow: vec![Method::GET, Method::HEAD],
            deny: vec![],
        });
        let headers = HeaderMap::new();
        let mut ex = exchange(&headers, "/");
        assert_eq!(denied(&l, &ex), None);
        ex.method = &Method::DELETE;
        assert_eq!(denied(&l, &ex).unwrap(), "method DELETE");
    }

    #[test]
    fn faults_respect_probability_zero() {
        let l = layer(Check::Fault(Fault {
            delay: None,
            end: Some(FaultEnd::Reset),
            probability: 0.0,
        }));
        let headers = HeaderMap::new();
        for _ in 0..100 {
            assert!(matches!(
                l.check(&exchange(&headers, "/"), Instant::now()),
                Outcome::Pass
            ));
        }
    }
}
