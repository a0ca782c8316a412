//! Table-driven attribution tests. Bodies marked "real" were captured from the Debian
//! servers that `tests/real_servers.rs` starts; vendor pages follow captures published
//! in vendor documentation and user reports, trimmed to the parts that identify them.

use super::*;

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

#[track_caller]
fn check_with(
    fingerprints: &Fingerprints,
    status: u16,
    pairs: &[(&str, &str)],
    body: &str,
    layer: &str,
    vendor: &str,
) -> Attribution {
    let headers = headers(pairs);
    let evidence = Evidence {
        status,
        headers: &headers,
        body,
    };
    let got = classify(fingerprints, &evidence);
    assert_eq!(
        (got.layer.as_str(), got.vendor.as_str()),
        (layer, vendor),
        "unexpected attribution: {got:#?}"
    );
    assert!(
        !got.evidence.is_empty(),
        "an attribution must say why: {got:#?}"
    );
    // Without evidence lines, the same answer: passing cases are judged this way.
    let bare = classify_unexplained(fingerprints, &evidence);
    assert_eq!(
        (bare.layer, &bare.vendor, &bare.ambiguity),
        (got.layer, &got.vendor, &got.ambiguity),
        "{bare:#?}"
    );
    assert!(bare.evidence.is_empty(), "{bare:#?}");
    got
}

#[track_caller]
fn check(
    status: u16,
    pairs: &[(&str, &str)],
    body: &str,
    layer: &str,
    vendor: &str,
) -> Attribution {
    check_with(Fingerprints::builtin(), status, pairs, body, layer, vendor)
}

// ------------------------------------------------------------------ nginx

/// Real: nginx 1.22.1 (Debian 12) `location /admin { deny all; }`.
const NGINX_403: &str = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";

#[test]
fn nginx_default_403() {
    let got = check(
        403,
        &[("server", "nginx/1.22.1"), ("content-type", "text/html")],
        NGINX_403,
        "server",
        "nginx",
    );
    assert_eq!(
        got.evidence,
        [
            "body matches nginx default error page",
            "header server: nginx/1.22.1"
        ]
    );
    // The ModSecurity connector for nginx denies with this same page.
    assert!(
        got.ambiguity
            .as_deref()
            .is_some_and(|a| a.contains("ModSecurity"))
    );
}

#[test]
fn nginx_default_page_without_server_header() {
    check(403, &[], NGINX_403, "server", "nginx");
}

#[test]
fn nginx_server_tokens_off() {
    let body = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    check(403, &[("server", "nginx")], body, "server", "nginx");
}

#[test]
fn nginx_auth_basic_401() {
    let body = "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
    check(
        401,
        &[
            ("server", "nginx/1.22.1"),
            ("www-authenticate", "Basic realm=\"admin\""),
        ],
        body,
        "server",
        "nginx",
    );
}

#[test]
fn openresty_default_page() {
    let body = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n";
    check(403, &[("server", "openresty")], body, "server", "nginx");
}

#[test]
fn nginx_header_with_custom_page_is_hedged() {
    let got = check(
        403,
        &[("server", "nginx/1.22.1"), ("content-type", "text/html")],
        "<!doctype html><h1>Nope</h1>",
        "server",
        "nginx",
    );
    assert!(got.ambiguity.unwrap().contains("custom error_page"));
}

#[test]
fn nginx_empty_body() {
    check(403, &[("server", "nginx")], "", "server", "nginx");
}

// ------------------------------------------------------------------ Apache httpd

/// Real: Apache/2.4 (Debian 12) `Require all denied`.
const APACHE_403: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">\n<html><head>\n<title>403 Forbidden</title>\n</head><body>\n<h1>Forbidden</h1>\n<p>You don't have permission to access this resource.</p>\n</body></html>\n";

