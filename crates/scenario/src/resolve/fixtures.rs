//! `[[fixture]]` tables: validation, dependencies and the objects each case needs.

use std::collections::HashMap;
use std::ops::Range;

use toml::Spanned;

use super::identities::{Names, Resolved};
use super::values::{
    RequestLine, check_vars, compile_regex, pairs, parse_body, parse_request_line, parse_status,
    render_path,
};
use super::{Cx, backticked};
use crate::diagnostic::Location;
use crate::diagnostic::{SourceFile, did_you_mean};
use crate::load::locate;
use crate::model::fixtures::{Capture, CaptureSource, Fixture, Instance, fixture_refs};
use crate::model::{Body, Route, StatusMatch};
use crate::raw::FixtureDef;

/// A fixture as read, with the file it is written in.
pub(super) struct FixtureItem {
    pub(super) file: SourceFile,
    pub(super) file_name: String,
    pub(super) def: FixtureDef,
}

/// The suite's fixtures, resolved; `names` also holds those with a problem, so that a
/// use of one is not reported as unknown too.
#[derive(Default)]
pub(super) struct Fixtures {
    pub(super) list: Vec<Fixture>,
    /// Name → (index into `list` when it resolved, its capture names).
    names: HashMap<String, (Option<usize>, Vec<String>)>,
}

/// A fixture that resolved: the index of its item, the fixture, and the placeholders it
/// uses (request and teardown).
type Built = (usize, Fixture, Vec<(String, String)>);

/// Every `{fixture.capture}` a request uses: its path, query, headers and body.
pub(super) fn request_refs(route: &Route) -> Vec<(String, String)> {
    let mut texts: Vec<&str> = vec![route.path.as_str()];
    texts.extend(route.query.iter().map(|(_, v)| v.as_str()));
    texts.extend(route.headers.iter().map(|(_, v)| v.as_str()));
    match &route.body {
        Some(Body::Json(json)) => json_strings(json, &mut texts),
        Some(Body::Form(form)) => texts.extend(form.iter().map(|(_, v)| v.as_str())),
        Some(Body::Raw { text, .. }) => texts.push(text),
        None => {}
    }
    let mut refs: Vec<(String, String)> = Vec::new();
    for text in texts {
        for (f, c) in fixture_refs(text) {
            if !refs.iter().any(|(rf, rc)| rf == f && rc == c) {
                refs.push((f.to_owned(), c.to_owned()));
            }
        }
    }
    refs
}

fn json_strings<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| json_strings(v, out)),
        _ => {}
    }
}

impl Fixtures {
    /// Checks the `{fixture.capture}` uses of a request written in `file` at `span`;
    /// returns the fixtures it names (`this` excluded), or `None` after reporting.
    pub(super) fn check_refs(
        &self,
        cx: &mut Cx,
        file: &SourceFile,
        span: Range<usize>,
        refs: &[(String, String)],
        this: Option<&str>,
    ) -> Option<Vec<String>> {
        let mut ok = true;
        let mut named = Vec::new();
        let after = span.start..file.text.len();
        for (fixture, capture) in refs {
            let needle = format!("{{{fixture}.{capture}}}");
            let at = locate(file, after.clone(), &needle);
            let at = if at == after { span.clone() } else { at };
            let Some((_, captures)) = self.names.get(fixture) else {
                let help = did_you_mean(fixture, self.names.keys().map(String::as_str))
                    .unwrap_or_else(|| {
                        "declare it with `[[fixture]]` and `name = \"…\"` in any file of the suite"
                            .to_owned()
                    });
                cx.error(file, at, format!("unknown fixture `{fixture}`"))
                    .label("no `[[fixture]]` has this name")
                    .help(help);
                ok = false;
                continue;
            };
            if !captures.contains(capture) {
                let help = did_you_mean(capture, captures.iter().map(String::as_str))
                    .unwrap_or_else(|| {
                        format!(
                            "fixture `{fixture}` captures {}",
                            if captures.is_empty() {
                                "nothing".to_owned()
                            } else {
                                backticked(&captures.iter().map(String::as_str).collect::<Vec<_>>())
                            }
                        )
                    });
                cx.error(
                    file,
                    at,
                    format!("fixture `{fixture}` captures no `{capture}`"),
                )
                .label("unknown variable")
                .help(help);
                ok = false;
                continue;
            }
            if Some(fixture.as_str()) != this && !named.contains(fixture) {
                named.push(fixture.clone());
            }
        }
        ok.then_some(named)
    }

