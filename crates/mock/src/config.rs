//! Loading a `mock.toml`: read every item, then validate and compile everything up front,
//! so a bad regex, CIDR or key file is an error at load time with its line and column,
//! never a surprise on the first request. Every problem of the file is reported at once.

use std::fmt;
use std::io::Read as _;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use http::Method;
use http::header::HeaderName;
use ipnet::IpNet;
use rolecall_scenario::SourceFile;
use toml::Spanned;

use crate::app::App;
use crate::client_ip::ClientIpResolver;
use crate::edge::EdgeLayer;
use crate::errors::MockConfigError;
use crate::file::Read;
use crate::file::{EdgeFile, LayerFile, OriginFile};
use crate::persona::{Persona, PersonaSettings};
use crate::problems::{self, Problems};
use crate::proxy::Proxy;
use crate::read::{self, Items};

mod app;
mod layers;
mod resource;

/// A larger configuration is a mistake (a log file named by accident), not a mock edge.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A loaded and validated `mock.toml`, ready to serve. Cheap to clone.
#[derive(Clone)]
pub struct MockConfig {
    pub(crate) edge: Arc<Edge>,
}

/// Everything the server needs, compiled.
#[derive(Debug)]
pub(crate) struct Edge {
    pub(crate) settings: PersonaSettings,
    /// Personas that decorate responses they pass through.
    pub(crate) cdn: Option<Persona>,
    pub(crate) server: Option<Persona>,
    pub(crate) client_ip: ClientIpResolver,
    pub(crate) layers: Vec<EdgeLayer>,
    pub(crate) origin: Origin,
    /// Body bytes to buffer before the layers run (the largest WAF body limit).
    pub(crate) body_limit: usize,
}

/// What answers requests that pass the edge.
#[derive(Debug)]
pub(crate) enum Origin {
    App(Box<App>),
    Proxy(Box<Proxy>),
}

impl fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the shape: the app holds secrets (tokens, passwords, keys).
        let layers: Vec<String> = self
            .edge
            .layers
            .iter()
            .map(|l| format!("{} ({}, {})", l.name, l.kind, l.persona.name()))
            .collect();
        let origin = match &self.edge.origin {
            Origin::App(app) => format!("app with {} routes", app.routes.len()),
            Origin::Proxy(proxy) => format!("proxy to {}", proxy.upstream()),
        };
        f.debug_struct("MockConfig")
            .field("layers", &layers)
            .field("origin", &origin)
            .finish()
    }
}

impl MockConfig {
    /// Reads and compiles a `mock.toml`. Key files it names are read relative to its folder.
    /// Only a regular file of at most 4 MiB is read: a FIFO or a device is refused, not
    /// waited on.
    pub fn from_path(path: &Path) -> Result<Self, MockConfigError> {
        let text = read_text(path)
            .map_err(|message| problems::unreadable(SourceFile::new(shown(path), ""), message))?;
        Self::from_str(&text, path)
    }

    /// Compiles `mock.toml` text; `path` names the file in errors, and its folder is where
    /// relative key files are looked up. `${env:NAME}` reads the process environment.
    pub fn from_str(src: &str, path: &Path) -> Result<Self, MockConfigError> {
        Self::compile(src, path, &|name| std::env::var(name).ok())
    }

    /// [`from_str`](Self::from_str) with `env` in place of the process environment.
    pub(crate) fn compile(
        src: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, MockConfigError> {
        let problems = Problems::new(SourceFile::new(shown(path), src));
        let items = read::read(&problems);
        let compiler = Compiler {
            p: &problems,
            base: path.parent().unwrap_or(Path::new(".")),
            env,
        };
        let edge = compiler.compile(items);
        match edge {
            Some(edge) if problems.is_empty() => Ok(Self {
                edge: Arc::new(edge),
            }),
            _ => {
                if problems.is_empty() {
                    // Every step that gives up reports why; this would be a bug.
                    problems.error(0..0, "the configuration could not be compiled");
                }
                Err(problems.into_error())
            }
        }
    }
}

/// The path as the user should see it: relative to the working directory when inside it,
/// without `./`.
fn shown(path: &Path) -> PathBuf {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf());
    relative
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

fn read_text(path: &Path) -> Result<String, String> {
    // Opening a FIFO would block until a writer came: look before opening.
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read file: {e}"))?;
    if !metadata.is_file() {
        return Err("cannot read file: not a regular file".to_owned());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read file: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "cannot read file: larger than {} MiB",
            MAX_FILE_BYTES >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let before = String::from_utf8_lossy(&bytes[..at]);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        format!("invalid UTF-8 at line {line}, column {column}")
    })
}

