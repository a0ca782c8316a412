//! The personas' refusals in a team's own wiremock tests.

use rolecall_mock::{DenyReason, DenyResponder, Persona};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::support::raw;

#[tokio::test]
async fn deny_responders_answer_wiremock_mocks() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/admin"))
        .respond_with(DenyResponder::new(Persona::Cloudflare, DenyReason::WafRule))
        .mount(&server)
        .await;
    Mock::given(path("/busy"))
        .respond_with(
            DenyResponder::new(Persona::Nginx, DenyReason::Fault)
                .with_status(http::StatusCode::BAD_GATEWAY),
        )
        .mount(&server)
        .await;
    let request = b"GET /admin HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n";
    let first = raw(*server.address(), request).await.unwrap();
    let second = raw(*server.address(), request).await.unwrap();
    assert_eq!(first.status, 403);
    assert_eq!(first.header("server"), Some("cloudflare"));
    assert_eq!(
        first.header("content-type"),
        Some("text/html; charset=UTF-8")
    );
    let ray = first.header("cf-ray").unwrap();
    assert_ne!(
        Some(ray),
        second.header("cf-ray"),
        "ids are fresh per request"
    );
    assert!(first.text().contains(&format!(
        "Cloudflare Ray ID: <strong class=\"font-semibold\">{ray}</strong>"
    )));

    let busy = raw(
        *server.address(),
        b"GET /busy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    assert_eq!(busy.status, 502);
    assert_eq!(busy.body, include_bytes!("fixtures/nginx_502.html"));
}
