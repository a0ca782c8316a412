//! From an execution to a result: classification, judging and the failure message.

use std::fmt::Write as _;

use rolecall_scenario::{Decision, Secrets, Suite};

use crate::classify::{
    Attribution, Evidence, Fingerprints, classify, classify_unexplained, unclassified,
};
use crate::contract::{self, check_contract, foreign_tenants, sent_addresses, sent_texts};
use crate::credentials::IdentityHeader;
use crate::judge::{Mismatch, MismatchKind, Verdict, judge, judge_variant};
use crate::observed::{Execution, Observed};

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every expectation held.
    Pass,
    /// The response differed from the expectation.
    Fail,
    /// Deliberately not sent.
    Skipped,
    /// No response to judge.
    Error,
}

impl Outcome {
    /// `pass`, `fail`, `skipped` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skipped => "skipped",
            Outcome::Error => "error",
        }
    }
}

/// The result of one case, with everything reporters need. Strings are already redacted.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// Index into the suite's cases.
    pub index: usize,
    /// How it ended.
    pub outcome: Outcome,
    /// The response, when one came back. A passing case keeps only its status,
    /// redirects and timing, not its headers and body, unless it snapshots them: reports
    /// do not show them, and a large suite would otherwise hold every response. With
    /// [`Keep::Lines`](crate::Keep::Lines) it keeps its status and, in `attribution`,
    /// its layer and vendor only. Any other case keeps at most an excerpt of a large
    /// body and of large headers (see [`Observed::truncated`]).
    pub observed: Option<Observed>,
    /// Which layer answered, when a response came back.
    pub attribution: Option<Attribution>,
    /// The request id and where it was found.
    pub request_id: Option<(String, &'static str)>,
    /// The comparison with the expectation.
    pub verdict: Option<Verdict>,
    /// Why it failed, was skipped or errored: a multi-line explanation.
    pub message: Option<String>,
}

impl CaseResult {
    /// Every way the response differed from its expectation, each located at the key that
    /// set it; empty unless the case failed.
    pub fn mismatches(&self) -> &[Mismatch] {
        self.verdict.as_ref().map_or(&[], |v| &v.mismatches)
    }
}

/// Context for turning executions into results.
pub(crate) struct Evaluator<'a> {
    pub(crate) suite: &'a Suite,
    pub(crate) fingerprints: &'a Fingerprints,
    pub(crate) base_url: &'a str,
    /// The case's path as it was sent, when its placeholders (captured values) were
    /// filled: what its message shows instead of the template.
    pub(crate) sent_path: Option<String>,
}

/// What a passing case's result must carry besides its outcome. A failure, or a case
/// that snapshots, always carries everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PassDetail {
    /// Attribution with its evidence lines, and the request id: what reports show.
    Explained,
    /// The layer and vendor: what a line per case shows.
    Attributed,
    /// Only the outcome (libtest trials). A passing case is then not classified unless
    /// its verdict depends on the answer (a 2xx, a layer, vendor, variant or contract),
    /// and its request id is not looked for: in a debug build, where users run
    /// `cargo test`, classification was the runner's largest own cost per case.
    Outcome,
}

