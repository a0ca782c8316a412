//! Objects the suite creates itself: fixtures set up before the cases that need them,
//! their captured values, and their teardown after the cases, always.
//!
//! Every instance (a fixture, and the identity creating it) that a selected case needs,
//! directly or through `needs`, has a cell. The engine starts setting up the instances
//! of the cases it is given, each waiting for its own dependencies only, so independent
//! fixtures are created concurrently; a case waits for the cells it uses. Cells are
//! added as cases are given (the nextest agent gets one case at a time), and an instance
//! planned twice is set up once. Teardowns run in reverse dependency order, one level at
//! a time, concurrently within a level.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rolecall_scenario::{
    Body, Capture, CaptureSource, Fixture, Instance, Route, Suite, fill_refs, fixture_refs,
};
use tokio::sync::OnceCell;
use url::form_urlencoded;

/// Captured values of one instance, by capture name.
pub(crate) type Captured = Arc<HashMap<String, String>>;

/// What became of an instance.
#[derive(Debug, Clone)]
pub(crate) enum Made {
    /// Created; its captured values.
    Ready(Captured),
    /// Not created, or created wrong: the reason, naming the fixture.
    Failed(String),
    /// Deliberately not created (a write to a target that does not allow one).
    Skipped(String),
}

/// An instance that was created, with every value its teardown may use.
#[derive(Debug)]
pub(crate) struct Created {
    pub(crate) instance: Instance,
    /// Captures by fixture name: its own and its dependencies'.
    pub(crate) values: HashMap<String, Captured>,
}

/// The run's objects.
#[derive(Debug, Default)]
pub(crate) struct Objects {
    /// A cell per planned instance; planning adds to it.
    cells: Mutex<HashMap<Instance, Arc<OnceCell<Made>>>>,
    /// Created instances that have a teardown, in the order they were created.
    pub(crate) created: Mutex<Vec<Created>>,
    /// Set once teardown began: an instance created after that is removed at once.
    pub(crate) stopping: AtomicBool,
}

impl Objects {
    /// Plans the instances the cases at `indices` need (a journey step's include those
    /// of the steps before it), their dependencies included, and returns those not planned before, in a stable order (by fixture, then
    /// identity).
    pub(crate) fn plan(&self, suite: &Suite, indices: &[usize]) -> Vec<Instance> {
        let Ok(mut cells) = self.cells.lock() else {
            return Vec::new();
        };
        let mut added = Vec::new();
        let mut stack: Vec<Instance> = Vec::new();
        for &index in indices {
            // A journey step walks the steps before it first: their fixtures too.
            let mut at = Some(index);
            while let Some(case) = at.map(|i| &suite.cases[i]) {
                stack.extend(case.fixtures.iter().copied());
                at = case.journey.as_ref().and_then(|j| j.previous);
            }
        }
        while let Some(instance) = stack.pop() {
            if cells.contains_key(&instance) {
                continue;
            }
            cells.insert(instance, Arc::new(OnceCell::new()));
            added.push(instance);
            stack.extend(dependencies(suite, instance));
        }
        added.sort_unstable();
        added
    }

    /// The cell of a planned instance.
    pub(crate) fn cell(&self, instance: Instance) -> Option<Arc<OnceCell<Made>>> {
        self.cells.lock().ok()?.get(&instance).cloned()
    }

    /// Marks teardown as begun and takes what was created.
    pub(crate) fn take_created(&self) -> Vec<Created> {
        self.stopping.store(true, Ordering::SeqCst);
        self.created
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }
}

/// The instances `instance` needs: for a per-identity dependency the creator's own.
pub(crate) fn dependencies(suite: &Suite, instance: Instance) -> Vec<Instance> {
    suite.fixtures[instance.fixture]
        .needs
        .iter()
        .map(|&need| {
            let dep = &suite.fixtures[need];
            let identity = if dep.per_identity {
                instance.identity
            } else {
                dep.identities[0]
            };
            Instance {
                fixture: need,
                identity,
            }
        })
        .collect()
}

/// How deep an instance sits: 0 without dependencies. Teardown goes deepest first.
pub(crate) fn depth(suite: &Suite, instance: Instance) -> usize {
    dependencies(suite, instance)
        .into_iter()
        .map(|d| depth(suite, d) + 1)
        .max()
        .unwrap_or(0)
}

