//! Attribution of the proxies, caches, API gateways and app servers teams put in front of
//! (or run as) the app, beyond what the personas and the real Debian servers show: their
//! relayed responses stay the app's, and an app server's own answer is the app's, redirects
//! included.

use rolecall_runner::{Evidence, Fingerprints, classify};

/// Asserts `vendor@layer` for a response, and returns the ambiguity note.
#[track_caller]
fn check(status: u16, headers: &[(&str, &str)], body: &str, expected: &str) -> Option<String> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    let got = classify(
        Fingerprints::builtin(),
        &Evidence {
            status,
            headers: &headers,
            body,
        },
    );
    assert_eq!(
        format!("{}@{}", got.vendor, got.layer),
        expected,
        "{got:#?}"
    );
    got.ambiguity
}

#[test]
fn app_servers_named_in_server_are_the_app() {
    for server in [
        "gunicorn",
        "gunicorn/20.1.0",
        "uvicorn",
        "waitress",
        "Werkzeug/2.3.7 Python/3.11.2",
        "hypercorn-h11",
        "TornadoServer/6.3.3",
        "Kestrel",
        "Jetty(9.4.53.v20231009)",
        "Apache-Coyote/1.1",
        "WEBrick/1.8.1 (Ruby/3.2.2/2023-03-30)",
        "Cowboy",
    ] {
        check(403, &[("server", server)], "Forbidden", "app@app");
        check(401, &[("server", server)], "", "app@app");
    }
}

#[test]
fn app_server_redirects_are_the_app() {
    let login = [
        ("server", "Werkzeug/2.3.7 Python/3.11.2"),
        ("location", "/login?next=%2Fadmin"),
    ];
    check(302, &login, "", "app@app");
    check(
        302,
        &[("x-powered-by", "Express"), ("location", "/login")],
        "Found. Redirecting to /login",
        "app@app",
    );
}

/// nginx relays the framework's X-Powered-By and overwrites Server: the app wrote this.
#[test]
fn a_framework_behind_nginx_is_the_app() {
    check(
        403,
        &[("server", "nginx/1.22.1"), ("x-powered-by", "Express")],
        "Forbidden",
        "app@app",
    );
    check(
        403,
        &[
            ("server", "Apache/2.4.71 (Debian)"),
            ("x-powered-by", "PHP/8.2.7"),
        ],
        "Access denied.",
        "app@app",
    );
    // nginx's own page still wins over a header the app set earlier in the chain.
    let page = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
    check(
        403,
        &[("server", "nginx/1.22.1"), ("x-powered-by", "PHP/8.2.7")],
        page,
        "nginx@server",
    );
}

/// Nothing names the app server: the answer stays unknown rather than guessed.
#[test]
fn a_bare_refusal_is_still_unknown() {
    check(
        403,
        &[("content-type", "text/plain")],
        "Forbidden",
        "unknown@unknown",
    );
    check(
        403,
        &[("x-powered-by", "ASP.NET")],
        "Forbidden",
        "unknown@unknown",
    );
}

/// Kong names itself only on answers it produced; a proxied one is the upstream's.
#[test]
fn kong_own_answers_and_relayed_ones() {
    let json = [("content-type", "application/json; charset=utf-8")];
    let own = [
        json[0],
        ("server", "kong/3.6.1"),
        ("x-kong-response-latency", "0"),
    ];
    check(
        404,
        &own,
        "{\n  \"message\":\"no Route matched with those values\",\n  \"request_id\":\"4ee3c2397ef5b64cbba8f50c1e3b4e5a\"\n}",
        "kong@server",
    );
    check(
        403,
        &[json[0], ("x-kong-response-latency", "1")],
        r#"{"message":"You cannot consume this service"}"#,
        "kong@server",
    );
    let relayed = [
        json[0],
        ("via", "kong/3.6.1"),
        ("x-kong-upstream-latency", "3"),
        ("x-kong-proxy-latency", "0"),
    ];
    check(403, &relayed, r#"{"code":"not_owner"}"#, "app@app");
}

#[test]
fn envoy_own_answers() {
    let text = [("server", "envoy"), ("content-type", "text/plain")];
    check(429, &text, "local_rate_limited", "envoy@server");
    check(503, &text, "no healthy upstream", "envoy@server");
    check(
        503,
        &text,
        "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
        "envoy@server",
    );
    // A 200 saying the same words is an app's page.
    check(200, &text, "no healthy upstream", "unknown@unknown");
}

#[test]
fn api_gateway_throttling() {
    check(
        429,
        &[
            ("content-type", "application/json"),
            ("x-amzn-errortype", "TooManyRequestsException"),
        ],
        r#"{"message":"Too Many Requests"}"#,
        "aws-api-gateway@server",
    );
}

/// Squid and Varnish stamp what they relay (`Via`, `X-Cache`, `X-Varnish`): relay headers,
/// never the refuser on their own.
#[test]
fn squid_and_varnish_relay_the_app() {
    let squid = [
        ("content-type", "application/json"),
        ("via", "1.1 proxy (squid/5.7)"),
        ("x-cache", "MISS from proxy"),
    ];
    check(403, &squid, r#"{"code":"forbidden"}"#, "app@app");
    let varnish = [
        ("via", "1.1 varnish (Varnish/7.1)"),
        ("x-varnish", "32770"),
        ("content-type", "text/plain"),
    ];
    check(403, &varnish, "Forbidden", "unknown@unknown");
}

/// Varnish's Guru Meditation and Fastly's (which names its cache node) stay apart.
#[test]
fn varnish_is_not_fastly() {
    let varnish = "<!DOCTYPE html>\n<html>\n  <head>\n    <title>403 Forbidden</title>\n  </head>\n  <body>\n    <h1>Error 403 Forbidden</h1>\n    <p>Forbidden</p>\n    <h3>Guru Meditation:</h3>\n    <p>XID: 2</p>\n    <hr>\n    <p>Varnish cache server</p>\n  </body>\n</html>\n";
    check(403, &[("server", "Varnish")], varnish, "varnish@server");
    let fastly = varnish.replace(
        "<h3>Guru Meditation:</h3>\n    <p>XID: 2</p>",
        "<h3>Guru Mediation:</h3>\n    <p>Details: cache-ewr18137-EWR 1611384708 3756951830</p>",
    );
    check(403, &[], &fastly, "fastly@cdn");
}

/// Caddy sets Server on what it relays too: named, with the caveat.
#[test]
fn caddy_header_only_is_hedged() {
    let note = check(403, &[("server", "Caddy")], "", "caddy@server").unwrap();
    assert!(note.contains("proxied responses"), "{note}");
    check(
        403,
        &[("server", "Caddy"), ("content-type", "application/json")],
        r#"{"error":"forbidden"}"#,
        "app@app",
    );
}

/// HAProxy's pages carry no vendor name; the exact shape does, and a page that merely
/// resembles it does not.
#[test]
fn haproxy_pages_by_shape() {
    check(
        403,
        &[],
        "<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n",
        "haproxy@server",
    );
    check(
        503,
        &[("cache-control", "no-cache"), ("content-type", "text/html")],
        "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n",
        "haproxy@server",
    );
    check(
        403,
        &[],
        "<html><body><h1>403 Forbidden</h1><p>Go away.</p><p>Really.</p></body></html>",
        "unknown@unknown",
    );
}
