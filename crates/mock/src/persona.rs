//! Vendor personas: how each CDN, WAF and web server words a refusal.
//!
//! The nginx and Apache pages are assembled the way the servers assemble them (a status
//! table plus a fixed head and tail) and are byte-for-byte what Debian bookworm's nginx
//! 1.22.1 and Apache 2.4 send; the integration tests compare them with captures of the real
//! servers. The CDN pages are templates under `pages/`, shaped like the vendors' public
//! pages and carrying the strings people and classifiers recognise them by. Proxies, caches
//! and API gateways are in `gateways.rs`; the security services, Fastly and Azure, whose
//! pages are real captures, in `services.rs`.

mod gateways;
mod services;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::SystemTime;

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use rolecall_scenario::Layer;
use serde::Deserialize;

use crate::request_id;

/// A vendor whose responses the mock edge imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(test, derive(strum::EnumIter))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Persona {
    /// Cloudflare: `Server: cloudflare`, a `cf-ray` id and the numbered 1xxx error pages.
    Cloudflare,
    /// Amazon CloudFront: `Server: CloudFront`, `x-amz-cf-id` and "The request could not be satisfied".
    Cloudfront,
    /// AWS WAF attached to CloudFront: CloudFront's block page, optionally `x-amzn-waf-action`.
    AwsWaf,
    /// Akamai: `Server: AkamaiGHost` and "Access Denied … Reference #18.…".
    Akamai,
    /// nginx 1.22.1 as packaged by Debian bookworm.
    Nginx,
    /// Apache httpd 2.4 as packaged by Debian bookworm.
    Apache,
    /// ModSecurity: its `deny` answers with the host server's own error page.
    Modsecurity,
    /// HAProxy 2.6 as packaged by Debian bookworm: `http-request deny` and its own pages.
    Haproxy,
    /// Varnish Cache 7.1 as packaged by Debian bookworm: `synth()` and its Guru Meditation.
    Varnish,
    /// Envoy (as in Istio): "RBAC: access denied" with `server: envoy`.
    Envoy,
    /// Kong Gateway 3: its plugins' JSON refusals with `Server: kong/…`.
    Kong,
    /// Amazon API Gateway: JSON gateway responses with `x-amzn-ErrorType`.
    AwsApiGateway,
    /// Caddy: `respond 403`, no body, `Server: Caddy`.
    Caddy,
    /// Imperva (Incapsula): the block page with its incident ID.
    Imperva,
    /// F5 BIG-IP ASM: "The requested URL was rejected" with a support ID, served with 200.
    F5Asm,
    /// Fastly: its synthetic "Guru Mediation" page naming the cache node.
    Fastly,
    /// Sucuri WebSite Firewall: "Access Denied - Sucuri Website Firewall" with block details.
    Sucuri,
    /// PerimeterX (HUMAN): "Access to this page has been denied." with `px-captcha`.
    Perimeterx,
    /// Azure Application Gateway v2 (with its WAF): its own 403 page.
    AzureApplicationGateway,
    /// Azure App Service: "Error 403 - This web app is stopped."
    AzureAppService,
}

impl Persona {
    /// Every persona, in documentation order. A unit test holds it to the enum.
    pub const ALL: [Persona; 20] = [
        Persona::Cloudflare,
        Persona::Cloudfront,
        Persona::AwsWaf,
        Persona::Akamai,
        Persona::Nginx,
        Persona::Apache,
        Persona::Modsecurity,
        Persona::Haproxy,
        Persona::Varnish,
        Persona::Envoy,
        Persona::Kong,
        Persona::AwsApiGateway,
        Persona::Caddy,
        Persona::Imperva,
        Persona::F5Asm,
        Persona::Fastly,
        Persona::Sucuri,
        Persona::Perimeterx,
        Persona::AzureApplicationGateway,
        Persona::AzureAppService,
    ];

