//! Every persona's refusal, as snapshots, and the web servers' pages byte for byte against
//! captures of Debian bookworm's nginx 1.22.1 and Apache 2.4.

use crate::support::{Edge, snapshot_text};

const APP: &str = "[origin.app]\n[[origin.app.route]]\nrequest = \"GET /ok\"\npublic = true\n";

/// An edge whose only layer is `layer` (TOML inline table body) with `persona`.
async fn edge(kind: &str, persona: &str, fields: &str) -> Edge {
    Edge::start(&format!(
        "[[layer]]\n{kind} = {{ persona = \"{persona}\", {fields} }}\n{APP}"
    ))
    .await
}

#[track_caller]
fn assert_snapshot_named(name: &str, text: String) {
    insta::assert_snapshot!(name, text);
}

#[tokio::test]
async fn path_denials_in_every_persona() {
    for persona in [
        "cloudflare",
        "cloudfront",
        "aws_waf",
        "akamai",
        "nginx",
        "apache",
        "modsecurity",
    ] {
        let edge = edge("path_deny", persona, "prefixes = [\"/admin\"]").await;
        let reply = edge.send("GET", "/admin?x=1", &[]).await;
        assert_eq!(reply.status, 403, "{persona}");
        let refusal = edge.last_refusal();
        assert_eq!(refusal.persona.map(|p| p.name()), Some(persona));
        assert!(!refusal.request_id.is_empty());
        assert_snapshot_named(&format!("path_deny_{persona}"), snapshot_text(&reply));
    }
}

#[tokio::test]
async fn request_ids_are_fresh_per_request() {
    let edge = edge("path_deny", "cloudfront", "prefixes = [\"/admin\"]").await;
    let first = edge.send("GET", "/admin", &[]).await;
    let second = edge.send("GET", "/admin", &[]).await;
    assert_ne!(first.header("x-amz-cf-id"), second.header("x-amz-cf-id"));
    let body = first.text();
    assert!(body.contains(&format!(
        "Request ID: {}",
        first.header("x-amz-cf-id").unwrap()
    )));
}

#[tokio::test]
async fn cloudflare_pages_follow_the_reason() {
    let geo = edge("geo", "cloudflare", "block = [\"DE\"]").await;
    let reply = geo.send("GET", "/ok", &[("CF-IPCountry", "DE")]).await;
    assert!(
        reply
            .text()
            .contains("<span class=\"cf-error-code\">1009</span>")
    );
    assert_snapshot_named("cloudflare_1009_country", snapshot_text(&reply));

    let ua = edge("user_agent", "cloudflare", "block = [\"(?i)sqlmap\"]").await;
    let reply = ua.send("GET", "/ok", &[("User-Agent", "sqlmap/1.7")]).await;
    assert!(
        reply
            .text()
            .contains("<span class=\"cf-error-code\">1010</span>")
    );
    assert_snapshot_named("cloudflare_1010_browser_signature", snapshot_text(&reply));

    let waf = edge("waf", "cloudflare", "presets = [\"xss\"]").await;
    let reply = waf.send("GET", "/ok?q=%3Cscript%3E", &[]).await;
    assert!(reply.text().contains("Sorry, you have been blocked"));
    assert_snapshot_named("cloudflare_waf_block", snapshot_text(&reply));

    let rate = edge("rate_limit", "cloudflare", "requests = 1, per = \"1m\"").await;
    assert_eq!(rate.send("GET", "/ok", &[]).await.status, 200);
    let reply = rate.send("GET", "/ok", &[]).await;
    assert_eq!(reply.status, 429);
    assert_snapshot_named("cloudflare_1015_rate_limited", snapshot_text(&reply));

    let ip = edge("ip", "cloudflare", "deny = [\"127.0.0.0/8\"]").await;
    let reply = ip.send("GET", "/ok", &[]).await;
    assert!(
        reply
            .text()
            .contains("has banned your IP address (127.0.0.1)")
    );
    assert_snapshot_named("cloudflare_1006_ip_banned", snapshot_text(&reply));
}

#[tokio::test]
async fn cloudfront_geo_blocks_say_so() {
    let geo = edge(
        "geo",
        "cloudfront",
        "block = [\"DE\"], header = \"CloudFront-Viewer-Country\"",
    )
    .await;
    let reply = geo
        .send("GET", "/ok", &[("CloudFront-Viewer-Country", "DE")])
        .await;
    assert_eq!(reply.status, 403);
    assert_snapshot_named("cloudfront_geo", snapshot_text(&reply));
}

#[tokio::test]
async fn aws_waf_can_name_its_action() {
    let toml = format!(
        "[edge]\naws_waf_action_header = true\n[[layer]]\nwaf = {{ persona = \"aws_waf\", presets = [\"sqli\"] }}\n{APP}"
    );
    let edge = Edge::start(&toml).await;
    let reply = edge
        .send("GET", "/ok?id=1%20UNION%20SELECT%20password", &[])
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.header("x-amzn-waf-action"), Some("block"));
    assert_eq!(reply.header("server"), Some("CloudFront"));
    assert_eq!(edge.last_refusal().layer, rolecall_scenario::Layer::Waf);
}

