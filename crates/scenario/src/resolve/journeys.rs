//! `[[journey]]` tables: reading their steps, checking what each step uses, and
//! expanding each step into one case per identity walking the journey.

use std::collections::HashMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::DeValue;

use super::fixtures::{Fixtures, parse_capture, request_refs, teardown_route};
use super::identities::{Names, Resolved, check_name};
use super::routes::{RouteDefaults, build_route};
use super::values::{check_vars, pairs, parse_request_line, render_path};
use super::{Cx, backticked, read_route};
use crate::diagnostic::{SourceFile, did_you_mean};
use crate::load::{EnvPieces, Seg, deserialize_item, fields_of, locate};
use crate::model::fixtures::{Capture, fixture_refs};
use crate::model::journeys::{Journey, JourneyStep, Step};
use crate::model::{Case, Identity, Route};
use crate::raw::{JourneyDef, RouteDef, StepDef};

/// The keys a step has besides a route's.
const STEP_KEYS: [&str; 3] = ["as", "capture", "teardown"];

/// A journey as read: its file, and its steps (route part, step part).
pub(super) struct JourneyItem {
    pub(super) file: SourceFile,
    pub(super) file_name: String,
    pub(super) def: JourneyDef,
    pub(super) steps: Vec<(RouteDef, StepDef)>,
    /// Whether every step was read; a journey with a step that was not is checked no
    /// further (its captures are unknown).
    pub(super) complete: bool,
}

/// Reads the `[[journey]]` tables of a file, each step as an item of its own.
pub(super) fn read_journeys(
    cx: &mut Cx,
    file: &SourceFile,
    file_name: &str,
    pieces: &EnvPieces,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Spanned<DeValue<'_>>,
) -> Vec<JourneyItem> {
    let DeValue::Array(items) = value.get_ref() else {
        cx.error(file, key.span(), "`journey` must be an array of tables")
            .label("write `[[journey]]`, not `[journey]`");
        return Vec::new();
    };
    let mut journeys = Vec::new();
    for item in items.iter() {
        let mut item = item.clone();
        let step_items = super::take_items(&mut item, "step");
        if step_items.is_none()
            && let Some(table) = item.get_ref().as_table()
            && let Some((k, _)) = table.iter().find(|(k, _)| k.get_ref() == "step")
        {
            cx.error(file, k.span(), "`step` must be an array of tables")
                .label("write `[[journey.step]]`");
            continue;
        }
        let fields = |path: &[Seg]| match path {
            [] => fields_of::<JourneyDef>(),
            _ => &[],
        };
        let def = deserialize_item::<JourneyDef>(&item, file, &mut cx.sink, &fields);
        let mut steps = Vec::new();
        let mut complete = true;
        for step in step_items.iter().flatten() {
            let (route_item, step_item) = split_step(step);
            let route = read_route(cx, file, pieces, &route_item);
            let step_fields = |path: &[Seg]| match path {
                [] => &STEP_KEYS[..],
                _ => &[],
            };
            let extra = deserialize_item::<StepDef>(&step_item, file, &mut cx.sink, &step_fields);
            match (route, extra) {
                (Some(route), Some(extra)) => steps.push((route, extra)),
                _ => complete = false,
            }
        }
        let Some(def) = def else { continue };
        for name in
            std::iter::once(&def.name).chain(steps.iter().filter_map(|(r, _)| r.name.as_ref()))
        {
            if pieces.interpolated(name.span().start) {
                cx.error(
                    file,
                    name.span(),
                    "a journey or step name cannot read the environment",
                )
                .label("names appear in test names, `--list` and CI logs")
                .help("write the name itself");
                complete = false;
            }
        }
        if step_items.as_ref().is_none_or(Vec::is_empty) {
            cx.error(
                file,
                def.name.span(),
                format!("journey `{}` has no steps", def.name.get_ref()),
            )
            .label("no `[[journey.step]]`")
            .help("add `[[journey.step]]` tables after it, each with a `name` and a `request`");
            continue;
        }
        journeys.push(JourneyItem {
            file: file.clone(),
            file_name: file_name.to_owned(),
            def,
            steps,
            complete,
        });
    }
    journeys
}