    /// The lowercase name used in `mock.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Persona::Cloudflare => "cloudflare",
            Persona::Cloudfront => "cloudfront",
            Persona::AwsWaf => "aws_waf",
            Persona::Akamai => "akamai",
            Persona::Nginx => "nginx",
            Persona::Apache => "apache",
            Persona::Modsecurity => "modsecurity",
            Persona::Haproxy => "haproxy",
            Persona::Varnish => "varnish",
            Persona::Envoy => "envoy",
            Persona::Kong => "kong",
            Persona::AwsApiGateway => "aws_api_gateway",
            Persona::Caddy => "caddy",
            Persona::Imperva => "imperva",
            Persona::F5Asm => "f5_asm",
            Persona::Fastly => "fastly",
            Persona::Sucuri => "sucuri",
            Persona::Perimeterx => "perimeterx",
            Persona::AzureApplicationGateway => "azure_application_gateway",
            Persona::AzureAppService => "azure_app_service",
        }
    }

    /// The control plane this vendor is: what a refusal by it is attributed to. Proxies,
    /// caches and API gateways are the origin's own front door: `server`, like nginx, and so
    /// is App Service, the platform the app runs on. Imperva, Sucuri, PerimeterX, F5 ASM and
    /// Application Gateway (whose 403 page is what its WAF blocks with) sell the refusal
    /// itself: `waf`. Fastly's own pages are the CDN's.
    pub fn layer(self) -> Layer {
        match self {
            Persona::Cloudflare | Persona::Cloudfront | Persona::Akamai | Persona::Fastly => {
                Layer::Cdn
            }
            Persona::AwsWaf
            | Persona::Modsecurity
            | Persona::Imperva
            | Persona::F5Asm
            | Persona::Sucuri
            | Persona::Perimeterx
            | Persona::AzureApplicationGateway => Layer::Waf,
            Persona::Nginx
            | Persona::Apache
            | Persona::Haproxy
            | Persona::Varnish
            | Persona::Envoy
            | Persona::Kong
            | Persona::AwsApiGateway
            | Persona::Caddy
            | Persona::AzureAppService => Layer::Server,
        }
    }

    /// What rolecall's classifier must call this persona's refusal for `reason`: the
    /// layer and the vendor name of the page it sends. The contract test in the runner
    /// holds every persona and reason to it, so a persona cannot be added without teaching
    /// the classifier its pages.
    ///
    /// Where production cannot be told apart either, this is what the vendor would be if it
    /// could: a default ModSecurity deny sends the host server's page, and the classifier
    /// names the server with ModSecurity as the alternative.
    pub fn attribution(self, reason: DenyReason) -> (Layer, &'static str) {
        let fault = reason == DenyReason::Fault;
        match self {
            Persona::Cloudflare => match reason {
                DenyReason::CountryBlocked | DenyReason::Hotlink | DenyReason::Fault => {
                    (Layer::Cdn, "cloudflare")
                }
                _ => (Layer::Waf, "cloudflare"),
            },
            // CloudFront refuses by country itself and shows AWS WAF's blocks; its
            // 5xx pages are its own.
            Persona::Cloudfront | Persona::AwsWaf
                if fault
                    || (self == Persona::Cloudfront && reason == DenyReason::CountryBlocked) =>
            {
                (Layer::Cdn, "cloudfront")
            }
            Persona::Cloudfront | Persona::AwsWaf => (Layer::Waf, "aws-waf"),
            Persona::Akamai if fault => (Layer::Cdn, "akamai"),
            Persona::Akamai => (Layer::Waf, "akamai"),
            Persona::Nginx => (Layer::Server, "nginx"),
            Persona::Apache => (Layer::Server, "apache"),
            // ModSecurity neither rate-limits nor fails here: the host server (Apache unless
            // configured otherwise) answers those with its own page.
            Persona::Modsecurity
                if matches!(reason, DenyReason::RateLimited | DenyReason::Fault) =>
            {
                (Layer::Server, "apache")
            }
            Persona::Modsecurity => (Layer::Waf, "modsecurity"),
            Persona::Haproxy => (Layer::Server, "haproxy"),
            Persona::Varnish => (Layer::Server, "varnish"),
            Persona::Envoy => (Layer::Server, "envoy"),
            Persona::Kong => (Layer::Server, "kong"),
            Persona::AwsApiGateway => (Layer::Server, "aws-api-gateway"),
            Persona::Caddy => (Layer::Server, "caddy"),
            // Each answers every reason with its one captured page, a fault included.
            Persona::Imperva => (Layer::Waf, "imperva"),
            Persona::F5Asm => (Layer::Waf, "f5-asm"),
            Persona::Fastly => (Layer::Cdn, "fastly"),
            Persona::Sucuri => (Layer::Waf, "sucuri"),
            Persona::Perimeterx => (Layer::Waf, "perimeterx"),
            Persona::AzureApplicationGateway => (Layer::Waf, "azure-application-gateway"),
            Persona::AzureAppService => (Layer::Server, "azure-app-service"),
        }
    }

    /// Whether a CDN in front of this vendor still wraps its responses. AWS WAF runs inside
    /// CloudFront, so its pages already are CloudFront's.
    pub(crate) fn behind_cdn(self) -> bool {
        !matches!(self.layer(), Layer::Cdn) && self != Persona::AwsWaf
    }
}

