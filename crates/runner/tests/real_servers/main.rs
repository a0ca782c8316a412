//! Layer attribution against real servers: nginx, Apache httpd with ModSecurity and the
//! OWASP Core Rule Set, HAProxy, Varnish, Squid and lighttpd, all from Debian packages (see
//! REAL_SERVERS.md); and Radicale, a real application with per-user objects (`radicale.rs`).
//!
//! Each trial sends an allowed request first (the control: it must get 200, proving the
//! refusal below comes from the rule under test and not from a broken setup), then the
//! refused one, and checks status, layer and vendor of the real response.
//!
//! Missing servers make the trials ignored, with the reason, on a developer machine;
//! with `CI=true` they fail, so CI cannot pass by silently testing nothing.

mod apache;
mod app;
mod bypass;
mod edges;
mod haproxy;
mod lighttpd;
mod nginx;
mod process;
mod radicale;
mod radicale_api;
mod replay;
mod side_by_side;
mod site;
mod squid;
mod suite_run;
mod varnish;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use rolecall_runner::{Attribution, Evidence, Fingerprints, classify};

use crate::app::App;
use crate::process::Server;

/// The servers a trial needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Nginx,
    Apache,
    /// Apache with the defaults of a stock Debian install (see [`apache::Profile`]).
    ApacheStock,
    Haproxy,
    Varnish,
    Squid,
    Lighttpd,
}

/// One request: a path and extra headers.
#[derive(Debug, Clone, Copy)]
struct Request {
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
}

const fn get(path: &'static str) -> Request {
    Request { path, headers: &[] }
}

const fn with(path: &'static str, headers: &'static [(&'static str, &'static str)]) -> Request {
    Request { path, headers }
}

/// A refusal configured on a real server and the attribution it must get.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    name: &'static str,
    server: Kind,
    allowed: Request,
    refused: Request,
    layer: &'static str,
    vendor: &'static str,
    /// A phrase the ambiguity note must contain, or `None` when there must be none.
    ambiguity: Option<&'static str>,
    /// The exact refusal body, when the scenario pins it.
    body: Option<&'static str>,
}

