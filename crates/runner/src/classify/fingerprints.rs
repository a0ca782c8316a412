//! Fingerprint rules: the file format, its validation and the compiled form that
//! [`classify`](super::classify) evaluates.
//!
//! Rules are data so that a team can teach rolecall its own gateway or app error shape
//! without a release, and so that the built-in knowledge is reviewable in one file
//! (`fingerprints/builtin.toml`) instead of being scattered through code.

use std::fmt;
use std::sync::{Arc, LazyLock};

use regex::{Regex, RegexSet};
use rolecall_scenario::{Layer, ParseLayerError};
use serde::Deserialize;

/// The built-in fingerprints, reviewed and tested against real servers.
const BUILTIN_TOML: &str = include_str!("../../fingerprints/builtin.toml");

/// Weight of a rule that does not state one: the middle of the built-in scale, so a
/// user rule without a weight still ranks between generic and vendor-specific evidence
/// within its own file.
const DEFAULT_WEIGHT: u16 = 50;

/// A compiled set of fingerprint rules, ready to classify responses.
///
/// Rules come from [`Fingerprints::builtin`], from a team's own file through
/// [`Fingerprints::from_toml`], or from both with [`Fingerprints::with_user_rules`],
/// where the team's rules take precedence.
///
/// # File format
///
/// ```toml
/// # Built-in rules to switch off (only meaningful in a user file).
/// disable = ["nginx.server-header"]
///
/// [[rule]]
/// id = "acme.gateway-deny"          # unique within the file
/// vendor = "acme-gateway"           # free text; lowercase by convention
/// layer = "server"                  # app | server | waf | cdn | unknown
/// weight = 90                       # higher wins within a file; default 50
/// evidence = "body is the ACME gateway deny page"   # shown when the rule wins
/// ambiguity = "the app can return the same code"     # optional caveat
/// # Conditions: every one that is present must hold (at least one is required).
/// status = [401, 403]               # any of these statuses
/// content_type = '(?i)^application/json'           # regex on the content-type header
/// headers = [{ name = "x-acme-gateway" }, { name = "server", matches = '(?i)^acme' }]
/// body_matches = '"code"\s*:\s*"GW_DENY"'           # regex on the body
/// body_contains = "GW_DENY"                          # literal substring of the body
/// disguise = true                   # a whole-page block marker; default false
/// ```
///
/// A `waf` rule matches a response under 400 only when it sets `disguise = true`: it marks
/// the whole page as the vendor's block page (F5 ASM serves one with 200), so a 2xx it
/// matches is a refusal in disguise. Without it the rule's markers may be ones the vendor
/// injects into the pages it passes through (a resource script, a bot-detection snippet),
/// and a 2xx or 3xx carrying them is the app's answer.
///
/// A header condition holds when a header of that (case-insensitive) name is present
/// and, if `matches` is given, its value matches the regex. A name ending in `*` is a
/// prefix (`x-amzn-waf-*`).
#[derive(Debug, Clone)]
pub struct Fingerprints {
    inner: Arc<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    /// Rules in precedence order: later layers (user files) first, then by weight
    /// descending, then file order. [`classify`](super::classify) takes the first match.
    rules: Vec<Rule>,
    /// Every body pattern of every rule, evaluated in one pass over the body.
    body_set: RegexSet,
    /// This file's `disable` list: ids of rules it removes from the rules it is laid
    /// over (see [`Fingerprints::with_user_rules`]), never from its own.
    disable: Vec<String>,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub(super) struct Rule {
    pub(super) id: String,
    pub(super) vendor: String,
    pub(super) layer: Layer,
    pub(super) weight: u16,
    /// Which file the rule came from: 0 is built-in, each overlay adds one.
    pub(super) tier: u16,
    pub(super) evidence: Option<String>,
    pub(super) ambiguity: Option<String>,
    /// Whether the rule's markers make the whole page a block page (see the file format).
    pub(super) disguise: bool,
    pub(super) status: Vec<u16>,
    pub(super) content_type: Option<Regex>,
    pub(super) headers: Vec<HeaderCondition>,
    /// Body patterns as regex source, compiled into [`Compiled::body_set`].
    body_patterns: Vec<String>,
    /// Indices of `body_patterns` in [`Compiled::body_set`], set when compiling.
    pub(super) body_indices: Vec<usize>,
}

#[derive(Debug, Clone)]
pub(super) struct HeaderCondition {
    pub(super) name: HeaderName,
    pub(super) matches: Option<Regex>,
}

#[derive(Debug, Clone)]
pub(super) enum HeaderName {
    Exact(String),
    Prefix(String),
}

impl HeaderName {
    pub(super) fn fits(&self, name: &str) -> bool {
        match self {
            HeaderName::Exact(exact) => name.eq_ignore_ascii_case(exact),
            HeaderName::Prefix(prefix) => name
                .get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
        }
    }
}

impl Fingerprints {
    /// The built-in rules, parsed and compiled once per process.
    pub fn builtin() -> &'static Fingerprints {
        static BUILTIN: LazyLock<Fingerprints> = LazyLock::new(|| {
            // The file is part of the binary and covered by unit tests, so failing to
            // parse it is a build defect, not a runtime condition to recover from.
            Fingerprints::from_toml(BUILTIN_TOML)
                .unwrap_or_else(|error| panic!("built-in fingerprints are invalid: {error}"))
        });
        &BUILTIN
    }

