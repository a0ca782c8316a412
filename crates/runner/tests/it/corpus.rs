//! Real deny responses that other people captured from real sites (see
//! `tests/it/corpus/README.md` for sources and licences), through the built-in fingerprints.
//!
//! Every sample must be attributed to the layer and vendor its manifest entry names. A
//! body-only sample (the source kept no status) is classified as a 200 and as a 403 and must
//! come out the same both times: a vendor's page is the vendor's whatever status it came with.
//!
//! Measured when the corpus was added (36 samples, 15 vendors): the classifier of that time
//! attributed 7 right (both Akamai pages, the four CloudFront "Request blocked." pages and
//! the nginx page) and called none of the rest a wrong vendor: 29 came back unknown (for
//! ModSecurity's 406 and Cloudflare's "Just a moment..." only as 200s). With the fingerprints
//! of the same change: 36 of 36, none wrong. Two GitHub-issue captures with status and
//! headers (HAProxy, Apache) made it 38 samples of 17 vendors, 38 of 38 right.
//! `cargo test -p rolecall-runner --test it corpus -- --nocapture` prints the table.
//!
//! The mock's personas are held to the same pages: a persona whose refusal is attributed
//! differently from the real pages of its vendor no longer looks like the real thing.
//! And a real F5 ASM rejection page served with 200 by a local server is a refusal, never
//! access granted.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use rolecall_mock::{DenyReason, DenyResponder, Persona};
use rolecall_runner::{Attribution, Evidence, Fingerprints, Outcome, classify};
use serde::Deserialize;

use crate::raw::{Next, RawServer};
use crate::{fetch, run_all, suite};

/// The manifest: one entry per captured response.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    sample: Vec<Sample>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sample {
    id: String,
    /// The body file, relative to the corpus directory.
    body: String,
    /// Where the bytes come from: `github:owner/name` with a path and commit, or the
    /// address of a GitHub issue that quotes the response.
    source: String,
    path: Option<String>,
    commit: Option<String>,
    license: String,
    /// The status, when the source recorded it.
    status: Option<u16>,
    /// Headers as captured, as (name, value).
    headers: Vec<(String, String)>,
    layer: String,
    vendor: String,
    note: String,
}

/// One sample as classified: a body-only sample gives one case per status tried.
struct Case {
    id: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    layer: String,
    vendor: String,
}

impl Case {
    fn attribution(&self) -> Attribution {
        attribute(self.status, &self.headers, &self.body)
    }

    fn expected(&self) -> String {
        format!("{}@{}", self.vendor, self.layer)
    }
}

/// The built-in fingerprints' answer for a response.
fn attribute(status: u16, headers: &[(String, String)], body: &str) -> Attribution {
    classify(
        Fingerprints::builtin(),
        &Evidence {
            status,
            headers,
            body,
        },
    )
}

fn named(attribution: &Attribution) -> String {
    format!("{}@{}", attribution.vendor, attribution.layer)
}

fn corpus_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/corpus"))
}

/// Reads the manifest; a malformed one fails with its own located message.
fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus_dir().join("MANIFEST.toml")).unwrap();
    let manifest: Manifest =
        toml::from_str(&text).unwrap_or_else(|error| panic!("corpus/MANIFEST.toml: {error}"));
    let mut out = Vec::new();
    for sample in manifest.sample {
        let id = &sample.id;
        if sample.source.starts_with("github:") {
            assert!(
                sample.path.as_deref().is_some_and(|path| !path.is_empty()),
                "{id}: provenance must name a repository and a path"
            );
            assert_eq!(
                sample.commit.as_deref().map(str::len),
                Some(40),
                "{id}: commit must be a full hash"
            );
        } else {
            let issue = sample
                .source
                .strip_prefix("https://github.com/")
                .and_then(|rest| rest.split_once("/issues/"))
                .is_some_and(|(_, number)| number.parse::<u32>().is_ok());
            assert!(
                issue && sample.path.is_none() && sample.commit.is_none(),
                "{id}: provenance is a repository file or a GitHub issue's address"
            );
        }
        assert!(
            !sample.license.is_empty() && !sample.note.is_empty(),
            "{id}"
        );
        sample
            .layer
            .parse::<rolecall_scenario::Layer>()
            .unwrap_or_else(|error| panic!("corpus/MANIFEST.toml: {id}: {error}"));
        let bytes = std::fs::read(corpus_dir().join(&sample.body)).unwrap();
        assert!(bytes.len() <= 64 * 1024, "{id}: samples stay under 64 KiB");
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let headers: Vec<(String, String)> = sample
            .headers
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        let statuses: &[u16] = match sample.status {
            Some(status) => &[status][..],
            None => &[200, 403],
        };
        for &status in statuses {
            out.push(Case {
                id: sample.id.clone(),
                status,
                headers: headers.clone(),
                body: body.clone(),
                layer: sample.layer.clone(),
                vendor: sample.vendor.clone(),
            });
        }
    }
    out
}

