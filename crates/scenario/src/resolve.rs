//! Validation and expansion: raw file items become identities, a target, routes and cases.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{LoadError, Location, Sink, SourceFile, did_you_mean, display_path};
use crate::layer::Layer;
use crate::load::{self, LoadOptions, Seg, deserialize_item, fields_of, interpolate, locate};
use crate::model::*;
use crate::raw::*;

const SUITE_KEYS: [&str; 5] = ["defaults", "vars", "targets", "identities", "groups"];
const JWT_ALGS: [&str; 12] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "EdDSA",
];

/// Loads, validates and expands the suite at `path` (a directory holding `rolecall.toml`,
/// or that file). Every problem in every file is reported at once; nothing is returned
/// from a suite with any problem.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Suite, LoadError> {
    let (root, route_paths) = load::discover(path).map_err(|message| {
        LoadError::new(
            vec![crate::Diagnostic {
                message,
                path: display_path(path),
                span: 0..0,
                label: String::new(),
                help: None,
                line: 1,
                column: 1,
            }],
            Vec::new(),
            crate::Secrets::default(),
        )
    })?;
    let suite_path = if path.is_dir() {
        root.join(load::SUITE_FILE)
    } else {
        path.to_path_buf()
    };
    let mut sink = Sink::default();
    let suite_file = read_file(&suite_path, &mut sink);
    let route_files = route_paths
        .iter()
        .filter_map(|p| read_file(p, &mut sink).map(|f| (p.clone(), f)))
        .collect();
    let Some(suite_file) = suite_file else {
        return Err(LoadError::new(
            sink.diagnostics,
            Vec::new(),
            Secrets::default(),
        ));
    };
    from_sources(root, suite_file, route_files, sink, options)
}

fn read_file(path: &Path, sink: &mut Sink) -> Option<SourceFile> {
    let shown = display_path(path);
    match std::fs::read_to_string(path) {
        Ok(text) => Some(SourceFile::new(shown, text)),
        Err(e) => {
            let file = SourceFile::new(shown, "");
            sink.error(&file, 0..0, format!("cannot read file: {e}"))
                .label("");
            None
        }
    }
}

/// Validates and expands a suite from files already in memory. `route_files` pairs each
/// route file's real path (for excluding mock configurations) with its source.
pub(crate) fn from_sources(
    root: PathBuf,
    suite_file: SourceFile,
    route_files: Vec<(PathBuf, SourceFile)>,
    sink: Sink,
    options: &LoadOptions,
) -> Result<Suite, LoadError> {
    let mut cx = Cx {
        root: root.clone(),
        sink,
        secrets: Secrets::default(),
        files: vec![suite_file.clone()],
    };
    let suite_file = Some(suite_file);
    let parts = suite_file
        .as_ref()
        .map(|file| read_suite(&mut cx, file, options))
        .unwrap_or_default();

    let mock_files: Vec<PathBuf> = parts
        .targets
        .iter()
        .filter_map(|(_, def)| def.mock.as_ref())
        .map(|m| root.join(m.get_ref()))
        .collect();
    let settings = resolve_settings(&mut cx, suite_file.as_ref(), &parts.defaults);
    let target = suite_file
        .as_ref()
        .and_then(|file| resolve_target(&mut cx, file, &parts, options));
    let identities = suite_file
        .as_ref()
        .map(|file| resolve_identities(&mut cx, file, &parts))
        .unwrap_or_default();
    let groups = suite_file
        .as_ref()
        .map(|file| resolve_groups(&mut cx, file, &parts, &identities))
        .unwrap_or_default();
    let names = Names::new(&identities, &groups);
    let defaults = RouteDefaults::new(&mut cx, suite_file.as_ref(), &parts.defaults);

    let mut routes = Vec::new();
    let mut cases = Vec::new();
    for (route_path, file) in route_files {
        if mock_files.iter().any(|m| same_file(m, &route_path)) {
            continue;
        }
        cx.files.push(file.clone());
        let file_name = case_file_name(&root, &route_path);
        let defs = read_routes(&mut cx, &file, options);
        expand_file(
            &mut cx,
            &file,
            &file_name,
            defs,
            &identities,
            &names,
            &defaults,
            &mut routes,
            &mut cases,
        );
    }

    let Cx {
        sink,
        secrets,
        files,
        ..
    } = cx;
    match target {
        Some(target) if sink.is_empty() => Ok(Suite {
            root,
            files,
            settings,
            target,
            identities: identities.into_iter().map(|i| i.identity).collect(),
            routes,
            cases,
            secrets,
        }),
        _ => Err(LoadError::new(sink.diagnostics, files, secrets)),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// `projects.toml` → `projects`; `admin/users.toml` → `admin::users`.
fn case_file_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path).with_extension("");
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("::")
}

struct Cx {
    root: PathBuf,
    sink: Sink,
    secrets: Secrets,
    files: Vec<SourceFile>,
}

impl Cx {
    fn error(
        &mut self,
        file: &SourceFile,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> crate::diagnostic::Report<'_> {
        self.sink.error(file, span, message)
    }

    fn location(&self, file: &SourceFile, offset: usize) -> Location {
        let (line, column) = file.line_col(offset);
        Location {
            path: file.path.clone(),
            line,
            column,
        }
    }
}

#[derive(Default)]
struct SuiteParts {
    defaults: Defaults,
    vars: BTreeMap<String, String>,
    targets: Vec<(Spanned<String>, TargetDef)>,
    identities: Vec<(Spanned<String>, IdentityDef)>,
    groups: Vec<(Spanned<String>, Vec<Spanned<String>>)>,
}

fn table_entries<'a, 'i>(
    cx: &mut Cx,
    file: &SourceFile,
    value: &'a Spanned<DeValue<'i>>,
    what: &str,
) -> Vec<(Spanned<String>, &'a Spanned<DeValue<'i>>)> {
    match value.get_ref() {
        DeValue::Table(table) => {
            let mut entries: Vec<_> = table
                .iter()
                .map(|(k, v)| (Spanned::new(k.span(), k.get_ref().to_string()), v))
                .collect();
            entries.sort_by_key(|(k, _)| k.span().start);
            entries
        }
        other => {
            cx.error(
                file,
                value.span(),
                format!("`{what}` must be a table, found {}", other.type_str()),
            )
            .label("expected a table");
            Vec::new()
        }
    }
}

fn selected_target_name(table: &DeTable<'_>, options: &LoadOptions) -> Option<String> {
    if let Some(name) = &options.target {
        return Some(name.clone());
    }
    let defaults = table.get("defaults")?.get_ref().as_table()?;
    defaults
        .get("target")?
        .get_ref()
        .as_str()
        .map(str::to_owned)
}

