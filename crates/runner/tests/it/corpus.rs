//! Real deny responses that other people captured from real sites (see
//! `tests/it/corpus/README.md` for sources and licences), through the built-in fingerprints.
//!
//! Every sample must be attributed to the layer and vendor its manifest entry names. A
//! body-only sample (the source kept no status) is classified as a 200 and as a 403 and must
//! come out the same both times: a vendor's page is the vendor's whatever status it came with.
//!
//! Measured when the corpus was added: the classifier of that time attributed 3 of the 13
//! samples right (the Akamai page and both CloudFront "Request blocked." pages); both old
//! `<span>1005</span>` and both `<span>1020</span>` Cloudflare pages, the Cloudflare CAPTCHA,
//! Sucuri, both Imperva/Incapsula pages, F5 ASM and S3 came back unknown. With the
//! fingerprints of the same change: 13 of 13, none wrong.
//! `cargo test -p rolecall-runner --test it corpus -- --nocapture`
//! prints the table.

use std::fmt::Write as _;
use std::path::Path;

use rolecall_runner::{Evidence, Fingerprints, classify};
use serde::Deserialize;

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
    /// Where the bytes come from: `github:owner/name`.
    source: String,
    path: String,
    commit: String,
    license: String,
    /// The status, when the source recorded it.
    status: Option<u16>,
    /// Headers as captured, as (name, value).
    headers: Vec<(String, String)>,
    layer: String,
    vendor: String,
    note: String,
}

fn corpus_dir() -> &'static Path {
    static DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/corpus");
    Path::new(DIR)
}

/// Reads the manifest; a malformed one fails with its own located message.
pub(crate) fn samples() -> Vec<(String, u16, Vec<(String, String)>, String, String, String)> {
    let path = corpus_dir().join("MANIFEST.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let manifest: Manifest =
        toml::from_str(&text).unwrap_or_else(|error| panic!("corpus/MANIFEST.toml: {error}"));
    let mut out = Vec::new();
    for sample in manifest.sample {
        assert!(
            sample.source.starts_with("github:") && !sample.path.is_empty(),
            "{}: provenance must name a repository and a path",
            sample.id
        );
        assert_eq!(
            sample.commit.len(),
            40,
            "{}: commit must be a full hash",
            sample.id
        );
        assert!(
            !sample.license.is_empty() && !sample.note.is_empty(),
            "{}",
            sample.id
        );
        sample
            .layer
            .parse::<rolecall_scenario::Layer>()
            .unwrap_or_else(|error| panic!("corpus/MANIFEST.toml: {}: {error}", sample.id));
        let bytes = std::fs::read(corpus_dir().join(&sample.body)).unwrap();
        assert!(
            bytes.len() <= 64 * 1024,
            "{}: samples stay under 64 KiB",
            sample.id
        );
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
            out.push((
                sample.id.clone(),
                status,
                headers.clone(),
                body.clone(),
                sample.layer.clone(),
                sample.vendor.clone(),
            ));
        }
    }
    out
}

#[test]
fn every_captured_deny_page_is_attributed_to_its_vendor() {
    let samples = samples();
    assert!(samples.len() >= 13, "the corpus shrank: {}", samples.len());
    let mut table = String::from("sample | status | expected | attributed\n");
    let mut wrong = Vec::new();
    for (id, status, headers, body, layer, vendor) in &samples {
        let response = Evidence {
            status: *status,
            headers,
            body,
        };
        let got = classify(Fingerprints::builtin(), &response);
        let expected = format!("{vendor}@{layer}");
        let attributed = format!("{}@{}", got.vendor, got.layer);
        writeln!(table, "{id} | {status} | {expected} | {attributed}").unwrap();
        if attributed != expected {
            wrong.push(format!(
                "{id} ({status}): expected {expected}, got {attributed}"
            ));
        }
    }
    println!("{table}");
    assert!(wrong.is_empty(), "misattributed:\n{}", wrong.join("\n"));
}