    /// The index of a resolved fixture.
    pub(super) fn index(&self, name: &str) -> Option<usize> {
        self.names.get(name).and_then(|(i, _)| *i)
    }

    /// Whether a fixture of this name is declared (resolved or not).
    pub(super) fn declared(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    /// Names of every declared fixture, for hints.
    pub(super) fn all_names(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(String::as_str)
    }

    /// The object of fixture `index` a request sent by `actor` at `owner`'s object uses:
    /// the one fixture's, or for a per-identity fixture the owner's (else the actor's).
    pub(super) fn instance(
        &self,
        index: usize,
        actor: usize,
        owner: Option<usize>,
    ) -> Option<Instance> {
        let fixture = &self.list[index];
        let identity = if fixture.per_identity {
            owner.unwrap_or(actor)
        } else {
            fixture.identities[0]
        };
        fixture.identities.contains(&identity).then_some(Instance {
            fixture: index,
            identity,
        })
    }
}

/// Resolves every fixture of the suite: identities, request, captures, teardown and
/// dependencies (explicit `needs` and inferred from placeholders), and rejects cycles.
pub(super) fn resolve_fixtures(
    cx: &mut Cx,
    items: Vec<FixtureItem>,
    identities: &[Resolved],
    names: &Names<'_>,
) -> Fixtures {
    let mut fixtures = Fixtures::default();
    let mut first: HashMap<String, (SourceFile, Range<usize>)> = HashMap::new();
    for item in &items {
        let name = &item.def.name;
        super::identities::check_name(cx, &item.file, name, "fixture");
        if let Some((file, span)) = first.get(name.get_ref()) {
            let (line, _) = file.line_col(span.start);
            cx.error(
                &item.file,
                name.span(),
                format!("duplicate fixture name `{}`", name.get_ref()),
            )
            .label("another fixture has this name")
            .help(format!(
                "the first one is at {}:{line}",
                file.path.display()
            ));
            continue;
        }
        first.insert(name.get_ref().clone(), (item.file.clone(), name.span()));
        let captures = item
            .def
            .capture
            .iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect();
        fixtures
            .names
            .insert(name.get_ref().clone(), (None, captures));
    }
    // Resolved fixtures and, for each, its placeholder uses (checked once all are known).
    let mut built: Vec<Built> = Vec::new();
    for (at, item) in items.iter().enumerate() {
        if first
            .get(item.def.name.get_ref())
            .map(|(f, s)| (&f.path, s))
            != Some((&item.file.path, &item.def.name.span()))
        {
            continue;
        }
        if let Some((fixture, refs)) = build_fixture(cx, item, identities, names) {
            built.push((at, fixture, refs));
        }
    }
    for (_, fixture, _) in &built {
        let index = fixtures.list.len();
        if let Some(entry) = fixtures.names.get_mut(&fixture.name) {
            entry.0 = Some(index);
        }
        fixtures.list.push(fixture.clone());
    }
    // Dependencies: `needs`, then every other fixture a placeholder names; checked for
    // fixtures with a problem too, so that every problem shows at once.
    let mut built_at: HashMap<usize, usize> = HashMap::new();
    for (index, (at, _, _)) in built.iter().enumerate() {
        built_at.insert(*at, index);
    }
    for (at, item) in items.iter().enumerate() {
        let index = built_at.get(&at).copied();
        let mut needs: Vec<usize> = Vec::new();
        let mut ok = true;
        for need in item.def.needs.iter().flatten() {
            match fixtures.index(need.get_ref()) {
                Some(i) if !needs.contains(&i) => needs.push(i),
                Some(_) => {}
                None if fixtures.declared(need.get_ref()) => ok = false,
                None => {
                    let help = did_you_mean(need.get_ref(), fixtures.all_names())
                        .unwrap_or_else(|| "`needs` lists fixture names".to_owned());
                    cx.error(
                        &item.file,
                        need.span(),
                        format!("unknown fixture `{}`", need.get_ref()),
                    )
                    .label("no `[[fixture]]` has this name")
                    .help(help);
                    ok = false;
                }
            }
        }
        let refs = match index {
            Some(index) => built[index].2.clone(),
            None => written_refs(&item.def),
        };
        let this = item.def.name.get_ref().as_str();
        match fixtures.check_refs(cx, &item.file, item.def.request.span(), &refs, Some(this)) {
            Some(named) => {
                for name in named {
                    match fixtures.index(&name) {
                        Some(i) if !needs.contains(&i) => needs.push(i),
                        Some(_) => {}
                        None => ok = false,
                    }
                }
            }
            None => ok = false,
        }
        let Some(index) = index.filter(|_| ok) else {
            continue;
        };
        // Each creator must find the objects it builds on: a per-identity fixture's
        // own for each identity, a shared one's whatever the identity.
        let fixture = &fixtures.list[index];
        for &need in &needs {
            let dep = &fixtures.list[need];
            let missing: Vec<&str> = fixture
                .identities
                .iter()
                .filter(|&&i| dep.per_identity && !dep.identities.contains(&i))
                .map(|&i| identities[i].identity.name.as_str())
                .collect();
            if !missing.is_empty() {
                cx.error(
                    &item.file,
                    item.def.name.span(),
                    format!(
                        "fixture `{}` needs `{}`, which {} does not create",
                        fixture.name,
                        dep.name,
                        backticked(&missing)
                    ),
                )
                .label("needs a per-identity fixture")
                .help(format!(
                    "add them to `per_identity` of `{}`, or create `{}` as one of its identities",
                    dep.name, fixture.name
                ));
                ok = false;
            }
        }
        if ok {
            fixtures.list[index].needs = needs;
        }
    }
    report_cycles(cx, &fixtures, &items, &built);
    fixtures
}

/// Reports each cycle of `needs` once, at the name of its first fixture.
fn report_cycles(cx: &mut Cx, fixtures: &Fixtures, items: &[FixtureItem], built: &[Built]) {
    // 0 unvisited, 1 on the path, 2 done.
    let mut state = vec![0u8; fixtures.list.len()];
    let mut path = Vec::new();
    fn visit(
        at: usize,
        list: &[Fixture],
        state: &mut [u8],
        path: &mut Vec<usize>,
        found: &mut Vec<Vec<usize>>,
    ) {
        state[at] = 1;
        path.push(at);
        for &next in &list[at].needs {
            match state[next] {
                0 => visit(next, list, state, path, found),
                1 => {
                    let start = path.iter().position(|&p| p == next).unwrap_or(0);
                    found.push(path[start..].to_vec());
                }
                _ => {}
            }
        }
        path.pop();
        state[at] = 2;
    }
    let mut found = Vec::new();
    for i in 0..fixtures.list.len() {
        if state[i] == 0 {
            visit(i, &fixtures.list, &mut state, &mut path, &mut found);
        }
    }
    for cycle in found {
        let names: Vec<&str> = cycle
            .iter()
            .chain(cycle.first())
            .map(|&i| fixtures.list[i].name.as_str())
            .collect();
        let item = &items[built[cycle[0]].0];
        cx.error(
            &item.file,
            item.def.name.span(),
            format!(
                "fixtures depend on each other in a cycle: {}",
                names.join(" → ")
            ),
        )
        .label("part of a cycle")
        .help(
            "a fixture can only use captures of fixtures created before it; remove one dependency",
        );
    }
}

/// The placeholders of a fixture that did not resolve, read from its request line,
/// query, headers and teardown as written.
fn written_refs(def: &FixtureDef) -> Vec<(String, String)> {
    let mut texts = vec![def.request.get_ref().as_str()];
    texts.extend(def.query.iter().flatten().map(|(_, v)| v.as_str()));
    texts.extend(def.headers.iter().flatten().map(|(_, v)| v.as_str()));
    texts.extend(def.teardown.iter().map(|t| t.get_ref().as_str()));
    let mut refs: Vec<(String, String)> = Vec::new();
    for (f, c) in texts.into_iter().flat_map(fixture_refs) {
        if !refs.iter().any(|(rf, rc)| rf == f && rc == c) {
            refs.push((f.to_owned(), c.to_owned()));
        }
    }
    refs
}

fn build_fixture(
    cx: &mut Cx,
    item: &FixtureItem,
    identities: &[Resolved],
    names: &Names<'_>,
) -> Option<(Fixture, Vec<(String, String)>)> {
    let (file, def) = (&item.file, &item.def);
    let mut ok = true;
    let (who, per_identity): (Vec<&Spanned<String>>, bool) =
        match (&def.identity, &def.per_identity) {
            (Some(one), None) => (vec![one], false),
            (None, Some(many)) if !many.is_empty() => (many.iter().collect(), true),
            (Some(one), Some(_)) => {
                cx.error(
                    file,
                    one.span(),
                    "a fixture has `identity` or `per_identity`, not both",
                )
                .label("choose one");
                return None;
            }
            _ => {
                cx.error(
                file,
                def.name.span(),
                format!(
                    "fixture `{}` does not say who creates it",
                    def.name.get_ref()
                ),
            )
            .label("no `identity` or `per_identity`")
            .help(
                "add `identity = \"…\"`, or `per_identity = [\"…\"]` for one object per identity",
            );
                return None;
            }
        };
    let mut creators: Vec<usize> = Vec::new();
    for entry in who {
        match names.resolve(cx, file, entry) {
            Some(members) => {
                for i in members {
                    if !creators.contains(&i) {
                        creators.push(i);
                    }
                }
            }
            None => ok = false,
        }
    }
    let line = parse_request_line(cx, file, &def.request);
    let status = match &def.status {
        Some(s) => parse_status(cx, file, s).or_else(|| {
            ok = false;
            None
        }),
        None => Some(StatusMatch::Class(2)),
    };
    let body = match &def.body {
        Some(b) => {
            let body = parse_body(cx, file, b, def.request.span());
            ok &= body.is_some();
            body
        }
        None => None,
    };
    let mut captures = Vec::new();
    for (name, value) in def.capture.iter().flatten() {
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            let span = locate(file, def.name.span().start..file.text.len(), name);
            cx.error(file, span, format!("invalid capture name `{name}`"))
                .label("captures are used as `{fixture.name}`")
                .help("use letters, digits or `_`");
            ok = false;
            continue;
        }
        match parse_capture(cx, file, name, value) {
            Some(capture) => captures.push(capture),
            None => ok = false,
        }
    }
    let teardown = match &def.teardown {
        Some(t) => {
            let parsed = parse_request_line(cx, file, t);
            ok &= parsed.is_some();
            parsed.map(|l| (l, t.span()))
        }
        None => None,
    };
    let (line, status) = (line?, status?);
    let location = cx.location(file, def.name.span().start);
    let request = Route {
        name: def.name.get_ref().clone(),
        file_name: item.file_name.clone(),
        description: None,
        method: line.method,
        path: line.path.clone(),
        query: pairs(def.query.as_ref()),
        headers: pairs(def.headers.as_ref()),
        body,
        location: location.clone(),
    };
    let creating: Vec<&crate::model::Identity> =
        creators.iter().map(|&i| &identities[i].identity).collect();
    ok &= check_vars(cx, file, def.request.span(), &line.placeholders, &creating);
    let mut refs = request_refs(&request);
    let teardown = teardown.map(|(l, span)| {
        ok &= check_vars(cx, file, span.clone(), &l.placeholders, &creating);
        let route = teardown_route(
            def.name.get_ref(),
            &item.file_name,
            l,
            cx.location(file, span.start),
        );
        for r in request_refs(&route) {
            if !refs.contains(&r) {
                refs.push(r);
            }
        }
        route
    });
    let paths = creators
        .iter()
        .map(|&i| {
            render_path(
                &request.path,
                &identities[i].identity.name,
                &identities[i].identity.vars,
            )
        })
        .collect();
    let teardown_paths = teardown
        .iter()
        .flat_map(|t| {
            creators.iter().map(|&i| {
                render_path(
                    &t.path,
                    &identities[i].identity.name,
                    &identities[i].identity.vars,
                )
            })
        })
        .collect();
    ok.then(|| {
        (
            Fixture {
                name: def.name.get_ref().clone(),
                request,
                identities: creators,
                per_identity,
                status,
                captures,
                needs: Vec::new(),
                teardown,
                paths,
                teardown_paths,
                location,
            },
            refs,
        )
    })
}

