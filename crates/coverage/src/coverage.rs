//! Coverage: a suite's routes against a description's operations and captured requests,
//! and the description's declared security against the suite's expectations.

use std::collections::BTreeMap;

use rolecall_scenario::{Decision, Identity, Layer, Suite};
use serde::Serialize;
use serde_json::Value;

use crate::har::Har;
use crate::identify::recognise;
use crate::openapi::{Description, Security};
use crate::template::{Index, Segment, fits_route, segments};

/// The inputs of a coverage computation.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The suite.
    pub suite: &'a Suite,
    /// The API description, if any.
    pub description: Option<&'a Description>,
    /// HAR captures.
    pub captures: &'a [Har],
}

/// The result: what rolecall reports and gates on. Every string in it is already
/// redacted with the suite's secrets (route paths may hold `${env:…}` values).
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    /// The description read, if any.
    pub description: Option<DescriptionInfo>,
    /// The HAR files read.
    pub har_files: Vec<String>,
    /// Counts.
    pub summary: Summary,
    /// Every operation of the description, in document order.
    pub operations: Vec<OperationCoverage>,
    /// Every distinct captured request (method and path).
    pub captured: Vec<CapturedRequest>,
    /// Suite routes no operation of the description matches (stale or undocumented).
    pub undocumented: Vec<RouteRef>,
    /// Declared security the suite's expectations contradict.
    pub findings: Vec<Finding>,
}

/// Which description was read.
#[derive(Debug, Clone, Serialize)]
pub struct DescriptionInfo {
    /// The file.
    pub file: String,
    /// `Swagger 2.0`, `OpenAPI 3.0` or `OpenAPI 3.1`.
    pub spec: String,
    /// `info.title`.
    pub title: String,
}

/// Counts, and the percentage `--fail-under` gates on.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    /// Operations in the description.
    pub operations: usize,
    /// Operations some route exercises.
    pub operations_exercised: usize,
    /// Distinct captured requests no operation of the description covers.
    pub captured_only: usize,
    /// Of those, the ones some route exercises.
    pub captured_only_exercised: usize,
    /// Operations plus captured-only requests exercised, in percent of all of them (100
    /// when there is nothing to exercise).
    pub percent: f64,
    /// Suite routes the description lacks.
    pub undocumented: usize,
    /// Security findings.
    pub findings: usize,
}

/// A suite route, as the user wrote it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteRef {
    /// `GET /v1/tenants/{tenant}/projects`.
    pub request: String,
    /// `scenarios/projects.toml:4:11`.
    pub at: String,
}

/// One operation and who the suite sends it as.
#[derive(Debug, Clone, Serialize)]
pub struct OperationCoverage {
    /// The method.
    pub method: String,
    /// The path template, as in the description.
    pub path: String,
    /// `operationId`.
    pub operation_id: Option<String>,
    /// The declared security, in words.
    pub security: String,
    /// Whether some route exercises it.
    pub exercised: bool,
    /// The routes that exercise it.
    pub routes: Vec<RouteRef>,
    /// Identities the suite expects to be let in, on any of those routes.
    pub allowed: Vec<String>,
    /// Identities the suite expects to be refused, on any of those routes.
    pub refused: Vec<String>,
}

/// One distinct captured request.
#[derive(Debug, Clone, Serialize)]
pub struct CapturedRequest {
    /// The method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// How many times it was captured.
    pub count: usize,
    /// The response statuses seen.
    pub statuses: Vec<u16>,
    /// The suite identities recognised as its senders.
    pub identities: Vec<String>,
    /// The operation of the description it is an instance of.
    pub operation: Option<String>,
    /// Whether a suite route exercises it.
    pub exercised: bool,
}

/// What kind of disagreement a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The operation requires credentials, and the suite lets an identity without any in.
    AnonymousAllowed,
    /// The operation is declared public, and the suite refuses callers without credentials
    /// (or everyone).
    PublicRefused,
    /// The suite lets in an identity whose token carries none of the declared scope sets.
    ScopeMissing,
}

/// One security disagreement between the description and the suite.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The kind.
    pub kind: FindingKind,
    /// `GET /pets/{petId}`.
    pub operation: String,
    /// The declared security, in words.
    pub declared: String,
    /// The routes whose expectations disagree.
    pub routes: Vec<RouteRef>,
    /// The identities concerned.
    pub identities: Vec<String>,
    /// What disagrees, in a sentence.
    pub message: String,
}

/// Who a route lets in and who it refuses (its cases without variants).
#[derive(Default)]
struct Access {
    allowed: Vec<usize>,
    refused: Vec<usize>,
    /// Refused where the suite expects an edge layer (server, WAF, CDN) to refuse: the
    /// edge's decision, not the API's declared security.
    at_edge: Vec<usize>,
}