/// Why the edge answered instead of the origin; selects the page a persona sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[non_exhaustive]
pub enum DenyReason {
    /// The client address is denied (or not allowed) by an IP rule.
    IpBlocked,
    /// The client's country is blocked.
    CountryBlocked,
    /// The user agent is blocked ("browser signature").
    UserAgentBlocked,
    /// WAF rules scored the request at or above the blocking threshold.
    WafRule,
    /// The Referer is not allowed for a protected path.
    Hotlink,
    /// The path is denied (`location /admin { deny all; }`).
    PathDenied,
    /// A directory listing was asked for where listings are off.
    DirectoryListing,
    /// The method is not allowed.
    MethodDenied,
    /// The client sent too many requests.
    RateLimited,
    /// An injected server error.
    Fault,
}

impl DenyReason {
    /// Every reason. A unit test holds it to the enum.
    pub const ALL: [DenyReason; 10] = [
        DenyReason::IpBlocked,
        DenyReason::CountryBlocked,
        DenyReason::UserAgentBlocked,
        DenyReason::WafRule,
        DenyReason::Hotlink,
        DenyReason::PathDenied,
        DenyReason::DirectoryListing,
        DenyReason::MethodDenied,
        DenyReason::RateLimited,
        DenyReason::Fault,
    ];

