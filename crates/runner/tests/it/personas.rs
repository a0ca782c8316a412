//! Every persona of the mock edge, refusing for every reason it can, through the built-in
//! fingerprints: a reproduction offline must be attributed like the production refusal it
//! imitates.
//!
//! Each refusal is fetched twice, from a `rolecall_mock::MockServer` configured with one
//! layer per reason and from a wiremock server answering with `DenyResponder`, and both
//! must get the same layer, vendor and ambiguity. `cargo test -p rolecall-runner --test it
//! personas -- --nocapture` prints the table.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use rolecall_mock::{DenyReason, DenyResponder, MockConfig, MockServer, Persona};
use rolecall_runner::{Attribution, Evidence, Fingerprints, classify};
use rolecall_scenario::Layer;

/// One layer per reason, each on its own paths, all imitating `{persona}`.
const LAYERS: &str = r#"
[[layer]]
ip = { persona = "{persona}", paths = ["/ip/**"], deny = ["203.0.113.0/24"] }
[[layer]]
geo = { persona = "{persona}", paths = ["/geo/**"], block = ["KP"] }
[[layer]]
user_agent = { persona = "{persona}", paths = ["/ua/**"], block = ["(?i)sqlmap"] }
[[layer]]
waf = { persona = "{persona}", paths = ["/waf/**"], presets = ["sqli"] }
[[layer]]
hotlink = { persona = "{persona}", paths = ["/images/**"], allow_hosts = ["example.com"] }
[[layer]]
path_deny = { persona = "{persona}", prefixes = ["/admin"] }
[[layer]]
directory_listing = { persona = "{persona}", prefixes = ["/files"] }
[[layer]]
method = { persona = "{persona}", paths = ["/method/**"], deny = ["DELETE"] }
[[layer]]
rate_limit = { persona = "{persona}", paths = ["/rate/**"], requests = 1, per = "1h" }
"#;

/// The app behind: only the rate-limited route, whose first request must get through.
const ORIGIN: &str =
    "[origin.app]\n[[origin.app.route]]\nrequest = \"GET /rate/x\"\npublic = true\n";

/// The request that trips the layer for `reason` in [`LAYERS`].
fn request(
    reason: DenyReason,
) -> (
    Method,
    &'static str,
    &'static [(&'static str, &'static str)],
) {
    match reason {
        DenyReason::IpBlocked => (Method::GET, "/ip/x", &[("x-forwarded-for", "203.0.113.7")]),
        DenyReason::CountryBlocked => (Method::GET, "/geo/x", &[("cf-ipcountry", "KP")]),
        DenyReason::UserAgentBlocked => (
            Method::GET,
            "/ua/x",
            &[("user-agent", "sqlmap/1.7.2#stable (https://sqlmap.org)")],
        ),
        DenyReason::WafRule => (Method::GET, "/waf/x?id=1%27%20OR%20%271%27%3D%271", &[]),
        DenyReason::Hotlink => (
            Method::GET,
            "/images/logo.png",
            &[("referer", "https://evil.example/")],
        ),
        DenyReason::PathDenied => (Method::GET, "/admin/", &[]),
        DenyReason::DirectoryListing => (Method::GET, "/files/", &[]),
        DenyReason::MethodDenied => (Method::DELETE, "/method/x", &[]),
        // The bucket holds one request: the first passes, the one judged is refused.
        DenyReason::RateLimited => (Method::GET, "/rate/x", &[]),
        other => panic!("no layer for {other:?}"),
    }
}

/// A running mock edge, plus a wiremock server with a `DenyResponder` per reason when the
/// persona needs no `[edge]` settings (wiremock responders use the defaults).
struct Edge {
    label: String,
    runtime: tokio::runtime::Runtime,
    mock: Option<MockServer>,
    wiremock: Option<wiremock::MockServer>,
    refusals: Arc<Mutex<Vec<rolecall_mock::Refusal>>>,
    client: reqwest::blocking::Client,
}

impl Edge {
    /// Every layer of [`LAYERS`] imitating `persona`, with `edge` as the `[edge]` table.
    fn persona(persona: Persona, edge: &str) -> Edge {
        let layers = LAYERS.replace("{persona}", persona.name());
        let mut label = persona.name().to_owned();
        if !edge.is_empty() {
            // Keeps the table readable: `modsecurity (server = "nginx")`.
            let settings: Vec<&str> = edge.lines().skip(1).collect();
            let _ = write!(label, " ({})", settings.join(", "));
        }
        Edge::start(
            label,
            Some(persona).filter(|_| edge.is_empty()),
            edge,
            &layers,
        )
    }