/// Every scenario: nginx's and Apache's here, the other servers' in `edges.rs`.
fn scenarios() -> impl Iterator<Item = &'static Scenario> {
    SCENARIOS.iter().chain(edges::SCENARIOS)
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "nginx::deny_all_location",
        server: Kind::Nginx,
        allowed: get("/index.html"),
        refused: get("/admin/"),
        layer: "server",
        vendor: "nginx",
        ambiguity: Some("ModSecurity"),
        body: None,
    },
    Scenario {
        name: "nginx::ip_allow_list_from_x_forwarded_for",
        server: Kind::Nginx,
        allowed: with("/internal/", &[("x-forwarded-for", "10.1.2.3")]),
        refused: with("/internal/", &[("x-forwarded-for", "203.0.113.7")]),
        layer: "server",
        vendor: "nginx",
        ambiguity: Some("ModSecurity"),
        body: None,
    },
    Scenario {
        name: "nginx::autoindex_off",
        server: Kind::Nginx,
        allowed: get("/files/readme.txt"),
        refused: get("/files/"),
        layer: "server",
        vendor: "nginx",
        ambiguity: Some("ModSecurity"),
        body: None,
    },
    Scenario {
        name: "nginx::hotlink_valid_referers",
        server: Kind::Nginx,
        allowed: with(
            "/images/logo.png",
            &[("referer", "http://localhost/gallery")],
        ),
        refused: with("/images/logo.png", &[("referer", "https://evil.example/")]),
        layer: "server",
        vendor: "nginx",
        ambiguity: Some("ModSecurity"),
        body: None,
    },
    Scenario {
        name: "nginx::user_agent_block",
        server: Kind::Nginx,
        allowed: get("/index.html"),
        refused: with("/index.html", &[("user-agent", "BadBot/2.1")]),
        layer: "server",
        vendor: "nginx",
        ambiguity: Some("ModSecurity"),
        body: None,
    },
    Scenario {
        name: "nginx::proxied_app_json_403",
        server: Kind::Nginx,
        allowed: get("/api/ok"),
        refused: get("/api/private"),
        layer: "app",
        vendor: "app",
        ambiguity: None,
        body: Some(app::DENY_BODY),
    },
    Scenario {
        name: "apache::require_all_denied",
        server: Kind::Apache,
        allowed: get("/index.html"),
        refused: get("/admin/"),
        layer: "server",
        vendor: "apache",
        ambiguity: Some("ModSecurity"),
        body: None,
    },
    Scenario {
        name: "apache::ip_allow_list_from_x_forwarded_for",
        server: Kind::Apache,
        allowed: with("/internal/", &[("x-forwarded-for", "10.1.2.3")]),
        refused: with("/internal/", &[("x-forwarded-for", "203.0.113.7")]),
        layer: "server",
        vendor: "apache",
        ambiguity: Some("ModSecurity"),
        body: None,
    },
    Scenario {
        name: "apache::options_no_indexes",
        server: Kind::Apache,
        allowed: get("/files/readme.txt"),
        refused: get("/files/"),
        layer: "server",
        vendor: "apache",
        ambiguity: Some("ModSecurity"),
        body: None,
    },
    Scenario {
        name: "apache::hotlink_rewrite_referer",
        server: Kind::Apache,
        allowed: with(
            "/images/logo.png",
            &[("referer", "http://localhost/gallery")],
        ),
        refused: with("/images/logo.png", &[("referer", "https://evil.example/")]),
        layer: "server",
        vendor: "apache",
        ambiguity: Some("ModSecurity"),
        body: None,
    },
    Scenario {
        name: "apache::htaccess_require_all_denied",
        server: Kind::Apache,
        allowed: get("/index.html"),
        refused: get("/private/secret.txt"),
        layer: "server",
        vendor: "apache",
        ambiguity: Some("ModSecurity"),
        body: None,
    },
    Scenario {
        name: "apache::user_agent_block",
        server: Kind::Apache,
        allowed: get("/index.html"),
        refused: with("/index.html", &[("user-agent", "BadBot/2.1")]),
        layer: "server",
        vendor: "apache",
        ambiguity: Some("ModSecurity"),
        body: None,
    },
    Scenario {
        name: "apache::proxied_app_json_403",
        server: Kind::Apache,
        allowed: get("/api/ok"),
        refused: get("/api/private"),
        layer: "app",
        vendor: "app",
        ambiguity: None,
        body: Some(app::DENY_BODY),
    },
    // A default ModSecurity block is indistinguishable from Apache's own 403: the
    // honest answer is apache with a note naming ModSecurity as the alternative.
    Scenario {
        name: "apache::modsecurity_crs_sqli_default",
        server: Kind::Apache,
        allowed: get("/index.html?id=1"),
        // id=1' OR '1'='1
        refused: get("/index.html?id=1%27%20OR%20%271%27%3D%271"),
        layer: "server",
        vendor: "apache",
        ambiguity: Some("ModSecurity"),
        body: None,
    },
    // With blocks marked (see apache.rs), the same attack is attributed to ModSecurity.
    Scenario {
        name: "apache::modsecurity_crs_sqli_marked",
        server: Kind::Apache,
        allowed: get("/marked/index.html?id=1"),
        refused: get("/marked/index.html?id=1%27%20OR%20%271%27%3D%271"),
        layer: "waf",
        vendor: "modsecurity",
        ambiguity: None,
        body: None,
    },
];

/// Exact default pages of the Debian servers, with `{server}` for the Server header;
/// the unit tests use them as captures. `APACHE_403` is the page under httpd's compiled-in
/// `ServerSignature Off`; the mock edge imitates nginx's page and Apache's signed page of a
/// stock Debian install (see `default_403_page_debian_stock` and side_by_side.rs).
const NGINX_403_TEMPLATE: &str = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>{server}</center>\r\n</body>\r\n</html>\r\n";
const APACHE_403: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">\n<html><head>\n<title>403 Forbidden</title>\n</head><body>\n<h1>Forbidden</h1>\n<p>You don't have permission to access this resource.</p>\n</body></html>\n";

/// What is installed, decided once before any trial runs.
#[derive(Debug)]
struct Installed {
    nginx: Result<PathBuf, String>,
    apache: Result<PathBuf, String>,
    haproxy: Result<PathBuf, String>,
    varnish: Result<PathBuf, String>,
    squid: Result<PathBuf, String>,
    lighttpd: Result<PathBuf, String>,
}