    /// Parses and compiles a fingerprint file (see the format above).
    ///
    /// # Errors
    ///
    /// Returns the first problem found: TOML syntax or unknown keys, an invalid layer or
    /// regex, a duplicate id, or a rule without conditions.
    pub fn from_toml(src: &str) -> Result<Fingerprints, FingerprintError> {
        let file: FileDef = toml::from_str(src).map_err(FingerprintError::toml)?;
        let mut rules = Vec::with_capacity(file.rule.len());
        for def in file.rule {
            let id = def.id.get_ref().clone();
            if rules.iter().any(|rule: &Rule| rule.id == id) {
                return Err(FingerprintError::at(
                    src,
                    def.id.span(),
                    &id,
                    FingerprintErrorKind::DuplicateId,
                ));
            }
            rules.push(compile_rule(src, def)?);
        }
        Compiled::new(rules, file.disable).map(|compiled| Fingerprints {
            inner: Arc::new(compiled),
        })
    }

    /// Returns these rules overlaid with `user`'s: a matching user rule always wins over
    /// a rule of `self`, whatever the weights, because a team's own knowledge of its
    /// gateways is more specific than generic vendor fingerprints. A user rule with the
    /// id of an existing rule replaces it, and the user file's `disable` list removes
    /// existing rules by id.
    ///
    /// ```
    /// use rolecall_runner::{Evidence, Fingerprints, classify};
    ///
    /// let team = Fingerprints::from_toml(r#"
    ///     [[rule]]
    ///     id = "acme.gateway-acl"
    ///     vendor = "acme-gateway"
    ///     layer = "server"
    ///     status = [403]
    ///     headers = [{ name = "server", matches = '(?i)^acme-gw/' }]
    ///     body_contains = "You cannot consume this service"
    /// "#)?;
    /// let fingerprints = Fingerprints::builtin().with_user_rules(&team);
    ///
    /// let headers = [
    ///     ("server".to_owned(), "acme-gw/3.6.1".to_owned()),
    ///     ("content-type".to_owned(), "application/json".to_owned()),
    /// ];
    /// let body = r#"{"message":"You cannot consume this service"}"#;
    /// let response = Evidence { status: 403, headers: &headers, body };
    /// // Built-in rules alone would call this JSON body the app's.
    /// assert_eq!(classify(Fingerprints::builtin(), &response).vendor, "app");
    /// assert_eq!(classify(&fingerprints, &response).vendor, "acme-gateway");
    /// # Ok::<(), rolecall_runner::FingerprintError>(())
    /// ```
    pub fn with_user_rules(&self, user: &Fingerprints) -> Fingerprints {
        let top = self
            .inner
            .rules
            .iter()
            .map(|rule| rule.tier)
            .max()
            .unwrap_or(0)
            + 1;
        let mut rules: Vec<Rule> = user
            .inner
            .rules
            .iter()
            .map(|rule| Rule {
                tier: top + rule.tier,
                ..rule.clone()
            })
            .collect();
        rules.extend(
            self.inner
                .rules
                .iter()
                .filter(|base| {
                    !user.inner.disable.contains(&base.id)
                        && !user.inner.rules.iter().any(|rule| rule.id == base.id)
                })
                .cloned(),
        );
        let compiled = Compiled::new(rules, self.inner.disable.clone())
            // Both inputs compiled on their own, so their union compiles too.
            .unwrap_or_else(|error| panic!("overlay of valid fingerprints failed: {error}"));
        Fingerprints {
            inner: Arc::new(compiled),
        }
    }