#[test]
fn apache_default_403_names_modsecurity_as_possible() {
    let got = check(
        403,
        &[
            ("server", "Apache/2.4.71 (Debian)"),
            ("content-type", "text/html; charset=iso-8859-1"),
        ],
        APACHE_403,
        "server",
        "apache",
    );
    assert_eq!(
        got.evidence[0],
        "body matches Apache httpd default error page"
    );
    let ambiguity = got.ambiguity.expect("apache 403 may be ModSecurity");
    assert!(ambiguity.contains("ModSecurity"), "{ambiguity}");
    assert!(ambiguity.contains("X-Blocked-By"), "{ambiguity}");
}

#[test]
fn apache_default_404_is_not_hedged() {
    let body = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">\n<html><head>\n<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n<p>The requested URL was not found on this server.</p>\n</body></html>\n";
    let got = check(404, &[("server", "Apache")], body, "server", "apache");
    assert_eq!(got.ambiguity, None);
}

#[test]
fn apache_2_2_page_with_signature() {
    let body = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>403 Forbidden</title>\n</head><body>\n<h1>Forbidden</h1>\n<p>You don't have permission to access /admin/\non this server.</p>\n<hr>\n<address>Apache/2.2.22 (Ubuntu) Server at example.com Port 80</address>\n</body></html>\n";
    check(
        403,
        &[("server", "Apache/2.2.22 (Ubuntu)")],
        body,
        "server",
        "apache",
    );
}

#[test]
fn apache_default_page_marked_by_modsecurity() {
    let got = check(
        403,
        &[
            ("server", "Apache/2.4.71 (Debian)"),
            ("x-blocked-by", "ModSecurity"),
        ],
        APACHE_403,
        "waf",
        "modsecurity",
    );
    assert_eq!(got.ambiguity, None);
    assert!(
        got.evidence
            .iter()
            .any(|line| line.contains("would suggest apache at the server layer")),
        "{got:#?}"
    );
}

#[test]
fn tomcat_is_the_app_not_apache_httpd() {
    check(403, &[("server", "Apache-Coyote/1.1")], "", "app", "app");
}

// ------------------------------------------------------------------ ModSecurity

#[test]
fn modsecurity_not_acceptable_page() {
    // The 406 page shared hosts serve for a ModSecurity deny.
    let body = "<head><title>Not Acceptable!</title></head><body><h1>Not Acceptable!</h1><p>An appropriate representation of the requested resource could not be found on this server. This error was generated by Mod_Security.</p></body></html>";
    check(406, &[("server", "Apache")], body, "waf", "modsecurity");
}

#[test]
fn modsecurity_custom_error_document() {
    let body = "<html><body><h1>Request rejected</h1><p>Blocked by ModSecurity (OWASP CRS). Incident 5f2c</p></body></html>";
    check(403, &[("server", "nginx")], body, "waf", "modsecurity");
}

// ------------------------------------------------------------------ the app

#[test]
fn app_json_behind_nginx() {
    let got = check(
        403,
        &[
            ("server", "nginx/1.22.1"),
            ("content-type", "application/json"),
        ],
        r#"{"code":"forbidden","message":"viewer may not archive projects"}"#,
        "app",
        "app",
    );
    assert_eq!(got.ambiguity, None);
    assert_eq!(
        got.evidence,
        [
            "JSON body: web servers and CDNs relay it, they do not write it",
            "header content-type: application/json",
            "JSON-shaped body: web servers and CDNs relay it, they do not write it",
            "header server: nginx/1.22.1 (would suggest nginx at the server layer)",
        ]
    );
}

#[test]
fn app_json_behind_apache() {
    check(
        403,
        &[
            ("server", "Apache/2.4.71 (Debian)"),
            ("content-type", "application/json; charset=utf-8"),
        ],
        r#"{"error":"forbidden"}"#,
        "app",
        "app",
    );
}

#[test]
fn app_problem_json() {
    check(
        403,
        &[("content-type", "application/problem+json")],
        r#"{"type":"about:blank","title":"Forbidden","status":403}"#,
        "app",
        "app",
    );
}