/// A step's table as two: the route's keys, and the keys only a step has.
fn split_step<'i>(item: &Spanned<DeValue<'i>>) -> (Spanned<DeValue<'i>>, Spanned<DeValue<'i>>) {
    let (mut route, mut step) = (item.clone(), item.clone());
    let keys: Vec<String> = item
        .get_ref()
        .as_table()
        .map(|t| t.keys().map(|k| k.get_ref().to_string()).collect())
        .unwrap_or_default();
    for key in keys {
        let target = if STEP_KEYS.contains(&key.as_str()) {
            &mut route
        } else {
            &mut step
        };
        if let DeValue::Table(table) = target.get_mut() {
            table.remove(key.as_str());
        }
    }
    (route, step)
}

/// What expansion reads besides the journeys themselves.
pub(super) struct Context<'a> {
    pub(super) identities: &'a [Resolved],
    pub(super) names: &'a Names<'a>,
    pub(super) defaults: &'a RouteDefaults,
    pub(super) fixtures: &'a Fixtures,
}

/// Checks every journey and expands its steps into routes and cases: one case per step
/// per identity walking it, each after the step before it in the same walk.
pub(super) fn expand_journeys(
    cx: &mut Cx,
    items: Vec<JourneyItem>,
    at: &Context<'_>,
    routes: &mut Vec<Route>,
    cases: &mut Vec<Case>,
) -> Vec<Journey> {
    let mut journeys = Vec::new();
    let mut first: HashMap<String, (SourceFile, Range<usize>)> = HashMap::new();
    for item in items {
        let (file, def) = (&item.file, &item.def);
        let name = def.name.get_ref();
        check_name(cx, file, &def.name, "journey");
        if let Some((other, span)) = first.get(name) {
            let (line, _) = other.line_col(span.start);
            cx.error(
                file,
                def.name.span(),
                format!("duplicate journey name `{name}`"),
            )
            .label("another journey has this name")
            .help(format!(
                "the first one is at {}:{line}",
                other.path.display()
            ));
            continue;
        }
        first.insert(name.clone(), (file.clone(), def.name.span()));
        if at.fixtures.declared(name) {
            cx.error(
                file,
                def.name.span(),
                format!("journey `{name}` has the name of a fixture"),
            )
            .label("`{name.capture}` would be ambiguous")
            .help("rename the journey or the fixture");
            continue;
        }
        let mut walkers: Vec<usize> = Vec::new();
        let mut ok = item.complete;
        match &def.identities {
            None => walkers.extend(0..at.identities.len()),
            Some(list) => {
                for entry in list {
                    match at.names.resolve(cx, file, entry) {
                        Some(members) => {
                            for i in members {
                                if !walkers.contains(&i) {
                                    walkers.push(i);
                                }
                            }
                        }
                        None => ok = false,
                    }
                }
            }
        }
        let journey = journeys.len();
        if let Some(built) = expand_journey(cx, &item, journey, &walkers, at, routes, cases)
            && ok
        {
            journeys.push(built);
        }
    }
    journeys
}

/// Placeholders a step uses, where, and the first step whose captures they may not use.
type Use = (Vec<(String, String)>, Range<usize>, usize);

/// A step as checked: its request line and route, whom it is sent as, its captures
/// and teardown.
struct Checked {
    name: String,
    route: Route,
    built: super::routes::BuiltRoute,
    sender: Option<usize>,
    captures: Vec<Capture>,
    teardown: Option<Route>,
    fixtures: Vec<usize>,
    request_span: Range<usize>,
}