    /// The number of active rules.
    pub fn len(&self) -> usize {
        self.inner.rules.len()
    }

    /// Whether there are no active rules (every response then classifies as unknown).
    pub fn is_empty(&self) -> bool {
        self.inner.rules.is_empty()
    }

    pub(super) fn rules(&self) -> &[Rule] {
        &self.inner.rules
    }

    pub(super) fn body_set(&self) -> &RegexSet {
        &self.inner.body_set
    }
}

impl Compiled {
    fn new(mut rules: Vec<Rule>, disable: Vec<String>) -> Result<Compiled, FingerprintError> {
        // A stable sort keeps file order among rules of equal tier and weight.
        rules.sort_by(|a, b| b.tier.cmp(&a.tier).then(b.weight.cmp(&a.weight)));
        let mut patterns = Vec::new();
        for rule in &mut rules {
            rule.body_indices =
                (patterns.len()..patterns.len() + rule.body_patterns.len()).collect();
            patterns.extend(rule.body_patterns.iter().cloned());
        }
        let body_set = RegexSet::new(&patterns).map_err(|source| {
            // Every pattern parsed; one is too big to compile. Name its rule.
            let culprit = rules.iter().find_map(|rule| {
                rule.body_patterns
                    .iter()
                    .find_map(|p| Regex::new(p).err())
                    .map(|error| (rule.id.clone(), error))
            });
            let (rule, error) = match culprit {
                Some((id, error)) => (Some(id), error),
                None => (None, source),
            };
            FingerprintError {
                rule,
                line: None,
                kind: Box::new(FingerprintErrorKind::Regex {
                    field: "body",
                    error,
                }),
            }
        })?;
        Ok(Compiled {
            rules,
            body_set,
            disable,
        })
    }
}

/// The file format. Only this and [`RuleDef`] derive serde: they are the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    rule: Vec<RuleDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: toml::Spanned<String>,
    vendor: String,
    layer: toml::Spanned<String>,
    weight: Option<u16>,
    evidence: Option<String>,
    ambiguity: Option<String>,
    #[serde(default)]
    disguise: bool,
    #[serde(default)]
    status: Vec<u16>,
    content_type: Option<toml::Spanned<String>>,
    #[serde(default)]
    headers: Vec<HeaderDef>,
    body_matches: Option<toml::Spanned<String>>,
    body_contains: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderDef {
    name: String,
    matches: Option<toml::Spanned<String>>,
}