#[test]
fn app_json_with_wrong_content_type() {
    check(
        403,
        &[("content-type", "text/plain")],
        "  {\"code\": \"nope\"}",
        "app",
        "app",
    );
}

#[test]
fn app_bearer_challenge_without_body() {
    check(
        401,
        &[(
            "www-authenticate",
            "Bearer error=\"invalid_token\", error_description=\"expired\"",
        )],
        "",
        "app",
        "app",
    );
}

#[test]
fn plain_text_without_headers_is_unknown() {
    let got = check(
        403,
        &[("content-type", "text/plain")],
        "Forbidden\n",
        "unknown",
        "unknown",
    );
    assert_eq!(
        got.evidence,
        ["no fingerprint matched", "header content-type: text/plain"]
    );
}

// ------------------------------------------------------------------ Cloudflare

/// Trimmed Cloudflare 1020 page as served to browsers.
const CLOUDFLARE_1020: &str = r#"<!DOCTYPE html>
<html class="no-js" lang="en-US">
<head>
<title>Access denied | example.com used Cloudflare to restrict access</title>
<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/main.css" />
</head>
<body>
  <div id="cf-wrapper">
    <div class="cf-alert cf-alert-error cf-cookie-error" id="cookie-alert" data-translate="enable_cookies">Please enable cookies.</div>
    <div id="cf-error-details" class="p-0">
      <header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-8">
         <h1 class="inline-block sm:block sm:mb-2 font-light text-60 lg:text-4xl text-black-dark leading-tight mr-2">
           <span class="inline-block">Error</span>
           <span class="code-label">1020</span>
         </h1>
         <span class="inline-block">Ray ID: 8a1b2c3d4e5f6789 &bull;</span>
         <h2 class="text-gray-600 leading-1.3 text-3xl font-light">Access denied</h2>
         <span class="cf-error-type" data-translate="error">Error</span>
         <span class="cf-error-code">1020</span>
      </header>
      <section class="w-240 lg:w-full mx-auto mb-8 lg:px-8">
          <h2 class="text-3xl leading-tight font-normal mb-4 text-black-dark antialiased" data-translate="what_happened">What happened?</h2>
          <p>This website is using a security service to protect itself from online attacks.</p>
          <p>The site owner may have set restrictions that prevent you from accessing the site.</p>
      </section>
      <div class="cf-error-footer cf-wrapper w-240 lg:w-full py-10 sm:py-4 sm:px-8 mx-auto text-center sm:text-left border-solid border-0 border-t border-gray-300">
        <p class="text-13">
          <span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID: <strong class="font-semibold">8a1b2c3d4e5f6789</strong></span>
          <span class="cf-footer-item sm:block sm:mb-1"><span>Performance &amp; security by</span> <a rel="noopener noreferrer" href="https://www.cloudflare.com/5xx-error-landing" id="brand_link" target="_blank">Cloudflare</a></span>
        </p>
      </div>
    </div>
  </div>
</body>
</html>"#;

const CLOUDFLARE_HEADERS: &[(&str, &str)] = &[
    ("server", "cloudflare"),
    ("cf-ray", "8a1b2c3d4e5f6789-FRA"),
    ("content-type", "text/html; charset=UTF-8"),
];

#[test]
fn cloudflare_1020_page() {
    let got = check(
        403,
        CLOUDFLARE_HEADERS,
        CLOUDFLARE_1020,
        "waf",
        "cloudflare",
    );
    assert_eq!(
        got.evidence[0],
        "body is Cloudflare error 1020 (access denied by a WAF custom rule)"
    );
    assert_eq!(got.ambiguity, None);
}

#[test]
fn cloudflare_1020_plain_text_for_api_clients() {
    check(
        403,
        &[
            ("server", "cloudflare"),
            ("cf-ray", "8a1b2c3d4e5f6789-FRA"),
            ("content-type", "text/plain; charset=UTF-8"),
        ],
        "error code: 1020",
        "waf",
        "cloudflare",
    );
}