fn read_suite(cx: &mut Cx, file: &SourceFile, options: &LoadOptions) -> SuiteParts {
    let mut table = load::parse(file, &mut cx.sink);
    let mut selected = selected_target_name(table.get_ref(), options);
    if selected.is_none() {
        // With a single target there is nothing to choose.
        if let Some(DeValue::Table(targets)) = table.get_ref().get("targets").map(|t| t.get_ref())
            && targets.len() == 1
        {
            selected = targets.keys().next().map(|k| k.get_ref().to_string());
        }
    }
    // Interpolate everything but the targets that are not selected: a staging URL that
    // is not set must not stop a local run.
    for (key, value) in table.get_mut().iter_mut() {
        if key.get_ref() == "targets" {
            if let DeValue::Table(targets) = value.get_mut() {
                for (name, target) in targets.iter_mut() {
                    if Some(name.get_ref().as_ref()) == selected.as_deref() {
                        interpolate(target, file, options, &mut cx.secrets, &mut cx.sink);
                    }
                }
            }
        } else {
            interpolate(value, file, options, &mut cx.secrets, &mut cx.sink);
        }
    }

    let mut parts = SuiteParts::default();
    let mut saw_targets = false;
    let mut saw_identities = false;
    let mut entries: Vec<_> = table.get_ref().iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    for (key, value) in entries {
        match key.get_ref().as_ref() {
            "defaults" => {
                if let Some(d) =
                    deserialize_item(value, file, &mut cx.sink, &|_| fields_of::<Defaults>())
                {
                    parts.defaults = d;
                }
            }
            "vars" => {
                if let Some(v) = deserialize_item(value, file, &mut cx.sink, &|_| &[]) {
                    parts.vars = v;
                }
            }
            "targets" => {
                saw_targets = true;
                for (name, v) in table_entries(cx, file, value, "targets") {
                    if let Some(def) =
                        deserialize_item(v, file, &mut cx.sink, &|_| fields_of::<TargetDef>())
                    {
                        parts.targets.push((name, def));
                    }
                }
            }
            "identities" => {
                saw_identities = true;
                for (name, v) in table_entries(cx, file, value, "identities") {
                    if let Some(def) = deserialize_item(v, file, &mut cx.sink, &identity_fields) {
                        parts.identities.push((name, def));
                    }
                }
            }
            "groups" => {
                for (name, v) in table_entries(cx, file, value, "groups") {
                    if let Some(members) = deserialize_item(v, file, &mut cx.sink, &|_| &[]) {
                        parts.groups.push((name, members));
                    }
                }
            }
            "route" => {
                cx.error(
                    file,
                    key.span(),
                    "routes belong in route files, not in the suite file",
                )
                .label("`[[route]]` in rolecall.toml")
                .help("move the routes into another `*.toml` file beside rolecall.toml");
            }
            other => {
                let help = did_you_mean(other, SUITE_KEYS);
                cx.error(file, key.span(), format!("unknown key `{other}`"))
                    .label("not a known key here")
                    .help(
                        help.unwrap_or_else(|| {
                            format!("expected one of {}", backticked(&SUITE_KEYS))
                        }),
                    );
            }
        }
    }
    if !saw_targets {
        cx.error(file, 0..0, "the suite has no `[targets]`")
            .label("")
            .help("add `[targets.local]` with `base_url = \"http://127.0.0.1:8080\"` or `mock = \"mock.toml\"`");
    }
    if !saw_identities {
        cx.error(file, 0..0, "the suite has no `[identities]`")
            .label("")
            .help("add at least `[identities.anonymous]` and one identity with credentials");
    }
    parts
}

fn backticked(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn identity_fields(path: &[Seg]) -> &'static [&'static str] {
    match path {
        [] => fields_of::<IdentityDef>(),
        [Seg::Key(k)] if k == "basic" => fields_of::<BasicDef>(),
        [Seg::Key(k)] if k == "api_key" => fields_of::<ApiKeyDef>(),
        [Seg::Key(k)] if k == "jwt" => fields_of::<JwtDef>(),
        [Seg::Key(k)] if k == "login" => fields_of::<LoginDef>(),
        [Seg::Key(k), Seg::Key(b)] if k == "login" && b == "body" => fields_of::<BodyDef>(),
        _ => &[],
    }
}

fn route_fields(path: &[Seg]) -> &'static [&'static str] {
    match path {
        [] => fields_of::<RouteDef>(),
        [Seg::Key(k)] if k == "body" => fields_of::<BodyDef>(),
        [Seg::Key(k), Seg::Index(_)] if k == "case" => fields_of::<CaseDef>(),
        [Seg::Key(k), Seg::Index(_), Seg::Key(b)] if k == "case" && b == "body" => {
            fields_of::<BodyMatchDef>()
        }
        [Seg::Key(k), Seg::Index(_), Seg::Key(h), Seg::Key(_)] if k == "case" && h == "headers" => {
            fields_of::<HeaderMatchDef>()
        }
        _ => &[],
    }
}

fn read_routes(cx: &mut Cx, file: &SourceFile, options: &LoadOptions) -> Vec<RouteDef> {
    let mut table = load::parse(file, &mut cx.sink);
    for (_, value) in table.get_mut().iter_mut() {
        interpolate(value, file, options, &mut cx.secrets, &mut cx.sink);
    }
    let mut defs = Vec::new();
    let mut entries: Vec<_> = table.get_ref().iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    for (key, value) in entries {
        if key.get_ref() != "route" {
            let help = did_you_mean(key.get_ref(), ["route"]).unwrap_or_else(|| {
                "a route file holds only `[[route]]` tables; suite settings go in rolecall.toml"
                    .to_owned()
            });
            cx.error(file, key.span(), format!("unknown key `{}`", key.get_ref()))
                .label("not a known key here")
                .help(help);
            continue;
        }
        let DeValue::Array(items) = value.get_ref() else {
            cx.error(file, key.span(), "`route` must be an array of tables")
                .label("write `[[route]]`, not `[route]`");
            continue;
        };
        for item in items.iter() {
            if let Some(def) = deserialize_item::<RouteDef>(item, file, &mut cx.sink, &route_fields)
            {
                defs.push(def);
            }
        }
    }
    defs
}

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

fn parse_status(
    cx: &mut Cx,
    file: &SourceFile,
    value: &Spanned<StatusValue>,
) -> Option<StatusMatch> {
    match value.get_ref() {
        StatusValue::Code(code) if (100..=599).contains(code) => {
            Some(StatusMatch::Exact(u16::try_from(*code).ok()?))
        }
        StatusValue::Code(code) => {
            cx.error(file, value.span(), format!("invalid status {code}"))
                .label("not an HTTP status")
                .help(
                    "statuses are 100-599; write a class such as \"4xx\" to accept any of a class",
                );
            None
        }
        StatusValue::Text(text) => {
            let bytes = text.as_bytes();
            if bytes.len() == 3 && (b'1'..=b'5').contains(&bytes[0]) && &text[1..] == "xx" {
                Some(StatusMatch::Class(bytes[0] - b'0'))
            } else {
                let help = text
                    .parse::<i64>()
                    .ok()
                    .map(|n| format!("write the number without quotes: `{n}`"))
                    .unwrap_or_else(|| {
                        "write a status such as 403 or a class such as \"2xx\"".to_owned()
                    });
                cx.error(file, value.span(), format!("invalid status `{text}`"))
                    .label("not a status or status class")
                    .help(help);
                None
            }
        }
    }
}

/// Parses "5s", "1h 30m" or, when `signed`, "-1h" into seconds.
fn parse_duration(
    cx: &mut Cx,
    file: &SourceFile,
    value: &Spanned<String>,
    signed: bool,
) -> Option<(Duration, bool)> {
    let text = value.get_ref().trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) if signed => (true, rest.trim_start()),
        _ => (false, text),
    };
    match humantime::parse_duration(digits) {
        Ok(d) => Some((d, negative)),
        Err(e) => {
            cx.error(
                file,
                value.span(),
                format!("invalid duration `{text}`: {e}"),
            )
            .label("not a duration")
            .help(if signed {
                "write a duration such as \"30s\", \"5m\", \"1h\" or \"-1h\""
            } else {
                "write a duration such as \"500ms\", \"5s\" or \"1m\""
            });
            None
        }
    }
}

