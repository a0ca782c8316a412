//! WAF rules with anomaly scoring, in the manner of the OWASP Core Rule Set: every matching
//! rule adds its score and the request is blocked when the sum reaches the threshold.
//!
//! Rules are compiled into one `RegexSet` per inspected part at load time, so a request
//! costs one pass per part however many rules there are.

use std::borrow::Cow;

use http::header::{HeaderMap, HeaderName};
use regex::RegexSet;

use crate::file::{WafPreset, WafTarget};
use crate::path::percent_decode;

/// A rule before compilation.
#[derive(Debug, Clone)]
pub(crate) struct WafRule {
    pub(crate) name: String,
    pub(crate) pattern: String,
    pub(crate) score: u32,
    pub(crate) targets: Vec<WafTarget>,
    /// With `Headers`: only these; empty means every header.
    pub(crate) headers: Vec<HeaderName>,
}

/// The built-in rules of a preset. Each scores 5, CRS's "critical", so one match blocks at
/// the default threshold. They aim at textbook payloads, not at evasion-proof coverage.
pub(crate) fn preset_rules(preset: WafPreset) -> Vec<WafRule> {
    let rules: &[(&str, &str)] = match preset {
        WafPreset::Sqli => &[
            (
                "sqli-union-select",
                r"(?i)\bunion\b(?:\s|/\*.*?\*/|\+)+(?:all(?:\s|/\*.*?\*/|\+)+)?select\b",
            ),
            (
                "sqli-tautology",
                r#"(?i)(?:'|"|\b)\s*(?:or|and)\s+(?:'[^']*'|"[^"]*"|\d+)\s*(?:=|<|>|\blike\b)\s*(?:'[^']*'?|"[^"]*"?|\d+)"#,
            ),
            ("sqli-comment-terminator", r"(?i)'\s*(?:--|#|/\*)"),
            (
                "sqli-stacked-query",
                r"(?i);\s*(?:drop|delete|insert|update|alter|create|truncate|exec)\b",
            ),
            (
                "sqli-time-based",
                r"(?i)\b(?:sleep|pg_sleep|benchmark|waitfor\s+delay)\b\s*[('\x22]",
            ),
            ("sqli-information-schema", r"(?i)\binformation_schema\b"),
        ],
        WafPreset::Xss => &[
            ("xss-script-tag", r"(?i)<\s*/?\s*script\b"),
            ("xss-event-handler", r"(?i)<[^>]*\bon[a-z]+\s*="),
            ("xss-javascript-uri", r"(?i)\bjavascript\s*:"),
            (
                "xss-embedding-tag",
                r"(?i)<\s*(?:iframe|object|embed|applet|base|meta)\b",
            ),
            (
                "xss-dom-access",
                r"(?i)\bdocument\s*\.\s*(?:cookie|domain|write)\b",
            ),
        ],
        WafPreset::PathTraversal => &[
            ("lfi-dot-dot", r"(?:^|[/\\])\.\.(?:[/\\]|$)"),
            (
                "lfi-encoded-dot-dot",
                r"(?i)(?:%2e|\.)(?:%2e|\.)(?:%2f|%5c|/|\\)",
            ),
            (
                "lfi-system-file",
                r"(?i)(?:/etc/(?:passwd|shadow|hosts)\b|\b(?:boot|win)\.ini\b|/proc/self/)",
            ),
        ],
    };
    rules
        .iter()
        .map(|(name, pattern)| WafRule {
            name: (*name).to_owned(),
            pattern: (*pattern).to_owned(),
            score: 5,
            targets: vec![WafTarget::Path, WafTarget::Query, WafTarget::Body],
            headers: Vec::new(),
        })
        .collect()
}

/// One compiled set: the regexes of every rule that inspects one part.
#[derive(Debug)]
struct TargetSet {
    set: RegexSet,
    /// `set` index to rule index.
    rules: Vec<usize>,
}

impl TargetSet {
    fn build(
        rules: &[WafRule],
        wants: impl Fn(&WafRule) -> bool,
    ) -> Result<Option<Self>, regex::Error> {
        let chosen: Vec<usize> = (0..rules.len()).filter(|&i| wants(&rules[i])).collect();
        if chosen.is_empty() {
            return Ok(None);
        }
        let set = RegexSet::new(chosen.iter().map(|&i| rules[i].pattern.as_str()))?;
        Ok(Some(Self { set, rules: chosen }))
    }

    fn scan(&self, text: &str, matched: &mut [bool]) {
        if text.is_empty() {
            return;
        }
        for index in self.set.matches(text).iter() {
            matched[self.rules[index]] = true;
        }
    }
}

/// A compiled WAF layer.
#[derive(Debug)]
pub(crate) struct Waf {
    rules: Vec<WafRule>,
    threshold: u32,
    pub(crate) body_limit: usize,
    path: Option<TargetSet>,
    query: Option<TargetSet>,
    body: Option<TargetSet>,
    /// Rules over every header value.
    all_headers: Option<TargetSet>,
    /// Rules over named headers, one set per rule.
    named_headers: Vec<(usize, TargetSet)>,
}

