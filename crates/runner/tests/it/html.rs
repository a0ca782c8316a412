//! The HTML report: self-contained and escaped (checked on its text), and rendered by a
//! real headless chromium whose DOM, after the report's script ran, is checked: the
//! escalation first, the filters from the URL fragment, a hostile body shown as text.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rolecall_runner::{Attribution, CaseResult, HTML_EXCERPT, Observed, Outcome, RunOutput};
use rolecall_scenario::{Layer, Suite};

use crate::reports::{Fixture, fixture, html};

/// A response body that runs script if it is ever written as markup.
const HOSTILE: &str = "<script>document.documentElement.setAttribute(\"data-pwned\",\"1\")</script>\
     <img src=x onerror=\"document.title='pwned'\"></pre></details></td></tr></table>\
     <script>document.title='pwned'</script>";

/// The fixture's run with the escalation's body replaced by [`HOSTILE`] and a long tail,
/// and a route-level failure message holding `</script>`.
fn hostile_run(f: &Fixture) -> RunOutput {
    let mut run = f.run.clone();
    let escalation = run
        .results
        .iter_mut()
        .find(|r| f.suite.cases[r.index].name == "reports::archive::viewer")
        .unwrap();
    let observed = escalation.observed.as_mut().unwrap();
    observed.body = format!("{HOSTILE}{}", "x".repeat(2 * HTML_EXCERPT));
    let message = escalation.message.as_mut().unwrap();
    message.push_str("  body: </script><script>document.title='pwned'</script>\n");
    run
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn the_report_is_self_contained_and_escapes_what_the_target_sent() {
    let f = fixture();
    let run = hostile_run(&f);
    let page = html(&f.suite, &run);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
    ));
    // Nothing to load: no external URL in src, href or url(), no <link>, no @import.
    let external = regex::Regex::new(
        r#"(?i)(\b(src|href|action|srcset|poster)\s*=\s*["']?\s*(https?:)?//|url\(|@import|<link\b)"#,
    )
    .unwrap();
    assert_eq!(external.find(&page).map(|m| m.as_str()), None);
    // The only script and style elements are the report's own.
    assert_eq!(count(&page, "<script"), 1);
    assert_eq!(count(&page, "</script"), 1);
    assert_eq!(count(&page, "<style"), 1);
    assert_eq!(count(&page, "<img"), 0);
    assert!(
        page.contains("&lt;script&gt;document.documentElement.setAttribute(&quot;data-pwned&quot;")
    );
    assert!(page.contains("&lt;/script&gt;&lt;script&gt;document.title=&#39;pwned&#39;"));
    // The body is cut at its excerpt, saying so.
    let body_len = HOSTILE.len() + 2 * HTML_EXCERPT;
    assert!(
        page.contains(&format!(
            "cut here: first {HTML_EXCERPT} of {body_len} bytes shown"
        )),
        "{page}"
    );
    assert!(!page.contains(&"x".repeat(HTML_EXCERPT)));
    // A block per case in the matrices, an entry per failure or error above them, the
    // escalations first.
    assert_eq!(count(&page, "<div class=\"c "), run.results.len());
    let problems = run
        .results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Fail | Outcome::Error))
        .count();
    assert_eq!(count(&page, "<article class=\"p "), problems);
    let escalations = page.find("<section id=\"escalations\"").unwrap();
    let failures = page.find("<section id=\"failures\"").unwrap();
    let matrix = page.find("<section class=\"m\"").unwrap();
    assert!(escalations < failures && failures < matrix);
    assert_eq!(
        page.find("<article class=\"p ").unwrap(),
        page.find("<article class=\"p esc\"").unwrap()
    );
    // Locations relative to the suite's directory: no machine path.
    let dir = f.suite.root.display().to_string();
    assert!(!page.contains(&dir), "{dir}");
    assert!(page.contains("reports.toml:3:11"));
}

// --- chromium --------------------------------------------------------------------------

/// Runs headless chromium on `page` (written to a temporary file) with `fragment` and
/// returns the DOM after its scripts ran, or `None` when chromium is not installed outside
/// CI (under `CI=true` a missing chromium fails the test).
fn rendered(page: &str, fragment: &str) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.html");
    std::fs::write(&file, page).unwrap();
    let dom = dir.path().join("dom.html");
    let url = format!("file://{}{fragment}", file.display());
    chromium(dir.path(), &["--dump-dom".to_owned(), url], &dom)
        .map(|()| std::fs::read_to_string(&dom).unwrap())
}

