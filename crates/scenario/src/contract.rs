//! The deny-body contract: what every app-layer refusal must carry (JSON members, a
//! message that names the boundary, a way to recover, the request id echoed), and what no
//! refusal at any layer may carry (the suite's `forbid` patterns and the built-in leak
//! detectors of [`detectors`], each of which can be turned off).
//!
//! The suite declares it under `[deny_contract]` in `rolecall.toml`; a route file's own
//! `[deny_contract]` extends it for that file's routes (lists are appended, single values
//! replaced). This crate validates the declaration; the runner checks responses against it.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde::Deserialize;

use crate::diagnostic::Location;

/// Statuses whose app-layer refusals must satisfy the shape rules when a contract does not
/// name its own: 401 and 403. A 404 is left out on purpose: a concealed resource must look
/// like one that does not exist, not name the boundary that hides it.
pub const DEFAULT_CONTRACT_STATUSES: [u16; 2] = [401, 403];

/// Identity vars holding a tenant identifier when a contract does not name its own.
pub const DEFAULT_TENANT_VARS: [&str; 1] = ["tenant"];

/// A validated `[deny_contract]`, with a route file's additions merged in.
#[derive(Debug, Clone)]
pub struct Contract {
    /// App-layer refusal statuses the shape rules apply to; `None`:
    /// [`DEFAULT_CONTRACT_STATUSES`]. Leak checks apply to every response of 400 or more.
    pub statuses: Option<Vec<u16>>,
    /// JSON members every app-layer refusal must carry.
    pub require: Vec<Requirement>,
    /// The text that must name the boundary (a member, or the whole body).
    pub message: Option<TextRule>,
    /// The way to recover: a member (a link or a path), or a pattern.
    pub recovery: Option<TextRule>,
    /// The member that must echo the request id.
    pub request_id: Option<RequestIdRule>,
    /// The suite's own patterns no refusal may match.
    pub forbid: Vec<Forbidden>,
    /// Built-in detectors turned off, by name.
    pub off: Vec<String>,
    /// Identity vars holding tenant identifiers; `None`: [`DEFAULT_TENANT_VARS`].
    pub tenant_vars: Option<Vec<String>>,
    /// Where the contract is declared: the `[deny_contract]` key (of the route file, when
    /// one extends the suite's). Built-in detectors report their findings here.
    pub at: Location,
}

impl Contract {
    /// Whether the shape rules apply to an app-layer refusal with `status`.
    pub fn shapes(&self, status: u16) -> bool {
        self.statuses
            .as_deref()
            .unwrap_or(&DEFAULT_CONTRACT_STATUSES)
            .contains(&status)
    }

    /// Whether the built-in detector `name` is on.
    pub fn detects(&self, name: &str) -> bool {
        !self.off.iter().any(|off| off == name)
    }

    /// The identity vars that hold tenant identifiers.
    pub fn tenant_vars(&self) -> Vec<&str> {
        match &self.tenant_vars {
            Some(vars) => vars.iter().map(String::as_str).collect(),
            None => DEFAULT_TENANT_VARS.to_vec(),
        }
    }

    /// This contract extended by a route file's: lists appended, single values replaced.
    pub(crate) fn extended(&self, file: Contract) -> Contract {
        let mut off = self.off.clone();
        off.extend(file.off.into_iter().filter(|n| !self.off.contains(n)));
        Contract {
            statuses: file.statuses.or_else(|| self.statuses.clone()),
            require: self.require.iter().cloned().chain(file.require).collect(),
            message: file.message.or_else(|| self.message.clone()),
            recovery: file.recovery.or_else(|| self.recovery.clone()),
            request_id: file.request_id.or_else(|| self.request_id.clone()),
            forbid: self.forbid.iter().cloned().chain(file.forbid).collect(),
            off,
            tenant_vars: file.tenant_vars.or_else(|| self.tenant_vars.clone()),
            at: file.at,
        }
    }
}

/// A JSON member every app-layer refusal must carry.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// JSON pointer (RFC 6901), e.g. `/code`.
    pub pointer: String,
    /// The JSON type the member must have.
    pub json_type: Option<JsonType>,
    /// A pattern a string member must match (other values are matched as JSON text).
    pub pattern: Option<Regex>,
    /// Where it is declared.
    pub at: Location,
}

/// A text that must be present: a member (by JSON pointer) or, without one, the body.
#[derive(Debug, Clone)]
pub struct TextRule {
    /// JSON pointer of the member; `None`: the whole body.
    pub pointer: Option<String>,
    /// A pattern the text must match; `None`: the member must be a non-empty string.
    pub pattern: Option<Regex>,
    /// Where it is declared.
    pub at: Location,
}