/// What the WAF saw: the score and the names of the rules that matched.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct WafVerdict {
    pub(crate) score: u32,
    pub(crate) threshold: u32,
    pub(crate) rules: Vec<String>,
}

/// The parts of a request the WAF reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WafInput<'a> {
    pub(crate) raw_path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

impl Waf {
    /// Compiles the rules; every bad pattern is reported with the index of its rule.
    pub(crate) fn new(
        rules: Vec<WafRule>,
        threshold: u32,
        body_limit: usize,
    ) -> Result<Self, Vec<(usize, regex::Error)>> {
        // The sets are compiled first, each rule once: only when one fails is each rule
        // compiled alone, so that every error names the rule at fault.
        let located = |err: regex::Error| {
            let bad: Vec<(usize, regex::Error)> = rules
                .iter()
                .enumerate()
                .filter_map(|(index, rule)| {
                    regex::Regex::new(&rule.pattern).err().map(|e| (index, e))
                })
                .collect();
            if bad.is_empty() { vec![(0, err)] } else { bad }
        };
        let build = |wants: &dyn Fn(&WafRule) -> bool| TargetSet::build(&rules, wants);
        let sets = (|| {
            let path = build(&|r| r.targets.contains(&WafTarget::Path))?;
            let query = build(&|r| r.targets.contains(&WafTarget::Query))?;
            let body = build(&|r| r.targets.contains(&WafTarget::Body))?;
            let all_headers =
                build(&|r| r.targets.contains(&WafTarget::Headers) && r.headers.is_empty())?;
            let mut named_headers = Vec::new();
            for (index, rule) in rules.iter().enumerate() {
                if rule.targets.contains(&WafTarget::Headers) && !rule.headers.is_empty() {
                    let set =
                        TargetSet::build(std::slice::from_ref(rule), |_| true)?.map(|mut set| {
                            set.rules = vec![index];
                            set
                        });
                    named_headers.extend(set.map(|set| (index, set)));
                }
            }
            Ok((path, query, body, all_headers, named_headers))
        })();
        let (path, query, body, all_headers, named_headers) = sets.map_err(located)?;
        Ok(Self {
            rules,
            threshold,
            body_limit,
            path,
            query,
            body,
            all_headers,
            named_headers,
        })
    }

    /// Whether any rule reads the body, so the server knows to buffer its first bytes.
    pub(crate) fn reads_body(&self) -> bool {
        self.body.is_some()
    }

    /// Scores a request; `Some` when it must be blocked.
    pub(crate) fn inspect(&self, input: &WafInput<'_>) -> Option<WafVerdict> {
        let mut matched = vec![false; self.rules.len()];
        if let Some(set) = &self.path {
            scan_both(set, input.raw_path, false, &mut matched);
        }
        if let (Some(set), Some(query)) = (&self.query, input.query) {
            scan_both(set, query, true, &mut matched);
        }
        if let Some(set) = &self.body {
            let end = input.body.len().min(self.body_limit);
            let body = String::from_utf8_lossy(&input.body[..end]);
            scan_both(set, &body, true, &mut matched);
        }
        if let Some(set) = &self.all_headers {
            for value in input.headers.values() {
                if let Ok(text) = value.to_str() {
                    set.scan(text, &mut matched);
                }
            }
        }
        for (index, set) in &self.named_headers {
            for name in &self.rules[*index].headers {
                for value in input.headers.get_all(name) {
                    if let Ok(text) = value.to_str() {
                        set.scan(text, &mut matched);
                    }
                }
            }
        }
        let score: u32 = matched
            .iter()
            .zip(&self.rules)
            .filter(|(hit, _)| **hit)
            .map(|(_, rule)| rule.score)
            .sum();
        (score >= self.threshold && score > 0).then(|| WafVerdict {
            score,
            threshold: self.threshold,
            rules: matched
                .iter()
                .zip(&self.rules)
                .filter(|(hit, _)| **hit)
                .map(|(_, rule)| rule.name.clone())
                .collect(),
        })
    }
}

