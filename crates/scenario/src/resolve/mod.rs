//! Validation and expansion: raw file items become identities, a target, routes and cases.

mod contract;
mod credentials;
mod fixtures;
mod headers;
mod identities;
mod journeys;
mod routes;
mod target;
mod values;

use contract::resolve_contract;
use credentials::{Item, collect_credentials};
use fixtures::{FixtureItem, resolve_fixtures};
use headers::check_headers;
use identities::{Names, resolve_groups, resolve_identities};
use journeys::{JourneyItem, expand_journeys, read_journeys};
pub use routes::derive_route_name;
use routes::{RouteDefaults, expand_file};
use target::{resolve_settings, resolve_target};

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::contract::{Contract, Contracts};
use crate::diagnostic::{LoadError, Location, Sink, SourceFile, did_you_mean, display_path};
use crate::load::{self, EnvPieces, LoadOptions, Seg, deserialize_item, fields_of, interpolate};
use crate::model::Suite;
use crate::raw::{
    ApiKeyDef, BasicDef, BodyDef, BodyMatchDef, CaseDef, Defaults, FixtureDef, HeaderMatchDef,
    IdentityDef, JwtDef, Keys, LoginDef, RouteDef, TargetDef,
};
use crate::secrets::Secrets;

const SUITE_KEYS: [&str; 7] = [
    "defaults",
    "vars",
    "targets",
    "identities",
    "groups",
    "deny_contract",
    "fixture",
];
const JWT_ALGS: [&str; 12] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "EdDSA",
];