fn signed_seconds(cx: &mut Cx, file: &SourceFile, value: &Spanned<String>) -> Option<i64> {
    parse_duration(cx, file, value, true).map(|(d, negative)| {
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        if negative { -secs } else { secs }
    })
}

fn positive_duration(cx: &mut Cx, file: &SourceFile, value: &Spanned<String>) -> Option<Duration> {
    let (d, _) = parse_duration(cx, file, value, false)?;
    if d.is_zero() {
        cx.error(file, value.span(), "a timeout must be longer than zero")
            .label("zero");
        return None;
    }
    Some(d)
}

fn compile_regex(cx: &mut Cx, file: &SourceFile, value: &Spanned<String>) -> Option<regex::Regex> {
    match regex::Regex::new(value.get_ref()) {
        Ok(re) => Some(re),
        Err(e) => {
            let detail = e.to_string();
            let last = detail.lines().last().unwrap_or("").trim().to_owned();
            cx.error(file, value.span(), "invalid regular expression")
                .label(last);
            None
        }
    }
}

fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => serde_json::Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => serde_json::Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

fn pairs(map: Option<&BTreeMap<String, String>>) -> Vec<(String, String)> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// A request line: `METHOD /path?query`.
struct RequestLine {
    method: Method,
    path: String,
    placeholders: Vec<String>,
}

fn parse_request_line(
    cx: &mut Cx,
    file: &SourceFile,
    value: &Spanned<String>,
) -> Option<RequestLine> {
    let text = value.get_ref();
    let mut parts = text.split_whitespace();
    let (Some(method), Some(path), None) = (parts.next(), parts.next(), parts.next()) else {
        cx.error(file, value.span(), format!("invalid request line `{text}`"))
            .label("expected `METHOD /path`")
            .help("write a method and a path separated by one space, e.g. \"GET /v1/projects\"");
        return None;
    };
    let method_span = locate(file, value.span(), method);
    let method =
        match Method::parse(method) {
            Some(m) => m,
            None => {
                let upper = method.to_ascii_uppercase();
                let help = if Method::parse(&upper).is_some() {
                    Some(format!("methods are uppercase: `{upper}`"))
                } else {
                    did_you_mean(&upper, Method::NAMES)
                };
                cx.error(file, method_span, format!("unknown method `{method}`"))
                    .label("not an HTTP method rolecall sends")
                    .help(help.unwrap_or_else(|| {
                        format!("expected one of {}", backticked(&Method::NAMES))
                    }));
                return None;
            }
        };
    let path_span = locate(file, value.span(), path);
    if !path.starts_with('/') {
        cx.error(
            file,
            path_span,
            format!("path `{path}` must start with `/`"),
        )
        .label("not an absolute path")
        .help("paths are relative to the target's base URL, e.g. \"/v1/projects\"");
        return None;
    }
    let mut placeholders = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}');
        let name = close.map(|c| &after[..c]);
        match name {
            Some(name)
                if !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                placeholders.push(name.to_owned());
                rest = &after[name.len() + 1..];
            }
            _ => {
                cx.error(file, path_span, "invalid placeholder in path")
                    .label("expected `{name}` with letters, digits or `_`")
                    .help("placeholders are filled from identity variables, e.g. `/v1/tenants/{tenant}`");
                return None;
            }
        }
    }
    if rest.contains('}') {
        cx.error(file, path_span, "unmatched `}` in path")
            .label("here");
        return None;
    }
    Some(RequestLine {
        method,
        path: path.to_owned(),
        placeholders,
    })
}

fn parse_body(cx: &mut Cx, file: &SourceFile, def: &BodyDef, span: Range<usize>) -> Option<Body> {
    let count = usize::from(def.json.is_some())
        + usize::from(def.form.is_some())
        + usize::from(def.raw.is_some());
    if count != 1 {
        cx.error(
            file,
            span,
            "a body has exactly one of `json`, `form` or `raw`",
        )
        .label(if count == 0 {
            "empty body"
        } else {
            "more than one kind of body"
        });
        return None;
    }
    if let Some(json) = &def.json {
        return Some(Body::Json(toml_to_json(json.get_ref())));
    }
    if let Some(form) = &def.form {
        return Some(Body::Form(pairs(Some(form))));
    }
    def.raw.as_ref().map(|raw| Body::Raw {
        text: raw.clone(),
        content_type: def.content_type.clone(),
    })
}

// ---------------------------------------------------------------------------------------
// Settings and target
// ---------------------------------------------------------------------------------------

fn resolve_settings(cx: &mut Cx, file: Option<&SourceFile>, d: &Defaults) -> Settings {
    let mut settings = Settings {
        timeout: Duration::from_secs(10),
        concurrency: 64,
        client_ip_header: d
            .client_ip_header
            .clone()
            .unwrap_or_else(|| "X-Forwarded-For".into()),
        country_header: d
            .country_header
            .clone()
            .unwrap_or_else(|| "CF-IPCountry".into()),
        headers: pairs(d.headers.as_ref()),
    };
    let Some(file) = file else { return settings };
    if let Some(t) = &d.timeout
        && let Some(t) = positive_duration(cx, file, t)
    {
        settings.timeout = t;
    }
    if let Some(c) = &d.concurrency {
        match usize::try_from(*c.get_ref()) {
            Ok(n) if (1..=4096).contains(&n) => settings.concurrency = n,
            _ => {
                cx.error(
                    file,
                    c.span(),
                    format!("invalid concurrency {}", c.get_ref()),
                )
                .label("out of range")
                .help("concurrency is between 1 and 4096");
            }
        }
    }
    settings
}

