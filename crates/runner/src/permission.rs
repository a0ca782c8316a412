//! Which cases may be sent: writes need a permission that is never inherited.
//!
//! A write is a request with an unsafe method or one that carries a method override
//! naming something else (see [`rolecall_scenario::Mutation`]). The target's own
//! `allow_mutations` decides, and nothing else can widen it: `--allow-mutations` and
//! `ROLECALL_ALLOW_MUTATIONS` only apply to a base URL given for the run, which never
//! inherits the target's permission.

use rolecall_scenario::{Case, Fixture, Method, Mutation, Route, Suite, query_mutation};

use crate::config::RunConfig;

/// The run's permission to write, and what writes, worked out once per run.
pub(crate) struct Permission {
    /// Why writes are not allowed; `None` when they are.
    refusal: Option<String>,
    /// What writes in each route, identity and login flow; empty when writes are
    /// allowed, since nothing then needs to know.
    routes: Vec<Option<Mutation>>,
    defaults: Option<Mutation>,
    identities: Vec<Option<Mutation>>,
    logins: Vec<Option<Mutation>>,
}

impl Permission {
    pub(crate) fn new(suite: &Suite, config: &RunConfig) -> Self {
        let refusal = match (&config.base_url, config.allow_mutations) {
            (Some(_), Some(true)) => None,
            (Some(_), _) => Some(
                "the base URL given for this run does not allow mutations (it never inherits the target's; allow them with `--allow-mutations` or `ROLECALL_ALLOW_MUTATIONS=1`)"
                    .to_owned(),
            ),
            (None, _) if !suite.target.allow_mutations => Some(format!(
                "target `{}` does not allow mutations (set `allow_mutations = true` to send writes)",
                suite.target.name
            )),
            (None, Some(false)) => Some(
                "writes are turned off for this run (`ROLECALL_ALLOW_MUTATIONS=0`)".to_owned(),
            ),
            (None, _) => None,
        };
        if refusal.is_none() {
            return Permission {
                refusal,
                routes: Vec::new(),
                defaults: None,
                identities: Vec::new(),
                logins: Vec::new(),
            };
        }
        Permission {
            refusal,
            routes: suite.routes.iter().map(|r| r.mutation()).collect(),
            defaults: suite.settings.mutation(),
            identities: suite
                .identities
                .iter()
                .map(|i| i.mutation(&suite.settings))
                .collect(),
            logins: suite
                .identities
                .iter()
                .map(|i| i.credentials.login.as_ref().and_then(|l| l.mutation()))
                .collect(),
        }
    }

    /// Why a case is not sent, if it is not: the suite says to skip it, or it writes (or
    /// its identity's login flow does) and the run may not.
    pub(crate) fn skip_reason(&self, suite: &Suite, case: &Case) -> Option<String> {
        if let Some(reason) = &case.expect.skip {
            return Some(reason.clone());
        }
        let refusal = self.refusal.as_deref()?;
        let route = suite.route(case);
        if let Some(variant) = &case.variant
            && variant.writes(route.method)
        {
            return Some(format!(
                "variant `{}` not sent: {} counts as a write, and {refusal}",
                variant.name,
                variant.describe(route.method)
            ));
        }
        let identity = suite.identity(case);
        let found = match &self.routes[case.route] {
            Some(mutation) => Some((mutation.clone(), String::new())),
            None => self
                .defaults
                .clone()
                .map(|m| (m, " (from `defaults.headers`)".to_owned()))
                .or_else(|| {
                    self.identities[case.identity]
                        .clone()
                        .map(|m| (m, format!(" (from identity `{}`)", identity.name)))
                })
                // A path with placeholders is only known per identity.
                .or_else(|| {
                    route
                        .path
                        .contains('{')
                        .then(|| query_mutation(&case.path))
                        .flatten()
                        .map(|m| (m, String::new()))
                }),
        };
        if let Some((mutation, from)) = found {
            return Some(match mutation {
                Mutation::Method(method) => format!("{method} not sent: {refusal}"),
                Mutation::Override { .. } => format!(
                    "not sent: {} with {mutation}{from} counts as a write, and {refusal}",
                    route.method
                ),
            });
        }
        self.logins[case.identity].as_ref().map(|mutation| {
            format!(
                "not sent: {}",
                login_refused(&identity.name, mutation, refusal)
            )
        })
    }

    /// Why a request whose placeholders were filled with captured values is not sent:
    /// its filled path carries a method override, and writes are refused. Captured
    /// values are encoded so that none can add one; this checks what is sent.
    pub(crate) fn filled_reason(&self, method: Method, path: &str) -> Option<String> {
        let refusal = self.refusal.as_deref()?;
        query_mutation(path).map(|mutation| {
            format!("not sent: {method} with {mutation} counts as a write, and {refusal}")
        })
    }

    /// Why an object of `fixture` created by `identity` must not be made: its request,
    /// its teardown or its creator's login flow writes (method or override, in the
    /// request, the suite's headers or the identity's), and writes are refused. An object that could not be removed is
    /// not created either.
    pub(crate) fn object_skip_reason(
        &self,
        suite: &Suite,
        fixture: &Fixture,
        identity: usize,
    ) -> Option<String> {
        let refusal = self.refusal.as_deref()?;
        let slot = crate::objects::slot(fixture, identity);
        let request = fixture
            .request
            .mutation()
            .or_else(|| query_mutation(&fixture.paths[slot]))
            .or_else(|| around(suite, identity));
        if let Some(mutation) = request {
            return Some(format!(
                "{} not sent: {refusal}",
                describe(fixture.request.method, &mutation)
            ));
        }
        // Creating and removing the object log its creator in first.
        if let Some(mutation) = &self.logins[identity] {
            return Some(login_refused(
                &suite.identities[identity].name,
                mutation,
                refusal,
            ));
        }
        let teardown = fixture.teardown.as_ref()?;
        self.teardown_skip_reason(suite, teardown, &fixture.teardown_paths[slot], identity)
    }

    /// Why a teardown sent as `identity` would not be sent (a write to a target that
    /// does not allow one, by its method, an override in `path`'s query or the headers
    /// around it): what would create the object it removes is not sent either.
    pub(crate) fn teardown_skip_reason(
        &self,
        suite: &Suite,
        teardown: &Route,
        path: &str,
        identity: usize,
    ) -> Option<String> {
        let refusal = self.refusal.as_deref()?;
        let mutation = teardown
            .mutation()
            .or_else(|| query_mutation(path))
            .or_else(|| around(suite, identity))?;
        Some(format!(
            "its teardown ({}) would not be sent: {refusal}",
            describe(teardown.method, &mutation)
        ))
    }
}

/// Why an identity's login flow is not run: it writes, and `refusal`.
fn login_refused(identity: &str, mutation: &Mutation, refusal: &str) -> String {
    let what = match mutation {
        Mutation::Method(method) => format!("is a {method}"),
        Mutation::Override { .. } => format!("carries {mutation}"),
    };
    format!("the login of `{identity}` {what}, and {refusal}; or give the identity a token")
}

/// A write the suite's or the identity's headers make of any request.
fn around(suite: &Suite, identity: usize) -> Option<Mutation> {
    suite
        .settings
        .mutation()
        .or_else(|| suite.identities[identity].mutation(&suite.settings))
}

/// `POST`, or `GET with X-HTTP-Method-Override: DELETE`, for a reason.
fn describe(method: rolecall_scenario::Method, mutation: &Mutation) -> String {
    match mutation {
        Mutation::Method(_) => format!("{method}"),
        Mutation::Override { .. } => format!("{method} with {mutation}"),
    }
}
