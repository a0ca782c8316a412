//! Descriptions of every version, captures and a small suite: coverage, findings, drafts,
//! and every kind of bad input with its location.

use std::path::{Path, PathBuf};

use rolecall_coverage::{
    Coverage, FindingKind, Inputs, Security, compute, from_description, from_har, read_description,
    read_har,
};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn suite() -> rolecall_scenario::Suite {
    rolecall_scenario::load(&data("suite"), &rolecall_scenario::LoadOptions::new()).unwrap()
}

/// `METHOD path security` for every operation of a description.
#[track_caller]
fn check_operations(file: &str, expected: &[&str]) {
    let d = read_description(&data(file)).unwrap();
    let got: Vec<String> = d
        .operations
        .iter()
        .map(|o| {
            format!(
                "{} {} {:?} [{}]",
                o.method, o.path, o.base_paths, o.security
            )
        })
        .collect();
    assert_eq!(got, expected);
}

/// Every error of reading `file`, as printed (paths relative to the data directory).
#[track_caller]
fn check_errors(errors: Vec<rolecall_coverage::InputError>, expected: &[&str]) {
    let root = format!(
        "{}/",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .display()
    );
    let got: Vec<String> = errors
        .iter()
        .map(|e| e.to_string().replace(&root, ""))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn swagger_2_keeps_opt_out_apart_from_inherited_and_optional_security() {
    check_operations(
        "swagger2.yaml",
        &[
            "GET /pets [\"/v1\"] [public (`security: []`)]",
            "POST /pets [\"/v1\"] [pet_auth (write:pets)]",
            "GET /pets/{petId} [\"/v1\"] [api_key]",
            "DELETE /pets/{petId} [\"/v1\"] [optional: api_key and pet_auth (write:pets)]",
        ],
    );
}

#[test]
fn openapi_3_0_follows_references_into_other_files_and_server_variables() {
    check_operations(
        "openapi30.json",
        &[
            "GET /pets [\"/api/v2\"] [bearer]",
            "GET /pets/{id}/photo.{format} [\"/media\"] [bearer]",
        ],
    );
}

#[test]
fn openapi_3_1_reads_mutual_tls_and_leaves_webhooks_out() {
    let d = read_description(&data("openapi31.yaml")).unwrap();
    assert_eq!(d.spec.to_string(), "OpenAPI 3.1");
    assert!(matches!(d.operations[0].security, Security::Optional(_)));
    check_operations(
        "openapi31.yaml",
        &[
            "GET /pets/{petId} [\"\"] [optional: oidc (pets.read)]",
            "PUT /pets/{petId} [\"\"] [oidc (pets.write) or mtls]",
        ],
    );
}

#[test]
fn a_broken_description_reports_every_problem_at_its_pointer() {
    check_errors(
        read_description(&data("broken.yaml")).unwrap_err(),
        &[
            "broken.yaml at `/paths/~1owners/get/responses`: `$ref` to `missing.yaml#/responses`: missing.yaml: cannot be read: No such file or directory (os error 2)",
            "broken.yaml at `/paths/~1remote`: `$ref` to `https://example.com/paths.yaml#/remote`: remote references are not followed; save the file and refer to it by a relative path",
            "broken.yaml at `/paths/~1pets~1{id}`: `$ref` to `#/components/pathItems/missing`: no such value",
        ],
    );
}

#[test]
fn semantic_problems_are_all_reported_once_references_resolve() {
    let dir = tempfile_dir();
    std::fs::write(
        dir.join("d.yaml"),
        "openapi: 3.0.0\ninfo: {title: t, version: '1'}\nsecurity: [{nowhere: []}]\npaths:\n  pets:\n    get: {}\n  /a:\n    get: 7\n",
    )
    .unwrap();
    let got = places(read_description(&dir.join("d.yaml")).unwrap_err());
    assert_eq!(
        got,
        [
            "Pointer(\"/security/0/nowhere\") no security scheme `nowhere` is defined",
            "Pointer(\"/paths/~1a/get\") an operation is an object",
            "Pointer(\"/paths/pets\") path `pets` does not start with `/`",
        ]
    );
}

/// Every error as its place and message.
fn places(errors: Vec<rolecall_coverage::InputError>) -> Vec<String> {
    errors
        .iter()
        .map(|e| format!("{:?} {}", e.place, e.message))
        .collect()
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rolecall-coverage-it-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn files_that_are_not_descriptions_or_captures_say_so() {
    check_errors(
        read_description(&data("not-openapi.json")).unwrap_err(),
        &[
            "not-openapi.json (at the root): neither `swagger` nor `openapi` is set: this is not an API description",
        ],
    );
    check_errors(
        read_har(&data("not-har.json")).unwrap_err(),
        &["not-har.json at `/log`: not a HAR file: expected `log.entries`, a list of requests"],
    );
    check_errors(
        read_har(&data("bad-entries.har")).unwrap_err(),
        &[
            "bad-entries.har at `/log/entries/1`: an entry needs `request.method` and `request.url`",
            "bad-entries.har at `/log/entries/2/request/url`: not an absolute URL",
        ],
    );
    check_errors(
        read_har(&data("swagger2.yaml")).unwrap_err(),
        &[
            "swagger2.yaml (at the root): not a HAR file: expected `log.entries`, a list of requests",
        ],
    );
}

fn coverage(description: Option<&str>, har: bool) -> Coverage {
    let suite = suite();
    let description = description.map(|d| read_description(&data(d)).unwrap());
    let captures = if har {
        vec![read_har(&data("capture.har")).unwrap()]
    } else {
        Vec::new()
    };
    compute(Inputs {
        suite: &suite,
        description: description.as_ref(),
        captures: &captures,
    })
}

#[test]
fn operations_are_matched_whatever_the_parameter_names_and_base_path() {
    let c = coverage(Some("swagger2.yaml"), false);
    let got: Vec<String> = c
        .operations
        .iter()
        .map(|o| {
            format!(
                "{} {} {} allowed={:?} refused={:?}",
                o.method,
                o.path,
                o.routes.len(),
                o.allowed,
                o.refused
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "GET /pets 1 allowed=[\"anonymous\", \"viewer\", \"keeper\", \"admin\", \"scoped\"] refused=[]",
            "POST /pets 1 allowed=[\"scoped\"] refused=[\"anonymous\", \"viewer\", \"keeper\", \"admin\"]",
            "GET /pets/{petId} 2 allowed=[\"anonymous\", \"viewer\", \"keeper\", \"admin\", \"scoped\"] refused=[\"anonymous\", \"admin\", \"scoped\"]",
            "DELETE /pets/{petId} 1 allowed=[\"admin\"] refused=[\"anonymous\", \"viewer\", \"keeper\", \"scoped\"]",
        ]
    );
    let undocumented: Vec<&str> = c.undocumented.iter().map(|r| r.request.as_str()).collect();
    assert_eq!(undocumented, ["GET /v1/health"]);
    assert_eq!(c.summary.percent, 100.0);
}

#[test]
fn declared_security_is_reconciled_with_the_suite() {
    let c = coverage(Some("swagger2.yaml"), false);
    let got: Vec<String> = c
        .findings
        .iter()
        .map(|f| format!("{:?} {} {:?}", f.kind, f.operation, f.identities))
        .collect();
    assert_eq!(
        got,
        [
            "ScopeMissing POST /pets [\"scoped\"]",
            "AnonymousAllowed GET /pets/{petId} [\"anonymous\"]",
            "PublicRefused DELETE /pets/{petId} [\"anonymous\"]",
        ]
    );
    assert!(
        c.findings
            .iter()
            .all(|f| f.kind != FindingKind::PublicRefused || f.declared.starts_with("optional"))
    );
}

#[test]
fn captures_are_attributed_to_identities_and_matched_to_operations() {
    let c = coverage(Some("swagger2.yaml"), true);
    let got: Vec<String> = c
        .captured
        .iter()
        .map(|r| {
            format!(
                "{} {} ×{} {:?} {:?} op={:?} exercised={}",
                r.method, r.path, r.count, r.statuses, r.identities, r.operation, r.exercised
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "GET /v1/pets/42 ×2 [200] [\"viewer\"] op=Some(\"GET /pets/{petId}\") exercised=true",
            "GET /v1/owners ×1 [200] [\"keeper\"] op=None exercised=false",
            "POST /v1/pets ×1 [403] [\"admin\"] op=Some(\"POST /pets\") exercised=true",
            "PUT /v1/pets/42/name ×1 [204] [\"scoped\"] op=None exercised=false",
            "GET /v1/pets ×1 [200] [] op=Some(\"GET /pets\") exercised=true",
        ]
    );
    // Four operations, all exercised, and two captured requests outside the description,
    // neither exercised: 4 of 6.
    assert_eq!(
        (c.summary.captured_only, c.summary.captured_only_exercised),
        (2, 0)
    );
    assert!(
        (c.summary.percent - 400.0 / 6.0).abs() < 1e-9,
        "{}",
        c.summary.percent
    );
}

#[test]
fn drafts_from_a_description_are_deny_by_default_and_pass_the_loader() {
    let suite = suite();
    let d = read_description(&data("swagger2.yaml")).unwrap();
    let drafts = from_description(&d, Some(&suite));
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].name, "pets.toml");
    assert_eq!(drafts[0].routes, 4);
    let text = &drafts[0].text;
    assert!(
        text.contains("request = \"GET /v1/pets/TODO-petId\"\nallow = []\n"),
        "{text}"
    );
    assert!(
        text.contains("# TODO(rolecall): the description declares it public"),
        "{text}"
    );
    assert!(!text.contains("allow = [\""), "{text}");
    loads_with(drafts);
}

#[test]
fn drafts_from_a_capture_name_identities_and_never_their_credentials() {
    let suite = suite();
    let har = read_har(&data("capture.har")).unwrap();
    let drafts = from_har(&[har], Some(&suite));
    let all: String = drafts.iter().map(|d| d.text.clone()).collect();
    for secret in [
        "demo-viewer-token-0001",
        "demo-keeper-key-0001",
        "cm9vd",
        "demo-admin-password",
        "token=x",
    ] {
        assert!(!all.contains(secret), "{secret} written: {all}");
    }
    assert!(
        all.contains("request = \"GET /v1/pets/42\"\nallow = [\"viewer\"]\n"),
        "{all}"
    );
    assert!(
        all.contains("captured as `admin` and refused (403)"),
        "{all}"
    );
    assert!(
        all.contains("captured with query parameters page, token (values left out)"),
        "{all}"
    );
    assert!(
        all.contains("request = \"PUT /v1/pets/42/name\"\nallow = [\"scoped\"]\n"),
        "{all}"
    );
    loads_with(drafts);
}

/// The suite with `drafts` added instead of its own routes loads without a problem.
#[track_caller]
fn loads_with(drafts: Vec<rolecall_coverage::Draft>) {
    let dir = tempfile_dir().join("drafts");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(data("suite/rolecall.toml"), dir.join("rolecall.toml")).unwrap();
    for d in &drafts {
        std::fs::write(dir.join(&d.name), &d.text).unwrap();
    }
    if let Err(e) = rolecall_scenario::load(&dir, &rolecall_scenario::LoadOptions::new()) {
        panic!("{}", e.render(rolecall_scenario::RenderStyle::Plain));
    }
}

#[test]
fn references_never_leave_the_description_directory() {
    let dir = tempfile_dir().join("refs");
    let api = dir.join("api");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&api).unwrap();
    // A file beside the directory, which an untrusted description must not make us read.
    let outside = dir.join("outside.yaml");
    std::fs::write(&outside, "Pets: {type: array}\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, api.join("link.yaml")).unwrap();
    let paths = format!(
        "paths:\n  /a:\n    get: {{responses: {{'200': {{description: ok, content: {{application/json: {{schema: {{$ref: '../outside.yaml#/Pets'}}}}}}}}}}}}\n  /b:\n    get: {{responses: {{'200': {{description: ok, content: {{application/json: {{schema: {{$ref: '{}#/Pets'}}}}}}}}}}}}\n  /c:\n    get: {{responses: {{'200': {{description: ok, content: {{application/json: {{schema: {{$ref: 'link.yaml#/Pets'}}}}}}}}}}}}\n",
        outside.display()
    );
    std::fs::write(
        api.join("d.yaml"),
        format!("openapi: 3.0.0\ninfo: {{title: t, version: '1'}}\n{paths}"),
    )
    .unwrap();
    let got = places(read_description(&api.join("d.yaml")).unwrap_err());
    let mut expected = vec![
        "Pointer(\"/paths/~1a/get/responses/200/content/application~1json/schema\") `$ref` to `../outside.yaml#/Pets`: the file is outside the description's directory; only files in it or below it are read".to_owned(),
        format!("Pointer(\"/paths/~1b/get/responses/200/content/application~1json/schema\") `$ref` to `{}#/Pets`: absolute paths are not followed; refer to a file by a path relative to the description", outside.display()),
    ];
    if cfg!(unix) {
        expected.push(format!(
            "Pointer(\"/paths/~1c/get/responses/200/content/application~1json/schema\") `$ref` to `link.yaml#/Pets`: {}: is a link to a file outside the description's directory; it is not read",
            api.join("link.yaml").display()
        ));
    }
    assert_eq!(got, expected);
}

#[test]
fn tokens_in_captured_paths_and_nameless_query_items_are_left_out() {
    let dir = tempfile_dir();
    let har = dir.join("tokens.har");
    std::fs::write(
        &har,
        r#"{"log": {"entries": [
            {"request": {"method": "GET", "url": "https://x.example/v1/pets/42/share/Xk3pQ9zLmN2vR8sT1wY?eyJhbGciOiJIUzI1NiJ9&page=1"}, "response": {"status": 200}},
            {"request": {"method": "GET", "url": "https://x.example/v1/pets/42/share/Zz8aB7cD6eF5gH4iJ3k"}, "response": {"status": 200}}
        ]}}"#,
    )
    .unwrap();
    let har = read_har(&har).unwrap();
    let got: Vec<(&str, &[String])> = har
        .captures
        .iter()
        .map(|c| (c.path.as_str(), c.query_names.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            ("/v1/pets/42/share/{token}", &["page".to_owned()][..]),
            ("/v1/pets/42/share/{token}", &[][..]),
        ]
    );
    let suite = suite();
    let drafts = from_har(&[har], Some(&suite));
    let all: String = drafts.iter().map(|d| d.text.clone()).collect();
    assert!(
        all.contains("request = \"GET /v1/pets/42/share/TODO-token\"\nallow = []\n"),
        "{all}"
    );
    loads_with(drafts);
}