fn resolve_target(
    cx: &mut Cx,
    file: &SourceFile,
    parts: &SuiteParts,
    options: &LoadOptions,
) -> Option<Target> {
    let names: Vec<&str> = parts
        .targets
        .iter()
        .map(|(n, _)| n.get_ref().as_str())
        .collect();
    for (name, def) in &parts.targets {
        match (&def.base_url, &def.mock) {
            (Some(_), Some(m)) => {
                cx.error(file, m.span(), format!("target `{}` has both `base_url` and `mock`", name.get_ref()))
                    .label("choose one")
                    .help("a target is either a real service (`base_url`) or the in-process mock (`mock`)");
            }
            (None, None) => {
                cx.error(
                    file,
                    name.span(),
                    format!(
                        "target `{}` has neither `base_url` nor `mock`",
                        name.get_ref()
                    ),
                )
                .label("incomplete target");
            }
            (None, Some(m)) => {
                if !cx.root.join(m.get_ref()).is_file() {
                    cx.error(
                        file,
                        m.span(),
                        format!("mock configuration `{}` does not exist", m.get_ref()),
                    )
                    .label("no such file")
                    .help("the path is relative to the suite directory");
                }
            }
            (Some(_), None) => {}
        }
    }
    let wanted = match (&options.target, &parts.defaults.target) {
        (Some(name), _) => Spanned::new(0..0, name.clone()),
        (None, Some(name)) => name.clone(),
        (None, None) if parts.targets.len() == 1 => parts.targets[0].0.clone(),
        (None, None) => {
            if parts.targets.len() > 1 {
                cx.error(file, 0..0, "several targets and no default")
                    .label("")
                    .help(format!(
                        "set `defaults.target` to one of {}",
                        backticked(&names)
                    ));
            }
            return None;
        }
    };
    let Some((name, def)) = parts
        .targets
        .iter()
        .find(|(n, _)| n.get_ref() == wanted.get_ref())
    else {
        let help = did_you_mean(wanted.get_ref(), names.iter().copied())
            .unwrap_or_else(|| format!("known targets: {}", backticked(&names)));
        cx.error(
            file,
            wanted.span(),
            format!("unknown target `{}`", wanted.get_ref()),
        )
        .label("no such target")
        .help(help);
        return None;
    };
    let endpoint = match (&def.base_url, &def.mock) {
        (Some(url), None) => {
            let u = url.get_ref();
            let rest = u
                .strip_prefix("http://")
                .or_else(|| u.strip_prefix("https://"));
            match rest {
                Some(host) if !host.is_empty() && !host.starts_with('/') => {
                    Endpoint::BaseUrl(u.trim_end_matches('/').to_owned())
                }
                _ => {
                    // The value may come from the environment: say what is wrong, never what it is.
                    cx.error(
                        file,
                        url.span(),
                        format!("target `{}` has an invalid `base_url`", name.get_ref()),
                    )
                    .label("expected an http:// or https:// URL with a host")
                    .help("e.g. \"https://staging.example.com\" or \"http://127.0.0.1:8080\"");
                    return None;
                }
            }
        }
        (None, Some(mock)) => Endpoint::Mock(cx.root.join(mock.get_ref())),
        _ => return None,
    };
    let timeout = def
        .timeout
        .as_ref()
        .and_then(|t| positive_duration(cx, file, t));
    let ready_timeout = def
        .ready_timeout
        .as_ref()
        .and_then(|t| positive_duration(cx, file, t))
        .unwrap_or(Duration::from_secs(30));
    let ca_cert = def.ca_cert.as_ref().and_then(|ca| {
        let path = cx.root.join(ca.get_ref());
        if path.is_file() {
            Some(path)
        } else {
            cx.error(
                file,
                ca.span(),
                format!("CA certificate `{}` does not exist", ca.get_ref()),
            )
            .label("no such file")
            .help("the path is relative to the suite directory");
            None
        }
    });
    Some(Target {
        name: name.get_ref().clone(),
        endpoint,
        allow_mutations: def.allow_mutations.unwrap_or(false),
        timeout,
        ca_cert,
        insecure: def.insecure.unwrap_or(false),
        command: def.command.clone(),
        ready: def.ready.clone(),
        ready_timeout,
    })
}

// ---------------------------------------------------------------------------------------
// Identities and groups
// ---------------------------------------------------------------------------------------

struct Resolved {
    identity: Identity,
    span: Range<usize>,
}

fn resolve_identities(cx: &mut Cx, file: &SourceFile, parts: &SuiteParts) -> Vec<Resolved> {
    let index: HashMap<&str, usize> = parts
        .identities
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.get_ref().as_str(), i))
        .collect();
    let names: Vec<&str> = parts
        .identities
        .iter()
        .map(|(n, _)| n.get_ref().as_str())
        .collect();
    for (name, _) in &parts.identities {
        check_name(cx, file, name, "identity");
    }
    let mut merged: Vec<Option<IdentityDef>> = vec![None; parts.identities.len()];
    for i in 0..parts.identities.len() {
        let mut chain = vec![i];
        merge_identity(cx, file, parts, &index, &names, i, &mut chain, &mut merged);
    }
    parts
        .identities
        .iter()
        .zip(merged)
        .map(|((name, _), def)| {
            let def = def.unwrap_or_default();
            let identity = build_identity(cx, file, name, &def, &parts.vars);
            Resolved {
                identity,
                span: name.span(),
            }
        })
        .collect()
}

fn check_name(cx: &mut Cx, file: &SourceFile, name: &Spanned<String>, what: &str) {
    let n = name.get_ref();
    let valid = !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && n.starts_with(|c: char| c.is_ascii_alphabetic());
    if !valid {
        cx.error(file, name.span(), format!("invalid {what} name `{n}`"))
            .label("names appear in test names")
            .help("start with a letter and use letters, digits, `_` or `-`");
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "a recursive walk over shared tables"
)]
fn merge_identity(
    cx: &mut Cx,
    file: &SourceFile,
    parts: &SuiteParts,
    index: &HashMap<&str, usize>,
    names: &[&str],
    i: usize,
    chain: &mut Vec<usize>,
    merged: &mut Vec<Option<IdentityDef>>,
) -> IdentityDef {
    if let Some(done) = &merged[i] {
        return done.clone();
    }
    let own = parts.identities[i].1.clone();
    let result = match &own.extends {
        None => own,
        Some(parent) => match index.get(parent.get_ref().as_str()) {
            None => {
                let help = did_you_mean(parent.get_ref(), names.iter().copied());
                cx.error(
                    file,
                    parent.span(),
                    format!("unknown identity `{}`", parent.get_ref()),
                )
                .label("`extends` must name another identity")
                .help_opt(help);
                own
            }
            Some(&p) if chain.contains(&p) => {
                let mut cycle: Vec<&str> = chain.iter().map(|&c| names[c]).collect();
                cycle.push(names[p]);
                cx.error(
                    file,
                    parent.span(),
                    format!("identity `{}` extends itself", names[i]),
                )
                .label("cycle")
                .help(format!("`extends` forms a cycle: {}", cycle.join(" → ")));
                own
            }
            Some(&p) => {
                chain.push(p);
                let base = merge_identity(cx, file, parts, index, names, p, chain, merged);
                chain.pop();
                inherit(own, base)
            }
        },
    };
    merged[i] = Some(result.clone());
    result
}

fn merge_maps(
    child: Option<BTreeMap<String, String>>,
    parent: Option<BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    match (child, parent) {
        (Some(c), Some(mut p)) => {
            p.extend(c);
            Some(p)
        }
        (c, p) => c.or(p),
    }
}

/// The child's settings win; maps and JWT fields are merged key by key.
fn inherit(child: IdentityDef, parent: IdentityDef) -> IdentityDef {
    let jwt = match (child.jwt, parent.jwt) {
        (Some(c), Some(p)) => Some(JwtDef {
            secret: c.secret.or(p.secret),
            private_key: c.private_key.or(p.private_key),
            alg: c.alg.or(p.alg),
            kid: c.kid.or(p.kid),
            issuer: c.issuer.or(p.issuer),
            audience: c.audience.or(p.audience),
            subject: c.subject.or(p.subject),
            claims: match (c.claims, p.claims) {
                (Some(cc), Some(mut pc)) => {
                    pc.extend(cc);
                    Some(pc)
                }
                (cc, pc) => cc.or(pc),
            },
            expires_in: c.expires_in.or(p.expires_in),
            not_before: c.not_before.or(p.not_before),
            defect: c.defect.or(p.defect),
            header: c.header.or(p.header),
        }),
        (c, p) => c.or(p),
    };
    IdentityDef {
        description: child.description.or(parent.description),
        extends: child.extends,
        authenticated: child.authenticated.or(parent.authenticated),
        bearer: child.bearer.or(parent.bearer),
        basic: child.basic.or(parent.basic),
        cookies: merge_maps(child.cookies, parent.cookies),
        api_key: child.api_key.or(parent.api_key),
        headers: merge_maps(child.headers, parent.headers),
        user_agent: child.user_agent.or(parent.user_agent),
        referer: child.referer.or(parent.referer),
        origin: child.origin.or(parent.origin),
        client_ip: child.client_ip.or(parent.client_ip),
        country: child.country.or(parent.country),
        jwt,
        login: child.login.or(parent.login),
        vars: merge_maps(child.vars, parent.vars),
    }
}

