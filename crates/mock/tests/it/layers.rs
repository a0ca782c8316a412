//! Each edge layer over a real socket.

use std::time::{Duration, Instant};

use rolecall_scenario::Layer;

use crate::support::{Edge, Outcome, raw_outcome};

const APP: &str = "[origin.app]\n[[origin.app.route]]\nrequest = \"GET /ok\"\npublic = true\n[[origin.app.route]]\nrequest = \"POST /ok\"\npublic = true\n[[origin.app.route]]\nrequest = \"GET /images/{name}\"\npublic = true\n";

async fn edge(layers: &str) -> Edge {
    Edge::start(&format!(
        "[edge]\ncdn = \"cloudflare\"\nserver = \"nginx\"\nwaf = \"modsecurity\"\n{layers}\n{APP}"
    ))
    .await
}

#[tokio::test]
async fn ip_rules_read_forwarded_for_from_trusted_proxies_only() {
    let edge = edge("[[layer]]\nip = { deny = [\"203.0.113.0/24\"] }").await;
    assert_eq!(edge.send("GET", "/ok", &[]).await.status, 200);
    let reply = edge
        .send("GET", "/ok", &[("X-Forwarded-For", "203.0.113.7")])
        .await;
    assert_eq!(reply.status, 403);
    let refusal = edge.last_refusal();
    // Cloudflare files IP access rules under its WAF tools.
    assert_eq!((refusal.layer, refusal.name.as_str()), (Layer::Waf, "ip"));
    assert_eq!(refusal.client_ip.to_string(), "203.0.113.7");
    // A client prepending to the header does not choose its address.
    let reply = edge
        .send(
            "GET",
            "/ok",
            &[("X-Forwarded-For", "203.0.113.7, 198.51.100.1")],
        )
        .await;
    assert_eq!(reply.status, 200);

    let untrusting = Edge::start(&format!(
        "[edge]\ncdn = \"cloudflare\"\ntrusted_proxies = []\n[[layer]]\nip = {{ deny = [\"203.0.113.0/24\"] }}\n{APP}"
    ))
    .await;
    assert_eq!(
        untrusting
            .send("GET", "/ok", &[("X-Forwarded-For", "203.0.113.7")])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn ip_allow_lists_can_guard_some_paths() {
    let edge = edge("[[layer]]\nip = { allow = [\"10.0.0.0/8\"], paths = [\"/images/**\"] }").await;
    assert_eq!(edge.send("GET", "/ok", &[]).await.status, 200);
    assert_eq!(edge.send("GET", "/images/a.png", &[]).await.status, 403);
    assert_eq!(
        edge.send("GET", "/images/a.png", &[("X-Forwarded-For", "10.1.2.3")])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn geo_blocks_by_country_header() {
    let edge = edge("[[layer]]\ngeo = { block = [\"KP\", \"DE\"] }").await;
    assert_eq!(
        edge.send("GET", "/ok", &[("CF-IPCountry", "FR")])
            .await
            .status,
        200
    );
    assert_eq!(edge.send("GET", "/ok", &[]).await.status, 200);
    let reply = edge.send("GET", "/ok", &[("CF-IPCountry", "DE")]).await;
    assert_eq!(reply.status, 403);
    assert_eq!(edge.last_refusal().rule, "country DE blocked");

    let allow_only = edge_with(
        "geo = { allow = [\"DE\"], block_unknown = true, header = \"CloudFront-Viewer-Country\" }",
    )
    .await;
    assert_eq!(
        allow_only
            .send("GET", "/ok", &[("CloudFront-Viewer-Country", "DE")])
            .await
            .status,
        200
    );
    assert_eq!(
        allow_only
            .send("GET", "/ok", &[("CloudFront-Viewer-Country", "US")])
            .await
            .status,
        403
    );
    assert_eq!(allow_only.send("GET", "/ok", &[]).await.status, 403);
}

async fn edge_with(layer: &str) -> Edge {
    edge(&format!("[[layer]]\n{layer}")).await
}

#[tokio::test]
async fn waf_presets_block_payloads_in_query_path_and_body() {
    let edge = edge_with("waf = { presets = [\"sqli\", \"xss\", \"path_traversal\"] }").await;
    assert_eq!(edge.send("GET", "/ok?q=hello+world", &[]).await.status, 200);
    let reply = edge
        .send("GET", "/ok?id=1%27%20OR%20%271%27=%271", &[])
        .await;
    assert_eq!(reply.status, 403);
    // ModSecurity answers with Apache's page unless the server is nginx, as here.
    assert!(reply.text().contains("<center>nginx/1.22.1</center>"));
    let refusal = edge.last_refusal();
    assert_eq!(refusal.layer, Layer::Waf);
    assert!(refusal.rule.contains("sqli-tautology"), "{}", refusal.rule);

    assert_eq!(
        edge.send("GET", "/static/..%2f..%2fetc/passwd", &[])
            .await
            .status,
        403
    );
    let reply = edge
        .send_body("POST", "/ok", &[], "comment=<script>alert(1)</script>")
        .await;
    assert_eq!(reply.status, 403);
    assert!(edge.last_refusal().rule.contains("xss-script-tag"));
    assert_eq!(
        edge.send_body("POST", "/ok", &[], "comment=nice post")
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn waf_scores_add_up() {
    let edge = edge(
        "[[layer]]\n[layer.waf]\nthreshold = 5\n[[layer.waf.rule]]\nname = \"debug\"\npattern = \"debug=1\"\nscore = 3\ntargets = [\"query\"]\n[[layer.waf.rule]]\nname = \"debug-header\"\npattern = \"^on$\"\nscore = 3\ntargets = [\"headers\"]\nheaders = [\"X-Debug\"]\n",
    )
    .await;
    assert_eq!(edge.send("GET", "/ok?debug=1", &[]).await.status, 200);
    assert_eq!(
        edge.send("GET", "/ok", &[("X-Debug", "on")]).await.status,
        200
    );
    assert_eq!(
        edge.send("GET", "/ok?debug=1", &[("X-Debug", "on")])
            .await
            .status,
        403
    );
    assert_eq!(
        edge.last_refusal().rule,
        "anomaly score 6 >= 5: debug, debug-header"
    );
}

#[tokio::test]
async fn user_agents_are_blocked_by_pattern() {
    let edge =
        edge_with("user_agent = { block = [\"(?i)sqlmap\", \"(?i)nikto\"], block_empty = true }")
            .await;
    assert_eq!(
        edge.send("GET", "/ok", &[("User-Agent", "Mozilla/5.0")])
            .await
            .status,
        200
    );
    assert_eq!(
        edge.send("GET", "/ok", &[("User-Agent", "Nikto/2.5")])
            .await
            .status,
        403
    );
    assert_eq!(edge.send("GET", "/ok", &[]).await.status, 403);
}

#[tokio::test]
async fn hotlinks_need_an_allowed_referer() {
    let edge =
        edge_with("hotlink = { paths = [\"/images/**\"], allow_hosts = [\"*.partner.example\"] }")
            .await;
    assert_eq!(edge.send("GET", "/images/a.png", &[]).await.status, 200);
    assert_eq!(
        edge.send(
            "GET",
            "/images/a.png",
            &[("Referer", "https://cdn.partner.example/")]
        )
        .await
        .status,
        200
    );
    assert_eq!(
        edge.send(
            "GET",
            "/images/a.png",
            &[("Referer", "http://shop.example/cart")]
        )
        .await
        .status,
        200
    );
    let reply = edge
        .send(
            "GET",
            "/images/a.png",
            &[("Referer", "https://evil.example/")],
        )
        .await;
    assert_eq!(reply.status, 403);
    assert!(reply.text().contains("Hotlinking denied"));
    assert_eq!(
        edge.send("GET", "/ok", &[("Referer", "https://evil.example/")])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn path_denials_survive_every_spelling() {
    let edge = edge_with("path_deny = { prefixes = [\"/admin\"], globs = [\"/**/*.bak\"] }").await;
    for target in [
        "/admin",
        "/admin/",
        "//admin",
        "/./admin",
        "/%61dmin",
        "/x/../admin",
        "/%2e/admin",
        "/%2fadmin",
        "/admin/users",
        "/db/dump.bak",
        "/a/b/c.bak",
    ] {
        let reply = edge.send("GET", target, &[]).await;
        assert_eq!(reply.status, 403, "{target} got through");
        assert!(reply.text().contains("403 Forbidden"), "{target}");
    }
    let refusal = edge.last_refusal();
    assert_eq!(
        (refusal.layer, refusal.name.as_str(), refusal.rule.as_str()),
        (Layer::Server, "path_deny", "glob #1")
    );
    for target in ["/administrator", "/ADMIN", "/ok"] {
        assert_ne!(
            edge.send("GET", target, &[]).await.status,
            403,
            "{target} was refused"
        );
    }
}

#[tokio::test]
async fn case_insensitive_path_denials() {
    let edge = edge_with("path_deny = { prefixes = [\"/admin\"], case_insensitive = true }").await;
    assert_eq!(edge.send("GET", "/ADMIN/x", &[]).await.status, 403);
}

#[tokio::test]
async fn directory_listings_are_off() {
    let edge = edge_with("directory_listing = { prefixes = [\"/images\"] }").await;
    assert_eq!(edge.send("GET", "/images/", &[]).await.status, 403);
    assert_eq!(edge.send("GET", "/images//", &[]).await.status, 403);
    assert_eq!(edge.send("GET", "/images/a.png", &[]).await.status, 200);
    assert_eq!(edge.last_refusal().name, "directory_listing");
}

#[tokio::test]
async fn methods_are_refused() {
    let edge = edge_with("method = { deny = [\"TRACE\"] }").await;
    assert_eq!(edge.send("TRACE", "/ok", &[]).await.status, 403);
    assert_eq!(edge.send("GET", "/ok", &[]).await.status, 200);
    let only_get =
        edge_with("method = { allow = [\"get\", \"HEAD\"], paths = [\"/images/**\"] }").await;
    assert_eq!(only_get.send("POST", "/images/x", &[]).await.status, 403);
    assert_eq!(only_get.send("POST", "/ok", &[]).await.status, 201);
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let edge = edge_with("rate_limit = { requests = 1, per = \"30s\", burst = 2 }").await;
    assert_eq!(edge.send("GET", "/ok", &[]).await.status, 200);
    assert_eq!(edge.send("GET", "/ok", &[]).await.status, 200);
    let reply = edge.send("GET", "/ok", &[]).await;
    assert_eq!(reply.status, 429);
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    // Another client has its own bucket.
    assert_eq!(
        edge.send("GET", "/ok", &[("X-Forwarded-For", "198.51.100.9")])
            .await
            .status,
        200
    );
    assert!(
        edge.last_refusal()
            .rule
            .starts_with("more than 1 requests per 30s")
    );
}

#[tokio::test]
async fn faults_delay() {
    let edge = edge_with("fault = { paths = [\"/ok\"], delay = \"300ms\" }").await;
    let started = Instant::now();
    assert_eq!(edge.send("GET", "/ok", &[]).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn faults_reset_or_close_the_connection() {
    let reset = edge_with("fault = { paths = [\"/ok\"], abort = \"reset\" }").await;
    let request = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n";
    assert!(matches!(
        raw_outcome(reset.addr(), request).await,
        Outcome::Reset
    ));
    let close = edge_with("fault = { paths = [\"/ok\"], abort = \"close\" }").await;
    assert!(matches!(
        raw_outcome(close.addr(), request).await,
        Outcome::Closed
    ));
    // Other paths are untouched.
    let other = b"GET /images/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert!(matches!(raw_outcome(close.addr(), other).await, Outcome::Reply(r) if r.status == 200));
}

#[tokio::test]
async fn faults_answer_with_5xx_pages() {
    let edge = edge_with("fault = { paths = [\"/ok\"], status = 503 }").await;
    let reply = edge.send("GET", "/ok", &[]).await;
    assert_eq!(
        (reply.status, reply.reason.as_str()),
        (503, "Service Temporarily Unavailable")
    );
    assert_eq!(edge.last_refusal().rule, "injected 503 Service Unavailable");
}

#[tokio::test]
async fn layers_run_in_order() {
    let edge = edge("[[layer]]\nip = { deny = [\"203.0.113.0/24\"] }\n[[layer]]\npath_deny = { prefixes = [\"/admin\"] }").await;
    let reply = edge
        .send("GET", "/admin", &[("X-Forwarded-For", "203.0.113.1")])
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(edge.last_refusal().name, "ip");
    edge.send("GET", "/admin", &[]).await;
    assert_eq!(edge.last_refusal().name, "path_deny");
}