    /// A composed edge: layers without a persona take the `[edge]` defaults.
    fn composed(label: &str, edge: &str, layers: &str) -> Edge {
        Edge::start(label.to_owned(), None, edge, layers)
    }

    fn start(label: String, persona: Option<Persona>, edge: &str, layers: &str) -> Edge {
        // reqwest is built without a default TLS provider; these requests are plain HTTP
        // but the client still wants one. An error means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let source = format!("{edge}\n{layers}\n{ORIGIN}");
        let config = MockConfig::from_str(&source, Path::new("personas.toml"))
            .unwrap_or_else(|error| panic!("{error}\n{source}"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let refusals = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&refusals);
        let mock = runtime
            .block_on(MockServer::start_with_log(
                config,
                SocketAddr::from(([127, 0, 0, 1], 0)),
                move |refusal| log.lock().unwrap().push(refusal.clone()),
            ))
            .unwrap();
        let wiremock = persona.map(|persona| {
            runtime.block_on(async {
                let server = wiremock::MockServer::start().await;
                for reason in reasons() {
                    let (method, path, _) = request(reason);
                    let path = path.split('?').next().unwrap_or(path);
                    wiremock::Mock::given(wiremock::matchers::method(method.as_str()))
                        .and(wiremock::matchers::path(path))
                        .respond_with(DenyResponder::new(persona, reason))
                        .mount(&server)
                        .await;
                }
                server
            })
        });
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Edge {
            label,
            runtime,
            mock: Some(mock),
            wiremock,
            refusals,
            client,
        }
    }

    fn send(&self, base: &str, reason: DenyReason) -> Response {
        let (method, path, headers) = request(reason);
        let send = || {
            let mut builder = self.client.request(method.clone(), format!("{base}{path}"));
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            builder.send().unwrap()
        };
        if reason == DenyReason::RateLimited && base == self.mock_url() {
            let first = send();
            assert_eq!(
                first.status(),
                200,
                "{}: the first request must pass",
                self.label
            );
        }
        let response = send();
        Response {
            status: response.status().as_u16(),
            headers: response
                .headers()
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect(),
            body: response.text().unwrap(),
        }
    }

    fn mock_url(&self) -> String {
        self.mock.as_ref().map(MockServer::url).unwrap_or_default()
    }

    /// The layer the mock's own refusal log names for the last refusal.
    fn logged_layer(&self) -> String {
        let refusals = self.refusals.lock().unwrap();
        refusals.last().map_or_else(
            || "-".to_owned(),
            |refusal| refusal.layer.as_str().to_owned(),
        )
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        // Both servers stop on the runtime that runs them.
        if let Some(mock) = self.mock.take() {
            self.runtime.block_on(mock.shutdown());
        }
        if let Some(server) = self.wiremock.take() {
            self.runtime.block_on(async move { drop(server) });
        }
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn attribution(&self) -> Attribution {
        classify(
            Fingerprints::builtin(),
            &Evidence {
                status: self.status,
                headers: &self.headers,
                body: &self.body,
            },
        )
    }
}

/// Every reason a layer of [`LAYERS`] refuses for: all but an injected fault.
fn reasons() -> impl Iterator<Item = DenyReason> {
    DenyReason::ALL
        .into_iter()
        .filter(|reason| *reason != DenyReason::Fault)
}

/// What a refusal must be attributed to: `layer/vendor`, and a phrase the ambiguity note
/// must contain (`None`: there must be no note).
#[derive(Debug, Clone, Copy)]
struct Expect {
    attribution: &'static str,
    ambiguity: Option<&'static str>,
}

const fn exact(attribution: &'static str) -> Expect {
    Expect {
        attribution,
        ambiguity: None,
    }
}

const fn noted(attribution: &'static str, phrase: &'static str) -> Expect {
    Expect {
        attribution,
        ambiguity: Some(phrase),
    }
}

/// Asserts the refusal `edge` sends for `reason`, from the mock server and (when the edge
/// has one) from its `DenyResponder`, and prints the table row.
#[track_caller]
fn check(edge: &Edge, reason: DenyReason, status: u16, expect: Expect) {
    let mut sources = vec![("MockServer", edge.mock_url())];
    if let Some(server) = &edge.wiremock {
        sources.push(("DenyResponder", server.uri()));
    }
    for (source, base) in sources {
        let response = edge.send(&base, reason);
        let got = response.attribution();
        let attribution = format!("{}/{}", got.layer, got.vendor);
        let ambiguity_ok = match (expect.ambiguity, &got.ambiguity) {
            (None, None) => true,
            (Some(phrase), Some(note)) => note.contains(phrase),
            _ => false,
        };
        let ok = response.status == status && attribution == expect.attribution && ambiguity_ok;
        if source == "MockServer" {
            println!(
                "| {} | {reason:?} | {} | {attribution} | {} | {} | {} | {} |",
                edge.label,
                response.status,
                if got.ambiguity.is_some() { "yes" } else { "-" },
                edge.logged_layer(),
                expect.attribution,
                if ok { "ok" } else { "MISMATCH" },
            );
        }
        assert!(
            ok,
            "{} {reason:?} via {source}: expected {status} {} (ambiguity {:?}), got {} {attribution}\n{got:#?}\n{response:#?}",
            edge.label, expect.attribution, expect.ambiguity, response.status
        );
    }
}

/// Cloudflare's WAF tools (IP access rules, browser integrity, custom and rate-limiting
/// rules) answer with their own 1xxx pages: the classifier calls them waf. Country
/// blocking and hotlink protection are zone settings of the CDN itself.
#[test]
fn cloudflare() {
    let edge = Edge::persona(Persona::Cloudflare, "");
    check(&edge, DenyReason::IpBlocked, 403, exact("waf/cloudflare"));
    check(
        &edge,
        DenyReason::CountryBlocked,
        403,
        exact("cdn/cloudflare"),
    );
    check(
        &edge,
        DenyReason::UserAgentBlocked,
        403,
        exact("waf/cloudflare"),
    );
    check(&edge, DenyReason::WafRule, 403, exact("waf/cloudflare"));
    check(&edge, DenyReason::Hotlink, 403, exact("cdn/cloudflare"));
    // A path, listing or method refusal is a WAF custom rule on Cloudflare: error 1020.
    check(&edge, DenyReason::PathDenied, 403, exact("waf/cloudflare"));
    check(
        &edge,
        DenyReason::DirectoryListing,
        403,
        exact("waf/cloudflare"),
    );
    check(
        &edge,
        DenyReason::MethodDenied,
        403,
        exact("waf/cloudflare"),
    );
    check(&edge, DenyReason::RateLimited, 429, exact("waf/cloudflare"));
}

/// CloudFront itself only refuses by country; every other refusal in front of it is an
/// AWS WAF web ACL, whose block page CloudFront shows.
#[test]
fn cloudfront() {
    let edge = Edge::persona(Persona::Cloudfront, "");
    for reason in reasons() {
        let expect = if reason == DenyReason::CountryBlocked {
            exact("cdn/cloudfront")
        } else {
            exact("waf/aws-waf")
        };
        check(&edge, reason, reason.default_status().as_u16(), expect);
    }
}

#[test]
fn aws_waf() {
    let edge = Edge::persona(Persona::AwsWaf, "");
    // A geo block is left out: see the known divergence below.
    for reason in reasons().filter(|r| *r != DenyReason::CountryBlocked) {
        check(
            &edge,
            reason,
            reason.default_status().as_u16(),
            exact("waf/aws-waf"),
        );
    }
    // The block marker header, when the web ACL's custom response sets it.
    let edge = Edge::persona(Persona::AwsWaf, "[edge]\naws_waf_action_header = true");
    check(&edge, DenyReason::WafRule, 403, exact("waf/aws-waf"));
}

/// An AWS WAF geo match rule blocks with the same "Request blocked." page as every
/// other web ACL rule (only CloudFront's own geo restriction has a page of its own).
#[test]
fn aws_waf_geo_match_is_a_waf_block() {
    let edge = Edge::persona(Persona::AwsWaf, "");
    check(&edge, DenyReason::CountryBlocked, 403, exact("waf/aws-waf"));
}

/// Akamai answers WAF and property-rule denials with the same page; the classifier says
/// waf and names the alternative.
#[test]
fn akamai() {
    let edge = Edge::persona(Persona::Akamai, "");
    for reason in reasons() {
        let status = reason.default_status().as_u16();
        check(&edge, reason, status, noted("waf/akamai", "property rule"));
    }
}

#[test]
fn nginx() {
    let edge = Edge::persona(Persona::Nginx, "");
    for reason in reasons() {
        let status = reason.default_status().as_u16();
        // A 403 page is also what the ModSecurity connector for nginx sends.
        let expected = if status == 403 {
            noted("server/nginx", "ModSecurity")
        } else {
            exact("server/nginx")
        };
        check(&edge, reason, status, expected);
    }
}

#[test]
fn apache() {
    let edge = Edge::persona(Persona::Apache, "");
    for reason in reasons() {
        let status = reason.default_status().as_u16();
        // Only a 403 page could be a ModSecurity deny; a 429 page is Apache's alone.
        let expect = if status == 403 {
            noted("server/apache", "ModSecurity")
        } else {
            exact("server/apache")
        };
        check(&edge, reason, status, expect);
    }
}

/// ModSecurity answers with its host server's page, so the honest attribution is the
/// server, with ModSecurity named as the alternative on Apache. The mock has no way to add
/// the `X-Blocked-By` marker that tells a marked ModSecurity block apart.
#[test]
fn modsecurity() {
    let edge = Edge::persona(Persona::Modsecurity, "");
    for reason in [
        DenyReason::WafRule,
        DenyReason::IpBlocked,
        DenyReason::UserAgentBlocked,
    ] {
        check(&edge, reason, 403, noted("server/apache", "ModSecurity"));
    }
    // On nginx the page is nginx's, with the same honest caveat as on Apache.
    let edge = Edge::persona(Persona::Modsecurity, "[edge]\nserver = \"nginx\"");
    check(
        &edge,
        DenyReason::WafRule,
        403,
        noted("server/nginx", "ModSecurity"),
    );
}

/// A ModSecurity layer that marks its blocks, as the classifier's ambiguity note
/// recommends, is told apart from the web server's own 403.
#[test]
fn marked_modsecurity_blocks_are_the_waf() {
    let edge = Edge::composed(
        "modsecurity (marked)",
        "[edge]\nserver = \"apache\"\nwaf = \"modsecurity\"",
        "[[layer]]\n[layer.waf]\npresets = [\"sqli\", \"xss\", \"path_traversal\"]\nmark = { header = \"X-Blocked-By\", value = \"ModSecurity\" }\n",
    );
    check(&edge, DenyReason::WafRule, 403, exact("waf/modsecurity"));
}

/// A server refusal relayed by a CDN keeps the server's page: the page decides, the CDN's
/// `Server` and id headers only add evidence.
#[test]
fn server_refusals_behind_a_cdn() {
    let path_deny = "[[layer]]\npath_deny = { prefixes = [\"/admin\"] }\n";
    let edge = Edge::composed(
        "cloudflare + nginx",
        "[edge]\ncdn = \"cloudflare\"\nserver = \"nginx\"",
        path_deny,
    );
    check(
        &edge,
        DenyReason::PathDenied,
        403,
        noted("server/nginx", "ModSecurity"),
    );
    let edge = Edge::composed(
        "cloudfront + apache",
        "[edge]\ncdn = \"cloudfront\"\nserver = \"apache\"",
        path_deny,
    );
    check(
        &edge,
        DenyReason::PathDenied,
        403,
        noted("server/apache", "ModSecurity"),
    );
}

/// Proxies, caches and API gateways answer every refusal themselves, at the server layer,
/// from the mock server as from their `DenyResponder`. Caddy's refusal has no body, so only
/// its header names it, with the caveat that it sets it on what it relays too; API
/// Gateway's carries the caveat that AWS WAF on a stage answers the same way.
#[test]
fn proxies_and_gateways() {
    // Every server-layer persona but the web servers, which have tests of their own.
    let gateways = Persona::ALL.into_iter().filter(|persona| {
        persona.layer() == Layer::Server && !matches!(persona, Persona::Nginx | Persona::Apache)
    });
    let mut tested = 0;
    for persona in gateways {
        tested += 1;
        let edge = Edge::persona(persona, "");
        for reason in reasons() {
            let (layer, vendor) = persona.attribution(reason);
            let attribution: &'static str = format!("{layer}/{vendor}").leak();
            let expect = match persona {
                Persona::Caddy => noted(attribution, "proxied responses"),
                // AWS WAF on a stage answers with API Gateway's own exception.
                Persona::AwsApiGateway => noted(attribution, "AWS WAF"),
                _ => exact(attribution),
            };
            check(&edge, reason, reason.default_status().as_u16(), expect);
        }
    }
    // HAProxy, Varnish, Envoy, Kong, API Gateway and Caddy at least.
    assert!(tested >= 6, "only {tested} gateway personas");
}