/// Computes coverage. Pure: reads nothing, sends nothing.
pub fn compute(inputs: Inputs<'_>) -> Coverage {
    let suite = inputs.suite;
    let secrets = &suite.secrets;
    let mut access: Vec<Access> = (0..suite.routes.len()).map(|_| Access::default()).collect();
    for case in suite.cases.iter().filter(|c| c.variant.is_none()) {
        let a = &mut access[case.route];
        match case.expect.decision {
            Decision::Allow => a.allowed.push(case.identity),
            Decision::Deny | Decision::Unauthenticated => {
                a.refused.push(case.identity);
                if case
                    .expect
                    .layer
                    .is_some_and(|l| matches!(l, Layer::Server | Layer::Waf | Layer::Cdn))
                {
                    a.at_edge.push(case.identity);
                }
            }
        }
    }
    let route_segments: Vec<Vec<Segment>> =
        suite.routes.iter().map(|r| segments(&r.path)).collect();
    let route_ref = |i: usize| {
        let r = &suite.routes[i];
        RouteRef {
            request: secrets.redact(&format!("{} {}", r.method, r.path)),
            at: secrets.redact(&r.location.to_string()),
        }
    };
    let names = |ids: &mut Vec<usize>| -> Vec<String> {
        ids.sort_unstable();
        ids.dedup();
        ids.iter()
            .map(|&i| suite.identities[i].name.clone())
            .collect()
    };

    // Operations: each route to its best-fitting operation.
    let mut index = Index::default();
    let mut routes_of: Vec<Vec<usize>> = Vec::new();
    let mut undocumented = Vec::new();
    if let Some(d) = inputs.description {
        for (id, op) in d.operations.iter().enumerate() {
            index.insert(id, &op.method, &op.path, &op.base_paths);
        }
        routes_of = vec![Vec::new(); d.operations.len()];
        for (r, route) in suite.routes.iter().enumerate() {
            match index.best(route.method.as_str(), &route_segments[r]) {
                Some(op) => routes_of[op].push(r),
                None => undocumented.push(route_ref(r)),
            }
        }
    }
    let mut operations = Vec::new();
    let mut findings = Vec::new();
    for (id, op) in inputs
        .description
        .iter()
        .flat_map(|d| d.operations.iter().enumerate())
    {
        let routes = &routes_of[id];
        let mut allowed: Vec<usize> = routes
            .iter()
            .flat_map(|&r| access[r].allowed.iter().copied())
            .collect();
        let mut refused: Vec<usize> = routes
            .iter()
            .flat_map(|&r| access[r].refused.iter().copied())
            .collect();
        let operation = secrets.redact(&op.request_line());
        let declared = secrets.redact(&op.security.to_string());
        for (&r, a) in routes.iter().map(|r| (r, &access[*r])) {
            findings.extend(reconcile(suite, &op.security, a).into_iter().map(
                |(kind, ids, message)| {
                    Finding {
                        kind,
                        operation: operation.clone(),
                        declared: declared.clone(),
                        routes: vec![route_ref(r)],
                        identities: ids
                            .iter()
                            .map(|&i| suite.identities[i].name.clone())
                            .collect(),
                        message,
                    }
                },
            ));
        }
        operations.push(OperationCoverage {
            method: op.method.clone(),
            path: secrets.redact(&op.path),
            operation_id: op.operation_id.as_deref().map(|s| secrets.redact(s)),
            security: declared,
            exercised: !routes.is_empty(),
            routes: routes.iter().map(|&r| route_ref(r)).collect(),
            allowed: names(&mut allowed),
            refused: names(&mut refused),
        });
    }

    // Captured requests, grouped by method and path.
    let mut captured: BTreeMap<(String, String), CapturedRequest> = BTreeMap::new();
    let mut order = Vec::new();
    for capture in inputs.captures.iter().flat_map(|h| &h.captures) {
        let key = (capture.method.clone(), capture.path.clone());
        let entry = captured.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            let path = segments(&capture.path);
            let operation = inputs.description.and_then(|d| {
                index
                    .best(&capture.method, &path)
                    .map(|op| secrets.redact(&d.operations[op].request_line()))
            });
            let exercised = suite
                .routes
                .iter()
                .zip(&route_segments)
                .any(|(route, segs)| {
                    route.method.as_str() == capture.method && fits_route(&path, segs)
                });
            CapturedRequest {
                method: capture.method.clone(),
                path: secrets.redact(&capture.path),
                count: 0,
                statuses: Vec::new(),
                identities: Vec::new(),
                operation,
                exercised,
            }
        });
        entry.count += 1;
        if let Some(s) = capture.status
            && !entry.statuses.contains(&s)
        {
            entry.statuses.push(s);
        }
        for i in recognise(suite, capture) {
            let name = &suite.identities[i].name;
            if !entry.identities.contains(name) {
                entry.identities.push(name.clone());
            }
        }
    }
    let captured: Vec<CapturedRequest> = order.iter().filter_map(|k| captured.remove(k)).collect();

    let operations_exercised = operations.iter().filter(|o| o.exercised).count();
    let captured_only: Vec<&CapturedRequest> =
        captured.iter().filter(|c| c.operation.is_none()).collect();
    let captured_only_exercised = captured_only.iter().filter(|c| c.exercised).count();
    let total = operations.len() + captured_only.len();
    let done = operations_exercised + captured_only_exercised;
    let summary = Summary {
        operations: operations.len(),
        operations_exercised,
        captured_only: captured_only.len(),
        captured_only_exercised,
        percent: if total == 0 {
            100.0
        } else {
            done as f64 * 100.0 / total as f64
        },
        undocumented: undocumented.len(),
        findings: findings.len(),
    };
    Coverage {
        description: inputs.description.map(|d| DescriptionInfo {
            file: secrets.redact(&d.file.display().to_string()),
            spec: d.spec.to_string(),
            title: secrets.redact(&d.title),
        }),
        har_files: inputs
            .captures
            .iter()
            .map(|h| secrets.redact(&h.file.display().to_string()))
            .collect(),
        summary,
        operations,
        captured,
        undocumented,
        findings,
    }
}