/// A teardown's request: a request line alone, sent with the suite's headers only.
pub(super) fn teardown_route(
    name: &str,
    file_name: &str,
    line: RequestLine,
    location: Location,
) -> Route {
    Route {
        name: name.to_owned(),
        file_name: file_name.to_owned(),
        description: None,
        method: line.method,
        path: line.path,
        query: Vec::new(),
        headers: Vec::new(),
        body: None,
        location,
    }
}

const CAPTURE_KEYS: [&str; 4] = ["pointer", "header", "regex", "secret"];

pub(super) fn parse_capture(
    cx: &mut Cx,
    file: &SourceFile,
    name: &str,
    value: &Spanned<toml::Value>,
) -> Option<Capture> {
    let pointer = |cx: &mut Cx, text: &str| {
        if text.is_empty() || text.starts_with('/') {
            Some(CaptureSource::Json(text.to_owned()))
        } else {
            cx.error(
                file,
                value.span(),
                format!("capture `{name}`: `{text}` is not a JSON pointer"),
            )
            .label("a JSON pointer starts with `/`")
            .help(format!(
                "write \"/{text}\", or `{{ header = \"{text}\" }}` for a header"
            ));
            None
        }
    };
    let table = match value.get_ref() {
        toml::Value::String(text) => {
            return pointer(cx, text).map(|source| Capture {
                name: name.to_owned(),
                source,
                secret: false,
            });
        }
        toml::Value::Table(table) => table,
        other => {
            cx.error(
                file,
                value.span(),
                format!(
                    "capture `{name}` must be a JSON pointer or a table, found {}",
                    other.type_str()
                ),
            )
            .label("not a capture")
            .help("write \"/id\", `{ header = \"location\" }` or `{ regex = 'id=(\\w+)' }`");
            return None;
        }
    };
    let mut ok = true;
    for key in table.keys().filter(|k| !CAPTURE_KEYS.contains(&k.as_str())) {
        let help = did_you_mean(key, CAPTURE_KEYS)
            .unwrap_or_else(|| format!("expected one of {}", backticked(&CAPTURE_KEYS)));
        cx.error(
            file,
            locate(file, value.span(), key),
            format!("unknown key `{key}` in capture `{name}`"),
        )
        .label("not a known key here")
        .help(help);
        ok = false;
    }
    let secret = match table.get("secret") {
        None => false,
        Some(toml::Value::Boolean(b)) => *b,
        Some(_) => {
            cx.error(
                file,
                locate(file, value.span(), "secret"),
                "`secret` must be `true` or `false`",
            )
            .label("not a boolean");
            ok = false;
            false
        }
    };
    let kinds: Vec<&str> = ["pointer", "header", "regex"]
        .into_iter()
        .filter(|k| table.contains_key(*k))
        .collect();
    if kinds.len() != 1 {
        cx.error(
            file,
            value.span(),
            format!("capture `{name}` needs exactly one of `pointer`, `header` or `regex`"),
        )
        .label(if kinds.is_empty() {
            "nothing to capture"
        } else {
            "more than one source"
        });
        return None;
    }
    let Some(toml::Value::String(text)) = table.get(kinds[0]) else {
        cx.error(
            file,
            locate(file, value.span(), kinds[0]),
            format!("`{}` must be a string", kinds[0]),
        )
        .label("not a string");
        return None;
    };
    let source = match kinds[0] {
        "pointer" => pointer(cx, text),
        "header" => match http_token(text) {
            true => Some(CaptureSource::Header(text.to_ascii_lowercase())),
            false => {
                cx.error(
                    file,
                    locate(file, value.span(), text),
                    format!("`{text}` is not a header name"),
                )
                .label("not a valid header name");
                None
            }
        },
        _ => {
            let span = locate(file, value.span(), text);
            let re = compile_regex(cx, file, &Spanned::new(span.clone(), text.clone()))?;
            if re.captures_len() > 2 {
                cx.error(
                    file,
                    span,
                    format!("the regex of capture `{name}` has more than one group"),
                )
                .label("which group is the value?")
                .help("keep one group `(…)` around the value; make others non-capturing `(?:…)`");
                None
            } else {
                Some(CaptureSource::Regex(re))
            }
        }
    };
    let source = source?;
    ok.then(|| Capture {
        name: name.to_owned(),
        source,
        secret,
    })
}

fn http_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
