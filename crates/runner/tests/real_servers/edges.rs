//! The other servers teams put in front of an app, from Debian packages: HAProxy, Varnish,
//! Squid and lighttpd. Each refuses in the ways its configuration file says (see the
//! server's module), and each refusal must be attributed to that server; a refusal the app
//! wrote and the server relayed stays the app's.

use std::path::Path;

use libtest_mimic::Failed;

use crate::site;
use crate::{Kind, Observed, Scenario, Servers, app, get, send, with};

const BADBOT: &[(&str, &str)] = &[("user-agent", "BadBot/2.1")];

/// A refusal `server` writes itself: attributed to `vendor` at the server layer.
const fn own(
    name: &'static str,
    server: Kind,
    allowed: crate::Request,
    refused: crate::Request,
    vendor: &'static str,
) -> Scenario {
    Scenario {
        name,
        server,
        allowed,
        refused,
        layer: "server",
        vendor,
        ambiguity: None,
        body: None,
    }
}

/// The app's JSON refusal relayed by `server`: still the app's.
const fn relayed(name: &'static str, server: Kind) -> Scenario {
    Scenario {
        name,
        server,
        allowed: get("/api/ok"),
        refused: get("/api/private"),
        layer: "app",
        vendor: "app",
        ambiguity: None,
        body: Some(app::DENY_BODY),
    }
}

pub(crate) const SCENARIOS: &[Scenario] = &[
    own(
        "haproxy::http_request_deny_path",
        Kind::Haproxy,
        get("/api/ok"),
        get("/admin/"),
        "haproxy",
    ),
    own(
        "haproxy::user_agent_block",
        Kind::Haproxy,
        get("/api/ok"),
        with("/api/ok", BADBOT),
        "haproxy",
    ),
    own(
        "haproxy::ip_allow_list_from_x_forwarded_for",
        Kind::Haproxy,
        with("/api/internal", &[("x-forwarded-for", "10.1.2.3")]),
        with("/api/internal", &[("x-forwarded-for", "203.0.113.7")]),
        "haproxy",
    ),
    relayed("haproxy::proxied_app_json_403", Kind::Haproxy),
    own(
        "varnish::synth_403_path",
        Kind::Varnish,
        get("/api/ok"),
        get("/admin/"),
        "varnish",
    ),
    own(
        "varnish::user_agent_block",
        Kind::Varnish,
        get("/api/ok"),
        with("/api/ok", BADBOT),
        "varnish",
    ),
    relayed("varnish::proxied_app_json_403", Kind::Varnish),
    own(
        "squid::http_access_deny_path",
        Kind::Squid,
        get("/api/ok"),
        get("/admin/"),
        "squid",
    ),
    own(
        "squid::user_agent_block",
        Kind::Squid,
        get("/api/ok"),
        with("/api/ok", BADBOT),
        "squid",
    ),
    relayed("squid::proxied_app_json_403", Kind::Squid),
    own(
        "lighttpd::url_access_deny",
        Kind::Lighttpd,
        get("/index.html"),
        get("/admin/"),
        "lighttpd",
    ),
    own(
        "lighttpd::user_agent_block",
        Kind::Lighttpd,
        get("/index.html"),
        with("/index.html", BADBOT),
        "lighttpd",
    ),
    own(
        "lighttpd::dir_listing_disabled",
        Kind::Lighttpd,
        get("/files/readme.txt"),
        get("/files/"),
        "lighttpd",
    ),
    relayed("lighttpd::proxied_app_json_403", Kind::Lighttpd),
];

/// A server's own 403 page, pinned: what the fingerprints and the mock's personas rely on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    pub(crate) name: &'static str,
    pub(crate) server: Kind,
    /// Checks the refusal of `GET /admin/`.
    check: fn(&Observed) -> Result<(), String>,
}

/// HAProxy's 403, byte for byte (`http-request deny`).
pub(crate) const HAPROXY_403: &str = "<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n";