#[test]
fn every_captured_deny_page_is_attributed_to_its_vendor() {
    let cases = cases();
    let mut table = String::from("sample | status | expected | attributed\n");
    let mut wrong = Vec::new();
    let mut samples = std::collections::BTreeSet::new();
    let mut vendors = std::collections::BTreeSet::new();
    for case in &cases {
        samples.insert(case.id.as_str());
        vendors.insert(case.vendor.as_str());
        let attributed = named(&case.attribution());
        let expected = case.expected();
        writeln!(
            table,
            "{} | {} | {expected} | {attributed}",
            case.id, case.status
        )
        .unwrap();
        if attributed != expected {
            wrong.push(format!(
                "{} ({}): expected {expected}, got {attributed}",
                case.id, case.status
            ));
        }
    }
    println!("{table}");
    assert!(
        samples.len() >= 38 && vendors.len() >= 17,
        "the corpus shrank: {} samples, {} vendors",
        samples.len(),
        vendors.len()
    );
    assert!(wrong.is_empty(), "misattributed:\n{}", wrong.join("\n"));
}

/// Which real pages each persona imitates, and the refusal that shows the same page. The
/// personas without a counterpart here: CloudFront's own geo page, Varnish, Envoy, Kong,
/// API Gateway and Caddy (no capture with provenance yet; HAProxy and Varnish are compared
/// with the real Debian servers instead), and ModSecurity, whose persona answers with the
/// host server's page as a default Core Rule Set deny does, while the captured one is a
/// hosting company's. `every_persona_page_from_a_capture_has_a_counterpart` keeps the
/// personas built from captures in this table.
const COUNTERPARTS: [(Persona, DenyReason, &[&str]); 14] = [
    (
        Persona::Cloudflare,
        DenyReason::WafRule,
        &[
            "cloudflare-1020-old-template-a",
            "cloudflare-1020-old-template-c",
        ],
    ),
    (
        Persona::Cloudflare,
        DenyReason::IpBlocked,
        &[
            "cloudflare-1005-old-template-a",
            "cloudflare-1005-old-template-b",
        ],
    ),
    (
        Persona::AwsWaf,
        DenyReason::WafRule,
        &[
            "cloudfront-request-blocked-a",
            "cloudfront-request-blocked-c",
        ],
    ),
    (
        Persona::Akamai,
        DenyReason::IpBlocked,
        &["akamai-access-denied", "akamai-access-denied-bugbounty"],
    ),
    (Persona::Nginx, DenyReason::PathDenied, &["nginx-403"]),
    (
        Persona::Apache,
        DenyReason::PathDenied,
        &["apache-403-whatwaf"],
    ),
    (
        Persona::Haproxy,
        DenyReason::PathDenied,
        &["haproxy-403-whatwaf"],
    ),
    (
        Persona::Imperva,
        DenyReason::WafRule,
        &["incapsula-incident-a", "imperva-incident-bugbounty"],
    ),
    (
        Persona::F5Asm,
        DenyReason::WafRule,
        &["f5-asm-request-rejected"],
    ),
    (
        Persona::Fastly,
        DenyReason::PathDenied,
        &["fastly-varnish-403", "fastly-unknown-domain"],
    ),
    (
        Persona::Sucuri,
        DenyReason::UserAgentBlocked,
        &["sucuri-bugbounty", "sucuri-bad-bot"],
    ),
    (
        Persona::Perimeterx,
        DenyReason::UserAgentBlocked,
        &["perimeterx-denied-a", "perimeterx-denied-b"],
    ),
    (
        Persona::AzureApplicationGateway,
        DenyReason::WafRule,
        &["azure-application-gateway-403"],
    ),
    (
        Persona::AzureAppService,
        DenyReason::PathDenied,
        &["azure-app-service-stopped"],
    ),
];

/// The personas whose pages are real captures from this corpus (`mock/src/persona/
/// services.rs`) must each be compared with them here.
#[test]
fn every_persona_page_from_a_capture_has_a_counterpart() {
    for persona in Persona::ALL {
        let from_capture = matches!(
            persona,
            Persona::Imperva
                | Persona::F5Asm
                | Persona::Fastly
                | Persona::Sucuri
                | Persona::Perimeterx
                | Persona::AzureApplicationGateway
                | Persona::AzureAppService
        );
        let compared = COUNTERPARTS.iter().any(|(p, _, _)| *p == persona);
        assert!(
            !from_capture || compared,
            "the {} persona has no real page to be compared with",
            persona.name()
        );
    }
}