fn expand_journey(
    cx: &mut Cx,
    item: &JourneyItem,
    index: usize,
    walkers: &[usize],
    at: &Context<'_>,
    routes: &mut Vec<Route>,
    cases: &mut Vec<Case>,
) -> Option<Journey> {
    let (file, def) = (&item.file, &item.def);
    let journey_name = def.name.get_ref();
    let mut ok = true;
    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    // Capture name → the step that captures it.
    let mut defined: HashMap<String, usize> = HashMap::new();
    for (s, (_, step)) in item.steps.iter().enumerate() {
        for name in step.capture.iter().flat_map(|c| c.keys()) {
            defined.entry(name.clone()).or_insert(s);
        }
    }
    let mut checked: Vec<Checked> = Vec::new();
    for (s, (route_def, step_def)) in item.steps.iter().enumerate() {
        let Some(name) = &route_def.name else {
            cx.error(
                file,
                route_def.request.span(),
                "a journey step needs a `name`",
            )
            .label("this step has none")
            .help("add `name = \"…\"`: it ends the step's case names");
            ok = false;
            continue;
        };
        check_name(cx, file, name, "step");
        if let Some(first) = seen.get(name.get_ref()) {
            let (line, _) = file.line_col(first.start);
            cx.error(
                file,
                name.span(),
                format!("duplicate step name `{}`", name.get_ref()),
            )
            .label("another step of this journey has this name")
            .help(format!("the first one is on line {line}"));
            ok = false;
        } else {
            seen.insert(name.get_ref().clone(), name.span());
        }
        for (key, present) in [
            ("owner", route_def.owner.is_some()),
            ("bypass", route_def.bypass.is_some()),
        ] {
            if present {
                let span = route_def.keys.0.get(key).cloned().unwrap_or(name.span());
                cx.error(file, span, format!("a journey step has no `{key}`"))
                    .label("only routes have this")
                    .help("use a `[[route]]` for it");
                ok = false;
            }
        }
        let line = parse_request_line(cx, file, &route_def.request);
        let built = build_route(cx, file, route_def, at.identities, at.names, at.defaults);
        let sender = match &step_def.as_identity {
            None => None,
            Some(entry) => match at.names.resolve(cx, file, entry).as_deref() {
                Some([one]) => Some(*one),
                Some(_) => {
                    cx.error(
                        file,
                        entry.span(),
                        format!("`as` names group `{}`, not one identity", entry.get_ref()),
                    )
                    .label("a step is sent by one identity")
                    .help("name one identity of the group");
                    ok = false;
                    None
                }
                None => {
                    ok = false;
                    None
                }
            },
        };
        let mut captures = Vec::new();
        for (capture, value) in step_def.capture.iter().flatten() {
            match parse_capture(cx, file, capture, value) {
                Some(c) => captures.push(c),
                None => ok = false,
            }
        }
        let teardown = step_def.teardown.as_ref().and_then(|t| {
            let l = parse_request_line(cx, file, t)?;
            let placeholders = l.placeholders.clone();
            let location = cx.location(file, t.span().start);
            Some((
                teardown_route(name.get_ref(), &item.file_name, l, location),
                t.span(),
                placeholders,
            ))
        });
        ok &= step_def.teardown.is_none() || teardown.is_some();
        let (Some(line), Some(built)) = (line, built) else {
            ok = false;
            continue;
        };
        let senders: Vec<&Identity> = match sender {
            Some(i) => vec![&at.identities[i].identity],
            None => walkers
                .iter()
                .map(|&i| &at.identities[i].identity)
                .collect(),
        };
        ok &= check_vars(
            cx,
            file,
            route_def.request.span(),
            &line.placeholders,
            &senders,
        );
        let route = Route {
            name: format!("{journey_name}::{}", name.get_ref()),
            file_name: item.file_name.clone(),
            description: route_def.description.clone(),
            method: line.method,
            path: line.path,
            query: pairs(route_def.query.as_ref()),
            headers: pairs(route_def.headers.as_ref()),
            body: built.body.clone(),
            location: cx.location(file, route_def.request.span().start),
        };
        // The request may use captures of earlier steps; the teardown this step's too.
        let mut fixtures_used = Vec::new();
        let mut uses: Vec<Use> = vec![(request_refs(&route), route_def.request.span(), s)];
        if let Some((t, span, placeholders)) = &teardown {
            ok &= check_vars(cx, file, span.clone(), placeholders, &senders);
            let refs = fixture_refs(&t.path)
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect();
            uses.push((refs, span.clone(), s + 1));
        }
        for (refs, span, before) in uses {
            let (own, others): (Vec<_>, Vec<_>) =
                refs.into_iter().partition(|(f, _)| f == journey_name);
            for (_, capture) in own {
                let needle = format!("{{{journey_name}.{capture}}}");
                let place = locate(file, span.clone(), &needle);
                match defined.get(&capture) {
                    Some(&by) if by < before => {}
                    Some(&by) => {
                        let by_name = item.steps[by].0.name.as_ref().map_or("?", |n| n.get_ref());
                        cx.error(
                            file,
                            place,
                            format!("`{needle}` is used before step `{by_name}` captures it"),
                        )
                        .label("not captured yet")
                        .help("a step can use only what the steps before it captured (a teardown, its own step's too)");
                        ok = false;
                    }
                    None if item.complete => {
                        let help = did_you_mean(&capture, defined.keys().map(String::as_str))
                            .unwrap_or_else(|| {
                                let mut all: Vec<&str> = defined.keys().map(String::as_str).collect();
                                all.sort_unstable();
                                if all.is_empty() {
                                    format!("journey `{journey_name}` captures nothing; add `capture.{capture} = \"/…\"` to an earlier step")
                                } else {
                                    format!("journey `{journey_name}` captures {}", backticked(&all))
                                }
                            });
                        cx.error(
                            file,
                            place,
                            format!("journey `{journey_name}` captures no `{capture}`"),
                        )
                        .label("unknown capture")
                        .help(help);
                        ok = false;
                    }
                    None => ok = false,
                }
            }
            match at.fixtures.check_refs(cx, file, span, &others, None) {
                Some(named) => {
                    fixtures_used.extend(named.iter().filter_map(|n| at.fixtures.index(n)))
                }
                None => ok = false,
            }
        }
        fixtures_used.dedup();
        checked.push(Checked {
            name: name.get_ref().clone(),
            route,
            built,
            sender,
            captures,
            teardown: teardown.map(|(t, _, _)| t),
            fixtures: fixtures_used,
            request_span: route_def.request.span(),
        });
    }
    if !ok || checked.len() != item.steps.len() {
        return None;
    }
    let first_route = routes.len();
    let mut steps = Vec::new();
    let mut previous: Vec<Option<usize>> = vec![None; walkers.len()];
    for (s, step) in checked.into_iter().enumerate() {
        let route = first_route + s;
        for (w, &walker) in walkers.iter().enumerate() {
            let sender = step.sender.unwrap_or(walker);
            let identity = &at.identities[sender].identity;
            let mut needs = Vec::new();
            for &f in &step.fixtures {
                match at.fixtures.instance(f, sender, None) {
                    Some(instance) => needs.push(instance),
                    None => {
                        cx.error(
                            file,
                            step.request_span.clone(),
                            format!(
                                "identity `{}` has no `{}`: the fixture is per identity and it does not create one",
                                identity.name, at.fixtures.list[f].name
                            ),
                        )
                        .label("uses a per-identity fixture");
                        return None;
                    }
                }
            }
            let walker_identity = &at.identities[walker].identity;
            let expect = match step.built.expectations.get(&walker) {
                Some(explicit) => explicit.clone(),
                None => step
                    .built
                    .inferred(walker, walker_identity.authenticated, at.defaults),
            };
            let at_case = cases.len();
            cases.push(Case {
                name: format!(
                    "{}::{journey_name}::{}::{}",
                    item.file_name, walker_identity.name, step.name
                ),
                route,
                identity: sender,
                path: render_path(&step.route.path, &identity.name, &identity.vars),
                expect,
                variant: None,
                fixtures: needs,
                owner: None,
                journey: Some(JourneyStep {
                    journey: index,
                    step: s,
                    walker,
                    previous: previous[w],
                    teardown_path: step
                        .teardown
                        .as_ref()
                        .map(|t| render_path(&t.path, &identity.name, &identity.vars)),
                }),
            });
            previous[w] = Some(at_case);
        }
        routes.push(step.route);
        steps.push(Step {
            name: step.name,
            route,
            captures: step.captures,
            teardown: step.teardown,
        });
    }
    Some(Journey {
        name: journey_name.clone(),
        steps,
        location: cx.location(file, def.name.span().start),
    })
}
