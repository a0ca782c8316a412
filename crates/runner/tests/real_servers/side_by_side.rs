//! The mock edge beside the real server it imitates: the same refusal configured on both,
//! the same request sent to both, and the answers compared field by field.
//!
//! The mock's nginx and Apache personas promise the real servers' pages byte for byte;
//! this is where that promise meets nginx and Apache from the Debian packages. Each pair
//! also checks that attribution cannot tell the two apart: same layer, same vendor, same
//! ambiguity note (or none).

use std::net::SocketAddr;
use std::path::Path;

use libtest_mimic::Failed;
use rolecall_mock::{MockConfig, MockServer};

use crate::{Kind, Observed, Request, Servers, get, send, send_to, with};

/// One refusal on a real server and its imitation on the mock edge.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pair {
    pub(crate) name: &'static str,
    pub(crate) server: Kind,
    pub(crate) request: Request,
    /// `mock.toml` without `[origin]`: the mock proxies to the same app as the real server.
    pub(crate) mock: &'static str,
    /// What both answers must be attributed to.
    pub(crate) layer: &'static str,
    pub(crate) vendor: &'static str,
}

// id=1' OR '1'='1, the textbook tautology both the Core Rule Set and the mock's sqli
// preset block.
const SQLI: &str = "/index.html?id=1%27%20OR%20%271%27%3D%271";

pub(crate) const PAIRS: &[Pair] = &[
    Pair {
        name: "side_by_side::nginx::deny_all_location",
        server: Kind::Nginx,
        request: get("/admin/"),
        mock: "[edge]\nserver = \"nginx\"\n[[layer]]\npath_deny = { prefixes = [\"/admin\"] }\n",
        layer: "server",
        vendor: "nginx",
    },
    Pair {
        name: "side_by_side::nginx::autoindex_off",
        server: Kind::Nginx,
        request: get("/files/"),
        mock: "[edge]\nserver = \"nginx\"\n[[layer]]\ndirectory_listing = { prefixes = [\"/files\"] }\n",
        layer: "server",
        vendor: "nginx",
    },
    Pair {
        name: "side_by_side::nginx::proxied_app_json_403",
        server: Kind::Nginx,
        request: get("/api/private"),
        mock: "[edge]\nserver = \"nginx\"\n",
        layer: "app",
        vendor: "app",
    },
    Pair {
        name: "side_by_side::apache::require_all_denied",
        server: Kind::ApacheStock,
        request: get("/admin/"),
        mock: "[edge]\nserver = \"apache\"\n[[layer]]\npath_deny = { prefixes = [\"/admin\"] }\n",
        layer: "server",
        vendor: "apache",
    },
    Pair {
        // Without a port in Host both say `Port 80`: the pages match with no normalising.
        name: "side_by_side::apache::require_all_denied_host_without_port",
        server: Kind::ApacheStock,
        request: with("/admin/", &[("host", "localhost")]),
        mock: "[edge]\nserver = \"apache\"\n[[layer]]\npath_deny = { prefixes = [\"/admin\"] }\n",
        layer: "server",
        vendor: "apache",
    },
    Pair {
        name: "side_by_side::apache::options_no_indexes",
        server: Kind::ApacheStock,
        request: get("/files/"),
        mock: "[edge]\nserver = \"apache\"\n[[layer]]\ndirectory_listing = { prefixes = [\"/files\"] }\n",
        layer: "server",
        vendor: "apache",
    },
    Pair {
        name: "side_by_side::apache::modsecurity_crs_sqli",
        server: Kind::ApacheStock,
        request: get(SQLI),
        mock: "[edge]\nserver = \"apache\"\n[[layer]]\nwaf = { persona = \"modsecurity\", presets = [\"sqli\"] }\n",
        // A default ModSecurity block is Apache's own 403 page; both answers must say so,
        // with the ModSecurity caveat, rather than guess.
        layer: "server",
        vendor: "apache",
    },
    // HAProxy and Varnish from Debian beside the mock's personas of them.
    Pair {
        name: "side_by_side::haproxy::http_request_deny_path",
        server: Kind::Haproxy,
        request: get("/admin/"),
        mock: "[[layer]]\npath_deny = { persona = \"haproxy\", prefixes = [\"/admin\"] }\n",
        layer: "server",
        vendor: "haproxy",
    },
    Pair {
        name: "side_by_side::haproxy::user_agent_block",
        server: Kind::Haproxy,
        request: with("/api/ok", &[("user-agent", "BadBot/2.1")]),
        mock: "[[layer]]\nuser_agent = { persona = \"haproxy\", block = [\"(?i)badbot\"] }\n",
        layer: "server",
        vendor: "haproxy",
    },
    Pair {
        name: "side_by_side::haproxy::proxied_app_json_403",
        server: Kind::Haproxy,
        request: get("/api/private"),
        mock: "",
        layer: "app",
        vendor: "app",
    },
    Pair {
        name: "side_by_side::varnish::synth_403_path",
        server: Kind::Varnish,
        request: get("/admin/"),
        mock: "[[layer]]\npath_deny = { persona = \"varnish\", prefixes = [\"/admin\"] }\n",
        layer: "server",
        vendor: "varnish",
    },
];