/// Runs chromium with `args` after flags that keep it off the network and out of the
/// user's profile, stdout to `stdout`; `None` when it is not installed outside CI.
pub(crate) fn chromium(dir: &Path, args: &[String], stdout: &Path) -> Option<()> {
    let profile = dir.join("profile");
    let mut command = Command::new("chromium");
    command
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--disable-breakpad",
            "--metrics-recording-only",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        .env("XDG_CACHE_HOME", dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(stdout).unwrap())
        .stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("chromium is required under CI=true (Debian: apt-get install chromium): {e}")
        }
        Err(e) => {
            eprintln!("chromium not run ({e}); install chromium");
            return None;
        }
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let stderr = child.wait_with_output().unwrap().stderr;
            assert!(
                status.success(),
                "chromium failed ({status}): {}",
                String::from_utf8_lossy(&stderr)
            );
            return Some(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The opening tags of `class` elements (`<div class="c …">`, `<article class="p …">`,
/// `<tr>`) in the DOM, and whether each is hidden.
fn tags<'a>(dom: &'a str, pattern: &str) -> Vec<(&'a str, bool)> {
    regex::Regex::new(pattern)
        .unwrap()
        .find_iter(dom)
        .map(|m| (m.as_str(), m.as_str().contains(" hidden")))
        .collect()
}

fn visible(tags: &[(&str, bool)]) -> usize {
    tags.iter().filter(|(_, hidden)| !hidden).count()
}

const BLOCK: &str = r#"<div class="c [^"]*"[^>]*>"#;
const ENTRY: &str = r#"<article class="p [^"]*"[^>]*>"#;
const ROW: &str = r#"<tr[ >][^>]*"#;

#[test]
fn chromium_shows_the_escalation_first_and_a_hostile_body_as_text() {
    let f = fixture();
    let run = hostile_run(&f);
    let Some(dom) = rendered(&html(&f.suite, &run), "") else {
        return;
    };
    // The script ran (and nothing it did not write ran).
    assert!(dom.contains("data-ready=\"1\""), "{dom}");
    assert!(!dom.contains("data-pwned=\"1\""), "{dom}");
    assert!(dom.contains("<title>rolecall access matrix · local</title>"));
    assert!(!dom.contains("<img"));
    assert_eq!(count(&dom, "<script"), 1);
    // The body is in a <pre>, as text.
    assert!(
        dom.contains("<pre>&lt;script&gt;document.documentElement.setAttribute(\"data-pwned\",\"1\")&lt;/script&gt;&lt;img src=x"),
        "{dom}"
    );
    // Unfiltered: every case shown, the first entry is an escalation.
    let blocks = tags(&dom, BLOCK);
    assert_eq!(blocks.len(), run.results.len());
    assert_eq!(visible(&blocks), run.results.len());
    let entries = tags(&dom, ENTRY);
    assert!(
        entries[0].0.starts_with("<article class=\"p esc\""),
        "{entries:?}"
    );
    assert!(dom.contains(&format!("{} cases</span>", run.results.len())));
}

#[test]
fn chromium_applies_the_filters_of_the_url_fragment() {
    let f = fixture();
    let page = html(&f.suite, &f.run);
    let suite = &f.suite;
    let wanted = |outcome: Outcome, identity: &str| {
        f.run
            .results
            .iter()
            .filter(|r| {
                r.outcome == outcome && suite.identity(&suite.cases[r.index]).name == identity
            })
            .count()
    };

    let Some(dom) = rendered(&page, "#outcome=fail&identity=viewer") else {
        return;
    };
    let shown = wanted(Outcome::Fail, "viewer");
    assert!(shown >= 2, "the fixture has failures of viewer");
    assert_eq!(visible(&tags(&dom, BLOCK)), shown, "{dom}");
    assert_eq!(visible(&tags(&dom, ENTRY)), shown);
    assert!(dom.contains(&format!("{shown} of {} cases shown", f.run.results.len())));
    // Only the viewer's column is left.
    let columns = tags(&dom, r#"<th data-i="[^"]*"[^>]*>"#);
    let open: Vec<&str> = columns.iter().filter(|c| !c.1).map(|c| c.0).collect();
    assert!(
        open.iter().all(|c| c.starts_with("<th data-i=\"viewer\"")),
        "{open:?}"
    );
    assert_eq!(open.len(), 2, "one per route file");
    // Only rows with a viewer failure are left.
    let routes: std::collections::BTreeSet<usize> = f
        .run
        .results
        .iter()
        .filter(|r| {
            r.outcome == Outcome::Fail && suite.identity(&suite.cases[r.index]).name == "viewer"
        })
        .map(|r| suite.cases[r.index].route)
        .collect();
    let rows = tags(&dom, ROW);
    assert_eq!(
        visible(&rows) - 2,
        routes.len(),
        "head rows are always shown"
    );

    // Escalations only: the escalation section's entries, nothing of the failures.
    let Some(dom) = rendered(&page, "#outcome=escalation") else {
        return;
    };
    let escalations = f
        .run
        .results
        .iter()
        .filter(|r| r.verdict.as_ref().is_some_and(|v| v.escalation))
        .count();
    assert_eq!(escalations, 3);
    assert_eq!(visible(&tags(&dom, BLOCK)), escalations);
    assert_eq!(visible(&tags(&dom, ENTRY)), escalations);
    assert!(
        regex::Regex::new(r#"<section id="failures" class="list" hidden"#)
            .unwrap()
            .is_match(&dom)
    );

    // By layer: nothing answered from a CDN, and the page says so.
    let Some(dom) = rendered(&page, "#layer=cdn") else {
        return;
    };
    assert_eq!(visible(&tags(&dom, BLOCK)), 0);
    assert!(
        dom.contains("<p id=\"none\">No case matches the filters.</p>"),
        "{dom}"
    );
}

/// `n` cases over route files of 250 routes and 4 identities, with made-up results
/// (every outcome, bodies on failures), as a reporter sees them.
fn large(n: usize) -> (tempfile::TempDir, Arc<Suite>, RunOutput) {
    let routes: String = (0..250)
        .map(|i| format!("[[route]]\nrequest = \"GET /items/{i}\"\nallow = [\"admin\"]\n\n"))
        .collect();
    let names: Vec<String> = (0..n / 1_000).map(|i| format!("f{i:02}.toml")).collect();
    let mut files = vec![(
        "rolecall.toml",
        "[targets.t]\nbase_url = \"http://127.0.0.1:9\"\n[identities.anonymous]\n[identities.viewer]\nbearer = \"viewer-token-1111\"\n[identities.editor]\nbearer = \"editor-token-3333\"\n[identities.admin]\nbearer = \"admin-token-2222\"\n",
    )];
    for name in &names {
        files.push((name.as_str(), routes.as_str()));
    }
    let (dir, suite) = crate::suite(&files);
    assert_eq!(suite.cases.len(), n);
    let results = (0..n)
        .map(|index| {
            let granted = index % 97 == 0;
            let (outcome, status) = match index % 10 {
                _ if granted => (Outcome::Fail, 200),
                0 => (Outcome::Error, 0),
                1 => (Outcome::Skipped, 0),
                2 => (Outcome::Fail, 404),
                _ => (Outcome::Pass, 403),
            };
            let answered = status != 0;
            CaseResult {
                index,
                outcome,
                observed: answered.then(|| Observed {
                    status,
                    headers: Vec::new(),
                    body: if outcome == Outcome::Fail {
                        format!("{{\"error\":\"forbidden\",\"case\":{index}}}")
                    } else {
                        String::new()
                    },
                    truncated: None,
                    redirects: Vec::new(),
                    elapsed: Duration::from_millis(3),
                }),
                attribution: answered.then(|| Attribution {
                    layer: Layer::App,
                    vendor: "app".to_owned(),
                    evidence: Vec::new(),
                    ambiguity: None,
                }),
                request_id: answered.then(|| (format!("req-{index:08x}"), "header x-request-id")),
                verdict: None,
                message: (outcome != Outcome::Pass)
                    .then(|| format!("expected status 403, observed {status}\n  detail {index}\n")),
            }
        })
        .collect();
    let run = RunOutput {
        results,
        base_url: "http://127.0.0.1:9".to_owned(),
        secrets: Arc::new(suite.secrets.clone()),
        teardown_failures: Vec::new(),
    };
    (dir, suite, run)
}

#[test]
fn chromium_renders_a_report_of_10000_cases() {
    let (_dir, suite, run) = large(10_000);
    let started = Instant::now();
    let page = html(&suite, &run);
    let written = started.elapsed();
    let fails = run
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Fail)
        .count();
    let started = Instant::now();
    let Some(dom) = rendered(&page, "#outcome=fail") else {
        return;
    };
    eprintln!(
        "10,000-case HTML report: {} bytes, written in {written:?}, rendered and filtered by \
         chromium in {:?}",
        page.len(),
        started.elapsed()
    );
    assert!(dom.contains("data-ready=\"1\""));
    assert_eq!(count(&dom, "<div class=\"c "), 10_000);
    assert_eq!(visible(&tags(&dom, BLOCK)), fails);
    assert!(dom.contains(&format!("{fails} of 10000 cases shown")));
    assert!(page.len() < 12 * 1024 * 1024, "{} bytes", page.len());
}