fn build_identity(
    cx: &mut Cx,
    file: &SourceFile,
    name: &Spanned<String>,
    def: &IdentityDef,
    suite_vars: &BTreeMap<String, String>,
) -> Identity {
    let mut creds = Credentials::default();
    let secret = |cx: &mut Cx, value: &str| {
        cx.secrets.add(value);
        Secret::new(value.to_owned())
    };
    creds.bearer = def.bearer.as_deref().map(|b| secret(cx, b));
    creds.basic = def
        .basic
        .as_ref()
        .map(|b| (b.username.clone(), secret(cx, &b.password)));
    creds.cookies = def
        .cookies
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), secret(cx, v)))
        .collect();
    creds.api_key = def.api_key.as_ref().map(|k| {
        (
            k.header.clone().unwrap_or_else(|| "X-API-Key".to_owned()),
            secret(cx, &k.value),
        )
    });
    creds.headers = pairs(def.headers.as_ref());
    creds.user_agent = def.user_agent.clone();
    creds.referer = def.referer.clone();
    creds.origin = def.origin.clone();
    creds.client_ip = def
        .client_ip
        .as_ref()
        .and_then(|ip| match ip.get_ref().parse::<IpAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                cx.error(
                    file,
                    ip.span(),
                    format!("invalid IP address `{}`", ip.get_ref()),
                )
                .label("not an IPv4 or IPv6 address")
                .help("e.g. \"203.0.113.7\" or \"2001:db8::1\"");
                None
            }
        });
    creds.country = def.country.as_ref().and_then(|c| {
        let code = c.get_ref();
        if code.len() == 2 && code.chars().all(|ch| ch.is_ascii_uppercase()) {
            Some(code.clone())
        } else {
            cx.error(file, c.span(), format!("invalid country code `{code}`"))
                .label("expected an ISO 3166-1 alpha-2 code")
                .help(format!(
                    "e.g. \"DE\" or \"US\"{}",
                    if code.len() == 2 {
                        format!("; codes are uppercase: \"{}\"", code.to_ascii_uppercase())
                    } else {
                        String::new()
                    }
                ));
            None
        }
    });
    let mut bad_jwt = false;
    creds.jwt = def.jwt.as_ref().and_then(|jwt| {
        let built = build_jwt(cx, file, name, jwt);
        if let Some(j) = &built {
            bad_jwt =
                j.defect.is_some() || j.expires_in <= 0 || j.not_before.is_some_and(|n| n > 0);
        }
        built
    });
    creds.login = def
        .login
        .as_ref()
        .and_then(|login| build_login(cx, file, name, login));
    let has_credentials = creds.bearer.is_some()
        || creds.basic.is_some()
        || !creds.cookies.is_empty()
        || creds.api_key.is_some()
        || def.jwt.is_some()
        || creds.login.is_some();
    let authenticated = def.authenticated.unwrap_or(has_credentials && !bad_jwt);
    let mut vars = suite_vars.clone();
    vars.extend(def.vars.clone().unwrap_or_default());
    Identity {
        name: name.get_ref().clone(),
        description: def.description.clone(),
        authenticated,
        credentials: creds,
        vars,
        location: cx.location(file, name.span().start),
    }
}

fn build_jwt(cx: &mut Cx, file: &SourceFile, name: &Spanned<String>, def: &JwtDef) -> Option<Jwt> {
    let key = match (&def.secret, &def.private_key) {
        (Some(secret), None) => {
            cx.secrets.add(secret);
            JwtKey::Secret(Secret::new(secret.clone()))
        }
        (None, Some(path)) => {
            let full = cx.root.join(path.get_ref());
            match std::fs::read_to_string(&full) {
                Ok(pem) => {
                    cx.secrets.add(pem.trim());
                    JwtKey::PrivateKeyPem(Secret::new(pem))
                }
                Err(e) => {
                    cx.error(
                        file,
                        path.span(),
                        format!("cannot read private key `{}`: {e}", path.get_ref()),
                    )
                    .label("unreadable key file")
                    .help("the path is relative to the suite directory");
                    return None;
                }
            }
        }
        (Some(_), Some(path)) => {
            cx.error(
                file,
                path.span(),
                "a JWT has either `secret` or `private_key`, not both",
            )
            .label("second key");
            return None;
        }
        (None, None) => {
            cx.error(file, name.span(), format!("identity `{}` has a `jwt` without a key", name.get_ref()))
                .label("no `jwt.secret` or `jwt.private_key`")
                .help("add `jwt.secret = \"${env:JWT_SECRET}\"` or `jwt.private_key = \"keys/rs256.pem\"`");
            return None;
        }
    };
    let alg = match &def.alg {
        Some(alg) if JWT_ALGS.contains(&alg.get_ref().as_str()) => {
            let hmac = alg.get_ref().starts_with("HS");
            if hmac != matches!(key, JwtKey::Secret(_)) {
                cx.error(
                    file,
                    alg.span(),
                    format!("`{}` does not fit the key", alg.get_ref()),
                )
                .label("wrong key kind for this algorithm")
                .help("HS* algorithms use `secret`; RS*, PS*, ES* and EdDSA use `private_key`");
                return None;
            }
            alg.get_ref().clone()
        }
        Some(alg) => {
            let help = if alg.get_ref().eq_ignore_ascii_case("none") {
                Some("to send an unsigned token, set `defect = \"alg_none\"`".to_owned())
            } else {
                did_you_mean(&alg.get_ref().to_ascii_uppercase(), JWT_ALGS)
            };
            cx.error(
                file,
                alg.span(),
                format!("unknown JWT algorithm `{}`", alg.get_ref()),
            )
            .label("not a supported algorithm")
            .help(help.unwrap_or_else(|| format!("expected one of {}", backticked(&JWT_ALGS))));
            return None;
        }
        None if matches!(key, JwtKey::Secret(_)) => "HS256".to_owned(),
        None => "RS256".to_owned(),
    };
    let defect = match &def.defect {
        None => None,
        Some(d) => match JwtDefect::parse(d.get_ref()) {
            Some(defect) => Some(defect),
            None => {
                let help = did_you_mean(d.get_ref(), JwtDefect::NAMES).unwrap_or_else(|| {
                    format!("expected one of {}", backticked(&JwtDefect::NAMES))
                });
                cx.error(
                    file,
                    d.span(),
                    format!("unknown JWT defect `{}`", d.get_ref()),
                )
                .label("not a known defect")
                .help(help);
                return None;
            }
        },
    };
    let mut expires_in = match &def.expires_in {
        Some(e) => signed_seconds(cx, file, e)?,
        None => 3600,
    };
    let mut not_before = match &def.not_before {
        Some(n) => Some(signed_seconds(cx, file, n)?),
        None => None,
    };
    match defect {
        Some(JwtDefect::Expired) if expires_in > 0 => expires_in = -3600,
        Some(JwtDefect::NotYetValid) if not_before.is_none_or(|n| n <= 0) => {
            not_before = Some(3600);
            expires_in = expires_in.max(7200);
        }
        _ => {}
    }
    let mut claims: serde_json::Map<String, serde_json::Value> = def
        .claims
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), toml_to_json(v)))
        .collect();
    if let Some(iss) = &def.issuer {
        claims.insert("iss".into(), iss.clone().into());
    }
    if let Some(aud) = &def.audience {
        claims.insert("aud".into(), aud.clone().into());
    }
    if let Some(sub) = &def.subject {
        claims.insert("sub".into(), sub.clone().into());
    }
    if defect == Some(JwtDefect::WrongAudience) {
        claims.insert("aud".into(), "rolecall-wrong-audience".into());
    }
    Some(Jwt {
        key,
        alg,
        kid: def.kid.clone(),
        claims,
        expires_in,
        not_before,
        defect,
        header: def
            .header
            .clone()
            .unwrap_or_else(|| "Authorization".to_owned()),
    })
}