/// A request with its `{fixture.capture}` placeholders filled in.
#[derive(Debug)]
pub(crate) struct Filled {
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Body>,
}

/// `route` sent at `path`, every placeholder filled from `values` (captures by fixture
/// name). A captured value comes from the target, so it is encoded for where it goes:
/// in the path as one segment (it can add no `/`, `?` or `#`), in the path's query as
/// one form component; one that would make a segment empty, `.` or `..` is refused.
/// `sender` is the identity that sends it (a case's, a fixture's creator): `{identity}`
/// in its query, headers and body is that name (paths have it from loading), so that
/// each identity can create an object naming itself, or send its own name.
pub(crate) fn fill(
    route: &Route,
    path: &str,
    values: &HashMap<String, Captured>,
    sender: Option<&str>,
) -> Result<Filled, String> {
    let mut value = |fixture: &str, capture: &str| values.get(fixture)?.get(capture).cloned();
    let path = fill_path(path, &mut value)?;
    let mut text = |s: &str| {
        let filled = fill_refs(s, &mut value);
        match sender {
            Some(name) if filled.contains("{identity}") => filled.replace("{identity}", name),
            _ => filled.into_owned(),
        }
    };
    let pairs = |list: &[(String, String)], text: &mut dyn FnMut(&str) -> String| {
        list.iter()
            .map(|(n, v)| (n.clone(), text(v)))
            .collect::<Vec<_>>()
    };
    Ok(Filled {
        path,
        query: pairs(&route.query, &mut text),
        headers: pairs(&route.headers, &mut text),
        body: route.body.as_ref().map(|body| match body {
            Body::Json(json) => Body::Json(fill_json(json, &mut text)),
            Body::Form(form) => Body::Form(pairs(form, &mut text)),
            Body::Raw {
                text: raw,
                content_type,
            } => Body::Raw {
                text: text(raw),
                content_type: content_type.clone(),
            },
        }),
    })
}

/// Whether `{identity}` appears in `route`'s query, headers or body: then its cases
/// are filled per sender.
pub(crate) fn mentions_identity(route: &Route) -> bool {
    const IDENTITY: &str = "{identity}";
    fn in_json(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains(IDENTITY),
            serde_json::Value::Array(items) => items.iter().any(in_json),
            serde_json::Value::Object(map) => map.values().any(in_json),
            _ => false,
        }
    }
    let in_pairs = |list: &[(String, String)]| list.iter().any(|(_, v)| v.contains(IDENTITY));
    in_pairs(&route.query)
        || in_pairs(&route.headers)
        || match &route.body {
            None => false,
            Some(Body::Json(json)) => in_json(json),
            Some(Body::Form(form)) => in_pairs(form),
            Some(Body::Raw { text, .. }) => text.contains(IDENTITY),
        }
}

/// What a path segment may hold of a captured value: every byte but the unreserved
/// ones is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `path` with its placeholders filled: each value percent-encoded as one segment
/// before any `?`, as one form component after it. A segment a value made empty or a
/// dot segment (which URL parsing would remove, climbing out of the route) is an error
/// naming the placeholder, never the value.
fn fill_path(
    path: &str,
    value: &mut dyn FnMut(&str, &str) -> Option<String>,
) -> Result<String, String> {
    let split = path.find(['?', '#']).unwrap_or(path.len());
    let (segments, rest) = path.split_at(split);
    let mut out = String::with_capacity(path.len() + 16);
    for (i, segment) in segments.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let mut encoded =
            |f: &str, c: &str| value(f, c).map(|v| utf8_percent_encode(&v, SEGMENT).to_string());
        let filled = fill_refs(segment, &mut encoded);
        let dots = filled.to_ascii_lowercase().replace("%2e", ".");
        if filled != segment && matches!(dots.as_str(), "" | "." | "..") {
            let (f, c) = fixture_refs(segment).next().unwrap_or_default();
            return Err(format!(
                "not sent: the value captured for `{{{f}.{c}}}` would make a path segment empty, `.` or `..`"
            ));
        }
        out.push_str(&filled);
    }
    let mut component = |f: &str, c: &str| {
        value(f, c).map(|v| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>())
    };
    out.push_str(&fill_refs(rest, &mut component));
    Ok(out)
}