/// Loads, validates and expands the suite at `path` (a directory holding `rolecall.toml`,
/// or that file). Every problem in every file is reported at once; nothing is returned
/// from a suite with any problem.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Suite, LoadError> {
    let found = load::discover(path).map_err(|message| {
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
            Secrets::default(),
        )
    })?;
    let mut sink = Sink::default();
    for (path, problem) in &found.problems {
        let file = SourceFile::new(display_path(path), "");
        let help = problem.contains("is a directory").then(|| {
            "a name ending in `.toml` is read as a route file; rename the directory".to_owned()
        });
        sink.error(&file, 0..0, problem.clone())
            .label("")
            .help_opt(help);
    }
    let suite_file = load::read_source(
        &found.suite_file,
        display_path(&found.suite_file),
        &mut sink,
    );
    let route_files = found
        .routes
        .iter()
        .filter_map(|p| load::read_source(p, display_path(p), &mut sink).map(|f| (p.clone(), f)))
        .collect();
    let Some(suite_file) = suite_file else {
        return Err(LoadError::new(
            sink.diagnostics,
            Vec::new(),
            Secrets::default(),
        ));
    };
    from_sources(found.root, suite_file, route_files, sink, options)
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
        as_written: HashMap::new(),
    };
    let suite_file = Some(suite_file);
    let mut parts = suite_file
        .as_ref()
        .map(|file| read_suite(&mut cx, file, options))
        .unwrap_or_default();

    // Files the suite names for other purposes are not route files.
    let mock_files: Vec<PathBuf> = parts
        .targets
        .iter()
        .filter_map(|(_, def)| def.mock.as_ref())
        .chain(parts.defaults.fingerprints.as_ref())
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
    let mut contracts = Contracts {
        suite: parts.contract.clone().map(std::sync::Arc::new),
        files: Vec::new(),
    };
    let mut fixture_items: Vec<FixtureItem> = std::mem::take(&mut parts.fixtures)
        .into_iter()
        .filter_map(|def| {
            suite_file.as_ref().map(|file| FixtureItem {
                file: file.clone(),
                file_name: String::new(),
                def,
            })
        })
        .collect();
    let mut journey_items: Vec<JourneyItem> = Vec::new();
    // Every file is read before any route is expanded: a route may use a fixture
    // declared in any file.
    let mut read = Vec::new();
    for (route_path, file) in route_files {
        if mock_files.iter().any(|m| same_file(m, &route_path)) {
            continue;
        }
        cx.files.push(file.clone());
        let file_name = case_file_name(&root, &route_path);
        let (defs, file_contract, file_fixtures, file_journeys) =
            read_routes(&mut cx, &file, &file_name, options);
        journey_items.extend(file_journeys);
        if let Some(extension) = file_contract {
            let merged = match &parts.contract {
                Some(suite) => suite.extended(extension),
                None => extension,
            };
            contracts
                .files
                .push((file.path.clone(), std::sync::Arc::new(merged)));
        }
        fixture_items.extend(file_fixtures.into_iter().map(|def| FixtureItem {
            file: file.clone(),
            file_name: file_name.clone(),
            def,
        }));
        read.push((file, file_name, defs, std::mem::take(&mut cx.as_written)));
    }
    let fixtures = resolve_fixtures(&mut cx, fixture_items, &identities, &names);
    for (file, file_name, defs, as_written) in read {
        cx.as_written = as_written;
        expand_file(
            &mut cx,
            &file,
            &file_name,
            defs,
            &identities,
            &names,
            &defaults,
            &fixtures,
            &mut routes,
            &mut cases,
        );
    }
    let context = journeys::Context {
        identities: &identities,
        names: &names,
        defaults: &defaults,
        fixtures: &fixtures,
    };
    let journeys = expand_journeys(&mut cx, journey_items, &context, &mut routes, &mut cases);

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
            fixtures: fixtures.list,
            journeys,
            secrets,
            contracts,
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
    pub(super) root: PathBuf,
    pub(super) sink: Sink,
    pub(super) secrets: Secrets,
    pub(super) files: Vec<SourceFile>,
    /// The current route file's `request` and `name` strings that read the environment,
    /// as written (by span start): names are made from these, never from the values.
    pub(super) as_written: HashMap<usize, String>,
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
    pub(super) defaults: Defaults,
    pub(super) vars: BTreeMap<String, String>,
    pub(super) targets: Vec<(Spanned<String>, TargetDef)>,
    pub(super) identities: Vec<(Spanned<String>, IdentityDef)>,
    pub(super) groups: Vec<(Spanned<String>, Vec<Spanned<String>>)>,
    pub(super) contract: Option<Contract>,
    pub(super) fixtures: Vec<FixtureDef>,
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
    let mut pieces = EnvPieces::default();
    for (key, value) in table.get_mut().iter_mut() {
        if key.get_ref() == "targets" {
            if let DeValue::Table(targets) = value.get_mut() {
                for (name, target) in targets.iter_mut() {
                    if Some(name.get_ref().as_ref()) == selected.as_deref() {
                        interpolate(
                            target,
                            file,
                            options,
                            &mut cx.secrets,
                            &mut pieces,
                            &mut cx.sink,
                        );
                    }
                }
            }
        } else {
            interpolate(
                value,
                file,
                options,
                &mut cx.secrets,
                &mut pieces,
                &mut cx.sink,
            );
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
                check_headers(cx, file, &pieces, value, headers::DEFAULTS);
                collect_credentials(cx, file, value, Item::Headers);
                if let Some(d) = deserialize_item(value, file, &mut cx.sink, &top_level::<Defaults>)
                {
                    parts.defaults = Defaults {
                        keys: key_spans(value),
                        ..d
                    };
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
                        deserialize_item(v, file, &mut cx.sink, &top_level::<TargetDef>)
                    {
                        parts.targets.push((name, def));
                    }
                }
            }
            "identities" => {
                saw_identities = true;
                for (name, v) in table_entries(cx, file, value, "identities") {
                    check_headers(cx, file, &pieces, v, headers::IDENTITY);
                    collect_credentials(cx, file, v, Item::Identity);
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
            "deny_contract" => {
                parts.contract = resolve_contract(cx, file, key.span(), value);
            }
            "fixture" => parts.fixtures = read_fixtures(cx, file, &pieces, key, value),
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

/// The fields of `T` at the top of an item, and none below (its maps take any key).
fn top_level<T: serde::de::DeserializeOwned>(path: &[Seg]) -> &'static [&'static str] {
    if path.is_empty() {
        fields_of::<T>()
    } else {
        &[]
    }
}

fn route_fields(path: &[Seg]) -> &'static [&'static str] {
    match path {
        [] => fields_of::<RouteDef>(),
        [Seg::Key(k)] if k == "body" => fields_of::<BodyDef>(),
        _ => &[],
    }
}

fn case_fields(path: &[Seg]) -> &'static [&'static str] {
    match path {
        [] => fields_of::<CaseDef>(),
        [Seg::Key(b)] if b == "body" => fields_of::<BodyMatchDef>(),
        _ => &[],
    }
}