fn build_login(
    cx: &mut Cx,
    file: &SourceFile,
    name: &Spanned<String>,
    def: &LoginDef,
) -> Option<Login> {
    let line = parse_request_line(cx, file, &def.request)?;
    if !line.placeholders.is_empty() {
        cx.error(
            file,
            def.request.span(),
            "a login request cannot use `{…}` placeholders",
        )
        .label("placeholder in login path");
        return None;
    }
    if def.token.is_none() && def.cookie.is_none() {
        cx.error(
            file,
            def.request.span(),
            format!("the login of `{}` captures nothing", name.get_ref()),
        )
        .label("no `token` or `cookie`")
        .help("add `token = \"/access_token\"` (a JSON pointer) or `cookie = \"session\"`");
        return None;
    }
    if let Some(token) = &def.token
        && !(token.get_ref().is_empty() || token.get_ref().starts_with('/'))
    {
        cx.error(
            file,
            token.span(),
            format!("invalid JSON pointer `{}`", token.get_ref()),
        )
        .label("a JSON pointer starts with `/`")
        .help(format!("did you mean `/{}`?", token.get_ref()));
        return None;
    }
    let body = match &def.body {
        Some(b) => Some(parse_body(cx, file, b, def.request.span())?),
        None => None,
    };
    Some(Login {
        method: line.method,
        path: line.path,
        headers: pairs(def.headers.as_ref()),
        body,
        token: def.token.as_ref().map(|t| t.get_ref().clone()),
        cookie: def.cookie.clone(),
    })
}

fn resolve_groups(
    cx: &mut Cx,
    file: &SourceFile,
    parts: &SuiteParts,
    identities: &[Resolved],
) -> Vec<(String, Vec<usize>)> {
    let names: Vec<&str> = identities
        .iter()
        .map(|i| i.identity.name.as_str())
        .collect();
    parts
        .groups
        .iter()
        .map(|(group, members)| {
            check_name(cx, file, group, "group");
            if let Some(clash) = identities
                .iter()
                .find(|i| &i.identity.name == group.get_ref())
            {
                let (line, _) = file.line_col(clash.span.start);
                cx.error(
                    file,
                    group.span(),
                    format!("group `{}` has the name of an identity", group.get_ref()),
                )
                .label("ambiguous name")
                .help(format!(
                    "identity `{}` is declared on line {line}; rename one of them",
                    group.get_ref()
                ));
            }
            let mut indices = Vec::new();
            for member in members {
                match names.iter().position(|n| n == member.get_ref()) {
                    Some(i) if indices.contains(&i) => {
                        cx.error(
                            file,
                            member.span(),
                            format!("identity `{}` is listed twice", member.get_ref()),
                        )
                        .label("duplicate");
                    }
                    Some(i) => indices.push(i),
                    None => {
                        let help = did_you_mean(member.get_ref(), names.iter().copied());
                        cx.error(
                            file,
                            member.span(),
                            format!("unknown identity `{}`", member.get_ref()),
                        )
                        .label("groups list identities")
                        .help_opt(help);
                    }
                }
            }
            (group.get_ref().clone(), indices)
        })
        .collect()
}

/// Identity and group names, for resolving lists such as `allow`.
struct Names<'a> {
    identities: Vec<&'a str>,
    groups: &'a [(String, Vec<usize>)],
}

impl<'a> Names<'a> {
    fn new(identities: &'a [Resolved], groups: &'a [(String, Vec<usize>)]) -> Self {
        Names {
            identities: identities
                .iter()
                .map(|i| i.identity.name.as_str())
                .collect(),
            groups,
        }
    }

    /// Identity indices named by `name` (an identity or a group).
    fn resolve(
        &self,
        cx: &mut Cx,
        file: &SourceFile,
        name: &Spanned<String>,
    ) -> Option<Vec<usize>> {
        if let Some(i) = self.identities.iter().position(|n| n == name.get_ref()) {
            return Some(vec![i]);
        }
        if let Some((_, members)) = self.groups.iter().find(|(g, _)| g == name.get_ref()) {
            return Some(members.clone());
        }
        let all = self
            .identities
            .iter()
            .copied()
            .chain(self.groups.iter().map(|(g, _)| g.as_str()));
        let help = did_you_mean(name.get_ref(), all)
            .unwrap_or_else(|| format!("known identities: {}", backticked(&self.identities)));
        cx.error(
            file,
            name.span(),
            format!("unknown identity `{}`", name.get_ref()),
        )
        .label("not an identity or group")
        .help(help);
        None
    }
}

// ---------------------------------------------------------------------------------------
// Routes and cases
// ---------------------------------------------------------------------------------------

struct RouteDefaults {
    allow: StatusMatch,
    deny: StatusMatch,
    unauthenticated: StatusMatch,
    login_redirect: Option<String>,
    snapshot: bool,
    follow_redirects: bool,
}

impl RouteDefaults {
    fn new(cx: &mut Cx, file: Option<&SourceFile>, d: &Defaults) -> Self {
        let mut status = |v: &Option<Spanned<StatusValue>>, default| match (file, v) {
            (Some(file), Some(v)) => parse_status(cx, file, v).unwrap_or(default),
            _ => default,
        };
        RouteDefaults {
            allow: status(&d.allow, StatusMatch::Class(2)),
            deny: status(&d.deny, StatusMatch::Exact(403)),
            unauthenticated: status(&d.unauthenticated, StatusMatch::Exact(401)),
            login_redirect: d.login_redirect.clone(),
            snapshot: d.snapshot.unwrap_or(false),
            follow_redirects: d.follow_redirects.unwrap_or(false),
        }
    }
}

/// A route name derived from its request line: `GET /v1/projects/{id}` → `get_v1_projects_id`.
fn derive_route_name(method: Method, path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let mut name = method.as_str().to_ascii_lowercase();
    let mut last_sep = false;
    name.push('_');
    for c in path.trim_start_matches('/').chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
            last_sep = false;
        } else if !last_sep && c != '{' && c != '}' {
            name.push('_');
            last_sep = true;
        }
    }
    while name.ends_with('_') {
        name.pop();
    }
    if path == "/" {
        name.push_str("_root");
    }
    name
}