fn compile_rule(src: &str, def: RuleDef) -> Result<Rule, FingerprintError> {
    let id = def.id.into_inner();
    let regex = |field: &'static str, pattern: &toml::Spanned<String>| {
        Regex::new(pattern.get_ref()).map_err(|source| {
            FingerprintError::at(
                src,
                pattern.span(),
                &id,
                FingerprintErrorKind::Regex {
                    field,
                    error: source,
                },
            )
        })
    };
    let layer = def.layer.get_ref().parse::<Layer>().map_err(|source| {
        FingerprintError::at(
            src,
            def.layer.span(),
            &id,
            FingerprintErrorKind::Layer(source),
        )
    })?;
    let content_type = def
        .content_type
        .as_ref()
        .map(|pattern| regex("content_type", pattern))
        .transpose()?;
    let mut headers = Vec::with_capacity(def.headers.len());
    for header in &def.headers {
        let lower = header.name.to_ascii_lowercase();
        let name = match lower.strip_suffix('*') {
            Some(prefix) => HeaderName::Prefix(prefix.to_owned()),
            None => HeaderName::Exact(lower),
        };
        let matches = header
            .matches
            .as_ref()
            .map(|pattern| regex("headers.matches", pattern))
            .transpose()?;
        headers.push(HeaderCondition { name, matches });
    }
    let mut body_patterns = Vec::new();
    if let Some(pattern) = &def.body_matches {
        // Checked alone so that a bad pattern is reported against its rule and line, not
        // against the anonymous set built later. Parsing finds every syntax error at a
        // fraction of the cost of compiling the pattern twice; the compiler's own message
        // is then the one reported.
        if regex_syntax::Parser::new()
            .parse(pattern.get_ref())
            .is_err()
        {
            regex("body_matches", pattern)?;
        }
        body_patterns.push(pattern.get_ref().clone());
    }
    if let Some(literal) = &def.body_contains {
        body_patterns.push(regex::escape(literal));
    }
    if def.status.is_empty()
        && content_type.is_none()
        && headers.is_empty()
        && body_patterns.is_empty()
    {
        return Err(FingerprintError::at(
            src,
            def.layer.span(),
            &id,
            FingerprintErrorKind::NoConditions,
        ));
    }
    Ok(Rule {
        id,
        vendor: def.vendor,
        layer,
        weight: def.weight.unwrap_or(DEFAULT_WEIGHT),
        tier: 0,
        evidence: def.evidence,
        ambiguity: def.ambiguity,
        disguise: def.disguise,
        status: def.status,
        content_type,
        headers,
        body_patterns,
        body_indices: Vec::new(),
    })
}

/// A fingerprint file that cannot be used.
///
/// Its message is complete on its own (location, rule and cause), so it reports no
/// separate `source()`: renderers that walk the chain would print the cause twice.
#[derive(Debug)]
pub struct FingerprintError {
    rule: Option<String>,
    line: Option<(usize, usize)>,
    // Boxed because a TOML error is large and this travels in every `Result`.
    kind: Box<FingerprintErrorKind>,
}

impl std::error::Error for FingerprintError {}

/// What is wrong with a fingerprint file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FingerprintErrorKind {
    /// The file is not valid TOML or does not have the expected shape.
    #[error("invalid fingerprint file: {0}")]
    Toml(toml::de::Error),
    /// A `layer` value names no layer.
    #[error(transparent)]
    Layer(ParseLayerError),
    /// A pattern does not compile.
    #[error("invalid regex in `{field}`: {error}")]
    Regex {
        /// The field holding the pattern.
        field: &'static str,
        /// The regex compiler's explanation.
        error: regex::Error,
    },
    /// Two rules in one file share an id.
    #[error("duplicate rule id")]
    DuplicateId,
    /// A rule has no condition and would match every response.
    #[error("rule has no conditions and would match every response")]
    NoConditions,
}

impl FingerprintError {
    fn toml(error: toml::de::Error) -> FingerprintError {
        FingerprintError {
            rule: None,
            line: None,
            kind: Box::new(FingerprintErrorKind::Toml(error)),
        }
    }

    fn at(
        src: &str,
        span: std::ops::Range<usize>,
        rule: &str,
        kind: FingerprintErrorKind,
    ) -> FingerprintError {
        let before = &src[..span.start.min(src.len())];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rfind('\n')
            .map_or(before.len(), |nl| before.len() - nl - 1)
            + 1;
        FingerprintError {
            rule: Some(rule.to_owned()),
            line: Some((line, column)),
            kind: Box::new(kind),
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> &FingerprintErrorKind {
        &self.kind
    }

    /// The id of the offending rule, when the problem belongs to one rule.
    pub fn rule(&self) -> Option<&str> {
        self.rule.as_deref()
    }

    /// The 1-based line and column of the offending value, when known.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        self.line
    }
}

impl fmt::Display for FingerprintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.rule, self.line) {
            (Some(rule), Some((line, column))) => {
                write!(f, "{line}:{column}: rule `{rule}`: {}", self.kind)
            }
            (Some(rule), None) => write!(f, "rule `{rule}`: {}", self.kind),
            _ => write!(f, "{}", self.kind),
        }
    }
}