/// Takes the array of tables at `key` out of `item`, when it is one.
fn take_items<'i>(item: &mut Spanned<DeValue<'i>>, key: &str) -> Option<Vec<Spanned<DeValue<'i>>>> {
    let DeValue::Table(table) = item.get_mut() else {
        return None;
    };
    match table.get(key).map(|v| v.get_ref()) {
        Some(DeValue::Array(items)) if items.iter().all(|i| i.get_ref().is_table()) => {}
        _ => return None,
    }
    match table.remove(key).map(Spanned::into_inner) {
        Some(DeValue::Array(items)) => Some(items.into_iter().collect()),
        _ => None,
    }
}

/// Takes the table at `key` out of `item`, when it is one of tables.
fn take_table<'i>(
    item: &mut Spanned<DeValue<'i>>,
    key: &str,
) -> Option<Vec<(String, Spanned<DeValue<'i>>)>> {
    let DeValue::Table(table) = item.get_mut() else {
        return None;
    };
    match table.get(key).map(|v| v.get_ref()) {
        Some(DeValue::Table(t)) if t.values().all(|v| v.get_ref().is_table()) => {}
        _ => return None,
    }
    match table.remove(key).map(Spanned::into_inner) {
        Some(DeValue::Table(t)) => Some(
            t.into_iter()
                .map(|(k, v)| (k.into_inner().into_owned(), v))
                .collect(),
        ),
        _ => None,
    }
}

/// Reads a route, each of its `[[route.case]]` tables, and each header matcher of a case
/// as items of their own: a route with many cases costs each case's problems one pass
/// over that case, not over the route.
fn read_route(
    cx: &mut Cx,
    file: &SourceFile,
    pieces: &EnvPieces,
    item: &Spanned<DeValue<'_>>,
) -> Option<RouteDef> {
    check_headers(cx, file, pieces, item, headers::ROUTE);
    let mut item = item.clone();
    let case_items = take_items(&mut item, "case");
    let def = deserialize_item::<RouteDef>(&item, file, &mut cx.sink, &route_fields);
    let mut cases = Vec::new();
    let mut ok = true;
    for case_item in case_items.iter().flatten() {
        check_headers(cx, file, pieces, case_item, headers::CASE);
        match read_case(cx, file, case_item) {
            Some(case) => cases.push(case),
            None => ok = false,
        }
    }
    let mut def = def.filter(|_| ok)?;
    if case_items.is_some() {
        def.case = Some(cases);
    }
    def.keys = key_spans(&item);
    Some(def)
}

fn read_case(cx: &mut Cx, file: &SourceFile, item: &Spanned<DeValue<'_>>) -> Option<CaseDef> {
    let keys = key_spans(item);
    let mut item = item.clone();
    let matcher_items = take_table(&mut item, "headers");
    let def = deserialize_item::<CaseDef>(&item, file, &mut cx.sink, &case_fields);
    let mut matchers = BTreeMap::new();
    let mut ok = true;
    for (name, matcher) in matcher_items.iter().flatten() {
        let fields = |path: &[Seg]| top_level::<HeaderMatchDef>(path);
        match deserialize_item::<HeaderMatchDef>(matcher, file, &mut cx.sink, &fields) {
            Some(m) => {
                matchers.insert(name.clone(), m);
            }
            None => ok = false,
        }
    }
    let mut def = def.filter(|_| ok)?;
    if matcher_items.is_some() {
        def.headers = Some(matchers);
    }
    def.keys = keys;
    Some(def)
}

