//! Routes and their expansion into one case per identity.

use super::fixtures::{Fixtures, request_refs};
use super::identities::{Names, Resolved};
use super::values::{
    check_vars, compile_regex, pairs, parse_body, parse_request_line, parse_status, render_path,
    toml_to_json,
};
use super::{Cx, backticked};
use crate::diagnostic::{Location, SourceFile, did_you_mean};
use crate::layer::Layer;
use crate::load::locate;
use crate::model::variants::{self, Bypass, BypassFamily};
use crate::model::{
    Body, BodyMatch, Case, Decision, Expectation, HeaderMatch, HeaderRule, Identity, Method, Route,
    SetAt, StatusMatch,
};
use crate::raw::{CaseDef, Defaults, Keys, RouteDef, StatusValue};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use toml::Spanned;

pub(super) struct RouteDefaults {
    pub(super) allow: StatusMatch,
    pub(super) deny: StatusMatch,
    pub(super) unauthenticated: StatusMatch,
    pub(super) login_redirect: Option<String>,
    pub(super) snapshot: bool,
    pub(super) follow_redirects: bool,
    pub(super) bypass: Bypass,
    /// Where `[defaults]` sets each of these.
    pub(super) at: KeysAt,
}

/// The locations of an item's keys, each shared by every case it applies to.
#[derive(Default)]
pub(super) struct KeysAt(HashMap<String, Arc<Location>>);

