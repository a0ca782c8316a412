//! `rolecall diff` and `rolecall run --baseline`: drift between reports, escalations first,
//! and the exit statuses they decide.

use std::path::Path;
use std::process::Output;

use crate::server::Recorder;
use crate::{rolecall, text, write};

/// A case of a hand-written report; `status` 0 is a case that was not sent.
fn case(name: &str, status: u16, layer: &str, vendor: &str) -> String {
    if status == 0 {
        return format!(
            r#"{{"name":"{name}","identity":"viewer","location":"r.toml:1:11","outcome":"skipped","observed":null,"message":"writes are off"}}"#
        );
    }
    format!(
        r#"{{"name":"{name}","identity":"viewer","method":"GET","path":"/x","location":"r.toml:{status}:11","expected":{{"status":"403","decision":"deny","layer":null,"vendor":null}},"observed":{{"status":{status},"request_id":null,"layer":"{layer}","vendor":"{vendor}","evidence":[],"ambiguity":null,"elapsed_ms":3}},"outcome":"pass","message":null}}"#
    )
}

fn report(cases: &[String]) -> String {
    format!(
        r#"{{"version":1,"target":"t","base_url":"http://127.0.0.1:9","summary":{{"pass":0,"fail":0,"skipped":0,"error":0}},"cases":[{}]}}"#,
        cases.join(",\n")
    )
}

fn diff(dir: &Path, old: &str, new: &str) -> Output {
    write(dir, &[("old.json", old), ("new.json", new)]);
    rolecall(&["diff", "old.json", "new.json"], dir)
}

/// The line numbers at which each needle starts a line of `out`, in order; fails when one
/// is missing.
#[track_caller]
fn lines_of(out: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|needle| {
            out.lines()
                .position(|l| l.starts_with(needle))
                .unwrap_or_else(|| panic!("no line starting with `{needle}` in:\n{out}"))
        })
        .collect()
}

#[test]
fn diff_lists_every_kind_of_drift_escalations_first_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let old = report(&[
        case("r::layer::viewer", 403, "app", "app"),
        case("r::vendor::viewer", 403, "waf", "cloudflare"),
        case("r::conceal::viewer", 403, "app", "app"),
        case("r::refused::viewer", 200, "app", "app"),
        case("r::granted::viewer", 403, "waf", "cloudflare"),
        case("r::same::viewer", 404, "app", "app"),
        case("r::gone::viewer", 403, "app", "app"),
        case("r::unsent::viewer", 403, "app", "app"),
    ]);
    let new = report(&[
        case("r::layer::viewer", 403, "waf", "cloudflare"),
        case("r::vendor::viewer", 403, "waf", "akamai"),
        case("r::conceal::viewer", 404, "app", "app"),
        case("r::refused::viewer", 401, "app", "app"),
        case("r::granted::viewer", 200, "app", "app"),
        case("r::same::viewer", 404, "app", "app"),
        case("r::new::viewer", 200, "app", "app"),
        case("r::unsent::viewer", 0, "", ""),
    ]);
    let out = diff(dir.path(), &old, &new);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let at = lines_of(
        &stdout,
        &[
            "drift: 5 of 6 compared cases changed",
            "newly granted access (possible escalation) (1):",
            "  r::granted::viewer  403 waf/cloudflare -> 200 app  (r.toml:200:11)",
            "newly refused access (1):",
            "  r::refused::viewer  200 app -> 401 app  (r.toml:401:11)",
            "other status changes (1):",
            "  r::conceal::viewer  403 app -> 404 app  (r.toml:404:11)",
            "same status from another layer or vendor (2):",
            "  r::layer::viewer  403 app -> 403 waf/cloudflare",
            "  r::vendor::viewer  403 waf/cloudflare -> 403 waf/akamai",
            "added (not in the old report) (1):",
            "  r::new::viewer",
            "removed (not in the new report) (1):",
            "  r::gone::viewer",
            "not comparable (no response in one report) (1):",
            "  r::unsent::viewer  pass -> skipped",
        ],
    );
    assert!(at.is_sorted(), "out of order: {at:?}\n{stdout}");
    assert!(!stdout.contains("r::same::viewer"), "{stdout}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn diff_without_drift_exits_0_even_with_cases_added_removed_or_unsent() {
    let dir = tempfile::tempdir().unwrap();
    let old = report(&[
        case("r::a::viewer", 403, "app", "app"),
        case("r::gone::viewer", 403, "app", "app"),
        case("r::b::viewer", 0, "", ""),
    ]);
    let new = report(&[
        case("r::a::viewer", 403, "app", "app"),
        case("r::new::viewer", 200, "app", "app"),
        case("r::b::viewer", 200, "app", "app"),
    ]);
    let out = diff(dir.path(), &old, &new);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("no drift: 1 case compared\n"),
        "{stdout}"
    );
    lines_of(
        &stdout,
        &[
            "  r::new::viewer",
            "  r::gone::viewer",
            "  r::b::viewer  skipped -> pass",
        ],
    );
    // A report compared with itself.
    let out = diff(dir.path(), &new, &new);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_report_from_an_older_suite_compares_without_its_missing_fields() {
    let dir = tempfile::tempdir().unwrap();
    // No version, summary, location, outcome, layer or vendor; and a newer report with
    // fields this version does not know.
    let old =
        r#"{"cases":[{"name":"r::a::viewer","observed":{"status":403}},{"name":"r::b::viewer"}]}"#;
    let new = r#"{"version":1,"index":[],"cases":[{"name":"r::a::viewer","mismatches":[{"kind":"status"}],"observed":{"status":200,"layer":"app","vendor":"app","extra":1}},{"name":"r::b::viewer","observed":{"status":403}}]}"#;
    let out = diff(dir.path(), old, new);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    lines_of(
        &stdout,
        &[
            "newly granted access (possible escalation) (1):",
            "  r::a::viewer  403 unknown -> 200 app\n",
            "not comparable (no response in one report) (1):",
            "  r::b::viewer",
        ]
        .map(|l| l.trim_end_matches('\n')),
    );
}