impl Evaluator<'_> {
    /// Judges `execution`. Evidence lines are built for failures, and for passing cases
    /// only as `detail` asks (reports show them) or when the case snapshots.
    pub(crate) fn evaluate(
        &self,
        index: usize,
        execution: Execution,
        identity_headers: &[IdentityHeader],
        secrets: &Secrets,
        detail: PassDetail,
    ) -> CaseResult {
        let mut result = CaseResult {
            index,
            outcome: Outcome::Pass,
            observed: None,
            attribution: None,
            request_id: None,
            verdict: None,
            message: None,
        };
        match execution {
            Execution::Skipped(reason) => {
                result.outcome = Outcome::Skipped;
                result.message = Some(secrets.redact(&reason));
            }
            Execution::Error(reason) => {
                result.outcome = Outcome::Error;
                let mut message = reason;
                message.push('\n');
                self.context(&mut message, index, identity_headers, secrets);
                result.message = Some(secrets.redact(&message));
            }
            Execution::Observed(mut observed) => {
                let case = &self.suite.cases[index];
                let contract = self.suite.contract(self.suite.route(case));
                // A secret is found before redaction; the excerpt quotes the marker.
                let secret_at = (contract.is_some_and(|c| c.detects("secret"))
                    && observed.status >= 400)
                    .then(|| secrets.spans(&observed.body).first().map(|r| r.start))
                    .flatten();
                secrets.redact_in_place(&mut observed.body);
                for (_, value) in &mut observed.headers {
                    secrets.redact_in_place(value);
                }
                let evidence = Evidence {
                    status: observed.status,
                    headers: &observed.headers,
                    body: &observed.body,
                };
                let explain = detail == PassDetail::Explained || case.expect.snapshot;
                // Whether judging reads the attribution, or a passing case keeps it.
                let attributed = explain
                    || detail == PassDetail::Attributed
                    || (200..300).contains(&observed.status)
                    || case.expect.layer.is_some()
                    || case.expect.vendor.is_some()
                    || case.variant.is_some()
                    || (contract.is_some() && observed.status >= 400);
                let mut attribution = if explain {
                    classify(self.fingerprints, &evidence)
                } else if attributed {
                    classify_unexplained(self.fingerprints, &evidence)
                } else {
                    // Never read: judging a non-2xx answer without a layer, vendor,
                    // variant or contract looks at the status, headers and body only.
                    unclassified()
                };
                let mut verdict = match &case.variant {
                    Some(variant) => {
                        judge_variant(&case.expect, variant, &case.path, &observed, &attribution)
                    }
                    None => judge(&case.expect, &observed, &attribution),
                };
                if let Some(contract) = contract
                    && observed.status >= 400
                {
                    let foreign_tenants = foreign_tenants(self.suite, case, contract);
                    let sent_addresses = sent_addresses(self.suite, case, self.base_url);
                    let sent_texts = sent_texts(self.suite, case, self.base_url, secrets);
                    let cx = contract::Context {
                        foreign_tenants: &foreign_tenants,
                        secret_at,
                        head: {
                            let method = self.suite.route(case).method;
                            case.variant.as_ref().map_or(method, |v| v.method(method))
                                == rolecall_scenario::Method::Head
                        },
                        sent_addresses: &sent_addresses,
                        sent_texts: &sent_texts,
                    };
                    verdict.mismatches.extend(
                        check_contract(contract, &observed, &attribution, &cx)
                            .into_iter()
                            .map(|mut m| {
                                m.message = secrets.redact(&m.message);
                                m.observed = secrets.redact(&m.observed);
                                m
                            }),
                    );
                }
                if explain || !verdict.passed() {
                    result.request_id = observed.request_id();
                }
                if !verdict.passed() {
                    if !explain {
                        // Failures always explain themselves: classify again, in full.
                        attribution = classify(self.fingerprints, &evidence);
                    }
                    result.outcome = Outcome::Fail;
                    result.message = Some(self.failure(
                        index,
                        &verdict,
                        &observed,
                        &attribution,
                        result.request_id.as_ref(),
                        identity_headers,
                        secrets,
                    ));
                }
                result.observed = Some(observed);
                result.attribution = Some(attribution);
                result.verdict = Some(verdict);
            }
        }
        result
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "each piece of a failure is passed once, already computed"
    )]
    fn failure(
        &self,
        index: usize,
        verdict: &Verdict,
        observed: &Observed,
        attribution: &Attribution,
        request_id: Option<&(String, &'static str)>,
        identity_headers: &[IdentityHeader],
        secrets: &Secrets,
    ) -> String {
        let mut m = String::new();
        if verdict.escalation {
            m.push_str("POSSIBLE PRIVILEGE ESCALATION\n");
        }
        // Each piece of evidence is stated once: what a mismatch already says (the status,
        // the layer and vendor, a header) is left out of the lines below it.
        let stated = |kind: MismatchKind| verdict.mismatches.iter().any(|p| p.kind == kind);
        for mismatch in &verdict.mismatches {
            let _ = writeln!(m, "{mismatch}");
            let _ = writeln!(m, "  --> {}", mismatch.location);
        }
        self.context(&mut m, index, identity_headers, secrets);
        let mut response = if stated(MismatchKind::Status) {
            format!("in {} ms", observed.elapsed.as_millis())
        } else {
            format!("{} in {} ms", observed.status, observed.elapsed.as_millis())
        };
        for name in [
            "server",
            "content-type",
            "www-authenticate",
            "location",
            "via",
            "x-cache",
        ] {
            let named = verdict.mismatches.iter().any(|p| {
                (p.kind == MismatchKind::Header
                    && p.message.starts_with(&format!("header `{name}` ")))
                    || (p.kind == MismatchKind::Redirect && name == "location")
            });
            let value = observed.header(name).filter(|v| {
                !named
                    && !attribution
                        .evidence
                        .iter()
                        .any(|e| e.contains(&format!("{name}: {v}")))
            });
            if let Some(v) = value {
                let _ = write!(response, "; {name}: {v}");
            }
        }
        let _ = writeln!(m, "  response:   {response}");
        for hop in &observed.redirects {
            let _ = writeln!(m, "  redirected: {hop}");
        }
        let evidence = attribution.evidence.join("; ");
        if stated(MismatchKind::Layer) || stated(MismatchKind::Vendor) {
            if !evidence.is_empty() {
                let _ = writeln!(m, "  because:    {evidence}");
            }
        } else {
            let _ = writeln!(
                m,
                "  answered by: {} layer ({}){}",
                attribution.layer,
                attribution.vendor,
                if evidence.is_empty() {
                    String::new()
                } else {
                    format!(": {evidence}")
                }
            );
        }
        if let Some(note) = &attribution.ambiguity {
            let _ = writeln!(m, "  note:       {note}");
        }
        match request_id {
            Some((id, from)) => {
                let _ = writeln!(m, "  request id: {id} ({from})");
            }
            None => m.push_str("  request id: none in the response\n"),
        }
        if !observed.body.is_empty() {
            let size = match observed.truncated.and_then(|t| t.body_size.map(|s| (s, t))) {
                Some((size, t)) if t.body_size_is_lower_bound => format!("more than {size}"),
                Some((size, _)) => size.to_string(),
                None => observed.body.len().to_string(),
            };
            let _ = writeln!(m, "  body:       {}", excerpt(&observed.body, 300, &size));
        }
        secrets.redact(&m)
    }

    /// Lines shared by failures and errors: identity, request, scenario location.
    fn context(
        &self,
        m: &mut String,
        index: usize,
        identity_headers: &[IdentityHeader],
        secrets: &Secrets,
    ) {
        let suite = self.suite;
        let case = &suite.cases[index];
        let route = suite.route(case);
        let identity = suite.identity(case);
        let path = self.sent_path.as_deref().unwrap_or(&case.path);
        let why = match case.expect.decision {
            Decision::Allow => "listed as allowed",
            Decision::Deny => "not listed in `allow`, so it must be refused",
            Decision::Unauthenticated => "has no valid credentials",
        };
        let _ = writeln!(m, "  identity:   {} ({why})", identity.name);
        let variant = case.variant.as_deref().and_then(|v| {
            let url = reqwest::Url::parse(&format!("{}{path}", self.base_url)).ok()?;
            let mut url = url;
            if !route.query.is_empty() {
                url.query_pairs_mut().extend_pairs(&route.query);
            }
            crate::variant::build(v, route.method, url, secrets)
                .ok()
                .map(|r| (v, r))
        });
        match &variant {
            None => {
                let _ = writeln!(m, "  request:    {} {}{path}", route.method, self.base_url);
            }
            Some((v, request)) => {
                let _ = writeln!(m, "  variant:    {} ({})", v.name, v.family);
                let origin = request.url.origin().ascii_serialization();
                let protocol = if request.http10 {
                    " HTTP/1.0, no Host header"
                } else {
                    ""
                };
                let _ = writeln!(
                    m,
                    "  request:    {} {origin}{}{protocol}",
                    request.method,
                    secrets.redact(&request.target())
                );
                if let Some((name, value)) = &request.header {
                    let _ = writeln!(m, "              {name}: {}", secrets.redact(value));
                }
            }
        }
        for h in identity_headers {
            let value = if h.secret {
                match h.value.split_once(' ') {
                    Some((scheme, _)) if matches!(scheme, "Bearer" | "Basic") => {
                        format!("{scheme} ***")
                    }
                    _ => "***".to_owned(),
                }
            } else {
                secrets.redact(&h.value)
            };
            let _ = writeln!(m, "              {}: {value}", h.name);
        }
        let _ = writeln!(m, "  scenario:   {}", route.location);
        if let Some(at) = &case.expect.explicit_at {
            let _ = writeln!(m, "  case:       {at}");
        }
    }
}

/// The first `max` characters of `text` on one line; `size` is the whole body's.
fn excerpt(text: &str, max: usize, size: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(max) {
        Some((at, _)) => format!("{}… ({size} bytes)", &one_line[..at]),
        None if size != text.len().to_string() => format!("{one_line}… ({size} bytes)"),
        None => one_line,
    }
}