#[test]
fn cloudflare_1009_country_banned_is_cdn() {
    let body = CLOUDFLARE_1020
        .replace("<span class=\"cf-error-code\">1020</span>", "<span class=\"cf-error-code\">1009</span>")
        .replace(
            "The site owner may have set restrictions that prevent you from accessing the site.",
            "The owner of this website (example.com) has banned the country or region your IP address is in (XX) from accessing this website.",
        );
    check(403, CLOUDFLARE_HEADERS, &body, "cdn", "cloudflare");
}

#[test]
fn cloudflare_1010_browser_signature() {
    check(
        403,
        CLOUDFLARE_HEADERS,
        "error code: 1010",
        "waf",
        "cloudflare",
    );
}

#[test]
fn cloudflare_1015_rate_limited() {
    check(
        429,
        CLOUDFLARE_HEADERS,
        "error code: 1015",
        "waf",
        "cloudflare",
    );
}

#[test]
fn cloudflare_other_1xxx_is_cdn() {
    check(
        403,
        CLOUDFLARE_HEADERS,
        "error code: 1003",
        "cdn",
        "cloudflare",
    );
}

#[test]
fn cloudflare_managed_rules_block_page() {
    let body = r#"<title>Attention Required! | Cloudflare</title>
<div id="cf-error-details" class="cf-error-details-wrapper">
  <h1 data-translate="block_headline">Sorry, you have been blocked</h1>
  <h2 class="cf-subheadline"><span data-translate="unable_to_access">You are unable to access</span> example.com</h2>
</div>
<span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID: <strong class="font-semibold">8a1b2c3d4e5f6789</strong></span>"#;
    check(403, CLOUDFLARE_HEADERS, body, "waf", "cloudflare");
}

#[test]
fn cloudflare_managed_challenge() {
    let body = "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title><meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">";
    let mut pairs = CLOUDFLARE_HEADERS.to_vec();
    pairs.push(("cf-mitigated", "challenge"));
    let got = check(403, &pairs, body, "waf", "cloudflare");
    assert!(got.evidence[0].contains("cf-mitigated"), "{got:#?}");
}

#[test]
fn cloudflare_relays_app_json() {
    check(
        403,
        &[
            ("server", "cloudflare"),
            ("cf-ray", "8a1b2c3d4e5f6789-FRA"),
            ("content-type", "application/json"),
        ],
        r#"{"code":"geo_blocked"}"#,
        "app",
        "app",
    );
}

/// Presence headers never decide a refusal: with no Cloudflare page, the origin behind
/// Cloudflare refused, and the evidence still names the relay.
#[test]
fn cloudflare_relays_origin_text_is_the_origins() {
    let got = check(
        403,
        &[
            ("server", "cloudflare"),
            ("cf-ray", "8a1b2c3d4e5f6789-FRA"),
            ("content-type", "text/plain"),
        ],
        "Forbidden",
        "app",
        "app",
    );
    assert!(got.ambiguity.unwrap().contains("custom response"));
    assert!(
        got.evidence[0].contains("relayed by Cloudflare"),
        "{:?}",
        got.evidence
    );
    // An HTML refusal page the app wrote itself, behind Cloudflare.
    check(
        403,
        &[
            ("cf-ray", "8a1b2c3d4e5f6789-FRA"),
            ("content-type", "text/html"),
        ],
        "<html><body><h1>You may not see this invoice</h1></body></html>",
        "app",
        "app",
    );
    // The same for CloudFront's relay headers.
    check(
        403,
        &[
            (
                "x-amz-cf-id",
                "8ZzPqcF0wzVf8Qa5fzI-ZJ1a9DtY6iqFM2F9Kv3ET8eJh5Sy3jQ5oA==",
            ),
            ("x-amz-cf-pop", "FRA56-P1"),
            ("via", "1.1 0123456789abcdef.cloudfront.net (CloudFront)"),
        ],
        "Forbidden",
        "app",
        "app",
    );
}

// ------------------------------------------------------------------ CloudFront / AWS WAF