#[test]
fn diff_of_what_is_not_a_report_exits_2_saying_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let good = report(&[case("r::a::viewer", 403, "app", "app")]);
    for (old, needle) in [
        (
            r#"{"target":"t","summary":{}}"#.to_owned(),
            "error: old.json: not a rolecall report: no `cases` array",
        ),
        (
            "{\"cases\": [\n  {\"name\": \"a\",}\n]}".to_owned(),
            "error: old.json:2:16: not JSON: key must be a string",
        ),
        (
            "<html>502 Bad Gateway</html>".to_owned(),
            "error: old.json:1:1: not JSON: expected value",
        ),
        (
            r#"[{"name":"r::a::viewer"}]"#.to_owned(),
            "error: old.json: not a rolecall report: the top level is not an object",
        ),
        (
            r#"{"cases":[{"observed":null}]}"#.to_owned(),
            "error: old.json: not a rolecall report: missing field `name` (line 1, column 27)",
        ),
        (
            good.replace(r#""version":1"#, r#""version":2"#),
            "error: old.json: report version 2 is newer than this rolecall reads (version 1)",
        ),
    ] {
        let out = diff(dir.path(), &old, &good);
        assert_eq!(out.status.code(), Some(2), "{old}: {}", text(&out));
        assert!(out.stdout.is_empty(), "{}", text(&out));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.starts_with(needle),
            "{old}: expected `{needle}` in:\n{stderr}"
        );
    }
    // Both files at fault: both are named.
    let out = rolecall(&["diff", "missing.json", "old.json"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("error: cannot read report `missing.json`: ")
            && stderr.contains("\nerror: old.json: report version 2 is newer"),
        "{stderr}"
    );
}