#[allow(
    clippy::too_many_arguments,
    reason = "expansion reads every resolved table once"
)]
fn expand_file(
    cx: &mut Cx,
    file: &SourceFile,
    file_name: &str,
    defs: Vec<RouteDef>,
    identities: &[Resolved],
    names: &Names<'_>,
    defaults: &RouteDefaults,
    routes: &mut Vec<Route>,
    cases: &mut Vec<Case>,
) {
    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    for def in defs {
        let line = parse_request_line(cx, file, &def.request);
        let name = match &def.name {
            Some(n) => {
                let ok = !n.get_ref().is_empty()
                    && n.get_ref()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
                if !ok {
                    cx.error(
                        file,
                        n.span(),
                        format!("invalid route name `{}`", n.get_ref()),
                    )
                    .label("names appear in test names")
                    .help("use letters, digits, `_`, `-` or `.`");
                }
                Some((n.get_ref().clone(), n.span()))
            }
            None => line
                .as_ref()
                .map(|l| (derive_route_name(l.method, &l.path), def.request.span())),
        };
        if let Some((name, span)) = &name {
            if let Some(first) = seen.get(name) {
                let (first_line, _) = file.line_col(first.start);
                cx.error(file, span.clone(), format!("duplicate route name `{name}`"))
                    .label("a route of this file already has this name")
                    .help(format!("the first one is on line {first_line}; add `name = \"…\"` to tell them apart"));
            } else {
                seen.insert(name.clone(), span.clone());
            }
        }
        let route = build_route(cx, file, &def, identities, names, defaults);
        let (Some(line), Some((name, _)), Some(mut route)) = (line, name, route) else {
            continue;
        };
        // Every placeholder must be known to every identity.
        for var in &line.placeholders {
            let missing: Vec<&str> = identities
                .iter()
                .filter(|i| var != "identity" && !i.identity.vars.contains_key(var))
                .map(|i| i.identity.name.as_str())
                .collect();
            if !missing.is_empty() {
                let span = locate(file, def.request.span(), &format!("{{{var}}}"));
                let shown: Vec<&str> = missing.iter().take(3).copied().collect();
                let more = if missing.len() > 3 {
                    format!(" and {} more", missing.len() - 3)
                } else {
                    String::new()
                };
                cx.error(
                    file,
                    span,
                    format!(
                        "no value for `{{{var}}}` for identity {}{more}",
                        backticked(&shown)
                    ),
                )
                .label("placeholder without a value")
                .help(format!(
                    "set `{var}` in the suite's `[vars]` or in each identity's `vars`"
                ));
            }
        }
        let index = routes.len();
        let location = cx.location(file, def.request.span().start);
        for (i, resolved) in identities.iter().enumerate() {
            let identity = &resolved.identity;
            let path = render_path(&line.path, &identity.name, &identity.vars);
            let expect = route
                .expectations
                .remove(&i)
                .unwrap_or_else(|| route.inferred(i, identity.authenticated, defaults));
            cases.push(Case {
                name: format!("{file_name}::{name}::{}", identity.name),
                route: index,
                identity: i,
                path,
                expect,
            });
        }
        routes.push(Route {
            name,
            file_name: file_name.to_owned(),
            description: def.description.clone(),
            method: line.method,
            path: line.path,
            query: pairs(def.query.as_ref()),
            headers: pairs(def.headers.as_ref()),
            body: route.body,
            location,
        });
    }
}