fn cloudfront_page(message: &str) -> String {
    format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\">\n<HTML><HEAD><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-1\">\n<TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n<H1>403 ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\n{message}\n<BR clear=\"all\">\nIf you provide content to customers through CloudFront, you can find steps to troubleshoot and help prevent this error by reviewing the CloudFront documentation.\n<BR clear=\"all\">\n<HR noshade size=\"1px\">\n<PRE>\nGenerated by cloudfront (CloudFront)\nRequest ID: 8ZzPqcF0wzVf8Qa5fzI-ZJ1a9DtY6iqFM2F9Kv3ET8eJh5Sy3jQ5oA==\n</PRE>\n<ADDRESS>\n</ADDRESS>\n</BODY></HTML>"
    )
}

const CLOUDFRONT_HEADERS: &[(&str, &str)] = &[
    ("server", "CloudFront"),
    ("content-type", "text/html"),
    ("x-cache", "Error from cloudfront"),
    (
        "via",
        "1.1 0f7bd0e2e35d1e8c6a2b8a7f5a3c1d2e.cloudfront.net (CloudFront)",
    ),
    ("x-amz-cf-pop", "FRA56-P1"),
    (
        "x-amz-cf-id",
        "8ZzPqcF0wzVf8Qa5fzI-ZJ1a9DtY6iqFM2F9Kv3ET8eJh5Sy3jQ5oA==",
    ),
];

#[test]
fn cloudfront_waf_block_page_is_aws_waf() {
    let body = cloudfront_page(
        "Request blocked.\nWe can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error. Try again later, or contact the app or website owner.",
    );
    let got = check(403, CLOUDFRONT_HEADERS, &body, "waf", "aws-waf");
    assert!(
        got.evidence
            .iter()
            .any(|line| line.starts_with("header x-amz-cf-id: ")),
        "{got:#?}"
    );
}

#[test]
fn cloudfront_geo_restriction_is_cdn() {
    let body = cloudfront_page(
        "The Amazon CloudFront distribution is configured to block access from your country.",
    );
    check(403, CLOUDFRONT_HEADERS, &body, "cdn", "cloudfront");
}

#[test]
fn cloudfront_method_not_allowed_is_cdn() {
    let body = cloudfront_page(
        "This distribution is not configured to allow the HTTP request method that was used for this request. The distribution supports only cachable requests.",
    );
    check(403, CLOUDFRONT_HEADERS, &body, "cdn", "cloudfront");
}

