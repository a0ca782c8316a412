//! Compiling `[[layer]]` items: each kind's values checked and built into an edge layer.

use std::collections::HashSet;
use std::time::Duration;

use globset::GlobSet;
use http::StatusCode;
use http::header::{HeaderName, HeaderValue};
use regex::RegexSet;
use toml::Spanned;

use super::{Compiler, Defaults};
use crate::edge::{Check, EdgeLayer, Fault, FaultEnd};
use crate::file::Read;
use crate::file::{self, FaultAbort, LayerFile, WafTarget};
use crate::persona::Persona;
use crate::rate_limit::RateLimiter;
use crate::replay::Replay;
use crate::waf::{Waf, WafRule, preset_rules};

impl Compiler<'_> {
    pub(super) fn layer(
        &self,
        read: Read<Spanned<LayerFile>>,
        defaults: &Defaults,
    ) -> Option<EdgeLayer> {
        let Read {
            value: layer,
            clean,
        } = read;
        let span = layer.span();
        let build = |name: Option<String>,
                     kind: &'static str,
                     persona: Persona,
                     paths: Option<GlobSet>,
                     check: Check| EdgeLayer {
            name: name.unwrap_or_else(|| kind.to_owned()),
            kind,
            persona,
            paths,
            check,
            mark: None,
        };
        match layer.get_ref() {
            LayerFile::Ip(l) => {
                let persona = self.persona(l.persona, defaults.cdn, "cdn", &layer, clean);
                let (allow, deny) = (self.networks(&l.allow), self.networks(&l.deny));
                let paths = self.globs(&l.paths, false);
                if l.allow.is_empty() && l.deny.is_empty() {
                    self.needs(clean, span, "an ip layer needs `allow` or `deny`");
                    return None;
                }
                Some(build(
                    l.name.clone(),
                    "ip",
                    persona?,
                    paths?,
                    Check::Ip {
                        allow: allow?,
                        deny: deny?,
                    },
                ))
            }
            LayerFile::Geo(l) => {
                let persona = self.persona(l.persona, defaults.cdn, "cdn", &layer, clean);
                let header = match &l.header {
                    Some(h) => self.header_name(h),
                    None => Some(HeaderName::from_static("cf-ipcountry")),
                };
                let (allow, block) = (self.countries(&l.allow), self.countries(&l.block));
                let paths = self.globs(&l.paths, false);
                if l.allow.is_empty() && l.block.is_empty() && !l.block_unknown {
                    self.needs(
                        clean,
                        span,
                        "a geo layer needs `allow`, `block` or `block_unknown`",
                    );
                    return None;
                }
                let check = Check::Geo {
                    header: header?,
                    allow: allow?,
                    block: block?,
                    block_unknown: l.block_unknown,
                };
                Some(build(l.name.clone(), "geo", persona?, paths?, check))
            }
            LayerFile::Waf(l) => self.waf(l, &layer, clean, defaults),
            LayerFile::UserAgent(l) => {
                let persona = self.persona(l.persona, defaults.cdn, "cdn", &layer, clean);
                let paths = self.globs(&l.paths, false);
                if l.block.is_empty() && !l.block_empty {
                    self.needs(
                        clean,
                        span,
                        "a user_agent layer needs `block` or `block_empty`",
                    );
                    return None;
                }
                // One compilation when every pattern is good; each alone only to find
                // the bad ones.
                let block = match RegexSet::new(l.block.iter().map(|p| p.get_ref().as_str())) {
                    Ok(set) => set,
                    Err(err) => {
                        let mut located = false;
                        for pattern in &l.block {
                            if let Err(err) = regex::Regex::new(pattern.get_ref()) {
                                self.invalid_regex(pattern.span(), &err);
                                located = true;
                            }
                        }
                        if !located {
                            self.invalid_regex(span, &err);
                        }
                        return None;
                    }
                };
                let check = Check::UserAgent {
                    block,
                    block_empty: l.block_empty,
                };
                Some(build(l.name.clone(), "user_agent", persona?, paths?, check))
            }
            LayerFile::Hotlink(l) => {
                let persona = self.persona(l.persona, defaults.cdn, "cdn", &layer, clean);
                let paths = self.globs(&l.paths, false)?;
                if paths.is_none() {
                    self.needs(clean, span, "a hotlink layer needs `paths` to protect");
                    return None;
                }
                let allow_hosts = l
                    .allow_hosts
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect();
                let check = Check::Hotlink {
                    allow_hosts,
                    allow_empty: l.allow_empty.unwrap_or(true),
                };
                Some(build(l.name.clone(), "hotlink", persona?, paths, check))
            }
            LayerFile::PathDeny(l) => {
                let persona = self.persona(l.persona, defaults.server, "server", &layer, clean);
                let prefixes = self.prefixes(&l.prefixes);
                let globs = self.globs(&l.globs, l.case_insensitive);
                if l.prefixes.is_empty() && l.globs.is_empty() {
                    self.needs(clean, span, "a path_deny layer needs `prefixes` or `globs`");
                    return None;
                }
                let check = Check::PathDeny {
                    prefixes: prefixes?,
                    globs: globs?,
                    case_insensitive: l.case_insensitive,
                };
                Some(build(l.name.clone(), "path_deny", persona?, None, check))
            }
            LayerFile::DirectoryListing(l) => {
                let persona = self.persona(l.persona, defaults.server, "server", &layer, clean);
                let prefixes = match &l.prefixes {
                    Some(list) => self.prefixes(list),
                    None => Some(vec!["/".to_owned()]),
                };
                let check = Check::DirectoryListing {
                    prefixes: prefixes?,
                };
                Some(build(
                    l.name.clone(),
                    "directory_listing",
                    persona?,
                    None,
                    check,
                ))
            }
            LayerFile::Method(l) => {
                let persona = self.persona(l.persona, defaults.server, "server", &layer, clean);
                let (allow, deny) = (self.methods(&l.allow), self.methods(&l.deny));
                let paths = self.globs(&l.paths, false);
                if l.allow.is_empty() && l.deny.is_empty() {
                    self.needs(clean, span, "a method layer needs `allow` or `deny`");
                    return None;
                }
                let check = Check::Method {
                    allow: allow?,
                    deny: deny?,
                };
                Some(build(l.name.clone(), "method", persona?, paths?, check))
            }
            LayerFile::RateLimit(l) => self.rate_limit(l, &layer, clean, defaults),
            LayerFile::Fault(l) => self.fault(l, &layer, clean, defaults),
            LayerFile::Replay(dir) => {
                let replay = self.replay(dir)?;
                // Never rendered: a replayed response is the recorded one, and the log
                // names the recorded layer.
                let persona = Persona::Nginx;
                Some(build(None, "replay", persona, None, Check::Replay(replay)))
            }
        }
    }

    /// Reads every recording of a `replay` layer: its problems are reported at their own
    /// files, an unusable directory at the layer.
    fn replay(&self, dir: &Spanned<String>) -> Option<Replay> {
        let path = self.base.join(dir.get_ref());
        if !path.is_dir() {
            self.p
                .error(
                    dir.span(),
                    format!("no directory of recordings `{}`", dir.get_ref()),
                )
                .label("not a directory")
                .help("record one with `rolecall run --record DIR`; the path is relative to this file");
            return None;
        }
        match Replay::load(&path, &super::shown(&path)) {
            Ok(replay) if replay.len() == 0 => {
                self.p
                    .error(dir.span(), format!("no recordings in `{}`", dir.get_ref()))
                    .label("empty")
                    .help("record refusals into it with `rolecall run --record DIR`");
                None
            }
            Ok(replay) => Some(replay),
            Err(problems) => {
                self.p.adopt(problems.files, problems.diagnostics);
                None
            }
        }
    }

    fn waf(
        &self,
        l: &file::WafLayer,
        layer: &Spanned<LayerFile>,
        clean: bool,
        defaults: &Defaults,
    ) -> Option<EdgeLayer> {
        let span = layer.span();
        let persona = self.persona(l.persona, defaults.waf, "waf", layer, clean);
        let paths = self.globs(&l.paths, false);
        let threshold = l.threshold.unwrap_or(5).max(1);
        let mut rules: Vec<WafRule> = Vec::new();
        let mut seen = HashSet::new();
        for preset in &l.presets {
            if seen.insert(*preset) {
                rules.extend(preset_rules(*preset));
            }
        }
        let mut spans = vec![span.clone(); rules.len()];
        let mut valid = true;
        for rule in &l.rule {
            let headers: Option<Vec<HeaderName>> = rule
                .headers
                .iter()
                .map(|h| self.header_name(h))
                .collect::<Vec<_>>()
                .into_iter()
                .collect();
            let targets = rule
                .targets
                .clone()
                .unwrap_or_else(|| vec![WafTarget::Path, WafTarget::Query, WafTarget::Body]);
            if !rule.headers.is_empty() && !targets.contains(&WafTarget::Headers) && clean {
                self.p
                    .error(
                        rule.headers[0].span(),
                        "`headers` needs \"headers\" in `targets`",
                    )
                    .label("never inspected")
                    .help("add \"headers\" to the rule's `targets`");
                valid = false;
            }
            let Some(headers) = headers else {
                valid = false;
                continue;
            };
            spans.push(rule.pattern.span());
            rules.push(WafRule {
                name: rule.name.clone(),
                pattern: rule.pattern.get_ref().clone(),
                score: rule.score.unwrap_or(threshold),
                targets,
                headers,
            });
        }
        let mark = match &l.mark {
            Some(mark) => {
                let value = HeaderValue::from_str(mark.value.get_ref());
                if value.is_err() {
                    self.p
                        .error(mark.value.span(), "not a valid header value")
                        .label("control characters are not allowed in a header");
                }
                let name = self.header_name(&mark.header);
                match (name, value) {
                    (Some(name), Ok(value)) => Some(Some((name, value))),
                    _ => None,
                }
            }
            None => Some(None),
        };
        if l.presets.is_empty() && l.rule.is_empty() {
            self.needs(
                clean,
                span,
                "a waf layer needs `presets` or at least one `rule`",
            );
            return None;
        }
        let waf = match Waf::new(rules, threshold, l.body_limit.unwrap_or(8192)) {
            Ok(waf) => waf,
            Err(errors) => {
                for (index, err) in errors {
                    self.invalid_regex(spans[index].clone(), &err);
                }
                return None;
            }
        };
        if !valid {
            return None;
        }
        Some(EdgeLayer {
            name: l.name.clone().unwrap_or_else(|| "waf".to_owned()),
            kind: "waf",
            persona: persona?,
            paths: paths?,
            check: Check::Waf(waf),
            mark: mark?,
        })
    }

    fn rate_limit(
        &self,
        l: &file::RateLimitLayer,
        layer: &Spanned<LayerFile>,
        clean: bool,
        defaults: &Defaults,
    ) -> Option<EdgeLayer> {
        let persona = self.persona(l.persona, defaults.cdn, "cdn", layer, clean);
        let paths = self.globs(&l.paths, false);
        let requests = *l.requests.get_ref();
        if requests == 0 {
            self.p
                .error(l.requests.span(), "`requests` must be at least 1")
                .label("nothing would ever pass");
        }
        let per = match &l.per {
            Some(per) => self.duration(per),
            None => Some(Duration::from_secs(1)),
        };
        let status = match &l.status {
            Some(status) => match StatusCode::from_u16(*status.get_ref()) {
                Ok(code) if code.is_client_error() || code.is_server_error() => Some(code),
                _ => {
                    self.p
                        .error(status.span(), "a rate limit status must be 4xx or 5xx")
                        .label("not a refusal");
                    None
                }
            },
            None => Some(StatusCode::TOO_MANY_REQUESTS),
        };
        let (per, status) = (per?, status?);
        if requests == 0 {
            return None;
        }
        let burst = l.burst.unwrap_or(requests);
        let limiter = RateLimiter::new(requests, per, burst, l.max_clients.unwrap_or(10_000));
        let describe = format!(
            "more than {requests} requests per {} (burst {burst})",
            humantime::format_duration(per)
        );
        Some(EdgeLayer {
            name: l.name.clone().unwrap_or_else(|| "rate_limit".to_owned()),
            kind: "rate_limit",
            persona: persona?,
            paths: paths?,
            check: Check::RateLimit {
                limiter,
                status,
                describe,
            },
            mark: None,
        })
    }

    fn fault(
        &self,
        l: &file::FaultLayer,
        layer: &Spanned<LayerFile>,
        clean: bool,
        defaults: &Defaults,
    ) -> Option<EdgeLayer> {
        let span = layer.span();
        let persona = self.persona(l.persona, defaults.server, "server", layer, clean);
        let paths = self.globs(&l.paths, false);
        let delay = match &l.delay {
            Some(d) => self.duration(d).map(Some),
            None => Some(None),
        };
        let end = match (l.abort, &l.status) {
            (Some(_), Some(status)) => {
                self.p
                    .error(
                        status.span(),
                        "a fault either aborts or answers with a status, not both",
                    )
                    .label("remove this or `abort`");
                None
            }
            (Some(FaultAbort::Reset), None) => Some(Some(FaultEnd::Reset)),
            (Some(FaultAbort::Close), None) => Some(Some(FaultEnd::Close)),
            (None, Some(status)) => match StatusCode::from_u16(*status.get_ref()) {
                Ok(code) if code.is_server_error() => Some(Some(FaultEnd::Status(code))),
                _ => {
                    self.p
                        .error(status.span(), "a fault status must be 5xx")
                        .label("not a server error");
                    None
                }
            },
            (None, None) => Some(None),
        };
        let probability = match &l.probability {
            Some(p) if !(0.0..=1.0).contains(p.get_ref()) => {
                self.p
                    .error(p.span(), "`probability` must be between 0.0 and 1.0")
                    .label("out of range");
                None
            }
            Some(p) => Some(*p.get_ref()),
            None => Some(1.0),
        };
        let paths = paths?;
        if paths.is_none() {
            self.needs(clean, span.clone(), "a fault layer needs `paths`");
            return None;
        }
        let (delay, end, probability) = (delay?, end?, probability?);
        if delay.is_none() && end.is_none() {
            self.needs(
                clean,
                span,
                "a fault layer needs `delay`, `abort` or `status`",
            );
            return None;
        }
        let check = Check::Fault(Fault {
            delay,
            end,
            probability,
        });
        Some(EdgeLayer {
            name: l.name.clone().unwrap_or_else(|| "fault".to_owned()),
            kind: "fault",
            persona: persona?,
            paths,
            check,
            mark: None,
        })
    }
}