fn render_path(path: &str, identity: &str, vars: &BTreeMap<String, String>) -> String {
    if !path.contains('{') {
        return path.to_owned();
    }
    let mut out = String::with_capacity(path.len() + 16);
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').unwrap_or(after.len());
        let var = &after[..close];
        match vars.get(var) {
            Some(v) => out.push_str(v),
            None if var == "identity" => out.push_str(identity),
            None => {}
        }
        rest = after.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// A route's validated expectations, before expansion.
struct BuiltRoute {
    allowed: Vec<bool>,
    layer: Option<Layer>,
    vendor: Option<String>,
    status: StatusMatch,
    deny: StatusMatch,
    unauthenticated: StatusMatch,
    snapshot: bool,
    follow_redirects: bool,
    expectations: HashMap<usize, Expectation>,
    body: Option<Body>,
}

impl BuiltRoute {
    fn inferred(&self, i: usize, authenticated: bool, defaults: &RouteDefaults) -> Expectation {
        let (decision, status) = if self.allowed[i] {
            (Decision::Allow, self.status)
        } else if !authenticated {
            (Decision::Unauthenticated, self.unauthenticated)
        } else {
            (Decision::Deny, self.deny)
        };
        let login_redirect = (decision == Decision::Unauthenticated)
            .then(|| defaults.login_redirect.clone())
            .flatten();
        let status = if login_redirect.is_some() {
            StatusMatch::Class(3)
        } else {
            status
        };
        let refused = decision != Decision::Allow;
        Expectation {
            decision,
            status,
            www_authenticate: decision == Decision::Unauthenticated
                && status == StatusMatch::Exact(401),
            redirect: login_redirect,
            layer: if refused { self.layer } else { None },
            vendor: if refused { self.vendor.clone() } else { None },
            body: Vec::new(),
            headers: Vec::new(),
            snapshot: self.snapshot && refused,
            follow_redirects: self.follow_redirects,
            skip: None,
            explicit_at: None,
        }
    }
}

fn build_route(
    cx: &mut Cx,
    file: &SourceFile,
    def: &RouteDef,
    identities: &[Resolved],
    names: &Names<'_>,
    defaults: &RouteDefaults,
) -> Option<BuiltRoute> {
    let mut ok = true;
    let mut allowed = vec![def.public.unwrap_or(false); identities.len()];
    if def.public == Some(true) && def.allow.is_some() {
        let span = def
            .allow
            .as_ref()
            .and_then(|a| a.first())
            .map(|a| a.span())
            .unwrap_or(def.request.span());
        cx.error(file, span, "a public route needs no `allow` list")
            .label("redundant with `public = true`")
            .help("remove `allow`, or remove `public = true` to restrict the route");
        ok = false;
    }
    let mut listed: HashMap<usize, Range<usize>> = HashMap::new();
    for entry in def.allow.iter().flatten() {
        let Some(members) = names.resolve(cx, file, entry) else {
            ok = false;
            continue;
        };
        for i in members {
            let identity = &identities[i].identity;
            if let Some(first) = listed.get(&i) {
                if first != &entry.span() {
                    let (line, col) = file.line_col(first.start);
                    cx.error(
                        file,
                        entry.span(),
                        format!("identity `{}` is allowed twice", identity.name),
                    )
                    .label("already allowed")
                    .help(format!("it is first allowed at {line}:{col}"));
                }
                continue;
            }
            listed.insert(i, entry.span());
            if !identity.authenticated {
                cx.error(file, entry.span(), format!("`{}` has no valid credentials and cannot be allowed", identity.name))
                    .label("unauthenticated identity in `allow`")
                    .help("set `public = true` for a route anyone may use, or give this identity an explicit `[[route.case]]`");
                ok = false;
            }
            allowed[i] = true;
        }
    }
    let mut status_of =
        |v: &Option<Spanned<StatusValue>>, default: StatusMatch, ok: &mut bool| match v {
            Some(v) => parse_status(cx, file, v).unwrap_or_else(|| {
                *ok = false;
                default
            }),
            None => default,
        };
    let status = status_of(&def.status, defaults.allow, &mut ok);
    let deny = status_of(&def.deny, defaults.deny, &mut ok);
    let unauthenticated = status_of(&def.unauthenticated, defaults.unauthenticated, &mut ok);
    let body = match &def.body {
        Some(b) => {
            let body = parse_body(cx, file, b, def.request.span());
            ok &= body.is_some();
            body
        }
        None => None,
    };
    let layer = match &def.layer {
        Some(l) => {
            let layer = parse_layer(cx, file, l);
            ok &= layer.is_some();
            layer
        }
        None => None,
    };
    let mut route = BuiltRoute {
        allowed,
        layer,
        vendor: def.vendor.clone(),
        status,
        deny,
        unauthenticated,
        snapshot: def.snapshot.unwrap_or(defaults.snapshot),
        follow_redirects: def.follow_redirects.unwrap_or(defaults.follow_redirects),
        expectations: HashMap::new(),
        body,
    };
    let mut case_at: HashMap<usize, Range<usize>> = HashMap::new();
    for case in def.case.iter().flatten() {
        let targets: Vec<&Spanned<String>> = match (&case.identity, &case.identities) {
            (Some(one), None) => vec![one],
            (None, Some(many)) if !many.is_empty() => many.iter().collect(),
            (Some(one), Some(_)) => {
                cx.error(
                    file,
                    one.span(),
                    "a case has `identity` or `identities`, not both",
                )
                .label("choose one");
                ok = false;
                continue;
            }
            _ => {
                cx.error(
                    file,
                    def.request.span(),
                    "a `[[route.case]]` does not say whose case it is",
                )
                .label("in this route")
                .help("add `identity = \"…\"` or `identities = [\"…\"]` to the case");
                ok = false;
                continue;
            }
        };
        let Some(base) = build_case(cx, file, case) else {
            ok = false;
            continue;
        };
        for entry in targets {
            let Some(members) = names.resolve(cx, file, entry) else {
                ok = false;
                continue;
            };
            for i in members {
                let identity = &identities[i].identity;
                if let Some(first) = case_at.get(&i) {
                    let (line, _) = file.line_col(first.start);
                    cx.error(
                        file,
                        entry.span(),
                        format!(
                            "identity `{}` already has a case in this route",
                            identity.name
                        ),
                    )
                    .label("second case")
                    .help(format!("the first one is on line {line}; merge them"));
                    ok = false;
                    continue;
                }
                case_at.insert(i, entry.span());
                let mut expect = route.inferred(i, identity.authenticated, defaults);
                apply_case(&mut expect, &base, cx.location(file, entry.span().start));
                route.expectations.insert(i, expect);
            }
        }
    }
    ok.then_some(route)
}

/// A validated `[[route.case]]`, applied to each identity it names.
struct CaseOverride {
    status: Option<StatusMatch>,
    layer: Option<Layer>,
    vendor: Option<String>,
    body: Vec<BodyMatch>,
    headers: Vec<HeaderMatch>,
    redirect: Option<String>,
    snapshot: Option<bool>,
    follow_redirects: Option<bool>,
    skip: Option<String>,
}

fn build_case(cx: &mut Cx, file: &SourceFile, case: &CaseDef) -> Option<CaseOverride> {
    let mut ok = true;
    let status = match &case.status {
        Some(s) => {
            let parsed = parse_status(cx, file, s);
            ok &= parsed.is_some();
            parsed
        }
        None => None,
    };
    let layer = match &case.layer {
        Some(l) => {
            let layer = parse_layer(cx, file, l);
            ok &= layer.is_some();
            layer
        }
        None => None,
    };
    let mut body = Vec::new();
    if let Some(b) = &case.body {
        if let Some(json) = &b.json {
            body.push(BodyMatch::Json(toml_to_json(json.get_ref())));
        }
        if let Some(c) = &b.contains {
            body.push(BodyMatch::Contains(c.clone()));
        }
        if let Some(c) = &b.not_contains {
            body.push(BodyMatch::NotContains(c.clone()));
        }
        if let Some(re) = &b.regex {
            match compile_regex(cx, file, re) {
                Some(re) => body.push(BodyMatch::Regex(re)),
                None => ok = false,
            }
        }
    }
    let mut headers = Vec::new();
    for (name, m) in case.headers.iter().flatten() {
        let count = usize::from(m.equals.is_some())
            + usize::from(m.contains.is_some())
            + usize::from(m.regex.is_some())
            + usize::from(m.present.is_some());
        let rule = if count != 1 {
            None
        } else if let Some(v) = &m.equals {
            Some(HeaderRule::Equals(v.clone()))
        } else if let Some(v) = &m.contains {
            Some(HeaderRule::Contains(v.clone()))
        } else if let Some(re) = &m.regex {
            compile_regex(cx, file, re).map(HeaderRule::Regex)
        } else {
            m.present.map(HeaderRule::Present)
        };
        match rule {
            Some(rule) => headers.push(HeaderMatch {
                name: name.to_ascii_lowercase(),
                rule,
            }),
            None => {
                if count != 1 {
                    let span = m.regex.as_ref().map(|r| r.span()).unwrap_or(0..0);
                    let span = if span == (0..0) {
                        locate(file, 0..file.text.len(), name)
                    } else {
                        span
                    };
                    cx.error(file, span, format!("header matcher `{name}` needs exactly one of `equals`, `contains`, `regex` or `present`"))
                        .label("ambiguous matcher");
                }
                ok = false;
            }
        }
    }
    ok.then(|| CaseOverride {
        status,
        layer,
        vendor: case.vendor.clone(),
        body,
        headers,
        redirect: case.redirect.clone(),
        snapshot: case.snapshot,
        follow_redirects: case.follow_redirects,
        skip: case.skip.clone(),
    })
}

fn parse_layer(cx: &mut Cx, file: &SourceFile, l: &Spanned<String>) -> Option<Layer> {
    match l.get_ref().parse::<Layer>() {
        Ok(layer) if layer != Layer::Unknown => Some(layer),
        _ => {
            let names = Layer::ASSERTABLE.map(Layer::as_str);
            let help = did_you_mean(l.get_ref(), names)
                .unwrap_or_else(|| format!("expected one of {}", backticked(&names)));
            cx.error(file, l.span(), format!("unknown layer `{}`", l.get_ref()))
                .label("not a layer")
                .help(help);
            None
        }
    }
}

fn apply_case(expect: &mut Expectation, case: &CaseOverride, at: Location) {
    if let Some(status) = case.status {
        expect.status = status;
        expect.www_authenticate =
            expect.decision == Decision::Unauthenticated && status == StatusMatch::Exact(401);
        if !matches!(status, StatusMatch::Class(3))
            && !matches!(status, StatusMatch::Exact(300..=399))
        {
            expect.redirect = None;
        }
    }
    // A case that names another layer no longer expects the route's vendor.
    if case.layer.is_some() && case.layer != expect.layer {
        expect.vendor = None;
    }
    expect.layer = case.layer.or(expect.layer);
    expect.vendor = case.vendor.clone().or(expect.vendor.take());
    expect.body = case.body.clone();
    expect.headers = case.headers.clone();
    if case.redirect.is_some() {
        expect.redirect = case.redirect.clone();
    }
    if let Some(s) = case.snapshot {
        expect.snapshot = s;
    }
    if let Some(f) = case.follow_redirects {
        expect.follow_redirects = f;
    }
    expect.skip = case.skip.clone();
    expect.explicit_at = Some(at);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_names_are_derived_from_the_request_line() {
        assert_eq!(
            derive_route_name(Method::Get, "/v1/projects/{id}"),
            "get_v1_projects_id"
        );
        assert_eq!(
            derive_route_name(Method::Post, "/v1/projects/123/archive"),
            "post_v1_projects_123_archive"
        );
        assert_eq!(derive_route_name(Method::Get, "/"), "get_root");
        assert_eq!(
            derive_route_name(Method::Delete, "/a--b/?x=1"),
            "delete_a_b"
        );
    }

    #[test]
    fn paths_are_rendered_per_identity() {
        let vars = BTreeMap::from([("tenant".to_owned(), "acme".to_owned())]);
        assert_eq!(render_path("/t/{tenant}/p", "admin", &vars), "/t/acme/p");
        assert_eq!(render_path("/u/{identity}", "admin", &vars), "/u/admin");
        assert_eq!(render_path("/plain", "admin", &vars), "/plain");
    }
}