/// Where each key of `item` is written, and each key of a table it holds (`body.json`), so
/// a failed expectation can point at the key that set it.
fn key_spans(item: &Spanned<DeValue<'_>>) -> Keys {
    let mut keys = HashMap::new();
    let Some(table) = item.get_ref().as_table() else {
        return Keys::default();
    };
    for (key, value) in table {
        if let Some(inner) = value.get_ref().as_table() {
            for (sub, _) in inner {
                keys.insert(format!("{}.{}", key.get_ref(), sub.get_ref()), sub.span());
            }
        }
        keys.insert(key.get_ref().to_string(), key.span());
    }
    Keys(keys)
}

/// The `request` and `name` of every route that reads the environment, as written.
fn written_names(table: &DeTable<'_>) -> HashMap<usize, String> {
    let Some(DeValue::Array(routes)) = table.get("route").map(|r| r.get_ref()) else {
        return HashMap::new();
    };
    routes
        .iter()
        .filter_map(|route| route.get_ref().as_table())
        .flat_map(|route| ["request", "name"].map(|key| route.get(key)))
        .flatten()
        .filter_map(|value| {
            let text = value.get_ref().as_str()?;
            text.contains("${")
                .then(|| (value.span().start, text.to_owned()))
        })
        .collect()
}

/// The routes of a route file, and its `[deny_contract]` when it declares one.
fn read_routes(
    cx: &mut Cx,
    file: &SourceFile,
    file_name: &str,
    options: &LoadOptions,
) -> (
    Vec<RouteDef>,
    Option<Contract>,
    Vec<FixtureDef>,
    Vec<JourneyItem>,
) {
    let mut table = load::parse(file, &mut cx.sink);
    let mut pieces = EnvPieces::default();
    cx.as_written = written_names(table.get_ref());
    for (_, value) in table.get_mut().iter_mut() {
        interpolate(
            value,
            file,
            options,
            &mut cx.secrets,
            &mut pieces,
            &mut cx.sink,
        );
    }
    let mut defs = Vec::new();
    let mut contract = None;
    let mut fixtures = Vec::new();
    let mut journeys = Vec::new();
    let mut entries: Vec<_> = table.get_ref().iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    for (key, value) in entries {
        if key.get_ref() == "deny_contract" {
            contract = resolve_contract(cx, file, key.span(), value);
            continue;
        }
        if key.get_ref() == "fixture" {
            fixtures.extend(read_fixtures(cx, file, &pieces, key, value));
            continue;
        }
        if key.get_ref() == "journey" {
            journeys.extend(read_journeys(cx, file, file_name, &pieces, key, value));
            continue;
        }
        if key.get_ref() != "route" {
            let help = did_you_mean(key.get_ref(), ["route", "deny_contract", "fixture", "journey"]).unwrap_or_else(|| {
                "a route file holds `[[route]]`, `[[fixture]]` and `[[journey]]` tables and an optional `[deny_contract]`; suite settings go in rolecall.toml"
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
            collect_credentials(cx, file, item, Item::Headers);
            if let Some(def) = read_route(cx, file, &pieces, item) {
                defs.push(def);
            }
        }
    }
    (defs, contract, fixtures, journeys)
}

/// Reads the `[[fixture]]` tables of a file, each as an item of its own.
fn read_fixtures(
    cx: &mut Cx,
    file: &SourceFile,
    pieces: &EnvPieces,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Spanned<DeValue<'_>>,
) -> Vec<FixtureDef> {
    let DeValue::Array(items) = value.get_ref() else {
        cx.error(file, key.span(), "`fixture` must be an array of tables")
            .label("write `[[fixture]]`, not `[fixture]`");
        return Vec::new();
    };
    let mut defs = Vec::new();
    for item in items.iter() {
        check_headers(cx, file, pieces, item, headers::ROUTE);
        collect_credentials(cx, file, item, Item::Headers);
        if let Some(def) = deserialize_item::<FixtureDef>(item, file, &mut cx.sink, &fixture_fields)
        {
            defs.push(def);
        }
    }
    defs
}

fn fixture_fields(path: &[Seg]) -> &'static [&'static str] {
    match path {
        [] => fields_of::<FixtureDef>(),
        [Seg::Key(k)] if k == "body" => fields_of::<BodyDef>(),
        _ => &[],
    }
}
