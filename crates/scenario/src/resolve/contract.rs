//! `[deny_contract]` of the suite file or a route file → a validated [`Contract`]: every
//! pattern compiles, every pointer is a JSON pointer, every detector named exists, every
//! status is a refusal; all problems are reported at once.

use std::ops::Range;

use toml::Spanned;
use toml::de::DeValue;

use super::values::compile_regex;
use super::{Cx, key_spans};
use crate::contract::{
    Contract, Forbidden, JsonType, RequestIdRule, Requirement, TextRule, detectors,
};
use crate::diagnostic::{SourceFile, did_you_mean};
use crate::load::{Seg, deserialize_item, fields_of};
use crate::raw::{DenyContractDef, RequireDef, TextRuleDef};

fn contract_fields(path: &[Seg]) -> &'static [&'static str] {
    match path {
        [] => fields_of::<DenyContractDef>(),
        [Seg::Key(k)] if k == "message" || k == "recovery" => fields_of::<TextRuleDef>(),
        [Seg::Key(k), Seg::Index(_)] if k == "require" => fields_of::<RequireDef>(),
        _ => &[],
    }
}

/// Validates the `[deny_contract]` table `value`, declared at `key`.
pub(super) fn resolve_contract(
    cx: &mut Cx,
    file: &SourceFile,
    key: Range<usize>,
    value: &Spanned<DeValue<'_>>,
) -> Option<Contract> {
    let def: DenyContractDef = deserialize_item(value, file, &mut cx.sink, &contract_fields)?;
    let errors = cx.sink.diagnostics.len();
    let mut statuses = None;
    if let Some(list) = &def.statuses {
        let mut codes = Vec::new();
        for status in list {
            match u16::try_from(*status.get_ref()) {
                Ok(code) if (400..600).contains(&code) => codes.push(code),
                _ => {
                    cx.error(file, status.span(), "not a refusal status")
                        .label("expected 400 to 599");
                }
            }
        }
        statuses = Some(codes);
    }
    let mut require = Vec::new();
    for def in def.require.iter().flatten() {
        check_pointer(cx, file, &def.pointer);
        let json_type =
            def.json_type.as_ref().and_then(|t| {
                let parsed = JsonType::parse(t.get_ref());
                if parsed.is_none() {
                    let help = did_you_mean(t.get_ref(), JsonType::NAMES);
                    cx.error(
                        file,
                        t.span(),
                        format!("unknown JSON type `{}`", t.get_ref()),
                    )
                    .label("not a JSON type")
                    .help(help.unwrap_or_else(|| {
                        format!("expected one of {}", JsonType::NAMES.join(", "))
                    }));
                }
                parsed
            });
        let pattern = def
            .pattern
            .as_ref()
            .and_then(|p| compile_regex(cx, file, p));
        require.push(Requirement {
            pointer: def.pointer.get_ref().clone(),
            json_type,
            pattern,
            at: cx.location(file, def.pointer.span().start),
        });
    }
    let keys = key_spans(value);
    let key_of = |name: &str| keys.0.get(name).cloned().unwrap_or(key.clone());
    let message = def
        .message
        .as_ref()
        .and_then(|rule| text_rule(cx, file, key_of("message"), "message", rule));
    let recovery = def
        .recovery
        .as_ref()
        .and_then(|rule| text_rule(cx, file, key_of("recovery"), "recovery", rule));
    let request_id = def.request_id.as_ref().map(|pointer| {
        check_pointer(cx, file, pointer);
        RequestIdRule {
            pointer: pointer.get_ref().clone(),
            at: cx.location(file, pointer.span().start),
        }
    });
    let mut forbid = Vec::new();
    for pattern in def.forbid.iter().flatten() {
        if let Some(re) = compile_regex(cx, file, pattern) {
            forbid.push(Forbidden {
                pattern: re,
                at: cx.location(file, pattern.span().start),
            });
        }
    }
    let names: Vec<&str> = detectors().iter().map(|d| d.name.as_str()).collect();
    let mut off = Vec::new();
    for name in def.off.iter().flatten() {
        if names.contains(&name.get_ref().as_str()) {
            off.push(name.get_ref().clone());
        } else {
            let help = did_you_mean(name.get_ref(), names.iter().copied());
            cx.error(
                file,
                name.span(),
                format!("unknown leak detector `{}`", name.get_ref()),
            )
            .label("not a built-in detector")
            .help(help.unwrap_or_else(|| format!("expected one of {}", names.join(", "))));
        }
    }
    (cx.sink.diagnostics.len() == errors).then(|| Contract {
        statuses,
        require,
        message,
        recovery,
        request_id,
        forbid,
        off,
        tenant_vars: def.tenant_vars,
        at: cx.location(file, key.start),
    })
}

fn text_rule(
    cx: &mut Cx,
    file: &SourceFile,
    key: Range<usize>,
    name: &str,
    def: &TextRuleDef,
) -> Option<TextRule> {
    if let Some(pointer) = &def.pointer {
        check_pointer(cx, file, pointer);
    }
    let pattern = def
        .pattern
        .as_ref()
        .and_then(|p| compile_regex(cx, file, p));
    let Some(first) = def.pointer.as_ref().or(def.pattern.as_ref()) else {
        cx.error(
            file,
            key,
            format!("`{name}` names neither a member nor a pattern"),
        )
        .label("an empty rule")
        .help(format!(
            "write `{name} = {{ pointer = \"/{name}\" }}`, a `pattern`, or both"
        ));
        return None;
    };
    Some(TextRule {
        pointer: def.pointer.as_ref().map(|p| p.get_ref().clone()),
        pattern,
        at: cx.location(file, first.span().start),
    })
}

/// A JSON pointer (RFC 6901) is empty or starts with `/`, and `~` only escapes `0` or `1`.
fn check_pointer(cx: &mut Cx, file: &SourceFile, pointer: &Spanned<String>) {
    let text = pointer.get_ref();
    let bad_escape = text
        .match_indices('~')
        .any(|(i, _)| !matches!(text.as_bytes().get(i + 1), Some(b'0' | b'1')));
    if !text.starts_with('/') || bad_escape {
        cx.error(file, pointer.span(), "not a JSON pointer")
            .label(if bad_escape {
                "`~` must be followed by 0 or 1"
            } else {
                "a JSON pointer starts with `/`"
            })
            .help(if bad_escape {
                "write `~0` for a `~` and `~1` for a `/` inside a member name".to_owned()
            } else {
                format!("write `/{text}`")
            });
    }
}