/// Sends the pair's request to the real server and to the mock edge and compares status,
/// `Server`, `Content-Type`, body and attribution.
pub(crate) fn compare(servers: &Servers, pair: &Pair) -> Result<(), Failed> {
    let server = servers.server(pair.server)?;
    let app_port = servers.app()?.address.port();
    let source = format!(
        "{}[origin.proxy]\nupstream = \"http://127.0.0.1:{app_port}\"\n",
        pair.mock
    );
    let config = MockConfig::from_str(&source, Path::new("side_by_side.toml"))
        .map_err(|error| format!("mock.toml of {}: {error}\n{source}", pair.name))?;
    let runtime = servers.runtime()?;
    let mock = runtime
        .block_on(MockServer::start(
            config,
            SocketAddr::from(([127, 0, 0, 1], 0)),
        ))
        .map_err(|error| format!("cannot start the mock edge: {error}"))?;
    let mock_port = mock.addr().port();
    let real = send(servers, server, pair.request)?;
    let imitation = send_to(
        servers,
        &format!("{}{}", mock.url(), pair.request.path),
        pair.request,
    )?;
    // Shut down on the runtime that serves it rather than leaving it to the drop.
    runtime.block_on(mock.shutdown());
    check(pair, &real, &imitation, (server.port, mock_port))
}

fn check(
    pair: &Pair,
    real: &Observed,
    imitation: &Observed,
    ports: (u16, u16),
) -> Result<(), Failed> {
    let mut differences = Vec::new();
    // Apache's signature line quotes the port of the Host header, which each client
    // request names as the server it was sent to: the real server's and the mock's ports
    // differ by construction, so the mock's is replaced by the real one. nginx pages quote
    // nothing from the request and are compared untouched.
    let (real_port, mock_port) = ports;
    let mut mock_body = imitation.body.replace(
        &format!(" Port {mock_port}</address>"),
        &format!(" Port {real_port}</address>"),
    );
    // Varnish's page quotes its transaction id, which X-Varnish carries: each side's own.
    let (real_xid, mock_xid) = (real.header("x-varnish"), imitation.header("x-varnish"));
    if !real_xid.is_empty() && !mock_xid.is_empty() {
        mock_body = mock_body.replace(
            &format!("<p>XID: {mock_xid}</p>"),
            &format!("<p>XID: {real_xid}</p>"),
        );
    }
    if real.status != imitation.status {
        differences.push(format!("status {} != {}", real.status, imitation.status));
    }
    for name in ["server", "content-type"] {
        if real.header(name) != imitation.header(name) {
            differences.push(format!(
                "{name}: {:?} != {:?}",
                real.header(name),
                imitation.header(name)
            ));
        }
    }
    if real.body != mock_body {
        differences.push("body differs".to_owned());
    }
    let (got_real, got_mock) = (real.attribution(), imitation.attribution());
    for (who, got) in [("real", &got_real), ("mock", &got_mock)] {
        if (got.layer.as_str(), got.vendor.as_str()) != (pair.layer, pair.vendor) {
            differences.push(format!(
                "{who} classified {}/{}, expected {}/{}",
                got.layer, got.vendor, pair.layer, pair.vendor
            ));
        }
    }
    if got_real.ambiguity != got_mock.ambiguity {
        differences.push(format!(
            "ambiguity {:?} != {:?}",
            got_real.ambiguity, got_mock.ambiguity
        ));
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(format!(
        "real {} and mock edge differ: {}\n--- real\n{real:#?}\n--- mock\n{imitation:#?}",
        pair.name,
        differences.join("; ")
    )
    .into())
}