/// The member that must echo the request id.
#[derive(Debug, Clone)]
pub struct RequestIdRule {
    /// JSON pointer of the member, e.g. `/request_id`.
    pub pointer: String,
    /// Where it is declared.
    pub at: Location,
}

/// A suite's own pattern that no refusal may match.
#[derive(Debug, Clone)]
pub struct Forbidden {
    /// The pattern.
    pub pattern: Regex,
    /// Where it is declared.
    pub at: Location,
}

/// A JSON type a required member must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    /// A string.
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// An object.
    Object,
    /// An array.
    Array,
}

impl JsonType {
    pub(crate) const NAMES: [&'static str; 5] = ["string", "number", "boolean", "object", "array"];

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "string" => JsonType::String,
            "number" => JsonType::Number,
            "boolean" => JsonType::Boolean,
            "object" => JsonType::Object,
            "array" => JsonType::Array,
            _ => return None,
        })
    }

    /// The name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Boolean => "boolean",
            JsonType::Object => "object",
            JsonType::Array => "array",
        }
    }

    /// Whether `value` has this type.
    pub fn matches(self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        matches!(
            (self, value),
            (JsonType::String, Value::String(_))
                | (JsonType::Number, Value::Number(_))
                | (JsonType::Boolean, Value::Bool(_))
                | (JsonType::Object, Value::Object(_))
                | (JsonType::Array, Value::Array(_))
        )
    }
}

/// The contracts of a suite: the suite's, and each route file's that extends it; see
/// [`Suite::contract`](crate::Suite::contract).
#[derive(Debug, Clone, Default)]
pub struct Contracts {
    /// `[deny_contract]` of `rolecall.toml`.
    pub suite: Option<Arc<Contract>>,
    /// A route file's (as shown in locations) merged contract, when it declares one.
    pub files: Vec<(PathBuf, Arc<Contract>)>,
}

/// A built-in leak detector (data in `contract/leaks.toml`).
#[derive(Debug)]
pub struct Detector {
    /// The name `off = [...]` turns it off by.
    pub name: String,
    /// What it finds, as a failure names it ("a stack trace").
    pub description: String,
    /// How it matches.
    pub matcher: DetectorMatch,
}

/// How a [`Detector`] matches.
#[derive(Debug)]
pub enum DetectorMatch {
    /// Any of its patterns, as one regex.
    Patterns(Regex),
    /// A private network address, parsed (so that `10.0.3` or `v10.1.2.3` does not count).
    PrivateAddress,
    /// Another tenant's identifier, from identity vars.
    ForeignTenant,
    /// One of the run's secrets, in any encoding.
    Secret,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectorsFile {
    detector: Vec<DetectorDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectorDef {
    name: String,
    description: String,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    code: bool,
}

static DETECTORS: LazyLock<Vec<Detector>> = LazyLock::new(|| {
    let file: DetectorsFile = toml::from_str(include_str!("contract/leaks.toml"))
        .expect("the built-in detectors parse (tested)");
    file.detector
        .into_iter()
        .map(|def| {
            let matcher = if def.code {
                match def.name.as_str() {
                    "private_address" => DetectorMatch::PrivateAddress,
                    "foreign_tenant" => DetectorMatch::ForeignTenant,
                    "secret" => DetectorMatch::Secret,
                    other => panic!("no code for built-in detector `{other}`"),
                }
            } else {
                let alternatives: Vec<String> =
                    def.patterns.iter().map(|p| format!("(?:{p})")).collect();
                DetectorMatch::Patterns(
                    Regex::new(&alternatives.join("|"))
                        .expect("the built-in detector patterns compile (tested)"),
                )
            };
            Detector {
                name: def.name,
                description: def.description,
                matcher,
            }
        })
        .collect()
});

/// Every built-in leak detector, in the order failures list them.
pub fn detectors() -> &'static [Detector] {
    &DETECTORS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_detector_loads_and_code_ones_have_no_patterns() {
        let file: DetectorsFile = toml::from_str(include_str!("contract/leaks.toml")).unwrap();
        for def in &file.detector {
            assert_eq!(def.code, def.patterns.is_empty(), "{}", def.name);
            for pattern in &def.patterns {
                Regex::new(pattern).unwrap_or_else(|e| panic!("{}: {e}", def.name));
            }
        }
        let names: Vec<&str> = detectors().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "stack_trace",
                "sql_error",
                "template_error",
                "internal_host",
                "private_address",
                "file_path",
                "foreign_tenant",
                "secret"
            ]
        );
    }
}