/// The disagreements between an operation's declared security and one route's access.
fn reconcile(
    suite: &Suite,
    security: &Security,
    access: &Access,
) -> Vec<(FindingKind, Vec<usize>, String)> {
    let mut out = Vec::new();
    let anonymous = |i: &usize| !suite.identities[*i].authenticated;
    // No credentials at all: an identity sending a defective token may well be refused by
    // a public operation.
    let bare = |i: &usize| {
        !suite.identities[*i].authenticated && !sends_credentials(&suite.identities[*i])
    };
    let names = |ids: &[usize]| {
        ids.iter()
            .map(|&i| format!("`{}`", suite.identities[i].name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match security {
        Security::Required(alternatives) => {
            let let_in: Vec<usize> = access.allowed.iter().copied().filter(anonymous).collect();
            if !let_in.is_empty() {
                out.push((
                    FindingKind::AnonymousAllowed,
                    let_in.clone(),
                    format!(
                        "the description requires credentials, but the suite lets {} in without any",
                        names(&let_in)
                    ),
                ));
            }
            let scoped: Vec<&Vec<String>> = alternatives
                .iter()
                .flat_map(|a| a.0.iter().map(|(_, scopes)| scopes))
                .filter(|s| !s.is_empty())
                .collect();
            if !scoped.is_empty() {
                let lacking: Vec<usize> = access
                    .allowed
                    .iter()
                    .copied()
                    .filter(|&i| {
                        scopes_of(&suite.identities[i]).is_some_and(|held| {
                            !alternatives.iter().any(|alt| {
                                alt.0
                                    .iter()
                                    .all(|(_, need)| need.iter().all(|s| held.contains(s)))
                            })
                        })
                    })
                    .collect();
                if !lacking.is_empty() {
                    out.push((
                        FindingKind::ScopeMissing,
                        lacking.clone(),
                        format!(
                            "the suite lets {} in, whose token carries none of the declared scope sets",
                            names(&lacking)
                        ),
                    ));
                }
            }
        }
        Security::OptOut | Security::Optional(_) => {
            let anonymous_refused: Vec<usize> = access
                .refused
                .iter()
                .copied()
                .filter(|i| bare(i) && !access.at_edge.contains(i))
                .collect();
            if !anonymous_refused.is_empty() {
                out.push((
                    FindingKind::PublicRefused,
                    anonymous_refused.clone(),
                    format!(
                        "the description declares it public, but the suite refuses {}",
                        names(&anonymous_refused)
                    ),
                ));
            } else if access.allowed.is_empty()
                && access.refused.iter().any(|i| !access.at_edge.contains(i))
            {
                out.push((
                    FindingKind::PublicRefused,
                    Vec::new(),
                    "the description declares it public, but the suite refuses every identity"
                        .into(),
                ));
            }
        }
        Security::Absent => {}
    }
    out
}

fn sends_credentials(identity: &Identity) -> bool {
    let c = &identity.credentials;
    c.bearer.is_some()
        || c.basic.is_some()
        || c.api_key.is_some()
        || c.jwt.is_some()
        || c.login.is_some()
        || !c.cookies.is_empty()
        || c.headers
            .iter()
            .any(|(n, _)| rolecall_scenario::is_credential_header(n))
}

/// The OAuth scopes an identity's JWT carries (`scope`, space-separated, or `scp`), when
/// it has a JWT with either claim.
fn scopes_of(identity: &Identity) -> Option<Vec<String>> {
    let claims = &identity.credentials.jwt.as_ref()?.claims;
    let split = |v: &Value| -> Option<Vec<String>> {
        match v {
            Value::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            _ => None,
        }
    };
    claims
        .get("scope")
        .and_then(split)
        .or_else(|| claims.get("scp").and_then(split))
}