#[test]
fn each_persona_is_attributed_like_the_real_pages_of_its_vendor() {
    let cases = cases();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap();
    for (persona, reason, ids) in COUNTERPARTS {
        let server = runtime.block_on(async {
            let server = wiremock::MockServer::start().await;
            wiremock::Mock::given(wiremock::matchers::any())
                .respond_with(DenyResponder::new(persona, reason))
                .mount(&server)
                .await;
            server
        });
        let (status, headers, body) = fetch(&client, &format!("{}/x", server.uri()));
        let mock = named(&attribute(status, &headers, &body));
        for id in ids {
            let real = cases
                .iter()
                .find(|case| case.id == *id)
                .unwrap_or_else(|| panic!("no corpus sample {id}"));
            assert_eq!(
                mock,
                named(&real.attribution()),
                "the {} persona ({reason:?}) no longer looks like the real page {id}",
                persona.name()
            );
            // Without its headers the persona's page still names its vendor, as the
            // body-only captures do: the page decides, not the headers around it.
            let bare = named(&attribute(status, &[], &body));
            assert_eq!(
                bare,
                real.expected(),
                "{} page without headers",
                persona.name()
            );
        }
        runtime.block_on(async move { drop(server) });
    }
}

/// A real F5 ASM rejection page served with 200 (as ASM does by default) by a server on
/// loopback: the run reports a refusal by the WAF, never access granted, and no escalation.
#[test]
fn a_real_f5_rejection_page_served_with_200_is_a_refusal_not_access() {
    let page = std::fs::read(corpus_dir().join("bodies/f5-asm-request-rejected.html")).unwrap();
    let server = RawServer::start(move |_, _, stream| {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncache-control: no-cache\r\ncontent-length: {}\r\n\r\n",
            page.len()
        );
        match stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(&page))
        {
            Ok(()) => Next::KeepAlive,
            Err(_) => Next::Close,
        }
    });
    let (_dir, suite) = suite(&[
        (
            "rolecall.toml",
            &format!(
                "[defaults]\ntimeout = \"5s\"\n[targets.t]\nbase_url = \"{}\"\n[identities.viewer]\nbearer = \"viewer-token-1\"\n[identities.admin]\nbearer = \"admin-token-1\"\n",
                server.url()
            ),
        ),
        (
            "routes.toml",
            "[[route]]\nrequest = \"GET /orders/7\"\nallow = [\"admin\"]\ndeny = 403\n",
        ),
    ]);
    let run = run_all(&suite);
    assert!(run.results.len() >= 2);
    for result in &run.results {
        let name = &suite.cases[result.index].name;
        let attribution = result.attribution.as_ref().unwrap();
        assert_eq!(named(attribution), "f5-asm@waf", "{name}");
        let verdict = result.verdict.as_ref().unwrap();
        assert!(
            !verdict.escalation,
            "{name}: a block page is not access granted"
        );
        assert_eq!(result.outcome, Outcome::Fail, "{name}");
        let message = &verdict.mismatches[0].message;
        assert!(
            message.contains("refusal in disguise") || message.contains("f5-asm block page"),
            "{name}: {message}"
        );
    }
}

/// The mock's pages made from captures, and the capture each was made from. The mock cannot
/// read this corpus (it never depends on the runner), so it keeps copies; this holds them to
/// the originals: with each `{{placeholder}}` standing for any text, a template must still
/// match its capture whole. Edit a persona's page away from the real one and this fails.
const TEMPLATES: [(&str, &str); 7] = [
    ("imperva_incident.html", "incapsula-incident-a"),
    ("f5_asm_rejected.html", "f5-asm-request-rejected"),
    ("fastly_error.html", "fastly-varnish-403"),
    ("sucuri_block.html", "sucuri-bugbounty"),
    ("perimeterx_block.html", "perimeterx-denied-a"),
    (
        "azure_application_gateway.html",
        "azure-application-gateway-403",
    ),
    (
        "azure_app_service_stopped.html",
        "azure-app-service-stopped",
    ),
];

#[test]
fn persona_pages_made_from_captures_still_match_them() {
    let cases = cases();
    let pages = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../mock/pages"));
    let placeholder = regex::Regex::new(r"\\\{\\\{[a-z_]+\\\}\\\}").unwrap();
    for (template, id) in TEMPLATES {
        let text = std::fs::read_to_string(pages.join(template)).unwrap();
        let escaped = regex::escape(&text);
        let pattern = placeholder.replace_all(&escaped, "(?s:.*?)");
        let whole = regex::Regex::new(&format!(r"\A{pattern}\z")).unwrap();
        let real = cases
            .iter()
            .find(|case| case.id == id)
            .unwrap_or_else(|| panic!("no corpus sample {id}"));
        assert!(
            whole.is_match(&real.body),
            "mock/pages/{template} no longer matches the captured page {id}"
        );
    }
}
