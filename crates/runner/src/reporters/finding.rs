//! What kind of finding a case that did not pass is, and where its expectation lives:
//! shared by the SARIF, Markdown and GitHub reporters.

use rolecall_scenario::{Case, Decision, Location, Suite};

use crate::judge::MismatchKind;
use crate::results::{CaseResult, Outcome};

/// The kind of a case that did not pass, worst first: a case with several problems is
/// filed under the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// A refusal was expected and access was granted (2xx, or 3xx into the app).
    Escalation,
    /// Access was expected and the identity was refused (4xx).
    OverRestriction,
    /// Any other status than the expected one.
    StatusMismatch,
    /// The expected status, but the refusal carries what no refusal may: a stack trace,
    /// an internal host, another tenant's identifier, a secret … (deny-body contract).
    Leak,
    /// The expected status, from another layer or vendor than the expected one.
    WrongLayer,
    /// The expected status and layer, but a body, header or redirect expectation failed.
    BodyHeaderMismatch,
    /// The expected status and layer, but the app's refusal lacks what the deny-body
    /// contract asks of it (a member, the boundary, a way to recover, the request id).
    Contract,
    /// No response came back to judge.
    NoResponse,
}

impl Kind {
    /// Every kind, in the order of [`Kind`]: SARIF's rule table.
    pub(crate) const ALL: [Kind; 8] = [
        Kind::Escalation,
        Kind::OverRestriction,
        Kind::StatusMismatch,
        Kind::Leak,
        Kind::WrongLayer,
        Kind::BodyHeaderMismatch,
        Kind::Contract,
        Kind::NoResponse,
    ];

    /// The kind of `result`, or `None` when it passed or was skipped.
    pub(crate) fn of(suite: &Suite, result: &CaseResult) -> Option<Kind> {
        match result.outcome {
            Outcome::Pass | Outcome::Skipped => return None,
            Outcome::Error => return Some(Kind::NoResponse),
            Outcome::Fail => {}
        }
        let case = &suite.cases[result.index];
        let Some(observed) = &result.observed else {
            return Some(Kind::NoResponse);
        };
        let status = observed.status;
        let expect = &case.expect;
        if !expect.status.matches(status) {
            let granted = (200..400).contains(&status);
            return Some(match expect.decision {
                Decision::Deny | Decision::Unauthenticated if granted => Kind::Escalation,
                Decision::Allow if (400..500).contains(&status) => Kind::OverRestriction,
                _ => Kind::StatusMismatch,
            });
        }
        let broken = |kind: MismatchKind| result.mismatches().iter().any(|m| m.kind == kind);
        if broken(MismatchKind::Leak) {
            return Some(Kind::Leak);
        }
        let layer_ok = match (expect.layer, &result.attribution) {
            (Some(layer), Some(a)) => a.layer == layer,
            _ => true,
        };
        let vendor_ok = match (&expect.vendor, &result.attribution) {
            (Some(vendor), Some(a)) => a.vendor.eq_ignore_ascii_case(vendor),
            _ => true,
        };
        let only_contract = !result.mismatches().is_empty()
            && result
                .mismatches()
                .iter()
                .all(|m| m.kind == MismatchKind::Contract);
        Some(if !(layer_ok && vendor_ok) {
            Kind::WrongLayer
        } else if only_contract {
            Kind::Contract
        } else {
            Kind::BodyHeaderMismatch
        })
    }

    /// A stable identifier: SARIF's rule id.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Kind::Escalation => "escalation",
            Kind::OverRestriction => "over-restriction",
            Kind::StatusMismatch => "status-mismatch",
            Kind::Leak => "deny-body-leak",
            Kind::WrongLayer => "wrong-layer",
            Kind::BodyHeaderMismatch => "body-header-mismatch",
            Kind::Contract => "deny-body-contract",
            Kind::NoResponse => "no-response",
        }
    }

    /// A short title, lowercase.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Kind::Escalation => "possible privilege escalation",
            Kind::OverRestriction => "allowed identity refused",
            Kind::StatusMismatch => "unexpected status",
            Kind::Leak => "refusal leaks internals",
            Kind::WrongLayer => "refused by the wrong layer or vendor",
            Kind::BodyHeaderMismatch => "body, header or redirect mismatch",
            Kind::Contract => "refusal breaks the deny-body contract",
            Kind::NoResponse => "no response",
        }
    }

    /// What the kind means, one sentence.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Kind::Escalation => {
                "An identity that must be refused was granted access (2xx, or a 3xx into the app)."
            }
            Kind::OverRestriction => "An identity listed as allowed was refused (4xx).",
            Kind::StatusMismatch => "The response status differs from the expected one.",
            Kind::WrongLayer => {
                "The expected status came from another layer or vendor than the one the \
                 scenario names: the intended rule was not the one that answered."
            }
            Kind::Leak => {
                "A refusal carries what the deny-body contract says no refusal may: a stack \
                 trace, a database or template error, an internal host or address, a server \
                 path, another tenant's identifier, a secret, or a forbidden pattern."
            }
            Kind::BodyHeaderMismatch => {
                "The status and layer were as expected, but a body, header or redirect \
                 expectation failed."
            }
            Kind::Contract => {
                "An app refusal lacks what the deny-body contract asks of every refusal: a \
                 member, a message naming the boundary, a way to recover, or the request id."
            }
            Kind::NoResponse => {
                "No response came back to judge (connection refused, timeout, TLS error)."
            }
        }
    }
}

/// Where the expectation of `case` is declared: its explicit `[[route.case]]` when it has
/// one, else its route's request line.
pub(crate) fn location<'a>(suite: &'a Suite, case: &'a Case) -> &'a Location {
    case.expect
        .explicit_at
        .as_ref()
        .unwrap_or(&suite.route(case).location)
}

/// The headline of a failure message: its lines that are not indented (the escalation
/// banner and one line per problem), joined with `; `. Skip reasons and error causes are
/// their whole first line.
pub(crate) fn headline(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with(char::is_whitespace))
        .collect();
    if lines.is_empty() {
        message.lines().next().unwrap_or("").trim().to_owned()
    } else {
        lines.join("; ")
    }
}

/// The identity part of a case's name (`identity`, `identity::variant`, `actor@owner`):
/// what follows `file::route::`.
pub(crate) fn identity_part<'a>(suite: &'a Suite, case: &'a Case) -> &'a str {
    let route = suite.route(case);
    case.name
        .strip_prefix(&route.file_name)
        .and_then(|rest| rest.strip_prefix("::"))
        .and_then(|rest| rest.strip_prefix(&route.name))
        .and_then(|rest| rest.strip_prefix("::"))
        .unwrap_or(&suite.identity(case).name)
}