/// Varnish's built-in `vcl_synth` page for `synth(403)`, with `{xid}` for the transaction id.
pub(crate) const VARNISH_403_TEMPLATE: &str = "<!DOCTYPE html>\n<html>\n  <head>\n    <title>403 Forbidden</title>\n  </head>\n  <body>\n    <h1>Error 403 Forbidden</h1>\n    <p>Forbidden</p>\n    <h3>Guru Meditation:</h3>\n    <p>XID: {xid}</p>\n    <hr>\n    <p>Varnish cache server</p>\n  </body>\n</html>\n";

/// lighttpd's built-in 403 page, byte for byte.
const LIGHTTPD_403: &str = "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title>403 Forbidden</title>\n </head>\n <body>\n  <h1>403 Forbidden</h1>\n </body>\n</html>\n";

pub(crate) const PAGES: &[Page] = &[
    Page {
        name: "haproxy::default_403_page",
        server: Kind::Haproxy,
        check: |refused| {
            expect(refused, "", "text/html", HAPROXY_403)?;
            expect_header(refused, "cache-control", "no-cache")
        },
    },
    Page {
        name: "varnish::default_403_page",
        server: Kind::Varnish,
        check: |refused| {
            let xid = refused.header("x-varnish");
            if xid.is_empty() || !xid.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(format!("X-Varnish is not one transaction id: {xid:?}"));
            }
            let page = VARNISH_403_TEMPLATE.replace("{xid}", xid);
            expect(refused, "Varnish", "text/html; charset=utf-8", &page)?;
            expect_header(refused, "retry-after", "5")
        },
    },
    Page {
        name: "lighttpd::default_403_page",
        server: Kind::Lighttpd,
        check: |refused| {
            let server = refused.header("server");
            if !server.starts_with("lighttpd/") {
                return Err(format!("unexpected Server header {server:?}"));
            }
            expect(refused, server, "text/html", LIGHTTPD_403)
        },
    },
    // Squid's page quotes the URL, the date and the host: pinned by its parts.
    Page {
        name: "squid::default_403_page",
        server: Kind::Squid,
        check: |refused| {
            expect_header(refused, "x-squid-error", "ERR_ACCESS_DENIED 0")?;
            let version = refused.header("server");
            if !version.starts_with("squid/") {
                return Err(format!("unexpected Server header {version:?}"));
            }
            // `visible_hostname` is the readiness token, named after the server's directory.
            let token = site::ready_token(Path::new("squid"));
            for part in [
                "<body id=ERR_ACCESS_DENIED>",
                "<p><b>Access Denied.</b></p>",
                &format!(" by {token} ({version})</p>\n<!-- ERR_ACCESS_DENIED -->\n"),
            ] {
                if !refused.body.contains(part) {
                    return Err(format!("page lacks {part:?}:\n{}", refused.body));
                }
            }
            Ok(())
        },
    },
];

fn expect(refused: &Observed, server: &str, content_type: &str, body: &str) -> Result<(), String> {
    expect_header(refused, "server", server)?;
    expect_header(refused, "content-type", content_type)?;
    if refused.status != 403 || refused.body != body {
        return Err(format!(
            "default 403 changed: status {}, body\n{:?}",
            refused.status, refused.body
        ));
    }
    Ok(())
}

fn expect_header(refused: &Observed, name: &str, value: &str) -> Result<(), String> {
    let got = refused.header(name);
    if got == value {
        Ok(())
    } else {
        Err(format!("header {name}: expected {value:?}, got {got:?}"))
    }
}

/// Fetches `GET /admin/` and holds it to the page's check.
pub(crate) fn default_page(servers: &Servers, page: &Page) -> Result<(), Failed> {
    let server = servers.server(page.server)?;
    let refused = send(servers, server, get("/admin/"))?;
    (page.check)(&refused).map_err(Failed::from)
}
