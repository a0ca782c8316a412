//! Bypass variants against the real nginx and Apache: every configuration bypassable the
//! way real deployments are is found, the hardened ones give no false bypass, and Debian's
//! defaults (merge_slashes / MergeSlashes, percent-decoding and dot segments resolved
//! before matching, Apache's `AllowEncodedSlashes Off`) hold.
//!
//! The README's configuration × family table is rendered from the same data
//! ([`readme_table`]), so it states exactly what these trials assert.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use libtest_mimic::Failed;
use rolecall_runner::{Keep, Outcome, RunConfig};
use rolecall_scenario::BypassFamily;

use crate::{Kind, Servers};

/// One refusal configured on a real server, re-tried in every variant.
#[derive(Debug)]
struct Config {
    /// The route's name in the generated suite.
    route: &'static str,
    /// The refused request's path.
    path: &'static str,
    /// The configuration, as the README table shows it.
    setup: &'static str,
    /// Every variant that must be granted (a bypass); every other one must be refused.
    bypasses: &'static [&'static str],
    /// Variants refused with exactly this status: Debian's defaults at work.
    pinned: &'static [(&'static str, u16)],
}

/// A real server and the refusals its configuration (nginx.rs, apache.rs) holds.
#[derive(Debug)]
pub(crate) struct Server {
    /// The name the trial and the table show.
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// Requests in flight: Apache runs as one process (`-X`) serving one at a time.
    concurrency: usize,
    configs: &'static [Config],
}

/// Spellings both servers resolve before matching (MergeSlashes / merge_slashes on,
/// percent-decoding, dot segments), so the exact-match deny still refuses them.
const NORMALISED: &[(&str, u16)] = &[
    ("path-leading-double-slash", 403),
    ("path-inner-double-slash", 403),
    ("path-dot-segment", 403),
    ("path-percent-letter", 403),
];

/// [`NORMALISED`], and `AllowEncodedSlashes Off`: `%2f` refused with 404, not matched.
const APACHE_NORMALISED: &[(&str, u16)] = &[
    ("path-leading-double-slash", 403),
    ("path-inner-double-slash", 403),
    ("path-dot-segment", 403),
    ("path-percent-letter", 403),
    ("path-encoded-slash", 404),
];

/// Every server's trial, in table order.
pub(crate) const SERVERS: &[Server] = &[
    Server {
        name: "nginx",
        kind: Kind::Nginx,
        // nginx runs with 64 worker connections: the run keeps well under them.
        concurrency: 8,
        configs: &[
            Config {
                route: "exact_match",
                path: "/exact/admin",
                setup: "`location = /exact/admin { return 403; }` before an app serving `/exact/admin/`",
                bypasses: &["path-trailing-slash"],
                // merge_slashes on; percent-decoding and dot segments resolved first.
                pinned: NORMALISED,
            },
            Config {
                route: "prefix_deny",
                path: "/admin/",
                setup: "`location /admin/ { deny all; }` (hardened)",
                bypasses: &[],
                pinned: &[],
            },
            Config {
                route: "trusted_forwarded_for",
                path: "/internal/",
                setup: "`allow 10.0.0.0/8` with `real_ip_header X-Forwarded-For` from 127.0.0.1",
                bypasses: &["client-ip-x-forwarded-for-10"],
                pinned: &[],
            },
        ],
    },
    Server {
        name: "apache",
        kind: Kind::Apache,
        concurrency: 2,
        configs: &[
            Config {
                route: "exact_match",
                path: "/exact/admin",
                setup: "`<LocationMatch \"^/exact/admin$\">` `Require all denied` before a proxied app serving `/exact/admin/`",
                // The regex sees the path after Apache resolved `/.`: `/exact/admin/`.
                bypasses: &["path-dot-suffix", "path-trailing-slash"],
                pinned: APACHE_NORMALISED,
            },
            Config {
                route: "prefix_deny",
                path: "/admin/",
                setup: "`<Location /admin/>` `Require all denied` (hardened)",
                bypasses: &[],
                pinned: &[("path-encoded-slash", 404)],
            },
            Config {
                route: "trusted_forwarded_for",
                path: "/internal/",
                setup: "`Require ip 10.0.0.0/8` with `RemoteIPHeader X-Forwarded-For`, `RemoteIPInternalProxy 127.0.0.1`",
                bypasses: &["client-ip-x-forwarded-for-10"],
                pinned: &[],
            },
            Config {
                route: "peer_address",
                path: "/internal-peer/",
                setup: "`Require expr \"%{CONN_REMOTE_ADDR} -ipmatch '10.0.0.0/8'\"` (hardened: the peer, not a header)",
                bypasses: &[],
                pinned: &[],
            },
        ],
    },
];