/// Scans the text as sent and, when it has escapes, once decoded, so `%27%20OR` and
/// `' OR` score alike while the encoded dot-dot rule still sees `%2e%2e`.
fn scan_both(set: &TargetSet, text: &str, plus_as_space: bool, matched: &mut [bool]) {
    set.scan(text, matched);
    if let Cow::Owned(decoded) = percent_decode(text, plus_as_space) {
        set.scan(&decoded, matched);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presets() -> Waf {
        let mut rules = preset_rules(WafPreset::Sqli);
        rules.extend(preset_rules(WafPreset::Xss));
        rules.extend(preset_rules(WafPreset::PathTraversal));
        Waf::new(rules, 5, 8192).unwrap()
    }

    #[track_caller]
    fn check(path: &str, query: Option<&str>, body: &str, expected: &[&str]) {
        let headers = HeaderMap::new();
        let input = WafInput {
            raw_path: path,
            query,
            headers: &headers,
            body: body.as_bytes(),
        };
        let got = presets()
            .inspect(&input)
            .map(|v| v.rules)
            .unwrap_or_default();
        assert_eq!(got, expected, "path {path:?} query {query:?} body {body:?}");
    }

    #[test]
    fn textbook_payloads_are_blocked() {
        check(
            "/search",
            Some("q=1%27%20OR%20%271%27=%271"),
            "",
            &["sqli-tautology"],
        );
        check(
            "/search",
            Some("q=1+UNION+SELECT+password+FROM+users"),
            "",
            &["sqli-union-select"],
        );
        check(
            "/search",
            Some("q=admin'--"),
            "",
            &["sqli-comment-terminator"],
        );
        check(
            "/x",
            None,
            "id=1; DROP TABLE users",
            &["sqli-stacked-query"],
        );
        check(
            "/x",
            Some("q=<script>alert(1)</script>"),
            "",
            &["xss-script-tag"],
        );
        check(
            "/x",
            Some("q=%3Cimg%20src=x%20onerror=alert(1)%3E"),
            "",
            &["xss-event-handler"],
        );
        check(
            "/x",
            Some("next=javascript:alert(1)"),
            "",
            &["xss-javascript-uri"],
        );
        check(
            "/static/../../etc/passwd",
            None,
            "",
            &["lfi-dot-dot", "lfi-encoded-dot-dot", "lfi-system-file"],
        );
        check(
            "/static/%252e%252e%252fsecret",
            None,
            "",
            &["lfi-encoded-dot-dot"],
        );
    }

    #[test]
    fn ordinary_requests_pass() {
        check("/v1/projects/123", Some("page=2&sort=name"), "", &[]);
        check("/v1/search", Some("q=union+station+or+bust"), "", &[]);
        check(
            "/v1/notes",
            None,
            r#"{"title":"Selecting a union rep","body":"a.b.c"}"#,
            &[],
        );
        check("/v1/files/report..final.pdf", None, "", &[]);
    }

    #[test]
    fn scores_add_up_to_the_threshold() {
        let rule = |name: &str, pattern: &str| WafRule {
            name: name.to_owned(),
            pattern: pattern.to_owned(),
            score: 3,
            targets: vec![WafTarget::Query],
            headers: Vec::new(),
        };
        let waf = Waf::new(vec![rule("a", "debug=1"), rule("b", "trace=1")], 5, 100).unwrap();
        let headers = HeaderMap::new();
        let input = |query| WafInput {
            raw_path: "/",
            query: Some(query),
            headers: &headers,
            body: b"",
        };
        assert_eq!(waf.inspect(&input("debug=1")), None);
        let verdict = waf.inspect(&input("debug=1&trace=1")).unwrap();
        assert_eq!((verdict.score, verdict.rules.len()), (6, 2));
    }

    #[test]
    fn named_headers_are_inspected_alone() {
        let rule = WafRule {
            name: "debug-header".to_owned(),
            pattern: "^on$".to_owned(),
            score: 5,
            targets: vec![WafTarget::Headers],
            headers: vec![HeaderName::from_static("x-debug")],
        };
        let waf = Waf::new(vec![rule], 5, 100).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-other", "on".parse().unwrap());
        let input = WafInput {
            raw_path: "/",
            query: None,
            headers: &headers,
            body: b"",
        };
        assert!(waf.inspect(&input).is_none());
        headers.insert("x-debug", "on".parse().unwrap());
        let input = WafInput {
            raw_path: "/",
            query: None,
            headers: &headers,
            body: b"",
        };
        assert!(waf.inspect(&input).is_some());
    }

    #[test]
    fn the_body_is_read_only_up_to_the_limit() {
        let waf = Waf::new(preset_rules(WafPreset::Xss), 5, 8).unwrap();
        let headers = HeaderMap::new();
        let body = b"padding.<script>";
        let input = WafInput {
            raw_path: "/",
            query: None,
            headers: &headers,
            body,
        };
        assert!(waf.inspect(&input).is_none());
    }

    #[test]
    fn bad_patterns_name_their_rule() {
        let rule = |pattern: &str| WafRule {
            name: "r".to_owned(),
            pattern: pattern.to_owned(),
            score: 5,
            targets: vec![WafTarget::Path],
            headers: Vec::new(),
        };
        let errors = Waf::new(
            vec![rule("ok"), rule("(unclosed"), rule("ok"), rule("[")],
            5,
            1,
        )
        .unwrap_err();
        let named: Vec<usize> = errors.iter().map(|(index, _)| *index).collect();
        assert_eq!(named, [1, 3]);
    }
}