fn fill_json(value: &serde_json::Value, text: &mut dyn FnMut(&str) -> String) -> serde_json::Value {
    match value {
        serde_json::Value::String(s) => serde_json::Value::String(text(s)),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(|v| fill_json(v, text)).collect())
        }
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill_json(v, text)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Where a fixture is declared and who created the instance, for messages:
/// `` fixture `doc` (docs.toml:3) as `alice` ``.
pub(crate) fn describe(suite: &Suite, instance: Instance) -> String {
    let fixture = &suite.fixtures[instance.fixture];
    format!(
        "fixture `{}` ({}:{}) as `{}`",
        fixture.name,
        fixture.location.path.display(),
        fixture.location.line,
        suite.identities[instance.identity].name
    )
}

/// The instance's index among its fixture's creators.
pub(crate) fn slot(fixture: &Fixture, identity: usize) -> usize {
    fixture
        .identities
        .iter()
        .position(|&i| i == identity)
        .unwrap_or(0)
}

/// At most 200 characters of a body, on one line, for a fixture error. Give it the body
/// already redacted: cutting first could keep the beginning of a secret.
pub(crate) fn excerpt(body: &str) -> String {
    let one_line: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    if body.chars().count() > 200 {
        format!("{one_line}…")
    } else {
        one_line
    }
}

/// Reads every capture (of a fixture or a journey step) from a response, each on its
/// own (one missing does not stop the others, so every secret that is there can be
/// learned); the first one missing is the error.
pub(crate) fn capture(
    captures: &[Capture],
    headers: &[(String, String)],
    body: &str,
) -> (HashMap<String, String>, Option<String>) {
    let mut values = HashMap::new();
    let mut missing = None;
    let mut json: Option<Result<serde_json::Value, ()>> = None;
    for capture in captures {
        let found = match &capture.source {
            CaptureSource::Json(pointer) => {
                let parsed = json.get_or_insert_with(|| serde_json::from_str(body).map_err(|_| ()));
                let Ok(parsed) = parsed else {
                    missing.get_or_insert_with(|| {
                        format!(
                            "capture `{}`: the response is not JSON, so {} cannot match",
                            capture.name,
                            capture.source.describe()
                        )
                    });
                    continue;
                };
                match parsed.pointer(pointer) {
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                        Some(v.to_string())
                    }
                    _ => None,
                }
            }
            CaptureSource::Header(name) => headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone()),
            CaptureSource::Regex(re) => re.captures(body).map(|c| {
                c.get(1)
                    .or_else(|| c.get(0))
                    .map(|m| m.as_str().to_owned())
                    .unwrap_or_default()
            }),
        };
        match found {
            Some(v) => {
                values.insert(capture.name.clone(), v);
            }
            None => {
                missing.get_or_insert_with(|| {
                    format!(
                        "capture `{}`: {} found nothing in the response",
                        capture.name,
                        capture.source.describe()
                    )
                });
            }
        }
    }
    (values, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_one_bounded_line() {
        assert_eq!(excerpt("a\nb"), "a b");
        assert_eq!(excerpt(&"x".repeat(300)).chars().count(), 201);
    }

    #[test]
    fn captured_values_are_encoded_for_their_place_in_the_path() {
        let fill = |path: &str, v: &str| fill_path(path, &mut |_, _| Some(v.to_owned()));
        assert_eq!(
            fill("/d/{a.b}", "x/../y?z#w").unwrap(),
            "/d/x%2F..%2Fy%3Fz%23w"
        );
        assert_eq!(
            fill("/d?q={a.b}", "1&_method=DELETE").unwrap(),
            "/d?q=1%26_method%3DDELETE"
        );
        assert_eq!(fill("/d/{a.b}", "%2e%2e").unwrap(), "/d/%252e%252e");
        for (path, v) in [
            ("/d/{a.b}", ".."),
            ("/d/{a.b}", ""),
            ("/d/{a.b}%2E", "."),
            ("/d/{a.b}/e", "."),
        ] {
            let e = fill(path, v).unwrap_err();
            assert!(
                e.contains("`{a.b}` would make a path segment"),
                "{path} {v}: {e}"
            );
        }
    }
}
