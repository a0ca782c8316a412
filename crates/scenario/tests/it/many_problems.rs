//! Many problems: every one is reported and rendered, whatever their number. (How fast is
//! measured by `cargo xtask bench scenario`, not here.)

use std::fmt::Write as _;

use rolecall_scenario::RenderStyle;

use crate::{no_env, suite_dir};

const SUITE: &str = "[targets.local]\nbase_url = \"http://127.0.0.1:9\"\n[identities.anonymous]\n[identities.admin]\nbearer = \"admin-token-5678\"\n";
const N: usize = 20_000;

#[track_caller]
fn check_all_reported(routes: &str, message: impl Fn(usize) -> String) {
    let dir = suite_dir(&[("rolecall.toml", SUITE), ("routes.toml", routes)]);
    let error = rolecall_scenario::load(dir.path(), &no_env()).expect_err("the suite loaded");
    let messages: Vec<&str> = error
        .diagnostics()
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(messages.len(), N);
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(*m, message(i));
    }
    let rendered = error.render(RenderStyle::Plain);
    assert_eq!(rendered.matches("\nerror: ").count() + 1, N + 1);
    assert!(
        rendered.ends_with(&format!("due to {N} previous errors\n")),
        "{}",
        &rendered[rendered.len().saturating_sub(200)..]
    );
}

#[test]
fn every_unknown_identity_of_many_routes_is_reported() {
    let mut routes = String::new();
    for i in 0..N {
        writeln!(
            routes,
            "[[route]]\nrequest = \"GET /r/{i}\"\nallow = [\"nobody{i:05}\"]"
        )
        .unwrap();
    }
    check_all_reported(&routes, |i| format!("unknown identity `nobody{i:05}`"));
}

#[test]
fn every_unknown_key_of_one_route_is_reported() {
    let mut routes = String::from("[[route]]\nrequest = \"GET /r\"\n");
    for i in 0..N {
        writeln!(routes, "k{i:05} = 1").unwrap();
    }
    check_all_reported(&routes, |i| format!("unknown key `k{i:05}`"));
}

#[test]
fn every_unknown_identity_on_one_long_line_is_reported() {
    let mut routes = String::from("[[route]]\nrequest = \"GET /r\"\nallow = [");
    for i in 0..N {
        write!(routes, "\"nobödy{i:05}\", ").unwrap();
    }
    routes.push_str("]\n");
    check_all_reported(&routes, |i| format!("unknown identity `nobödy{i:05}`"));
}