struct Compiler<'a> {
    p: &'a Problems,
    base: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
}

/// The default persona of a tier, from `[edge]`. `Unknown` when `[edge]` had a problem:
/// then a layer that relies on the default is not also reported.
#[derive(Debug, Clone, Copy)]
enum Tier {
    Set(Persona),
    Unset,
    Unknown,
}

/// Default personas by tier.
struct Defaults {
    cdn: Tier,
    server: Tier,
    waf: Tier,
}

impl Compiler<'_> {
    fn compile(&self, items: Items) -> Option<Edge> {
        let (edge, edge_clean) = match items.edge {
            Some(Read { value, clean }) => (value, clean),
            None => (EdgeFile::default(), true),
        };
        let tier = |persona: Option<Persona>, valid: bool| match persona {
            Some(p) if valid => Tier::Set(p),
            Some(_) => Tier::Unknown,
            None if edge_clean => Tier::Unset,
            None => Tier::Unknown,
        };
        let cdn = edge.cdn.as_ref().map(|cdn| {
            let ok = matches!(
                cdn.get_ref(),
                Persona::Cloudflare | Persona::Cloudfront | Persona::Akamai
            );
            if !ok {
                self.p
                    .error(cdn.span(), "`cdn` must be cloudflare, cloudfront or akamai")
                    .label("not a CDN");
            }
            (*cdn.get_ref(), ok)
        });
        let server = edge.server.as_ref().map(|server| {
            let ok = matches!(server.get_ref(), Persona::Nginx | Persona::Apache);
            if !ok {
                self.p
                    .error(server.span(), "`server` must be nginx or apache")
                    .label("not a web server");
            }
            (*server.get_ref(), ok)
        });
        let defaults = Defaults {
            cdn: tier(cdn.map(|c| c.0), cdn.is_none_or(|c| c.1)),
            server: tier(server.map(|s| s.0), server.is_none_or(|s| s.1)),
            waf: tier(edge.waf, true),
        };
        let settings = self.settings(&edge, server.filter(|s| s.1).map(|s| s.0));
        let client_ip = self.client_ip(&edge);
        let layers: Vec<Option<EdgeLayer>> = items
            .layers
            .into_iter()
            .map(|layer| self.layer(layer, &defaults))
            .collect();
        let origin = match items.origin {
            Some(Read {
                value: OriginFile::App(app),
                ..
            }) => self.app(*app).map(|app| Origin::App(Box::new(app))),
            Some(Read {
                value: OriginFile::Proxy(proxy),
                ..
            }) => self
                .proxy(proxy)
                .map(|proxy| Origin::Proxy(Box::new(proxy))),
            None => None,
        };
        let layers: Vec<EdgeLayer> = layers.into_iter().collect::<Option<_>>()?;
        let body_limit = layers.iter().map(EdgeLayer::body_limit).max().unwrap_or(0);
        Some(Edge {
            settings: settings?,
            cdn: cdn.map(|c| c.0),
            server: server.map(|s| s.0),
            client_ip: client_ip?,
            layers,
            origin: origin?,
            body_limit,
        })
    }

    fn settings(&self, edge: &EdgeFile, server: Option<Persona>) -> Option<PersonaSettings> {
        let defaults = PersonaSettings::default();
        let request_id_header = match &edge.request_id_header {
            Some(h) => Some(self.header_name(h)?),
            None => None,
        };
        let text = |value: &Option<Spanned<String>>, name: &str, default: String| match value {
            None => Some(default),
            Some(v)
                if !v.get_ref().is_empty()
                    && v.get_ref().bytes().all(|b| (0x20..0x7f).contains(&b)) =>
            {
                Some(v.get_ref().clone())
            }
            Some(v) => {
                self.p
                    .error(v.span(), format!("`{name}` must be printable ASCII"))
                    .label("empty, or not printable ASCII")
                    .help("it is sent in headers and pages, as the vendor would");
                None
            }
        };
        let colo = text(&edge.colo, "colo", defaults.colo);
        let pop = text(&edge.pop, "pop", defaults.pop);
        let server_name = text(&edge.server_name, "server_name", defaults.server_name);
        let nginx_server = text(&edge.nginx_server, "nginx_server", defaults.nginx_server);
        let apache_server = text(&edge.apache_server, "apache_server", defaults.apache_server);
        Some(PersonaSettings {
            colo: colo?,
            pop: pop?,
            server_name: server_name?,
            request_id_header,
            nginx_server: nginx_server?,
            apache_server: apache_server?,
            modsecurity_host: server.unwrap_or(Persona::Apache),
            aws_waf_action_header: edge.aws_waf_action_header,
        })
    }

    fn client_ip(&self, edge: &EdgeFile) -> Option<ClientIpResolver> {
        let trusted = match &edge.trusted_proxies {
            Some(list) => self.networks(list),
            None => Some(vec![
                "127.0.0.0/8".parse().expect("valid CIDR"),
                "::1/128".parse().expect("valid CIDR"),
            ]),
        };
        let header = match &edge.client_ip_header {
            Some(h) => self.header_name(h),
            None => Some(HeaderName::from_static("x-forwarded-for")),
        };
        Some(ClientIpResolver {
            trusted: trusted?,
            header: header?,
        })
    }

    /// The layer's persona, or its tier's default from `[edge]`.
    fn persona(
        &self,
        explicit: Option<Persona>,
        default: Tier,
        edge_key: &str,
        layer: &Spanned<LayerFile>,
        clean: bool,
    ) -> Option<Persona> {
        match (explicit, default) {
            (Some(p), _) | (None, Tier::Set(p)) => Some(p),
            (None, Tier::Unset) => {
                if clean {
                    self.p
                        .error(
                            layer.span(),
                            format!(
                                "this layer names no `persona` and `[edge] {edge_key}` is not set"
                            ),
                        )
                        .label("no persona")
                        .help(format!(
                            "add `persona = \"…\"` to the layer, or set `{edge_key}` in `[edge]`"
                        ));
                }
                None
            }
            (None, Tier::Unknown) => None,
        }
    }

    /// A check that an absent value would fail ("a geo layer needs `allow`"): only made on
    /// items read whole, since a value taken out for a problem is already reported.
    fn needs(&self, clean: bool, span: Range<usize>, message: &str) {
        if clean {
            self.p.error(span, message).label("incomplete");
        }
    }

    fn invalid_regex(&self, span: Range<usize>, err: &regex::Error) {
        // The regex crate's message is a multi-line picture of the pattern; its last line
        // says what is wrong.
        let text = err.to_string();
        let reason = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid")
            .trim()
            .trim_start_matches("error: ");
        self.p
            .error(span, format!("invalid regex: {reason}"))
            .label("not a regular expression")
            .help("the syntax is Rust's `regex` crate (no look-around, no back-references)");
    }

    /// Checks every element, reporting each bad one; `None` when any was bad.
    fn each<T>(
        &self,
        list: &[Spanned<String>],
        check: impl Fn(&Spanned<String>) -> Option<T>,
    ) -> Option<Vec<T>> {
        let checked: Vec<Option<T>> = list.iter().map(check).collect();
        checked.into_iter().collect()
    }

    fn networks(&self, list: &[Spanned<String>]) -> Option<Vec<IpNet>> {
        self.each(list, |item| {
            let text = item.get_ref().trim();
            let net = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map(|net| net.trunc());
            if net.is_err() {
                self.p
                    .error(
                        item.span(),
                        format!("`{text}` is not an IP address or CIDR block"),
                    )
                    .label("expected e.g. \"203.0.113.0/24\" or \"2001:db8::1\"");
            }
            net.ok()
        })
    }

    fn countries(&self, list: &[Spanned<String>]) -> Option<Vec<String>> {
        self.each(list, |item| {
            let code = item.get_ref().trim();
            if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Some(code.to_ascii_uppercase())
            } else {
                self.p
                    .error(
                        item.span(),
                        format!("`{code}` is not a two-letter country code"),
                    )
                    .label("expected an ISO 3166 code such as \"DE\"");
                None
            }
        })
    }

    fn globs(&self, list: &[Spanned<String>], case_insensitive: bool) -> Option<Option<GlobSet>> {
        let globs = self.each(list, |item| {
            let pattern = item.get_ref();
            if !pattern.starts_with('/') {
                self.p
                    .error(
                        item.span(),
                        format!("path glob `{pattern}` must start with `/`"),
                    )
                    .label("not an absolute path")
                    .help(format!("write \"/{}\"", pattern.trim_start_matches('*')));
                return None;
            }
            match GlobBuilder::new(pattern)
                .literal_separator(true)
                .case_insensitive(case_insensitive)
                .build()
            {
                Ok(glob) => Some(glob),
                Err(err) => {
                    self.p
                        .error(item.span(), format!("invalid glob: {}", err.kind()))
                        .label("not a glob");
                    None
                }
            }
        })?;
        if globs.is_empty() {
            return Some(None);
        }
        let mut builder = GlobSetBuilder::new();
        for glob in globs {
            builder.add(glob);
        }
        match builder.build() {
            Ok(set) => Some(Some(set)),
            Err(err) => {
                self.p
                    .error(list[0].span(), format!("invalid glob: {err}"))
                    .label("in this list");
                None
            }
        }
    }

    fn prefixes(&self, list: &[Spanned<String>]) -> Option<Vec<String>> {
        self.each(list, |item| {
            let prefix = item.get_ref();
            if prefix.starts_with('/') {
                Some(prefix.clone())
            } else {
                self.p
                    .error(
                        item.span(),
                        format!("path prefix `{prefix}` must start with `/`"),
                    )
                    .label("not an absolute path");
                None
            }
        })
    }

    fn methods(&self, list: &[Spanned<String>]) -> Option<Vec<Method>> {
        self.each(list, |item| {
            let method = Method::from_bytes(item.get_ref().trim().to_ascii_uppercase().as_bytes());
            if method.is_err() {
                self.p
                    .error(
                        item.span(),
                        format!("`{}` is not an HTTP method", item.get_ref()),
                    )
                    .label("expected e.g. \"GET\" or \"DELETE\"");
            }
            method.ok()
        })
    }

    fn header_name(&self, name: &Spanned<String>) -> Option<HeaderName> {
        let parsed = HeaderName::from_bytes(name.get_ref().trim().as_bytes());
        if parsed.is_err() {
            self.p
                .error(
                    name.span(),
                    format!("`{}` is not a header name", name.get_ref()),
                )
                .label("letters, digits and `-` only, e.g. \"X-Request-Id\"");
        }
        parsed.ok()
    }

    fn duration(&self, text: &Spanned<String>) -> Option<Duration> {
        match humantime::parse_duration(text.get_ref().trim()) {
            Ok(duration) if !duration.is_zero() => Some(duration),
            Ok(_) => {
                self.p
                    .error(text.span(), "the duration must be more than zero")
                    .label("zero");
                None
            }
            Err(err) => {
                self.p
                    .error(
                        text.span(),
                        format!("invalid duration `{}`: {err}", text.get_ref()),
                    )
                    .label("expected e.g. \"250ms\", \"1s\" or \"5m\"");
                None
            }
        }
    }

    /// Replaces `${env:NAME}` references. The result is a credential: it is masked in every
    /// problem that would quote it.
    fn secret(&self, text: &Spanned<String>) -> Option<String> {
        let mut out = String::new();
        let mut rest = text.get_ref().as_str();
        let mut complete = true;
        while let Some(start) = rest.find("${env:") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 6..];
            let Some(end) = after.find('}') else {
                self.p
                    .error(text.span(), "unclosed `${env:` reference")
                    .label("expected `${env:NAME}`");
                return None;
            };
            let name = &after[..end];
            match (self.env)(name) {
                Some(value) => {
                    self.p.secret(&value);
                    out.push_str(&value);
                }
                None => {
                    let reference = format!("${{env:{name}}}");
                    self.p
                        .error(
                            self.locate(text.span(), &reference),
                            format!("environment variable `{name}` is not set"),
                        )
                        .label("used here")
                        .help(format!("export {name}=… before starting the mock"));
                    complete = false;
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        // A literal credential is one too; a reference's name is not.
        self.p.secret(&out);
        complete.then_some(out)
    }

    /// Narrows a string value's span to `needle` when the source spells it plainly.
    fn locate(&self, span: Range<usize>, needle: &str) -> Range<usize> {
        let text = &self.p.file().text;
        match text.get(span.clone()).and_then(|hay| hay.find(needle)) {
            Some(at) => span.start + at..span.start + at + needle.len(),
            None => span,
        }
    }
}