/// The suite's routes: every configuration refuses the anonymous identity with 403.
fn routes(server: &Server) -> String {
    let mut text = String::new();
    for config in server.configs {
        let _ = write!(
            text,
            "[[route]]\nrequest = \"GET {}\"\nname = \"{}\"\nunauthenticated = 403\nbypass = true\n\n",
            config.path, config.route
        );
    }
    text
}

/// Runs every variant of every configuration of `server` and checks the outcome of each.
pub(crate) fn check(servers: &Servers, server: &Server) -> Result<(), Failed> {
    let real = servers.server(server.kind)?;
    let base_url = format!("http://127.0.0.1:{}", real.port);
    let dir = tempfile::Builder::new()
        .prefix("rolecall-bypass-")
        .tempdir()
        .map_err(|error| format!("cannot create the suite directory: {error}"))?;
    let suite_file = format!(
        "[defaults]\nconcurrency = {}\n[targets.t]\nbase_url = \"{base_url}\"\n[identities.anonymous]\n",
        server.concurrency
    );
    for (name, text) in [
        ("rolecall.toml", suite_file),
        ("routes.toml", routes(server)),
    ] {
        std::fs::write(dir.path().join(name), text)
            .map_err(|error| format!("cannot write {name}: {error}"))?;
    }
    let suite = rolecall_scenario::load(dir.path(), &rolecall_scenario::LoadOptions::new())
        .map_err(|error| format!("suite does not load:\n{error}"))?;
    let suite = Arc::new(suite);
    let all: Vec<usize> = (0..suite.cases.len()).collect();
    let output = rolecall_runner::run(
        Arc::clone(&suite),
        &RunConfig::default(),
        &all,
        Keep::Reports,
        |_, _, _| {},
    )
    .map_err(|error| format!("run failed: {error}"))?;
    let mut found = BTreeSet::new();
    let mut statuses = BTreeMap::new();
    let mut problems = Vec::new();
    for result in &output.results {
        let case = &suite.cases[result.index];
        let route = &suite.route(case).name;
        match (&case.variant, result.outcome) {
            (_, Outcome::Error) => problems.push(format!(
                "{}: {}",
                case.name,
                result.message.as_deref().unwrap_or("")
            )),
            (None, Outcome::Fail) => {
                problems.push(format!("{}: the refusal itself failed", case.name))
            }
            (Some(variant), Outcome::Fail) => {
                found.insert(format!("{route} {}", variant.name));
            }
            (Some(variant), _) => {
                if let Some(observed) = &result.observed {
                    statuses.insert(format!("{route} {}", variant.name), observed.status);
                }
            }
            _ => {}
        }
    }
    let expected: BTreeSet<String> = server
        .configs
        .iter()
        .flat_map(|c| c.bypasses.iter().map(move |v| format!("{} {v}", c.route)))
        .collect();
    for config in server.configs {
        for (variant, status) in config.pinned {
            let key = format!("{} {variant}", config.route);
            let got = statuses.get(&key);
            if got != Some(status) {
                problems.push(format!("{key}: expected {status}, got {got:?}"));
            }
        }
    }
    if found != expected || !problems.is_empty() || statuses.is_empty() {
        return Err(format!(
            "bypasses found: {found:#?}\nexpected: {expected:#?}\nstatuses of the refused \
             variants: {statuses:#?}\nproblems: {problems:#?}"
        )
        .into());
    }
    Ok(())
}

/// The README's table: configuration × family, from what [`check`] asserts.
pub(crate) fn readme_table() -> String {
    let mut out = String::from("| server | configuration |");
    for family in BypassFamily::ALL {
        let _ = write!(out, " `{}` |", family.as_str());
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(BypassFamily::ALL.len()));
    out.push('\n');
    for server in SERVERS {
        for config in server.configs {
            let _ = write!(out, "| {} | {} |", server.name, config.setup);
            for family in BypassFamily::ALL {
                let prefix = match family {
                    BypassFamily::ClientIp => "client-ip-".to_owned(),
                    other => format!("{}-", other.as_str()),
                };
                let hits: Vec<&str> = config
                    .bypasses
                    .iter()
                    .filter(|v| v.starts_with(&prefix))
                    .copied()
                    .collect();
                if hits.is_empty() {
                    out.push_str(" none, expected |");
                } else {
                    let _ = write!(out, " **bypass**, expected: `{}` |", hits.join("`, `"));
                }
            }
            out.push('\n');
        }
    }
    out
}

/// The README shows the table [`readme_table`] renders, byte for byte.
pub(crate) fn readme_matches() -> Result<(), Failed> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme =
        std::fs::read_to_string(path).map_err(|error| format!("cannot read README.md: {error}"))?;
    let table = readme_table();
    if readme.contains(&table) {
        Ok(())
    } else {
        Err(format!("README.md must contain the bypass table, exactly:\n{table}").into())
    }
}
