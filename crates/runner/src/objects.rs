//! Objects the suite creates itself: fixtures set up before the cases that need them,
//! their captured values, and their teardown after the cases, always.
//!
//! Every instance (a fixture, and the identity creating it) that a selected case needs,
//! directly or through `needs`, has a cell. The engine starts setting all of them up as
//! the run starts, each waiting for its own dependencies only, so independent fixtures
//! are created concurrently; a case waits for the cells it uses. Teardowns run in
//! reverse dependency order, one level at a time, concurrently within a level.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rolecall_scenario::{Body, CaptureSource, Fixture, Instance, Route, Suite, fill_refs};
use tokio::sync::OnceCell;

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
    pub(crate) cells: HashMap<Instance, Arc<OnceCell<Made>>>,
    /// Created instances that have a teardown, in the order they were created.
    pub(crate) created: Mutex<Vec<Created>>,
    /// Set once teardown began: an instance created after that is removed at once.
    pub(crate) stopping: AtomicBool,
}

impl Objects {
    /// The instances the cases at `indices` need, their dependencies included, in an
    /// order where each comes after what it needs.
    pub(crate) fn plan(suite: &Suite, indices: &[usize]) -> Objects {
        let mut cells = HashMap::new();
        let mut stack: Vec<Instance> = Vec::new();
        for &index in indices {
            stack.extend(suite.cases[index].fixtures.iter().copied());
        }
        while let Some(instance) = stack.pop() {
            if cells.contains_key(&instance) {
                continue;
            }
            cells.insert(instance, Arc::new(OnceCell::new()));
            stack.extend(dependencies(suite, instance));
        }
        Objects {
            cells,
            ..Objects::default()
        }
    }

    /// The instances to set up, in a stable order (by fixture, then identity).
    pub(crate) fn instances(&self) -> Vec<Instance> {
        let mut all: Vec<Instance> = self.cells.keys().copied().collect();
        all.sort_unstable();
        all
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
/// name). For a fixture's request or teardown, `creator` is the identity that sends it:
/// `{identity}` in its query, headers and body is that name (paths have it from loading),
/// so that each identity can create an object naming itself.
pub(crate) fn fill(
    route: &Route,
    path: &str,
    values: &HashMap<String, Captured>,
    creator: Option<&str>,
) -> Filled {
    let mut value = |fixture: &str, capture: &str| values.get(fixture)?.get(capture).cloned();
    let mut text = |s: &str| {
        let filled = fill_refs(s, &mut value);
        match creator {
            Some(name) if filled.contains("{identity}") => filled.replace("{identity}", name),
            _ => filled.into_owned(),
        }
    };
    let pairs = |list: &[(String, String)], text: &mut dyn FnMut(&str) -> String| {
        list.iter()
            .map(|(n, v)| (n.clone(), text(v)))
            .collect::<Vec<_>>()
    };
    Filled {
        path: text(path),
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
    }
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

/// At most 200 characters of a body, on one line, for a fixture error.
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

/// Reads every capture of `fixture` from a response; the first one missing is the
/// error.
pub(crate) fn capture(
    fixture: &Fixture,
    headers: &[(String, String)],
    body: &str,
) -> (HashMap<String, String>, Option<String>) {
    let mut values = HashMap::new();
    let mut json: Option<Result<serde_json::Value, ()>> = None;
    for capture in &fixture.captures {
        let found = match &capture.source {
            CaptureSource::Json(pointer) => {
                let parsed = json.get_or_insert_with(|| serde_json::from_str(body).map_err(|_| ()));
                let Ok(parsed) = parsed else {
                    return (
                        values,
                        Some(format!(
                            "capture `{}`: the response is not JSON, so {} cannot match",
                            capture.name,
                            capture.source.describe()
                        )),
                    );
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
                let missing = format!(
                    "capture `{}`: {} found nothing in the response",
                    capture.name,
                    capture.source.describe()
                );
                return (values, Some(missing));
            }
        }
    }
    (values, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_one_bounded_line() {
        assert_eq!(excerpt("a\nb"), "a b");
        assert_eq!(excerpt(&"x".repeat(300)).chars().count(), 201);
    }
}