    /// The status a refusal of this kind has unless configured otherwise.
    pub fn default_status(self) -> StatusCode {
        match self {
            DenyReason::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            DenyReason::Fault => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

/// Persona details shared by all layers: the `[edge]` table.
#[derive(Debug, Clone)]
pub(crate) struct PersonaSettings {
    pub(crate) colo: String,
    pub(crate) pop: String,
    pub(crate) server_name: String,
    pub(crate) request_id_header: Option<HeaderName>,
    pub(crate) nginx_server: String,
    pub(crate) apache_server: String,
    pub(crate) modsecurity_host: Persona,
    pub(crate) aws_waf_action_header: bool,
}

impl Default for PersonaSettings {
    fn default() -> Self {
        Self {
            colo: "FRA".to_owned(),
            pop: "FRA56-P1".to_owned(),
            server_name: "localhost".to_owned(),
            request_id_header: None,
            nginx_server: "nginx/1.22.1".to_owned(),
            apache_server: "Apache/2.4.71 (Debian)".to_owned(),
            modsecurity_host: Persona::Apache,
            aws_waf_action_header: false,
        }
    }
}

/// What a page may quote from the request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageRequest<'a> {
    /// Host name from the `Host` header (without port), or the configured server name.
    pub(crate) host: &'a str,
    /// Port from the `Host` header, 80 when it names none (as Apache reports it).
    pub(crate) port: u16,
    /// The request target as received: path and query.
    pub(crate) target: &'a str,
    pub(crate) client_ip: IpAddr,
    pub(crate) country: Option<&'a str>,
}

/// A finished refusal: everything but the framing.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    pub(crate) status: StatusCode,
    /// A reason phrase other than the standard one (nginx says "Gateway Time-out").
    pub(crate) reason_phrase: Option<&'static str>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) request_id: String,
}

/// Renders the refusal `persona` sends for `reason` with `status`.
pub(crate) fn render(
    persona: Persona,
    reason: DenyReason,
    status: StatusCode,
    retry_after: Option<u64>,
    request: &PageRequest<'_>,
    settings: &PersonaSettings,
) -> Rendered {
    let mut rendered = match persona {
        Persona::Cloudflare => cloudflare(reason, status, request, settings),
        Persona::Cloudfront => cloudfront(reason, status, settings),
        Persona::AwsWaf => {
            // A geo-match rule of AWS WAF shows the same "Request blocked." page as every
            // other rule; only CloudFront's own geo restriction has a page of its own.
            let reason = match reason {
                DenyReason::CountryBlocked => DenyReason::WafRule,
                other => other,
            };
            let mut page = cloudfront(reason, status, settings);
            if settings.aws_waf_action_header {
                page.headers
                    .insert("x-amzn-waf-action", HeaderValue::from_static("block"));
            }
            page
        }
        Persona::Akamai => akamai(status, request),
        Persona::Nginx => nginx(status, settings),
        Persona::Apache => apache(status, request, settings),
        Persona::Modsecurity => match settings.modsecurity_host {
            Persona::Nginx => nginx(status, settings),
            _ => apache(status, request, settings),
        },
        Persona::Haproxy => gateways::haproxy(status),
        Persona::Varnish => gateways::varnish(status),
        Persona::Envoy => gateways::envoy(reason, status),
        Persona::Kong => gateways::kong(reason, status, request),
        Persona::AwsApiGateway => gateways::aws_api_gateway(reason, status),
        Persona::Caddy => gateways::caddy(status),
        Persona::Imperva => services::imperva(status),
        Persona::F5Asm => services::f5_asm(status),
        Persona::Fastly => services::fastly(status, settings),
        Persona::Sucuri => services::sucuri(status, request),
        Persona::Perimeterx => services::perimeterx(status),
        Persona::AzureApplicationGateway => services::azure_application_gateway(status),
        Persona::AzureAppService => services::azure_app_service(status),
    };
    if let Some(seconds) = retry_after {
        rendered
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    rendered
}

/// Adds the headers `persona` puts on a response it passes through, and returns the id it
/// stamped, if any. Server personas replace `Server` as nginx and Apache do when proxying.
pub(crate) fn decorate(
    persona: Persona,
    headers: &mut HeaderMap,
    settings: &PersonaSettings,
) -> Option<String> {
    match persona {
        Persona::Cloudflare => {
            let ray = request_id::cf_ray(&settings.colo);
            headers.insert(header::SERVER, HeaderValue::from_static("cloudflare"));
            headers.insert("cf-cache-status", HeaderValue::from_static("DYNAMIC"));
            headers.insert("cf-ray", header_value(&ray));
            Some(ray)
        }
        Persona::Cloudfront => {
            let id = request_id::amz_cf_id();
            headers.insert("x-cache", HeaderValue::from_static("Miss from cloudfront"));
            headers.insert(header::VIA, header_value(&request_id::cloudfront_via()));
            headers.insert("x-amz-cf-pop", header_value(&settings.pop));
            headers.insert("x-amz-cf-id", header_value(&id));
            Some(id)
        }
        Persona::Nginx => {
            headers.insert(header::SERVER, header_value(&settings.nginx_server));
            None
        }
        Persona::Apache => {
            headers.insert(header::SERVER, header_value(&settings.apache_server));
            None
        }
        Persona::Varnish => {
            let xid = fastrand::u32(1..1 << 30).to_string();
            headers.insert(
                header::VIA,
                HeaderValue::from_static("1.1 varnish (Varnish/7.1)"),
            );
            headers.insert("x-varnish", header_value(&xid));
            Some(xid)
        }
        Persona::Envoy => {
            // Envoy overwrites the upstream's Server by default.
            headers.insert(header::SERVER, HeaderValue::from_static("envoy"));
            None
        }
        Persona::Kong => {
            headers.insert(header::VIA, HeaderValue::from_static("kong/3.6.1"));
            headers.insert("x-kong-upstream-latency", HeaderValue::from_static("1"));
            headers.insert("x-kong-proxy-latency", HeaderValue::from_static("0"));
            None
        }
        Persona::Caddy => {
            headers.insert(header::SERVER, HeaderValue::from_static("Caddy"));
            None
        }
        Persona::Fastly => {
            services::fastly_relay(headers, settings);
            None
        }
        Persona::Imperva => {
            headers.insert("x-cdn", HeaderValue::from_static("Incapsula"));
            None
        }
        Persona::Sucuri => {
            let id = request_id::hex32();
            headers.insert(
                header::SERVER,
                HeaderValue::from_static("Sucuri/Cloudproxy"),
            );
            headers.insert("x-sucuri-id", header_value(&id));
            Some(id)
        }
        Persona::F5Asm
        | Persona::Perimeterx
        | Persona::AzureApplicationGateway
        | Persona::AzureAppService
        | Persona::Akamai
        | Persona::AwsWaf
        | Persona::Modsecurity
        | Persona::Haproxy
        | Persona::AwsApiGateway => None,
    }
}

const CLOUDFLARE_ERROR: &str = include_str!("../pages/cloudflare_error.html");
const CLOUDFLARE_BLOCK: &str = include_str!("../pages/cloudflare_block.html");
const CLOUDFRONT: &str = include_str!("../pages/cloudfront.html");
const AKAMAI_DENIED: &str = include_str!("../pages/akamai_denied.html");
const AKAMAI_ERROR: &str = include_str!("../pages/akamai_error.html");

fn cloudflare(
    reason: DenyReason,
    status: StatusCode,
    request: &PageRequest<'_>,
    settings: &PersonaSettings,
) -> Rendered {
    let ray = request_id::cf_ray(&settings.colo);
    let host = escape_html(request.host);
    let ip = request.client_ip.to_string();
    let restricted = format!("Access denied | {host} used Cloudflare to restrict access");
    let body = match reason {
        DenyReason::WafRule => fill(
            CLOUDFLARE_BLOCK,
            &[("host", &host), ("ray_id", &ray), ("client_ip", &ip)],
        ),
        _ => {
            let (code, headline, explanation, title): (Cow<'_, str>, Cow<'_, str>, String, String) = match reason {
                DenyReason::IpBlocked => (
                    "1006".into(),
                    "Access denied".into(),
                    format!("The owner of this website ({host}) has banned your IP address ({ip})."),
                    restricted,
                ),
                DenyReason::CountryBlocked => (
                    "1009".into(),
                    "Access denied".into(),
                    format!(
                        "The owner of this website ({host}) has banned the country or region your IP address is in ({}) from accessing this website.",
                        escape_html(request.country.unwrap_or("XX"))
                    ),
                    restricted,
                ),
                DenyReason::UserAgentBlocked => (
                    "1010".into(),
                    "Access denied".into(),
                    format!("The owner of this website ({host}) has banned your access based on your browser's signature ({ray})."),
                    restricted,
                ),
                DenyReason::Hotlink => (
                    "1011".into(),
                    "Access denied (Hotlinking denied)".into(),
                    "This website does not allow hotlinking in this manner.".to_owned(),
                    restricted,
                ),
                DenyReason::RateLimited => (
                    "1015".into(),
                    "You are being rate limited".into(),
                    format!("The owner of this website ({host}) has banned you temporarily from accessing this website."),
                    format!("{host} | 1015: Rate limited"),
                ),
                DenyReason::Fault => {
                    let phrase = status.canonical_reason().unwrap_or("Error");
                    (
                        status.as_str().to_owned().into(),
                        phrase.into(),
                        format!("The web server reported an error: {}.", phrase.to_ascii_lowercase()),
                        format!("{host} | {}: {phrase}", status.as_str()),
                    )
                }
                _ => (
                    "1020".into(),
                    "Access denied".into(),
                    "This website is using a security service to protect itself from online attacks.".to_owned(),
                    restricted,
                ),
            };
            fill(
                CLOUDFLARE_ERROR,
                &[
                    ("title", &title),
                    ("code", &code),
                    ("headline", &headline),
                    ("explanation", &explanation),
                    ("ray_id", &ray),
                    ("client_ip", &ip),
                ],
            )
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(
            "private, max-age=0, no-store, no-cache, must-revalidate, post-check=0, pre-check=0",
        ),
    );
    headers.insert(
        header::EXPIRES,
        HeaderValue::from_static("Thu, 01 Jan 1970 00:00:01 GMT"),
    );
    headers.insert(header::SERVER, HeaderValue::from_static("cloudflare"));
    headers.insert("cf-ray", header_value(&ray));
    Rendered {
        status,
        reason_phrase: None,
        headers,
        body: Bytes::from(body),
        request_id: ray,
    }
}

fn cloudfront(reason: DenyReason, status: StatusCode, settings: &PersonaSettings) -> Rendered {
    let id = request_id::amz_cf_id();
    let message = match (reason, status.as_u16()) {
        (DenyReason::CountryBlocked, _) => {
            "The Amazon CloudFront distribution is configured to block access from your country."
        }
        (_, 502) => "CloudFront wasn't able to connect to the origin.",
        (_, 504) => {
            "CloudFront attempted to establish a connection with the origin, but either the attempt failed or the origin closed the connection."
        }
        (_, 500..=599) => "CloudFront can't reach the origin for this request at this time.",
        _ => {
            "Request blocked.\nWe can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error. Try again later, or contact the app or website owner."
        }
    };
    let body = fill(
        CLOUDFRONT,
        &[
            ("status", status.as_str()),
            ("message", message),
            ("request_id", &id),
        ],
    );
    let mut headers = HeaderMap::new();
    headers.insert(header::SERVER, HeaderValue::from_static("CloudFront"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    headers.insert("x-cache", HeaderValue::from_static("Error from cloudfront"));
    headers.insert(header::VIA, header_value(&request_id::cloudfront_via()));
    headers.insert("x-amz-cf-pop", header_value(&settings.pop));
    headers.insert("x-amz-cf-id", header_value(&id));
    Rendered {
        status,
        reason_phrase: None,
        headers,
        body: Bytes::from(body),
        request_id: id,
    }
}

fn akamai(status: StatusCode, request: &PageRequest<'_>) -> Rendered {
    let server_error = status.is_server_error();
    let reference = request_id::akamai_reference(if server_error { 97 } else { 18 });
    let encoded_reference = encode_entities(&reference);
    let body = if server_error {
        let title = status.canonical_reason().unwrap_or("Error");
        fill(
            AKAMAI_ERROR,
            &[
                ("title", title),
                (
                    "message",
                    "The server is temporarily unable to service your request.  Please try again later.",
                ),
                ("reference", &encoded_reference),
            ],
        )
    } else {
        let mut url = format!("http://{}", request.host);
        if request.port != 80 {
            // Writing to a String cannot fail.
            let _ = write!(url, ":{}", request.port);
        }
        url.push_str(request.target);
        fill(
            AKAMAI_DENIED,
            &[
                ("url", &encode_entities(&url)),
                ("reference", &encoded_reference),
            ],
        )
    };
    let now = httpdate::fmt_http_date(SystemTime::now());
    let mut headers = HeaderMap::new();
    headers.insert(header::SERVER, HeaderValue::from_static("AkamaiGHost"));
    headers.insert("mime-version", HeaderValue::from_static("1.0"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    headers.insert(header::EXPIRES, header_value(&now));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=0, no-cache, no-store"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    Rendered {
        status,
        reason_phrase: None,
        headers,
        body: Bytes::from(body),
        request_id: reference,
    }
}

/// nginx's status lines, from `ngx_http_special_response.c`; nginx falls back to its 500
/// page for codes it has no page for.
fn nginx_status_text(status: StatusCode) -> (StatusCode, &'static str) {
    match status.as_u16() {
        400 => (status, "Bad Request"),
        401 => (status, "Authorization Required"),
        403 => (status, "Forbidden"),
        404 => (status, "Not Found"),
        405 => (status, "Not Allowed"),
        408 => (status, "Request Time-out"),
        413 => (status, "Request Entity Too Large"),
        429 => (status, "Too Many Requests"),
        501 => (status, "Not Implemented"),
        502 => (status, "Bad Gateway"),
        503 => (status, "Service Temporarily Unavailable"),
        504 => (status, "Gateway Time-out"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

fn nginx(status: StatusCode, settings: &PersonaSettings) -> Rendered {
    let (status, text) = nginx_status_text(status);
    let code = status.as_str();
    let body = format!(
        "<html>\r\n<head><title>{code} {text}</title></head>\r\n<body>\r\n<center><h1>{code} {text}</h1></center>\r\n<hr><center>{}</center>\r\n</body>\r\n</html>\r\n",
        settings.nginx_server
    );
    let mut headers = HeaderMap::new();
    headers.insert(header::SERVER, header_value(&settings.nginx_server));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        // nginx drops keep-alive after a 500 it generated itself.
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let request_id = server_request_id(&mut headers, settings);
    let reason_phrase = (status.canonical_reason() != Some(text)).then_some(text);
    Rendered {
        status,
        reason_phrase,
        headers,
        body: Bytes::from(body),
        request_id,
    }
}

/// Apache's canned explanations, from `get_canned_error_string` in `http_protocol.c`.
fn apache_text(status: StatusCode) -> (StatusCode, &'static str, &'static str) {
    match status.as_u16() {
        403 => (
            status,
            "Forbidden",
            "<p>You don't have permission to access this resource.</p>\n",
        ),
        404 => (
            status,
            "Not Found",
            "<p>The requested URL was not found on this server.</p>\n",
        ),
        429 => (
            status,
            "Too Many Requests",
            "<p>The user has sent too many requests\nin a given amount of time.</p>\n",
        ),
        502 => (
            status,
            "Bad Gateway",
            "<p>The proxy server received an invalid\r\nresponse from an upstream server.<br />\r\n</p>\n",
        ),
        503 => (
            status,
            "Service Unavailable",
            "<p>The server is temporarily unable to service your\nrequest due to maintenance downtime or capacity\nproblems. Please try again later.</p>\n",
        ),
        504 => (
            status,
            "Gateway Timeout",
            "<p>The gateway did not receive a timely response\nfrom the upstream server or application.</p>\n",
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\nyour request.</p>\n<p>Please contact the server administrator at \n [no address given] to inform them of the time this error occurred,\n and the actions you performed just before this error.</p>\n<p>More information about this error may be available\nin the server error log.</p>\n",
        ),
    }
}

fn apache(status: StatusCode, request: &PageRequest<'_>, settings: &PersonaSettings) -> Rendered {
    let (status, title, text) = apache_text(status);
    let body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">\n<html><head>\n<title>{} {title}</title>\n</head><body>\n<h1>{title}</h1>\n{text}<hr>\n<address>{} Server at {} Port {}</address>\n</body></html>\n",
        status.as_str(),
        settings.apache_server,
        escape_html(request.host),
        request.port
    );
    let mut headers = HeaderMap::new();
    headers.insert(header::SERVER, header_value(&settings.apache_server));
    if matches!(status.as_u16(), 500 | 503) {
        // Apache closes the connection after these, as the captures show.
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=iso-8859-1"),
    );
    let request_id = server_request_id(&mut headers, settings);
    Rendered {
        status,
        reason_phrase: None,
        headers,
        body: Bytes::from(body),
        request_id,
    }
}

/// Web servers send no request id unless configured to (`add_header X-Request-Id
/// $request_id`); the refusal log gets one either way.
fn server_request_id(headers: &mut HeaderMap, settings: &PersonaSettings) -> String {
    let id = request_id::hex32();
    if let Some(name) = &settings.request_id_header {
        headers.insert(name.clone(), header_value(&id));
    }
    id
}

/// Replaces `{{name}}` placeholders; values are already escaped for HTML.
fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = &after[..end];
                match vars.iter().find(|(key, _)| *key == name) {
                    Some((_, value)) => out.push_str(value),
                    None => out.push_str(&rest[start..start + 4 + end]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

pub(crate) fn escape_html(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Akamai writes every character but letters and digits as a decimal entity.
fn encode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "&#{};", u32::from(c));
        }
    }
    out
}

/// Values come from ids, settings validated at load, and escaped request text, so they are
/// visible ASCII; anything else is dropped rather than sent malformed.
fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn request() -> PageRequest<'static> {
        PageRequest {
            host: "example.com",
            port: 80,
            target: "/admin?x=1",
            client_ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
            country: Some("DE"),
        }
    }

    #[test]
    fn fill_replaces_known_names_and_keeps_unknown_ones() {
        assert_eq!(fill("a {{x}} b {{y}} c", &[("x", "1")]), "a 1 b {{y}} c");
        assert_eq!(fill("{{x}}{{x}}", &[("x", "2")]), "22");
        assert_eq!(fill("open {{x", &[("x", "2")]), "open {{x");
    }

    #[test]
    fn every_template_placeholder_is_filled() {
        let settings = PersonaSettings::default();
        for persona in Persona::ALL {
            for reason in DenyReason::ALL {
                let page = render(
                    persona,
                    reason,
                    reason.default_status(),
                    Some(3),
                    &request(),
                    &settings,
                );
                let body = std::str::from_utf8(&page.body).unwrap();
                assert!(
                    !body.contains("{{"),
                    "{persona:?} {reason:?} left a placeholder"
                );
                assert_eq!(page.headers.get(header::RETRY_AFTER).unwrap(), "3");
                assert!(!page.request_id.is_empty());
            }
        }
    }

    #[test]
    fn akamai_encodes_the_url_and_reference() {
        let page = render(
            Persona::Akamai,
            DenyReason::PathDenied,
            StatusCode::FORBIDDEN,
            None,
            &request(),
            &PersonaSettings::default(),
        );
        let body = std::str::from_utf8(&page.body).unwrap();
        assert!(
            body.contains("\"http&#58;&#47;&#47;example&#46;com&#47;admin&#63;x&#61;1\""),
            "{body}"
        );
        assert!(body.contains(&format!(
            "Reference&#32;&#35;{}",
            encode_entities(&page.request_id)
        )));
        assert!(page.request_id.starts_with("18."));
    }

    #[test]
    fn html_in_the_host_is_escaped() {
        let mut req = request();
        req.host = "<script>";
        let page = render(
            Persona::Cloudflare,
            DenyReason::IpBlocked,
            StatusCode::FORBIDDEN,
            None,
            &req,
            &PersonaSettings::default(),
        );
        let body = std::str::from_utf8(&page.body).unwrap();
        assert!(!body.contains("<script>"));
        assert!(body.contains("&lt;script&gt;"));
    }

    #[test]
    fn nginx_uses_its_own_reason_phrases() {
        let page = render(
            Persona::Nginx,
            DenyReason::Fault,
            StatusCode::GATEWAY_TIMEOUT,
            None,
            &request(),
            &PersonaSettings::default(),
        );
        assert_eq!(page.reason_phrase, Some("Gateway Time-out"));
        let page = render(
            Persona::Nginx,
            DenyReason::PathDenied,
            StatusCode::FORBIDDEN,
            None,
            &request(),
            &PersonaSettings::default(),
        );
        assert_eq!(page.reason_phrase, None);
    }

    #[test]
    fn modsecurity_speaks_through_its_host_server() {
        let mut settings = PersonaSettings::default();
        let page = render(
            Persona::Modsecurity,
            DenyReason::WafRule,
            StatusCode::FORBIDDEN,
            None,
            &request(),
            &settings,
        );
        assert!(page.body.starts_with(b"<!DOCTYPE HTML PUBLIC"));
        settings.modsecurity_host = Persona::Nginx;
        let page = render(
            Persona::Modsecurity,
            DenyReason::WafRule,
            StatusCode::FORBIDDEN,
            None,
            &request(),
            &settings,
        );
        assert!(page.body.starts_with(b"<html>\r\n"));
    }

    /// The lists the runner's contract test walks hold every variant.
    #[test]
    fn all_lists_every_variant() {
        use strum::IntoEnumIterator as _;
        assert_eq!(Persona::iter().collect::<Vec<_>>(), Persona::ALL);
        assert_eq!(DenyReason::iter().collect::<Vec<_>>(), DenyReason::ALL);
    }

    #[test]
    fn layers_follow_the_vendor() {
        assert_eq!(Persona::Cloudflare.layer(), Layer::Cdn);
        assert_eq!(Persona::AwsWaf.layer(), Layer::Waf);
        assert_eq!(Persona::Nginx.layer(), Layer::Server);
        assert!(Persona::Nginx.behind_cdn());
        assert!(!Persona::AwsWaf.behind_cdn());
    }
}