impl KeysAt {
    fn new(cx: &Cx, file: Option<&SourceFile>, keys: &Keys) -> Self {
        let Some(file) = file else {
            return KeysAt::default();
        };
        KeysAt(
            keys.0
                .iter()
                .map(|(key, span)| (key.clone(), Arc::new(cx.location(file, span.start))))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<Arc<Location>> {
        self.0.get(key).cloned()
    }
}

impl RouteDefaults {
    pub(super) fn new(cx: &mut Cx, file: Option<&SourceFile>, d: &Defaults) -> Self {
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
            bypass: match (file, &d.bypass) {
                (Some(file), Some(b)) => parse_bypass(cx, file, b).unwrap_or_default(),
                _ => Bypass::NONE,
            },
            at: KeysAt::new(cx, file, &d.keys),
        }
    }
}

/// A route name derived from its request line: `GET /v1/projects/{id}` → `get_v1_projects_id`.
/// Public so that tools drafting route files (`rolecall new`) tell when two would clash.
pub fn derive_route_name(method: Method, path: &str) -> String {
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

#[expect(
    clippy::too_many_arguments,
    reason = "expansion reads every resolved table once"
)]
pub(super) fn expand_file(
    cx: &mut Cx,
    file: &SourceFile,
    file_name: &str,
    defs: Vec<RouteDef>,
    identities: &[Resolved],
    names: &Names<'_>,
    defaults: &RouteDefaults,
    fixtures: &Fixtures,
    routes: &mut Vec<Route>,
    cases: &mut Vec<Case>,
) {
    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    // Every route expands to one case per identity: sized once, a large suite's cases
    // are not copied at each doubling while the half-built suite is in memory.
    routes.reserve(defs.len());
    cases.reserve(defs.len() * identities.len());
    for def in defs {
        let line = parse_request_line(cx, file, &def.request);
        let name = match &def.name {
            Some(n) if cx.as_written.contains_key(&n.span().start) => {
                cx.error(file, n.span(), "a route name cannot read the environment")
                    .label("names appear in test names, `--list` and CI logs")
                    .help("write the name itself");
                None
            }
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
            // A name is made from the request line as written: `${env:NAME}`, never its
            // value, so that no secret reaches a test name.
            None => line.as_ref().map(|l| {
                let written = cx
                    .as_written
                    .get(&def.request.span().start)
                    .and_then(|text| text.split_whitespace().nth(1));
                (
                    derive_route_name(l.method, written.unwrap_or(&l.path)),
                    def.request.span(),
                )
            }),
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
        let (Some(line), Some((name, _)), Some(route)) = (line, name, route) else {
            continue;
        };
        // Every placeholder must be known to every identity.
        let all: Vec<&Identity> = identities.iter().map(|r| &r.identity).collect();
        check_vars(cx, file, def.request.span(), &line.placeholders, &all);
        let probe = Route {
            name: String::new(),
            file_name: String::new(),
            description: None,
            method: line.method,
            path: line.path.clone(),
            query: pairs(def.query.as_ref()),
            headers: pairs(def.headers.as_ref()),
            body: route.body.clone(),
            location: cx.location(file, def.request.span().start),
        };
        let refs = request_refs(&probe);
        let Some(named) = fixtures.check_refs(cx, file, def.request.span(), &refs, None) else {
            continue;
        };
        let named: Vec<usize> = named.iter().filter_map(|n| fixtures.index(n)).collect();
        let owner = match &def.owner {
            None => None,
            Some(o) => match owner_fixture(cx, file, o, fixtures) {
                Some(o) => Some(o),
                None => continue,
            },
        };
        let others_only = def.others_only.as_ref().is_some_and(|o| *o.get_ref());
        if let Some(flag) = def.others_only.as_ref().filter(|_| def.owner.is_none()) {
            cx.error(file, flag.span(), "`others_only` needs an owner route")
                .label("whose object?")
                .help("add `owner = \"<fixture>\"` naming a per-identity fixture");
            continue;
        }
        if let (true, Some(at)) = (others_only, &route.owner_at) {
            let span = def
                .others_only
                .as_ref()
                .map_or(def.request.span(), |o| o.span());
            cx.error(
                file,
                span,
                format!("`others_only` leaves out the owner, whom `allow` lists ({at})"),
            )
            .label("no owner's own case is left to allow")
            .help("remove `\"owner\"` from `allow`, or remove `others_only`");
            continue;
        }
        let index = routes.len();
        let location = cx.location(file, def.request.span().start);
        // Built once per route, and only for a route whose refusals are re-tried.
        let mut templates = None;
        let owners: Vec<Option<usize>> = match owner {
            Some(o) => fixtures.list[o]
                .identities
                .iter()
                .map(|&i| Some(i))
                .collect(),
            None => vec![None],
        };
        let mut lacking: Vec<(usize, &str)> = Vec::new();
        for (i, resolved) in identities.iter().enumerate() {
            let identity = &resolved.identity;
            let path = render_path(&line.path, &identity.name, &identity.vars);
            for &owner_of in &owners {
                if others_only && owner_of == Some(i) {
                    continue;
                }
                let mut needs = Vec::with_capacity(named.len());
                for &f in &named {
                    match fixtures.instance(f, i, owner_of) {
                        Some(instance) => needs.push(instance),
                        None => {
                            if !lacking.contains(&(f, identity.name.as_str())) {
                                lacking.push((f, identity.name.as_str()));
                            }
                        }
                    }
                }
                let expect = match (route.expectations.get(&i), owner_of) {
                    (Some(explicit), _) => explicit.clone(),
                    (None, Some(o)) if o == i && route.owner_at.is_some() => {
                        route.inferred_as(i, true, identity.authenticated, defaults)
                    }
                    (None, _) => route.inferred(i, identity.authenticated, defaults),
                };
                let name = match owner_of {
                    Some(o) => format!(
                        "{file_name}::{name}::{}@{}",
                        identity.name, identities[o].identity.name
                    ),
                    None => format!("{file_name}::{name}::{}", identity.name),
                };
                let case = Case {
                    name,
                    route: index,
                    identity: i,
                    path: path.clone(),
                    expect,
                    variant: None,
                    fixtures: needs,
                    owner: owner_of,
                    journey: None,
                };
                if case.expect.bypass.is_empty() || !variants::refuses(&case) {
                    cases.push(case);
                    continue;
                }
                let templates = templates.get_or_insert_with(|| variants::templates(line.method));
                let at = cases.len();
                variants::expand(&case, templates, &cx.secrets, cases);
                // The refused case itself comes first, its variants after it.
                cases.insert(at, case);
            }
        }
        for f in unique_fixtures(&lacking) {
            let who: Vec<&str> = lacking
                .iter()
                .filter(|(g, _)| *g == f)
                .map(|(_, n)| *n)
                .collect();
            let fixture = &fixtures.list[f];
            cx.error(
                file,
                def.request.span(),
                format!(
                    "identity {} has no `{}`: the fixture is per identity and they do not create one",
                    backticked(&who),
                    fixture.name
                ),
            )
            .label("uses a per-identity fixture")
            .help(format!(
                "add `owner = \"{}\"` to try every identity on every owner's object, or add them to its `per_identity`",
                fixture.name
            ));
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

fn unique_fixtures(lacking: &[(usize, &str)]) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for (f, _) in lacking {
        if !out.contains(f) {
            out.push(*f);
        }
    }
    out
}

/// The per-identity fixture a route's `owner` names.
fn owner_fixture(
    cx: &mut Cx,
    file: &SourceFile,
    owner: &Spanned<String>,
    fixtures: &Fixtures,
) -> Option<usize> {
    let name = owner.get_ref();
    let Some(index) = fixtures.index(name) else {
        if !fixtures.declared(name) {
            let help = did_you_mean(name, fixtures.all_names())
                .unwrap_or_else(|| "`owner` names a `[[fixture]]` with `per_identity`".to_owned());
            cx.error(file, owner.span(), format!("unknown fixture `{name}`"))
                .label("no `[[fixture]]` has this name")
                .help(help);
        }
        return None;
    };
    if !fixtures.list[index].per_identity {
        cx.error(
            file,
            owner.span(),
            format!("`owner` names fixture `{name}`, which is not per identity"),
        )
        .label("one object, one owner: nothing to expand over")
        .help(format!(
            "declare `{name}` with `per_identity = [\"…\"]` so that each identity creates its own"
        ));
        return None;
    }
    Some(index)
}

/// A route's validated expectations, before expansion.
pub(super) struct BuiltRoute {
    pub(super) allowed: Vec<bool>,
    pub(super) layer: Option<Layer>,
    pub(super) vendor: Option<String>,
    pub(super) status: StatusMatch,
    pub(super) deny: StatusMatch,
    pub(super) unauthenticated: StatusMatch,
    pub(super) snapshot: bool,
    pub(super) follow_redirects: bool,
    pub(super) bypass: Bypass,
    pub(super) expectations: HashMap<usize, Expectation>,
    pub(super) body: Option<Body>,
    pub(super) unauthenticated_explicit: bool,
    /// Where the route's keys are written.
    pub(super) at: KeysAt,
    /// The route's request line: where a built-in default is set.
    pub(super) request_at: Arc<Location>,
    /// The `allow` entry that lists each allowed identity.
    pub(super) allowed_at: HashMap<usize, Arc<Location>>,
    /// Where `allow` says `"owner"` (an owner route lets the object's creator in).
    pub(super) owner_at: Option<Arc<Location>>,
}

impl BuiltRoute {
    pub(super) fn inferred(
        &self,
        i: usize,
        authenticated: bool,
        defaults: &RouteDefaults,
    ) -> Expectation {
        self.inferred_as(i, self.allowed[i], authenticated, defaults)
    }

    /// The expectation of identity `i`, allowed or not as `allowed` says (an owner
    /// route allows the owner on its own object).
    pub(super) fn inferred_as(
        &self,
        i: usize,
        allowed: bool,
        authenticated: bool,
        defaults: &RouteDefaults,
    ) -> Expectation {
        let (decision, status) = if allowed {
            (Decision::Allow, self.status)
        } else if !authenticated {
            (Decision::Unauthenticated, self.unauthenticated)
        } else {
            (Decision::Deny, self.deny)
        };
        // A route that states its own unauthenticated status is not a login redirect.
        let login_redirect = (decision == Decision::Unauthenticated
            && !self.unauthenticated_explicit)
            .then(|| defaults.login_redirect.clone())
            .flatten();
        let status = if login_redirect.is_some() {
            StatusMatch::Class(3)
        } else {
            status
        };
        let refused = decision != Decision::Allow;
        let first = |keys: [Option<Arc<Location>>; 3]| {
            keys.into_iter()
                .flatten()
                .next()
                .unwrap_or_else(|| self.request_at.clone())
        };
        let status_at = match decision {
            Decision::Allow => first([
                self.at.get("status"),
                defaults.at.get("allow"),
                self.allowed_at
                    .get(&i)
                    .cloned()
                    .or(self.at.get("public"))
                    .or(self.owner_at.clone()),
            ]),
            // A refusal is the route's decision (its `allow` leaves the identity out),
            // even where `[defaults]` chose the status: a failure, an annotation or a
            // SARIF result points at the route, where a reviewer changes who may use it.
            Decision::Deny => first([self.at.get("deny"), self.at.get("allow"), None]),
            Decision::Unauthenticated if login_redirect.is_some() => {
                first([defaults.at.get("login_redirect"), None, None])
            }
            Decision::Unauthenticated => first([
                self.at.get("unauthenticated"),
                self.at.get("allow"),
                defaults.at.get("unauthenticated"),
            ]),
        };
        let set_at = SetAt {
            status: status_at,
            redirect: first([defaults.at.get("login_redirect"), None, None]),
            layer: first([self.at.get("layer"), None, None]),
            vendor: first([self.at.get("vendor"), None, None]),
            body: Vec::new(),
            headers: Vec::new(),
            snapshot: first([self.at.get("snapshot"), defaults.at.get("snapshot"), None]),
        };
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
            set_at,
            bypass: self.bypass,
        }
    }
}

pub(super) fn build_route(
    cx: &mut Cx,
    file: &SourceFile,
    def: &RouteDef,
    identities: &[Resolved],
    names: &Names<'_>,
    defaults: &RouteDefaults,
) -> Option<BuiltRoute> {
    let mut ok = true;
    let mut owner_at = None;
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
    let mut allowed_at = HashMap::new();
    for entry in def.allow.iter().flatten() {
        let entry_at = Arc::new(cx.location(file, entry.span().start));
        let is_identity = identities
            .iter()
            .any(|r| r.identity.name == *entry.get_ref());
        if entry.get_ref() == "owner" && !is_identity {
            if def.owner.is_some() {
                owner_at = Some(entry_at);
            } else {
                cx.error(
                    file,
                    entry.span(),
                    "`owner` in `allow` needs an owner route",
                )
                .label("whose object?")
                .help("add `owner = \"<fixture>\"` naming a per-identity fixture");
                ok = false;
            }
            continue;
        }
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
            allowed_at.insert(i, entry_at.clone());
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
    let bypass = match &def.bypass {
        Some(b) => parse_bypass(cx, file, b).unwrap_or_else(|| {
            ok = false;
            Bypass::NONE
        }),
        None => defaults.bypass,
    };
    let mut route = BuiltRoute {
        bypass,
        allowed,
        layer,
        vendor: def.vendor.clone(),
        status,
        deny,
        unauthenticated,
        unauthenticated_explicit: def.unauthenticated.is_some(),
        snapshot: def.snapshot.unwrap_or(defaults.snapshot),
        follow_redirects: def.follow_redirects.unwrap_or(defaults.follow_redirects),
        expectations: HashMap::new(),
        body,
        at: KeysAt::new(cx, Some(file), &def.keys),
        request_at: Arc::new(cx.location(file, def.request.span().start)),
        allowed_at,
        owner_at,
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
pub(super) struct CaseOverride {
    pub(super) status: Option<StatusMatch>,
    pub(super) layer: Option<Layer>,
    pub(super) vendor: Option<String>,
    pub(super) body: Vec<BodyMatch>,
    pub(super) headers: Vec<HeaderMatch>,
    pub(super) redirect: Option<String>,
    pub(super) snapshot: Option<bool>,
    pub(super) follow_redirects: Option<bool>,
    pub(super) skip: Option<String>,
    pub(super) bypass: Option<Bypass>,
    /// Where the case's keys are written.
    pub(super) at: KeysAt,
    /// Where each body matcher, then each header matcher, is written.
    pub(super) body_at: Vec<Arc<Location>>,
    pub(super) headers_at: Vec<Arc<Location>>,
}

pub(super) fn build_case(cx: &mut Cx, file: &SourceFile, case: &CaseDef) -> Option<CaseOverride> {
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
    let bypass = match &case.bypass {
        Some(b) => {
            let parsed = parse_bypass(cx, file, b);
            ok &= parsed.is_some();
            parsed
        }
        None => None,
    };
    let at = KeysAt::new(cx, Some(file), &case.keys);
    // A matcher is set by its own key (`body.json`), else by the table holding it.
    let case_at = at
        .get("identity")
        .or_else(|| at.get("identities"))
        .unwrap_or_else(|| Arc::new(cx.location(file, 0)));
    let key_at = |key: &str, table: &str| {
        at.get(key)
            .or_else(|| at.get(table))
            .unwrap_or_else(|| case_at.clone())
    };
    let mut body = Vec::new();
    let mut body_at = Vec::new();
    if let Some(b) = &case.body {
        if let Some(json) = &b.json {
            body.push(BodyMatch::Json(toml_to_json(json.get_ref())));
            body_at.push(key_at("body.json", "body"));
        }
        if let Some(c) = &b.contains {
            body.push(BodyMatch::Contains(c.clone()));
            body_at.push(key_at("body.contains", "body"));
        }
        if let Some(c) = &b.not_contains {
            body.push(BodyMatch::NotContains(c.clone()));
            body_at.push(key_at("body.not_contains", "body"));
        }
        if let Some(re) = &b.regex {
            body_at.push(key_at("body.regex", "body"));
            match compile_regex(cx, file, re) {
                Some(re) => body.push(BodyMatch::Regex(re)),
                None => ok = false,
            }
        }
    }
    let mut headers = Vec::new();
    let mut headers_at = Vec::new();
    for (name, m) in case.headers.iter().flatten() {
        headers_at.push(key_at(&format!("headers.{name}"), "headers"));
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
        bypass,
        at,
        body_at,
        headers_at,
    })
}

/// `bypass = true`, `false`, or a list of families; every unknown family is reported.
pub(super) fn parse_bypass(
    cx: &mut Cx,
    file: &SourceFile,
    value: &Spanned<toml::Value>,
) -> Option<Bypass> {
    let list = match value.get_ref() {
        toml::Value::Boolean(true) => return Some(Bypass::ALL),
        toml::Value::Boolean(false) => return Some(Bypass::NONE),
        toml::Value::Array(list) => list,
        _ => {
            cx.error(
                file,
                value.span(),
                "`bypass` must be `true`, `false` or a list of families",
            )
            .label("not a boolean or a list")
            .help(format!(
                "families: {}",
                backticked(&BypassFamily::ALL.map(BypassFamily::as_str))
            ));
            return None;
        }
    };
    let mut bypass = Bypass::NONE;
    let mut ok = true;
    for item in list {
        let name = item.as_str().unwrap_or_default();
        match BypassFamily::parse(name) {
            Some(family) => bypass = bypass.with(family),
            None => {
                let shown = item.to_string();
                let span = locate(file, value.span(), &shown);
                let names = BypassFamily::ALL.map(BypassFamily::as_str);
                let help = did_you_mean(name, names)
                    .unwrap_or_else(|| format!("expected one of {}", backticked(&names)));
                cx.error(file, span, format!("unknown bypass family {shown}"))
                    .label("not a family")
                    .help(help);
                ok = false;
            }
        }
    }
    ok.then_some(bypass)
}

pub(super) fn parse_layer(cx: &mut Cx, file: &SourceFile, l: &Spanned<String>) -> Option<Layer> {
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

pub(super) fn apply_case(expect: &mut Expectation, case: &CaseOverride, at: Location) {
    let set_at = &mut expect.set_at;
    let set = |target: &mut Arc<Location>, key: &str| {
        if let Some(at) = case.at.get(key) {
            *target = at;
        }
    };
    set(&mut set_at.status, "status");
    set(&mut set_at.layer, "layer");
    set(&mut set_at.vendor, "vendor");
    set(&mut set_at.redirect, "redirect");
    set(&mut set_at.snapshot, "snapshot");
    set_at.body = case.body_at.clone();
    set_at.headers = case.headers_at.clone();
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
    if let Some(bypass) = case.bypass {
        expect.bypass = bypass;
    }
    expect.explicit_at = Some(at);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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