#[test]
fn a_baseline_that_is_not_a_report_exits_2_before_anything_is_sent() {
    let recorder = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "rolecall.toml",
                &format!(
                    "[targets.t]\nbase_url = \"{}\"\n[identities.viewer]\nbearer = \"viewer-token-1234\"\n",
                    recorder.url()
                ),
            ),
            ("r.toml", "[[route]]\nrequest = \"GET /a\"\npublic = true\n"),
            ("base.json", r#"{"cases": 3}"#),
        ],
    );
    let out = rolecall(&["run", ".", "--baseline", "base.json"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("error: baseline: base.json: not a rolecall report: invalid type: integer `3`, expected a sequence (line 1, column 11)"),
        "{}",
        text(&out)
    );
    // A baseline that does not exist must be writable.
    let out = rolecall(
        &["run", ".", "--baseline", "no/such/dir/base.json"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("cannot write report `no/such/dir/base.json`"),
        "{}",
        text(&out)
    );
    assert_eq!(recorder.connections(), 0, "a request was sent");
    // The same suite with a valid baseline runs.
    std::fs::remove_file(dir.path().join("base.json")).unwrap();
    let out = rolecall(&["run", ".", "--baseline", "base.json"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(recorder.connections() > 0);
}

/// The example suite's route files and mock configuration, copied into `dir`.
fn copy_example_suite(dir: &Path) {
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    for entry in std::fs::read_dir(scenarios).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// Replaces `from` (which must be there) in `dir/file`.
fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "`{from}` not in {file}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// The lines of the drift section a run prints after its summary.
fn drift_section(stdout: &str) -> &str {
    let start = stdout
        .find("\nbaseline `base.json`: ")
        .unwrap_or_else(|| panic!("no drift section in:\n{stdout}"));
    &stdout[start + 1..]
}

fn cases_in(report: &Path) -> usize {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    report["cases"].as_array().unwrap().len()
}

const INVOICES: &str = "billing::get_v1_tenants_tenant_billing_invoices";

#[test]
fn a_loosened_mock_rule_is_an_escalation_listed_first_by_run_and_diff() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path();
    copy_example_suite(suite);

    // The first run writes the baseline.
    let first = rolecall(
        &[
            "run",
            ".",
            "--baseline",
            "base.json",
            "--report",
            "json=before.json",
        ],
        suite,
    );
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let n = cases_in(&suite.join("before.json"));
    let stdout = String::from_utf8(first.stdout).unwrap();
    assert!(
        stdout.contains(&format!("\nbaseline `base.json` written ({n} cases): the next run with `--baseline` compares with it\n")),
        "{stdout}"
    );
    let baseline = std::fs::read_to_string(suite.join("base.json")).unwrap();
    let written: serde_json::Value = serde_json::from_str(&baseline).unwrap();
    assert_eq!(written["version"], 1);

    // Viewers may now read invoices: the mock app lets through what the suite refuses.
    edit(
        suite,
        "mock.toml",
        "request = \"GET /v1/tenants/{tenant}/billing/invoices\"\nroles = [\"admin\"]",
        "request = \"GET /v1/tenants/{tenant}/billing/invoices\"\nroles = [\"viewer\", \"admin\"]",
    );
    let second = rolecall(
        &[
            "run",
            ".",
            "--baseline",
            "base.json",
            "--report",
            "json=after.json",
        ],
        suite,
    );
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    let stdout = String::from_utf8(second.stdout).unwrap();
    let drift = drift_section(&stdout);
    let expected = format!(
        "baseline `base.json`: drift: 2 of {n} compared cases changed\n\
         newly granted access (possible escalation) (2):\n  \
         {INVOICES}::viewer  403 app -> 200 app  (billing.toml:5:11)\n  \
         {INVOICES}::session_user  403 app -> 200 app  (billing.toml:5:11)\n"
    );
    assert_eq!(drift, expected);
    // The baseline is kept as it was: the next run compares with it again.
    assert_eq!(
        std::fs::read_to_string(suite.join("base.json")).unwrap(),
        baseline
    );

    // `rolecall diff` of the two reports says the same and exits 1.
    let out = rolecall(&["diff", "before.json", "after.json"], suite);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        expected.trim_start_matches("baseline `base.json`: ")
    );

    // Once the suite agrees (viewers may read invoices), every case passes, yet newly
    // granted access still fails the run.
    edit(
        suite,
        "billing.toml",
        "allow = [\"admin\", \"globex_admin\"]",
        "allow = [\"admin\", \"globex_admin\", \"viewer\", \"session_user\"]",
    );
    let third = rolecall(&["run", ".", "--baseline", "base.json"], suite);
    let stdout = String::from_utf8(third.stdout.clone()).unwrap();
    assert!(
        stdout.contains(&format!("\n{n} passed, 0 failed, 0 skipped, 0 errors;")),
        "{stdout}"
    );
    assert!(drift_section(&stdout).contains("newly granted access (possible escalation) (2):\n"));
    assert_eq!(third.status.code(), Some(1), "{}", text(&third));
}

#[test]
fn other_drift_is_printed_after_the_summary_but_leaves_the_exit_status_to_the_cases() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path();
    copy_example_suite(suite);
    let first = rolecall(&["run", ".", "--report", "json=run.json"], suite);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let n = cases_in(&suite.join("run.json"));
    // A baseline in which the viewer's refusal to read invoices came from the WAF as a
    // 404: this run's 403 from the app is a status change, not an escalation.
    let mut baseline: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(suite.join("run.json")).unwrap()).unwrap();
    let cases = baseline["cases"].as_array_mut().unwrap();
    let viewer = cases
        .iter_mut()
        .find(|c| c["name"] == format!("{INVOICES}::viewer"))
        .unwrap();
    assert_eq!(viewer["observed"]["status"], 403);
    viewer["observed"]["status"] = 404.into();
    viewer["observed"]["layer"] = "waf".into();
    viewer["observed"]["vendor"] = "cloudflare".into();
    std::fs::write(suite.join("base.json"), baseline.to_string()).unwrap();

    let out = rolecall(&["run", ".", "--baseline", "base.json"], suite);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let summary = stdout
        .find(&format!("\n{n} passed, 0 failed"))
        .expect(&stdout);
    let drift = stdout
        .find(&format!("\nbaseline `base.json`: drift: 1 of {n} compared"))
        .expect(&stdout);
    assert!(summary < drift, "{stdout}");
    assert!(
        drift_section(&stdout).ends_with(&format!(
            "other status changes (1):\n  {INVOICES}::viewer  404 waf/cloudflare -> 403 app  (billing.toml:5:11)\n"
        )),
        "{stdout}"
    );
}