impl Installed {
    fn detect() -> Installed {
        let nginx = process::find_binary("nginx", "ROLECALL_NGINX")
            .map_err(|error| format!("{error} (Debian package `nginx`)"));
        let apache = process::find_binary("apache2", "ROLECALL_APACHE2")
            .map_err(|error| format!("{error} (Debian package `apache2`)"))
            .and_then(|binary| {
                let needs = [
                    (
                        format!("{}/mod_security2.so", apache::MODULES),
                        "libapache2-mod-security2",
                    ),
                    (apache::CRS_SETUP.to_owned(), "modsecurity-crs"),
                    (
                        format!("{}/REQUEST-949-BLOCKING-EVALUATION.conf", apache::CRS_RULES),
                        "modsecurity-crs",
                    ),
                ];
                match needs.iter().find(|(path, _)| !Path::new(path).exists()) {
                    Some((path, package)) => {
                        Err(format!("{path} is missing (Debian package `{package}`)"))
                    }
                    None => Ok(binary),
                }
            });
        let debian = |name: &str, variable: &str, package: &str| {
            process::find_binary(name, variable)
                .map_err(|error| format!("{error} (Debian package `{package}`)"))
        };
        Installed {
            nginx,
            apache,
            haproxy: debian("haproxy", "ROLECALL_HAPROXY", "haproxy"),
            varnish: debian("varnishd", "ROLECALL_VARNISHD", "varnish"),
            squid: debian("squid", "ROLECALL_SQUID", "squid"),
            lighttpd: debian("lighttpd", "ROLECALL_LIGHTTPD", "lighttpd"),
        }
    }

    fn binary(&self, kind: Kind) -> Result<&Path, &str> {
        match kind {
            Kind::Nginx => self.nginx.as_deref().map_err(String::as_str),
            Kind::Apache | Kind::ApacheStock => self.apache.as_deref().map_err(String::as_str),
            Kind::Haproxy => self.haproxy.as_deref().map_err(String::as_str),
            Kind::Varnish => self.varnish.as_deref().map_err(String::as_str),
            Kind::Squid => self.squid.as_deref().map_err(String::as_str),
            Kind::Lighttpd => self.lighttpd.as_deref().map_err(String::as_str),
        }
    }
}

/// Servers started on first use and shared by the trials; stopped when the last
/// reference drops after the run.
#[derive(Debug)]
struct Servers {
    installed: Installed,
    dir: tempfile::TempDir,
    app: OnceLock<Result<App, String>>,
    nginx: OnceLock<Result<Server, String>>,
    apache: OnceLock<Result<Server, String>>,
    apache_stock: OnceLock<Result<Server, String>>,
    haproxy: OnceLock<Result<Server, String>>,
    varnish: OnceLock<Result<Server, String>>,
    squid: OnceLock<Result<Server, String>>,
    lighttpd: OnceLock<Result<Server, String>>,
    /// Runs the mock edges of the side-by-side trials.
    runtime: OnceLock<Result<tokio::runtime::Runtime, String>>,
    client: reqwest::blocking::Client,
}

impl Servers {
    fn app(&self) -> Result<&App, Failed> {
        self.app
            .get_or_init(|| App::start().map_err(|error| format!("cannot start the app: {error}")))
            .as_ref()
            .map_err(|error| Failed::from(error.as_str()))
    }

    fn server(&self, kind: Kind) -> Result<&Server, Failed> {
        let binary = self.installed.binary(kind).map_err(Failed::from)?;
        let app_port = self.app()?.address.port();
        let (cell, name) = match kind {
            Kind::Nginx => (&self.nginx, "nginx"),
            Kind::Apache => (&self.apache, "apache"),
            Kind::ApacheStock => (&self.apache_stock, "apache-stock"),
            Kind::Haproxy => (&self.haproxy, "haproxy"),
            Kind::Varnish => (&self.varnish, "varnish"),
            Kind::Squid => (&self.squid, "squid"),
            Kind::Lighttpd => (&self.lighttpd, "lighttpd"),
        };
        cell.get_or_init(|| {
            let dir = self.dir.path().join(name);
            std::fs::create_dir_all(&dir)
                .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
            match kind {
                Kind::Nginx => nginx::start(binary, &dir, app_port),
                Kind::Apache => apache::start(binary, &dir, app_port, apache::Profile::Compiled),
                Kind::ApacheStock => {
                    apache::start(binary, &dir, app_port, apache::Profile::DebianStock)
                }
                Kind::Haproxy => haproxy::start(binary, &dir, app_port),
                Kind::Varnish => varnish::start(binary, &dir, app_port),
                Kind::Squid => squid::start(binary, &dir, app_port),
                Kind::Lighttpd => lighttpd::start(binary, &dir, app_port),
            }
        })
        .as_ref()
        .map_err(|error| Failed::from(error.as_str()))
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime, Failed> {
        self.runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|error| format!("cannot start the tokio runtime: {error}"))
            })
            .as_ref()
            .map_err(|error| Failed::from(error.as_str()))
    }
}