#[test]
fn aws_waf_custom_json_response_on_cloudfront() {
    let mut pairs = CLOUDFRONT_HEADERS.to_vec();
    pairs.retain(|(name, _)| *name != "content-type");
    pairs.push(("content-type", "application/json"));
    pairs.push(("x-amzn-waf-block-reason", "geo"));
    check(403, &pairs, r#"{"code":"blocked"}"#, "waf", "aws-waf");
}

#[test]
fn cloudfront_relays_app_json() {
    let mut pairs = CLOUDFRONT_HEADERS.to_vec();
    pairs.retain(|(name, _)| *name != "content-type");
    pairs.push(("content-type", "application/json"));
    check(403, &pairs, r#"{"code":"forbidden"}"#, "app", "app");
}

#[test]
fn cloudfront_relays_origin_nginx_page() {
    let mut pairs = CLOUDFRONT_HEADERS.to_vec();
    pairs[0] = ("server", "nginx/1.22.1");
    check(403, &pairs, NGINX_403, "server", "nginx");
}

#[test]
fn alb_waf_block() {
    let body = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n</body>\r\n</html>\r\n";
    let got = check(
        403,
        &[("server", "awselb/2.0"), ("content-type", "text/html")],
        body,
        "waf",
        "aws-waf",
    );
    assert!(got.ambiguity.unwrap().contains("fixed 403"));
}

#[test]
fn api_gateway_forbidden() {
    check(
        403,
        &[
            ("content-type", "application/json"),
            ("x-amzn-requestid", "8c3b1c0e-1f7a-4f0e-9a43-0d6f0f4f1c2a"),
            ("x-amzn-errortype", "ForbiddenException"),
            ("x-amz-apigw-id", "Abc123="),
        ],
        r#"{"message":"Forbidden"}"#,
        "server",
        "aws-api-gateway",
    );
}

#[test]
fn lambda_behind_api_gateway_is_app() {
    check(
        403,
        &[
            ("content-type", "application/json"),
            ("x-amzn-requestid", "8c3b1c0e-1f7a-4f0e-9a43-0d6f0f4f1c2a"),
        ],
        r#"{"code":"not_owner"}"#,
        "app",
        "app",
    );
}

// ------------------------------------------------------------------ Akamai

#[test]
fn akamai_access_denied_entity_encoded() {
    let body = "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n \nYou don't have permission to access \"http&#58;&#47;&#47;www&#46;example&#46;com&#47;admin\" on this server.<P>\nReference&#32;&#35;18&#46;7a1d2c17&#46;1718409600&#46;3f9b21e\n<P>https&#58;&#47;&#47;errors&#46;edgesuite&#46;net&#47;18&#46;7a1d2c17&#46;1718409600&#46;3f9b21e</P>\n</BODY>\n</HTML>\n";
    let got = check(
        403,
        &[
            ("server", "AkamaiGHost"),
            ("content-type", "text/html"),
            ("mime-version", "1.0"),
        ],
        body,
        "waf",
        "akamai",
    );
    assert!(got.ambiguity.unwrap().contains("property rule"));
}

#[test]
fn akamai_access_denied_plain_reference() {
    let body = "<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY><H1>Access Denied</H1>You don't have permission to access \"http://www.example.com/\" on this server.<P>Reference #18.c6a50517.1514639126.176b29a</BODY></HTML>";
    check(403, &[], body, "waf", "akamai");
}

#[test]
fn akamai_header_only() {
    check(
        403,
        &[("server", "AkamaiGHost")],
        "Forbidden",
        "cdn",
        "akamai",
    );
}

// ------------------------------------------------------------------ other gateways

#[test]
fn envoy_rbac() {
    check(
        403,
        &[("server", "istio-envoy"), ("content-type", "text/plain")],
        "RBAC: access denied",
        "server",
        "envoy",
    );
}

// ------------------------------------------------------------------ mechanics

#[test]
fn header_names_are_matched_case_insensitively() {
    check(403, &[("Server", "nginx/1.22.1")], "", "server", "nginx");
}

#[test]
fn long_header_values_are_shortened_in_evidence() {
    let long = format!("nginx/{}", "9".repeat(200));
    let got = check(403, &[("server", &long)], "", "server", "nginx");
    assert!(got.evidence[0].ends_with('…'), "{got:#?}");
    assert!(got.evidence[0].len() < 120, "{got:#?}");
}

#[test]
fn only_the_head_of_a_large_body_is_searched() {
    let body = format!("{}{NGINX_403}", "x".repeat(BODY_SCAN_LIMIT));
    check(403, &[], &body, "unknown", "unknown");
    let body = format!("{NGINX_403}{}", "é".repeat(BODY_SCAN_LIMIT));
    check(403, &[], &body, "server", "nginx");
}

#[test]
fn truncate_respects_char_boundaries() {
    assert_eq!(truncate("héllo", 2), "h");
    assert_eq!(truncate("héllo", 3), "hé");
    assert_eq!(truncate("hi", 10), "hi");
}

// ------------------------------------------------------------------ fingerprint files

#[test]
fn builtin_fingerprints_parse() {
    let builtin = Fingerprints::from_toml(include_str!("../../fingerprints/builtin.toml"))
        .expect("builtin.toml is valid");
    assert!(builtin.len() >= 30, "{} rules", builtin.len());
    assert_eq!(builtin.len(), Fingerprints::builtin().len());
}

const ACME_GATEWAY: &str = r#"
[[rule]]
id = "acme.gateway"
vendor = "acme-gateway"
layer = "server"
weight = 10
evidence = "body is the ACME gateway's consumer ACL refusal"
status = [403]
headers = [{ name = "server", matches = '(?i)^acme-gw/' }]
body_contains = "You cannot consume this service"
"#;

#[test]
fn user_rules_win_over_builtin_whatever_the_weight() {
    let gateway = Fingerprints::from_toml(ACME_GATEWAY).unwrap();
    let fingerprints = Fingerprints::builtin().with_user_rules(&gateway);
    let pairs = [
        ("server", "acme-gw/3.6.1"),
        ("content-type", "application/json; charset=utf-8"),
    ];
    let body = r#"{"message":"You cannot consume this service"}"#;
    // Without the team's rule the JSON body reads as the app's.
    check(403, &pairs, body, "app", "app");
    let got = check_with(&fingerprints, 403, &pairs, body, "server", "acme-gateway");
    assert_eq!(
        got.evidence[0],
        "body is the ACME gateway's consumer ACL refusal"
    );
    assert_eq!(got.evidence[1], "header server: acme-gw/3.6.1");
}

#[test]
fn user_rule_replaces_builtin_with_same_id() {
    let user = Fingerprints::from_toml(
        r#"
[[rule]]
id = "nginx.default-page"
vendor = "edge-nginx"
layer = "cdn"
body_contains = "<hr><center>nginx"
"#,
    )
    .unwrap();
    let fingerprints = Fingerprints::builtin().with_user_rules(&user);
    assert_eq!(fingerprints.len(), Fingerprints::builtin().len());
    check_with(&fingerprints, 403, &[], NGINX_403, "cdn", "edge-nginx");
}

#[test]
fn user_file_disables_builtin_rules() {
    let user = Fingerprints::from_toml(r#"disable = ["nginx.server-header"]"#).unwrap();
    assert!(user.is_empty());
    let fingerprints = Fingerprints::builtin().with_user_rules(&user);
    assert_eq!(fingerprints.len(), Fingerprints::builtin().len() - 1);
    check_with(
        &fingerprints,
        403,
        &[("server", "nginx")],
        "",
        "unknown",
        "unknown",
    );
}

#[test]
fn equal_rules_with_different_answers_are_reported_as_ambiguous() {
    let user = Fingerprints::from_toml(
        r#"
[[rule]]
id = "a"
vendor = "gateway-a"
layer = "server"
headers = [{ name = "x-gw" }]

[[rule]]
id = "b"
vendor = "gateway-b"
layer = "waf"
headers = [{ name = "x-gw" }]
"#,
    )
    .unwrap();
    let got = check_with(&user, 403, &[("x-gw", "1")], "", "server", "gateway-a");
    let ambiguity = got.ambiguity.unwrap();
    assert!(
        ambiguity.contains("gateway-b at the waf layer (rule `b`)"),
        "{ambiguity}"
    );
}

#[test]
fn header_prefix_condition() {
    let user = Fingerprints::from_toml(
        r#"
[[rule]]
id = "p"
vendor = "acme"
layer = "waf"
headers = [{ name = "X-Acme-*" }]
"#,
    )
    .unwrap();
    check_with(&user, 403, &[("x-acme-rule", "7")], "", "waf", "acme");
    check_with(&user, 403, &[("x-acm", "7")], "", "unknown", "unknown");
}

#[track_caller]
fn check_error(src: &str, expected: &str) {
    let error = Fingerprints::from_toml(src).expect_err("file must be rejected");
    let message = error.to_string();
    assert!(message.contains(expected), "{message:?} lacks {expected:?}");
}

#[test]
fn bad_regex_is_reported_with_rule_and_line() {
    check_error(
        "[[rule]]\nid = \"r\"\nvendor = \"v\"\nlayer = \"waf\"\nbody_matches = '(unclosed'\n",
        "5:16: rule `r`: invalid regex in `body_matches`",
    );
}

#[test]
fn bad_layer_is_reported() {
    check_error(
        "[[rule]]\nid = \"r\"\nvendor = \"v\"\nlayer = \"edge\"\nstatus = [403]\n",
        "4:9: rule `r`: unknown layer `edge`",
    );
}

#[test]
fn unknown_keys_are_rejected() {
    check_error(
        "[[rule]]\nid = \"r\"\nvendor = \"v\"\nlayer = \"waf\"\nstatuses = [403]\n",
        "unknown field `statuses`",
    );
}

#[test]
fn duplicate_ids_are_rejected() {
    check_error(
        "[[rule]]\nid = \"r\"\nvendor = \"v\"\nlayer = \"waf\"\nstatus = [403]\n[[rule]]\nid = \"r\"\nvendor = \"v\"\nlayer = \"waf\"\nstatus = [403]\n",
        "7:6: rule `r`: duplicate rule id",
    );
}

#[test]
fn rules_without_conditions_are_rejected() {
    check_error(
        "[[rule]]\nid = \"r\"\nvendor = \"v\"\nlayer = \"waf\"\n",
        "rule `r`: rule has no conditions",
    );
}

/// Scripts Imperva, Cloudflare and PerimeterX inject into every page they pass through
/// make a refusal theirs, never a granted page: a 200 or 302 carrying one is the app's.
#[test]
fn injected_vendor_scripts_mark_refusals_only() {
    let scripts = [
        (
            "imperva",
            r#"<script src="/_Incapsula_Resource?SWJIYLWA=719d34d31c8e3a6e6fffd425f7e032f3"></script>"#,
        ),
        (
            "cloudflare",
            r#"<script>(function(){var a=document.createElement('script');a.src='/cdn-cgi/challenge-platform/scripts/jsd/main.js';document.head.appendChild(a);})();</script>"#,
        ),
        (
            "perimeterx",
            r#"<script>window._pxAppId = 'PXa1b2c3d4';</script><script src="https://client.perimeterx.net/PXa1b2c3d4/main.min.js"></script>"#,
        ),
    ];
    for (vendor, script) in scripts {
        let page = format!(
            "<!DOCTYPE html><html><head><title>Orders</title>{script}</head><body><h1>Your orders</h1></body></html>"
        );
        let pairs = headers(&[("content-type", "text/html; charset=utf-8")]);
        for status in [200, 302] {
            let got = classify(
                Fingerprints::builtin(),
                &Evidence {
                    status,
                    headers: &pairs,
                    body: &page,
                },
            );
            assert_ne!(got.layer, Layer::Waf, "{vendor} {status}: {got:#?}");
        }
        check(403, &[], &page, "waf", vendor);
    }
    // Whole-page block markers keep a 200 the vendor's: a refusal in disguise.
    check(
        200,
        &[],
        "<html><body>Request unsuccessful. Incapsula incident ID: 1234-5678</body></html>",
        "waf",
        "imperva",
    );
    check(
        200,
        &[],
        r#"<html><body><div id="px-captcha"></div></body></html>"#,
        "waf",
        "perimeterx",
    );
}

#[test]
fn a_user_waf_rule_matches_a_2xx_only_as_a_disguise() {
    let rule = |disguise: bool| {
        Fingerprints::from_toml(&format!(
            "[[rule]]\nid = \"acme.block\"\nvendor = \"acme\"\nlayer = \"waf\"\n\
             disguise = {disguise}\nbody_contains = \"ACME-BLOCK\"\n"
        ))
        .unwrap()
    };
    let pairs = headers(&[]);
    let at = |fingerprints: &Fingerprints, status: u16| {
        classify(
            fingerprints,
            &Evidence {
                status,
                headers: &pairs,
                body: "ACME-BLOCK",
            },
        )
        .layer
    };
    assert_eq!(at(&rule(true), 200), Layer::Waf);
    assert_eq!(at(&rule(false), 403), Layer::Waf);
    assert_ne!(at(&rule(false), 200), Layer::Waf);
}
