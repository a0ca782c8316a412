//! The security services, CDNs and cloud platforms whose refusals people meet in the wild:
//! Imperva (Incapsula), F5 BIG-IP ASM, Fastly, Sucuri, PerimeterX (HUMAN), Azure
//! Application Gateway and Azure App Service.
//!
//! Each page under `pages/` is a real captured page from the runner's corpus
//! (`crates/runner/tests/it/corpus/`), byte for byte, with only its volatile values (incident,
//! support and reference ids, cache node, client address, time) turned into placeholders; the
//! corpus test holds each persona to the real pages of its vendor. A vendor answers every
//! reason with its one captured page: the corpus holds no other, and inventing wording the
//! vendors do not send would teach the classifier pages that do not exist.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderMap, HeaderValue};

use super::{PageRequest, PersonaSettings, Rendered, escape_html, fill, header_value};
use crate::request_id;

const IMPERVA: &str = include_str!("../../pages/imperva_incident.html");
const F5_ASM: &str = include_str!("../../pages/f5_asm_rejected.html");
const FASTLY: &str = include_str!("../../pages/fastly_error.html");
const SUCURI: &str = include_str!("../../pages/sucuri_block.html");
const PERIMETERX: &str = include_str!("../../pages/perimeterx_block.html");
const AZURE_APPLICATION_GATEWAY: &str = include_str!("../../pages/azure_application_gateway.html");
const AZURE_APP_SERVICE_STOPPED: &str = include_str!("../../pages/azure_app_service_stopped.html");

/// A page with its status and content type; the vendor's own headers are added by the caller.
fn page(status: StatusCode, content_type: &'static str, body: String, id: String) -> Rendered {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Rendered {
        status,
        reason_phrase: None,
        headers,
        body: Bytes::from(body),
        request_id: id,
    }
}

fn digits(count: usize) -> String {
    (0..count)
        .map(|i| char::from(b'0' + fastrand::u8(u8::from(i == 0)..10)))
        .collect()
}

/// Imperva's block page: an iframe onto its resource path with the incident id, which is
/// also the request id (`<site>-<request>`, two 18-digit numbers).
pub(super) fn imperva(status: StatusCode) -> Rendered {
    let incident = format!("{}-{}", digits(18), digits(18));
    let body = fill(
        IMPERVA,
        &[("resource", &request_id::hex32()), ("incident", &incident)],
    );
    let mut rendered = page(status, "text/html", body, incident);
    rendered
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    rendered
        .headers
        .insert("x-cdn", HeaderValue::from_static("Incapsula"));
    rendered
}

/// ASM's default blocking page, served with 200 as ASM's default blocking response is: a
/// refusal in disguise. An injected fault keeps its status.
pub(super) fn f5_asm(status: StatusCode) -> Rendered {
    let support_id = digits(19);
    let body = fill(F5_ASM, &[("support_id", &support_id)]);
    let status = if status.is_server_error() {
        status
    } else {
        StatusCode::OK
    };
    let mut rendered = page(status, "text/html; charset=utf-8", body, support_id);
    rendered
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    rendered
        .headers
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    rendered
}

/// The cache node that answers, as Fastly names it: `cache-<pop><n>-<POP>`.
fn fastly_node(settings: &PersonaSettings) -> String {
    let pop = if (3..=4).contains(&settings.colo.len())
        && settings.colo.bytes().all(|b| b.is_ascii_alphabetic())
    {
        settings.colo.to_ascii_uppercase()
    } else {
        "FRA".to_owned()
    };
    format!(
        "cache-{}{}-{pop}",
        pop.to_ascii_lowercase(),
        fastrand::u32(10_000..100_000)
    )
}

/// Fastly's synthetic error page (Varnish's, with "Guru Mediation" and the cache node).
pub(super) fn fastly(status: StatusCode, settings: &PersonaSettings) -> Rendered {
    let node = fastly_node(settings);
    let xid = fastrand::u32(..).to_string();
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
        .to_string();
    let phrase = status.canonical_reason().unwrap_or("Unknown");
    let body = fill(
        FASTLY,
        &[
            ("status", status.as_str()),
            ("phrase", phrase),
            ("node", &node),
            ("epoch", &epoch),
            ("xid", &xid),
        ],
    );
    let mut rendered = page(status, "text/html; charset=utf-8", body, xid);
    fastly_headers(&mut rendered.headers, &node);
    rendered
}

/// What Fastly adds to every response it passes on, its own or the origin's.
fn fastly_headers(headers: &mut HeaderMap, node: &str) {
    headers.insert(header::VIA, HeaderValue::from_static("1.1 varnish"));
    headers.insert("x-served-by", header_value(node));
    headers.insert("x-cache", HeaderValue::from_static("MISS"));
    headers.insert("x-cache-hits", HeaderValue::from_static("0"));
}

/// Fastly's relay headers for a response it passes on.
pub(super) fn fastly_relay(headers: &mut HeaderMap, settings: &PersonaSettings) {
    fastly_headers(headers, &fastly_node(settings));
}

/// The Sucuri WebSite Firewall block page with its block details. The block id and reason
/// are the one pair the corpus holds (BNP005, a bad bot); the client's address, the URL and
/// the time are the request's.
pub(super) fn sucuri(status: StatusCode, request: &PageRequest<'_>) -> Rendered {
    let server_id = fastrand::u32(10_000..20_000).to_string();
    let url = format!("{}{}", request.host, request.target);
    let time = httpdate::fmt_http_date(SystemTime::now());
    let body = fill(
        SUCURI,
        &[
            ("ip", &request.client_ip.to_string()),
            ("url", &escape_html(&url)),
            ("browser", ""),
            ("time", &time),
            ("server_id", &server_id),
        ],
    );
    let id = request_id::hex32();
    let mut rendered = page(status, "text/html", body, id.clone());
    rendered.headers.insert(
        header::SERVER,
        HeaderValue::from_static("Sucuri/Cloudproxy"),
    );
    rendered.headers.insert("x-sucuri-id", header_value(&id));
    rendered
}

/// PerimeterX's (HUMAN's) "Access to this page has been denied." with its captcha and the
/// reference id (a UUID, in the page and in its script).
pub(super) fn perimeterx(status: StatusCode) -> Rendered {
    let hex = request_id::hex32();
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    let body = fill(PERIMETERX, &[("uuid", &uuid)]);
    page(status, "text/html", body, uuid)
}

/// Application Gateway v2's own page, which its WAF blocks with: nginx's shape with the
/// gateway named in the footer, CRLF line ends as captured.
pub(super) fn azure_application_gateway(status: StatusCode) -> Rendered {
    let phrase = status.canonical_reason().unwrap_or("Unknown");
    let body = fill(
        AZURE_APPLICATION_GATEWAY,
        &[("status", status.as_str()), ("phrase", phrase)],
    );
    page(status, "text/html", body, request_id::hex32())
}

/// App Service's "Error 403 - This web app is stopped." page, the one App Service page the
/// corpus holds, byte for byte (with its byte order mark).
pub(super) fn azure_app_service(status: StatusCode) -> Rendered {
    page(
        status,
        "text/html",
        AZURE_APP_SERVICE_STOPPED.to_owned(),
        request_id::hex32(),
    )
}