/// A response reduced to what attribution reads.
#[derive(Debug)]
struct Observed {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Observed {
    /// The first value of header `name` (lowercase), or "" when absent.
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map_or("", |(_, value)| value.as_str())
    }

    fn attribution(&self) -> Attribution {
        classify(
            Fingerprints::builtin(),
            &Evidence {
                status: self.status,
                headers: &self.headers,
                body: &self.body,
            },
        )
    }
}

fn send(servers: &Servers, server: &Server, request: Request) -> Result<Observed, Failed> {
    send_to(servers, &server.url(request.path), request)
}

/// Sends `request` to `url`, which already holds the request's path.
fn send_to(servers: &Servers, url: &str, request: Request) -> Result<Observed, Failed> {
    let mut builder = servers.client.get(url);
    for (name, value) in request.headers {
        builder = builder.header(*name, *value);
    }
    let response = builder
        .send()
        .map_err(|error| format!("GET {url}: {error}"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .text()
        .map_err(|error| format!("GET {url}: reading body: {error}"))?;
    Ok(Observed {
        status,
        headers,
        body,
    })
}

fn run(servers: &Servers, scenario: &Scenario) -> Result<(), Failed> {
    let server = servers.server(scenario.server)?;
    let allowed = send(servers, server, scenario.allowed)?;
    if allowed.status != 200 {
        return Err(format!(
            "control request {} must be allowed, got {}: {}",
            scenario.allowed.path, allowed.status, allowed.body
        )
        .into());
    }
    let refused = send(servers, server, scenario.refused)?;
    if refused.status != 403 {
        return Err(format!(
            "request {} must be refused with 403, got {}: {}",
            scenario.refused.path, refused.status, refused.body
        )
        .into());
    }
    if let Some(body) = scenario.body
        && refused.body != body
    {
        return Err(format!("refusal body differs:\n{}", refused.body).into());
    }
    let got = refused.attribution();
    let context = || format!("attribution {got:#?}\nof response {refused:#?}");
    if (got.layer.as_str(), got.vendor.as_str()) != (scenario.layer, scenario.vendor) {
        return Err(format!(
            "expected {}/{}, classified {}/{}\n{}",
            scenario.layer,
            scenario.vendor,
            got.layer,
            got.vendor,
            context()
        )
        .into());
    }
    match (scenario.ambiguity, &got.ambiguity) {
        (None, None) => {}
        (Some(phrase), Some(note)) if note.contains(phrase) => {}
        (expected, _) => {
            return Err(format!("expected ambiguity {expected:?}\n{}", context()).into());
        }
    }
    Ok(())
}

/// The exact default 403 pages, compared byte for byte with the constants above.
fn default_page(servers: &Servers, kind: Kind) -> Result<(), Failed> {
    let server = servers.server(kind)?;
    let refused = send(servers, server, get("/admin/"))?;
    let header = |name: &str| {
        refused
            .headers
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    };
    let server_header = header("server");
    let expected = match kind {
        Kind::Nginx => {
            if !server_header.starts_with("nginx") {
                return Err(format!("unexpected Server header {server_header:?}").into());
            }
            NGINX_403_TEMPLATE.replace("{server}", &server_header)
        }
        Kind::Apache => {
            if !server_header.starts_with("Apache") {
                return Err(format!("unexpected Server header {server_header:?}").into());
            }
            APACHE_403.to_owned()
        }
        Kind::ApacheStock => {
            // ServerTokens OS: product, version and OS, no module tokens.
            if !(server_header.starts_with("Apache/") && server_header.ends_with(" (Debian)")) {
                return Err(format!("unexpected Server header {server_header:?}").into());
            }
            // The signature quotes the Host header the client sent: this port.
            APACHE_403.replace(
                "</body>",
                &format!(
                    "<hr>\n<address>{server_header} Server at 127.0.0.1 Port {}</address>\n</body>",
                    server.port
                ),
            )
        }
        other => return Err(format!("{other:?}: see edges::default_page").into()),
    };
    let content_type = header("content-type");
    let expected_type = match kind {
        Kind::Nginx => "text/html",
        _ => "text/html; charset=iso-8859-1",
    };
    if refused.status != 403 || refused.body != expected || content_type != expected_type {
        return Err(format!(
            "default 403 changed: status {}, content-type {content_type:?}, body\n{:?}",
            refused.status, refused.body
        )
        .into());
    }
    Ok(())
}

fn required() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
}

fn trial(
    servers: &Arc<Servers>,
    name: &str,
    kind: Kind,
    body: impl FnOnce(&Servers) -> Result<(), Failed> + Send + 'static,
) -> Trial {
    let servers = Arc::clone(servers);
    Trial::ignorable_test(name, move || {
        if let Err(reason) = servers.installed.binary(kind) {
            if required() {
                return Err(format!("{reason}; CI=true requires it (see REAL_SERVERS.md)").into());
            }
            return Ok(Completion::ignored_with(reason));
        }
        body(&servers).map(|()| Completion::Completed)
    })
}

fn main() {
    let args = Arguments::from_args();
    let dir = match tempfile::Builder::new()
        .prefix("rolecall-real-servers-")
        .tempdir()
    {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("cannot create a temporary directory: {error}");
            std::process::exit(101);
        }
    };
    // reqwest is built with `rustls-no-provider` (the runner installs ring when its engine
    // starts); this client is built before any engine, so it installs ring itself. An
    // error only means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        // Apache runs as one process (-X): a pooled idle connection would hold it.
        .pool_max_idle_per_host(0)
        .user_agent("rolecall-real-servers/1")
        .build();
    let client = match client {
        Ok(client) => client,
        Err(error) => {
            eprintln!("cannot build the HTTP client: {error}");
            std::process::exit(101);
        }
    };
    let servers = Arc::new(Servers {
        installed: Installed::detect(),
        dir,
        app: OnceLock::new(),
        nginx: OnceLock::new(),
        apache: OnceLock::new(),
        apache_stock: OnceLock::new(),
        haproxy: OnceLock::new(),
        varnish: OnceLock::new(),
        squid: OnceLock::new(),
        lighttpd: OnceLock::new(),
        runtime: OnceLock::new(),
        client,
    });

    let mut trials: Vec<Trial> = scenarios()
        .map(|scenario| {
            trial(&servers, scenario.name, scenario.server, move |servers| {
                run(servers, scenario)
            })
        })
        .collect();
    trials.push(trial(
        &servers,
        "nginx::default_403_page",
        Kind::Nginx,
        |servers| default_page(servers, Kind::Nginx),
    ));
    trials.push(trial(
        &servers,
        "apache::default_403_page",
        Kind::Apache,
        |servers| default_page(servers, Kind::Apache),
    ));
    trials.push(trial(
        &servers,
        "apache::default_403_page_debian_stock",
        Kind::ApacheStock,
        |servers| default_page(servers, Kind::ApacheStock),
    ));
    for page in edges::PAGES {
        trials.push(trial(&servers, page.name, page.server, move |servers| {
            edges::default_page(servers, page)
        }));
    }
    for pair in side_by_side::PAIRS {
        trials.push(trial(&servers, pair.name, pair.server, move |servers| {
            side_by_side::compare(servers, pair)
        }));
    }
    trials.push(trial(
        &servers,
        "nginx::rolecall_run_json_report",
        Kind::Nginx,
        suite_run::run_against_nginx,
    ));
    trials.push(trial(
        &servers,
        "nginx::record_then_replay_offline",
        Kind::Nginx,
        replay::record_then_replay,
    ));

    for server in bypass::SERVERS {
        trials.push(trial(
            &servers,
            &format!("{}::bypass_variants", server.name),
            server.kind,
            move |servers| bypass::check(servers, server),
        ));
    }
    trials.push(Trial::test("bypass::readme_table", bypass::readme_matches));
    trials.push(radicale_api::trial(
        servers.client.clone(),
        servers.dir.path().to_owned(),
    ));

    let conclusion = libtest_mimic::run(&args, trials);
    // The trials held the other references; this drop stops the servers and removes the
    // temporary directory before the process exits.
    drop(servers);
    conclusion.exit();
}
