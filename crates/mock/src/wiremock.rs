//! The personas' refusals as `wiremock::Respond` implementations.

use std::net::{IpAddr, Ipv4Addr};

use http::StatusCode;
use http::header;

use crate::persona::{self, DenyReason, PageRequest, Persona, PersonaSettings};

/// Answers a wiremock mock with the refusal a vendor sends, fresh ids on every request.
///
/// The client address in pages comes from the first `X-Forwarded-For` entry, as wiremock
/// does not tell the peer; the country from `CF-IPCountry`.
#[derive(Debug, Clone)]
pub struct DenyResponder {
    persona: Persona,
    reason: DenyReason,
    status: StatusCode,
    settings: PersonaSettings,
}

impl DenyResponder {
    /// The refusal `persona` sends for `reason`, with the reason's usual status.
    pub fn new(persona: Persona, reason: DenyReason) -> Self {
        Self {
            persona,
            reason,
            status: reason.default_status(),
            settings: PersonaSettings::default(),
        }
    }

    /// Answers with another status (a 5xx page for [`DenyReason::Fault`], say).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl wiremock::Respond for DenyResponder {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let target = match request.url.query() {
            Some(query) => format!("{}?{query}", request.url.path()),
            None => request.url.path().to_owned(),
        };
        let header_text = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
        let client_ip = header_text("x-forwarded-for")
            .and_then(|v| v.split(',').next())
            .and_then(|ip| ip.trim().parse().ok())
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let page_request = PageRequest {
            host: request.url.host_str().unwrap_or("localhost"),
            port: request.url.port().unwrap_or(80),
            target: &target,
            client_ip,
            country: header_text("cf-ipcountry"),
        };
        let retry_after = (self.reason == DenyReason::RateLimited).then_some(60);
        let page = persona::render(
            self.persona,
            self.reason,
            self.status,
            retry_after,
            &page_request,
            &self.settings,
        );
        let mime = page
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("text/html")
            .to_owned();
        let mut template = wiremock::ResponseTemplate::new(page.status);
        for (name, value) in &page.headers {
            // Content type travels with the body; framing headers are the server's business.
            if name != header::CONTENT_TYPE && name != header::CONNECTION {
                template = template.append_header(name.clone(), value.clone());
            }
        }
        template.set_body_raw(page.body.to_vec(), &mime)
    }
}
