//! One contract between the mock and the classifier: every persona the mock has, refusing
//! for every reason it knows, must be attributed by the built-in fingerprints to the layer
//! and vendor the persona says it imitates (`Persona::attribution`). Both lists come from
//! the mock crate (`Persona::ALL`, `DenyReason::ALL`, each held to its enum by a unit test
//! there), so a persona added without teaching the classifier its pages fails here.
//!
//! Where production itself cannot tell two vendors apart (a default ModSecurity deny is the
//! host server's own page), the classifier may name the other one, but its ambiguity note
//! must then name the persona's vendor.

use rolecall_mock::{DenyReason, DenyResponder, Persona};
use rolecall_runner::{Evidence, Fingerprints, classify};

use crate::fetch;

/// The path each reason is mounted on.
fn path(reason: DenyReason) -> String {
    format!("/{reason:?}")
}

#[test]
fn every_persona_refusing_for_every_reason_is_attributed_to_its_vendor() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut table = String::from("| persona | reason | status | expected | attributed |\n");
    let mut wrong = Vec::new();
    let mut checked = 0;
    for persona in Persona::ALL {
        let server = runtime.block_on(async {
            let server = wiremock::MockServer::start().await;
            for reason in DenyReason::ALL {
                wiremock::Mock::given(wiremock::matchers::path(path(reason)))
                    .respond_with(DenyResponder::new(persona, reason))
                    .mount(&server)
                    .await;
            }
            server
        });
        for reason in DenyReason::ALL {
            let (status, headers, body) =
                fetch(&client, &format!("{}{}", server.uri(), path(reason)));
            let got = classify(
                Fingerprints::builtin(),
                &Evidence {
                    status,
                    headers: &headers,
                    body: &body,
                },
            );
            let (layer, vendor) = persona.attribution(reason);
            let exact = got.layer == layer && got.vendor == vendor;
            let named_as_alternative = got.ambiguity.as_deref().is_some_and(|note| {
                note.to_ascii_lowercase()
                    .contains(&vendor.replace('-', "").to_ascii_lowercase())
            });
            table.push_str(&format!(
                "| {} | {reason:?} | {status} | {vendor}@{layer} | {}@{}{} |\n",
                persona.name(),
                got.vendor,
                got.layer,
                if exact { "" } else { " (alternative named)" }
            ));
            if !exact && !named_as_alternative {
                wrong.push(format!(
                    "{} {reason:?} ({status}): expected {vendor}@{layer}, classified {}@{}\n{got:#?}\n{body}",
                    persona.name(),
                    got.vendor,
                    got.layer
                ));
            }
            checked += 1;
        }
        runtime.block_on(async move { drop(server) });
    }
    println!("{table}");
    assert_eq!(checked, Persona::ALL.len() * DenyReason::ALL.len());
    assert!(
        wrong.is_empty(),
        "{} of {checked} refusals are not attributed as their persona says:\n{}",
        wrong.len(),
        wrong.join("\n\n")
    );
}