#[tokio::test]
async fn server_refusals_pass_through_the_cdn() {
    let toml = format!(
        "[edge]\ncdn = \"cloudflare\"\nserver = \"nginx\"\n[[layer]]\npath_deny = {{ prefixes = [\"/admin\"] }}\n{APP}"
    );
    let edge = Edge::start(&toml).await;
    let reply = edge.send("GET", "/admin", &[]).await;
    assert_eq!(reply.header("server"), Some("cloudflare"));
    assert!(reply.header("cf-ray").is_some());
    assert!(reply.text().contains("<center>nginx/1.22.1</center>"));
    assert_eq!(edge.last_refusal().layer, rolecall_scenario::Layer::Server);
    assert_snapshot_named("nginx_behind_cloudflare", snapshot_text(&reply));
}

#[tokio::test]
async fn nginx_pages_are_byte_exact() {
    let cases: [(&str, &str, &[u8]); 7] = [
        (
            "path_deny",
            "prefixes = [\"/ok\"]",
            include_bytes!("fixtures/nginx_403.html"),
        ),
        (
            "rate_limit",
            "requests = 1, per = \"1m\", burst = 1, status = 404",
            include_bytes!("fixtures/nginx_404.html"),
        ),
        (
            "rate_limit",
            "requests = 1, per = \"1m\", burst = 1",
            include_bytes!("fixtures/nginx_429.html"),
        ),
        (
            "fault",
            "paths = [\"/ok\"], status = 500",
            include_bytes!("fixtures/nginx_500.html"),
        ),
        (
            "fault",
            "paths = [\"/ok\"], status = 502",
            include_bytes!("fixtures/nginx_502.html"),
        ),
        (
            "fault",
            "paths = [\"/ok\"], status = 503",
            include_bytes!("fixtures/nginx_503.html"),
        ),
        (
            "fault",
            "paths = [\"/ok\"], status = 504",
            include_bytes!("fixtures/nginx_504.html"),
        ),
    ];
    for (kind, fields, expected) in cases {
        let edge = edge(kind, "nginx", fields).await;
        let mut reply = edge.send("GET", "/ok", &[]).await;
        if kind == "rate_limit" {
            reply = edge.send("GET", "/ok", &[]).await;
        }
        assert_eq!(reply.body, expected, "{kind} {fields}: {}", reply.text());
        assert_eq!(reply.header("server"), Some("nginx/1.22.1"));
        assert_eq!(reply.header("content-type"), Some("text/html"));
        assert_eq!(
            reply.header("content-length"),
            Some(expected.len().to_string().as_str())
        );
    }
    let edge = edge("fault", "nginx", "paths = [\"/ok\"], status = 504").await;
    assert_eq!(
        edge.send("GET", "/ok", &[]).await.reason,
        "Gateway Time-out"
    );
}

#[tokio::test]
async fn apache_pages_are_byte_exact() {
    let cases: [(&str, &str, &[u8]); 7] = [
        (
            "path_deny",
            "prefixes = [\"/ok\"]",
            include_bytes!("fixtures/apache_403.html"),
        ),
        (
            "rate_limit",
            "requests = 1, per = \"1m\", burst = 1, status = 404",
            include_bytes!("fixtures/apache_404.html"),
        ),
        (
            "rate_limit",
            "requests = 1, per = \"1m\", burst = 1",
            include_bytes!("fixtures/apache_429.html"),
        ),
        (
            "fault",
            "paths = [\"/ok\"], status = 500",
            include_bytes!("fixtures/apache_500.html"),
        ),
        (
            "fault",
            "paths = [\"/ok\"], status = 502",
            include_bytes!("fixtures/apache_502.html"),
        ),
        (
            "fault",
            "paths = [\"/ok\"], status = 503",
            include_bytes!("fixtures/apache_503.html"),
        ),
        (
            "fault",
            "paths = [\"/ok\"], status = 504",
            include_bytes!("fixtures/apache_504.html"),
        ),
    ];
    for (kind, fields, expected) in cases {
        let edge = edge(kind, "apache", fields).await;
        // The captures were taken with this Host header.
        let host = [("Host", "127.0.0.1:18482")];
        let mut reply = edge.send("GET", "/ok", &host).await;
        if kind == "rate_limit" {
            reply = edge.send("GET", "/ok", &host).await;
        }
        assert_eq!(
            reply.text(),
            String::from_utf8_lossy(expected),
            "{kind} {fields}"
        );
        assert_eq!(reply.header("server"), Some("Apache/2.4.71 (Debian)"));
        assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=iso-8859-1")
        );
    }
}

#[tokio::test]
async fn akamai_references_are_entity_encoded() {
    let edge = edge("path_deny", "akamai", "prefixes = [\"/admin\"]").await;
    let reply = edge.send("GET", "/admin", &[]).await;
    let reference = edge.last_refusal().request_id;
    assert!(reference.starts_with("18."), "{reference}");
    assert!(reply.text().contains(&format!(
        "Reference&#32;&#35;{}",
        reference.replace('.', "&#46;")
    )));
    assert_eq!(reply.header("server"), Some("AkamaiGHost"));
}

#[tokio::test]
async fn web_servers_can_send_a_request_id() {
    let toml = format!(
        "[edge]\nrequest_id_header = \"X-Request-Id\"\n[[layer]]\npath_deny = {{ persona = \"nginx\", prefixes = [\"/admin\"] }}\n{APP}"
    );
    let edge = Edge::start(&toml).await;
    let reply = edge.send("GET", "/admin", &[]).await;
    assert_eq!(
        reply.header("x-request-id"),
        Some(edge.last_refusal().request_id.as_str())
    );
}