/// `--target weak` of the example suite runs the same suite against `mock-weak.toml`: the
/// example mock with planted mistakes. The bypass variants and the deny-body contract catch
/// them offline, and nothing else fails.
#[test]
fn the_weak_example_target_shows_a_caught_bypass_and_a_caught_leak() {
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mock = std::fs::read_to_string(scenarios.join("mock.toml")).unwrap();
    let weak = std::fs::read_to_string(scenarios.join("mock-weak.toml")).unwrap();
    // The two stay in step: the weak one is the example mock, its planted lines apart.
    let body = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| match l.find("   # planted") {
                Some(at) => l[..at].to_owned(),
                None => l.to_owned(),
            })
            .collect()
    };
    let planted = [
        (
            r#"allow = ["198.51.100.0/24"] }"#,
            r#"allow = ["198.51.100.0/24", "10.0.0.0/8"] }"#,
        ),
        (
            "request = \"GET /internal/metrics\"\nroles = [\"admin\"]",
            "request = \"GET /internal/metrics\"\npublic = true",
        ),
        (
            "projects/{project}/audit-log\"\nroles = [\"admin\"]\n",
            "projects/{project}/audit-log\"\nroles = [\"admin\"]\nleak = \"Traceback (most recent call last):\\n  File \\\"/srv/acme/api/policy.py\\\", line 88, in check\\nPermissionError: audit-log needs role admin\"\n",
        ),
    ];
    let mut expected = body(&mock).join("\n");
    for (before, after) in planted {
        assert_eq!(expected.matches(before).count(), 1, "{before}");
        expected = expected.replace(before, after);
    }
    assert_eq!(
        body(&weak).join("\n"),
        expected,
        "mock-weak.toml is mock.toml with its planted lines"
    );
    assert_eq!(weak.matches("   # planted").count(), 3);

    let dir = tempfile::tempdir().unwrap();
    let out = rolecall(
        &[
            "run",
            scenarios.to_str().unwrap(),
            "--target",
            "weak",
            "--report",
            "json=weak.json",
        ],
        dir.path(),
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("weak.json")).unwrap()).unwrap();
    let failed: Vec<(&str, &str)> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] != "pass")
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["message"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let bypass = failed.iter().find(|(name, _)| {
        *name == "edge::get_internal_metrics::viewer::client-ip-x-forwarded-for-10"
    });
    let (_, bypass) = bypass.expect("the X-Forwarded-For bypass is caught");
    assert!(bypass.contains("POSSIBLE BYPASS"), "{bypass}");
    assert!(bypass.contains("X-Forwarded-For: 10.0.0.1"), "{bypass}");
    let leak = failed.iter().find(|(name, _)| {
        *name == "projects::get_v1_tenants_tenant_projects_p_100_audit_log::viewer"
    });
    let (_, leak) = leak.expect("the traceback in the audit log's refusals is caught");
    assert!(
        leak.contains("refusal leaks a stack trace (stack_trace)"),
        "{leak}"
    );
    for (name, message) in &failed {
        assert!(
            name.starts_with("edge::get_internal_metrics::")
                || name.starts_with("projects::get_v1_tenants_tenant_projects_p_100_audit_log::"),
            "only the planted mistakes fail, not {name}: {message}"
        );
    }
}
