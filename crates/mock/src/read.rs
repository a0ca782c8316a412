//! Reading a `mock.toml` into its file types: the TOML syntax first, then each item
//! (`[edge]`, every `[[layer]]`, the origin, and every token, user, route and resource of the app)
//! deserialized on its own. When serde finds a problem in an item, the entry at fault is
//! reported and taken out, and the item is read again: an unknown key or a wrong type never
//! hides the next problem of the same item, and what is left is still checked for values.

use std::borrow::Cow;
use std::ops::Range;

use rolecall_scenario::{did_you_mean, variants_of};
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue, ValueDeserializer};

use crate::file::{AppFile, EdgeFile, JwtFile, LayerFile, OriginFile, ProxyFile, Read};
use crate::problems::Problems;

/// Everything readable in the file. Items that could not be read at all are left out;
/// their problems are reported.
#[derive(Debug, Default)]
pub(crate) struct Items {
    /// `[edge]`; `None` when it is absent.
    pub(crate) edge: Option<Read<EdgeFile>>,
    /// Each layer, spanned at its kind (`waf` in `[layer.waf]`).
    pub(crate) layers: Vec<Read<Spanned<LayerFile>>>,
    /// `None` when the origin is missing or unreadable.
    pub(crate) origin: Option<Read<OriginFile>>,
}

const TOP_KEYS: [&str; 3] = ["edge", "layer", "origin"];
const ORIGIN_KEYS: [&str; 2] = ["app", "proxy"];

/// Reads the file of `problems`, reporting every syntax and shape problem in it.
pub(crate) fn read(problems: &Problems) -> Items {
    let text = problems.file().text.clone();
    let (root, errors) = DeTable::parse_recoverable(&text);
    let syntax_errors = !errors.is_empty();
    for error in errors {
        problems
            .error(
                error.span().unwrap_or(0..0),
                format!("invalid TOML: {}", first_line(error.message())),
            )
            .label("here");
    }
    let mut items = Items::default();
    let mut unknown = false;
    let mut entries: Vec<_> = root.get_ref().iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    for (key, value) in entries {
        match key.get_ref().as_ref() {
            "edge" => {
                if is_table(value, "edge", problems) {
                    items.edge = item::<EdgeFile>(value, problems);
                }
            }
            "layer" => items.layers = layers(value, problems),
            "origin" => items.origin = origin(value, problems),
            other => {
                unknown_key(problems, key.span(), other, &TOP_KEYS);
                unknown = true;
            }
        }
    }
    // After a syntax error the origin may simply not have been recovered, and a misspelt
    // key may be the origin.
    if !syntax_errors && !unknown && !root.get_ref().contains_key("origin") {
        problems
            .error(0..0, "missing `[origin]`: what answers requests that pass the layers")
            .help("add `[origin.app]` (the policy-driven mock app) or `[origin.proxy]` with `upstream = \"http://…\"`");
    }
    items
}

fn layers(value: &Spanned<DeValue<'_>>, problems: &Problems) -> Vec<Read<Spanned<LayerFile>>> {
    let DeValue::Array(elements) = value.get_ref() else {
        problems
            .error(
                value.span(),
                format!(
                    "`layer` must be an array of tables, found {}",
                    value.get_ref().type_str()
                ),
            )
            .label("expected `[[layer]]`")
            .help(
                "start each layer with `[[layer]]`, then its kind: `[layer.waf]` or `ip = { … }`",
            );
        return Vec::new();
    };
    elements
        .iter()
        .filter_map(|element| layer(element, problems))
        .collect()
}

/// One `[[layer]]`: a table with exactly one key, its kind.
fn layer(element: &Spanned<DeValue<'_>>, problems: &Problems) -> Option<Read<Spanned<LayerFile>>> {
    let DeValue::Table(table) = element.get_ref() else {
        problems
            .error(
                element.span(),
                format!(
                    "a layer must be a table, found {}",
                    element.get_ref().type_str()
                ),
            )
            .label("expected a table");
        return None;
    };
    let kinds = variants_of::<LayerFile>();
    let expected = format!("layer kinds: {}", backticked(kinds));
    let mut keys: Vec<_> = table.iter().map(|(k, _)| k).collect();
    keys.sort_by_key(|k| k.span().start);
    let Some(kind) = keys.first() else {
        problems
            .error(element.span(), "this layer has no kind")
            .label("an empty layer")
            .help(format!(
                "follow `[[layer]]` with its kind, as `[layer.waf]` or `ip = {{ … }}`; {expected}"
            ));
        return None;
    };
    if let Some(second) = keys.get(1) {
        problems
            .error(
                second.span(),
                format!(
                    "a layer has one kind; this one is already `{}`",
                    kind.get_ref()
                ),
            )
            .label("a second kind")
            .help("start another `[[layer]]` for it");
        return None;
    }
    if !kinds.contains(&kind.get_ref().as_ref()) {
        let help = did_you_mean(kind.get_ref(), kinds.iter().copied()).unwrap_or(expected);
        problems
            .error(
                kind.span(),
                format!("unknown layer kind `{}`", kind.get_ref()),
            )
            .label("not a layer kind")
            .help(help);
        return None;
    }
    let read = item::<LayerFile>(element, problems)?;
    Some(Read {
        value: Spanned::new(kind.span(), read.value),
        clean: read.clean,
    })
}

/// `[origin]`: exactly one of `app` and `proxy`.
fn origin(value: &Spanned<DeValue<'_>>, problems: &Problems) -> Option<Read<OriginFile>> {
    if !is_table(value, "origin", problems) {
        return None;
    }
    let DeValue::Table(table) = value.get_ref() else {
        return None;
    };
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut found: Option<Read<OriginFile>> = None;
    let mut named: Option<&str> = None;
    let mut misspelt = false;
    for (key, part) in entries {
        let name = key.get_ref().as_ref();
        if !ORIGIN_KEYS.contains(&name) {
            unknown_key(problems, key.span(), name, &ORIGIN_KEYS);
            misspelt = true;
            continue;
        }
        if let Some(first) = named {
            problems
                .error(
                    key.span(),
                    format!("the origin is already `{first}`; it is either `app` or `proxy`"),
                )
                .label("a second origin")
                .help(
                    "keep `[origin.app]` for the mock app or `[origin.proxy]` for a real upstream",
                );
            continue;
        }
        named = Some(name);
        found = match name {
            "app" => app(part, problems).map(|read| Read {
                value: OriginFile::App(Box::new(read.value)),
                clean: read.clean,
            }),
            _ if is_table(part, "origin.proxy", problems) => {
                item::<ProxyFile>(part, problems).map(|read| Read {
                    value: OriginFile::Proxy(read.value),
                    clean: read.clean,
                })
            }
            _ => None,
        };
    }
    if named.is_none() && !misspelt {
        problems
            .error(value.span(), "`[origin]` names neither `app` nor `proxy`")
            .label("no origin")
            .help("add `[origin.app]` (the policy-driven mock app) or `[origin.proxy]` with `upstream = \"http://…\"`");
    }
    found
}

/// `[origin.app]`: its tokens, users, routes and resources are items of their own, so a problem in
/// one route never hides the next route's.
fn app(value: &Spanned<DeValue<'_>>, problems: &Problems) -> Option<Read<AppFile>> {
    if !is_table(value, "origin.app", problems) {
        return None;
    }
    let mut rest = value.clone();
    let DeValue::Table(table) = rest.get_mut() else {
        return None;
    };
    let jwt = table.remove("jwt");
    let tokens = table.remove("token");
    let users = table.remove("user");
    let routes = table.remove("route");
    let resources = table.remove("resource");
    // Every other key of the app is optional: what is left after taking out problems is
    // the app as written, less the entries at fault.
    let mut read = item::<AppFile>(&rest, problems)?;
    read.value.jwt = jwt.and_then(|jwt| {
        let read = item::<JwtFile>(&jwt, problems)?;
        Some(Read {
            value: Spanned::new(jwt.span(), read.value),
            clean: read.clean,
        })
    });
    read.value.token = elements(tokens.as_ref(), "origin.app.token", problems);
    read.value.user = elements(users.as_ref(), "origin.app.user", problems);
    read.value.route = elements(routes.as_ref(), "origin.app.route", problems);
    read.value.resource = elements(resources.as_ref(), "origin.app.resource", problems);
    Some(read)
}

/// The elements of an array of tables, each read on its own and spanned at its table.
/// Elements with problems are reported and kept as far as they could be read, unless
/// nothing of them could.
fn elements<T: DeserializeOwned>(
    value: Option<&Spanned<DeValue<'_>>>,
    what: &str,
    problems: &Problems,
) -> Vec<Read<Spanned<T>>> {
    let Some(value) = value else {
        return Vec::new();
    };
    let DeValue::Array(items) = value.get_ref() else {
        problems
            .error(
                value.span(),
                format!(
                    "`{what}` must be an array of tables, found {}",
                    value.get_ref().type_str()
                ),
            )
            .label(format!("expected `[[{what}]]`"));
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|element| {
            if !is_table(element, what, problems) {
                return None;
            }
            item::<T>(element, problems).map(|r| Read {
                value: Spanned::new(element.span(), r.value),
                clean: r.clean,
            })
        })
        .collect()
}

fn is_table(value: &Spanned<DeValue<'_>>, what: &str, problems: &Problems) -> bool {
    if matches!(value.get_ref(), DeValue::Table(_)) {
        return true;
    }
    problems
        .error(
            value.span(),
            format!(
                "`{what}` must be a table, found {}",
                value.get_ref().type_str()
            ),
        )
        .label("expected a table");
    false
}

fn unknown_key(problems: &Problems, span: Range<usize>, key: &str, known: &[&str]) {
    let help = did_you_mean(key, known.iter().copied())
        .unwrap_or_else(|| format!("expected one of {}", backticked(known)));
    problems
        .error(span, format!("unknown key `{key}`"))
        .label("not a known key here")
        .help(help);
}

fn backticked(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message).trim_end()
}

/// Deserializes one item, reporting every problem serde finds in it. After each problem
/// the entry at fault is taken out and the item is read again; each round removes an
/// entry, so this ends. Problems that only follow from a removal (the "missing key" of a
/// key with a wrong type) are not reported again. `None` when nothing usable is left.
pub(crate) fn item<T: DeserializeOwned>(
    value: &Spanned<DeValue<'_>>,
    problems: &Problems,
) -> Option<Read<T>> {
    let mut value = value.clone();
    // Tables something was taken out of, with the key taken (empty for array elements).
    let mut pruned: Vec<(Range<usize>, Cow<'_, str>)> = Vec::new();
    loop {
        let error = match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(read) => {
                return Some(Read {
                    value: read,
                    clean: pruned.is_empty(),
                });
            }
            Err(error) => error,
        };
        let span = error.span().unwrap_or_else(|| value.span());
        let message = first_line(error.message());
        let follows_from_removal = pruned.iter().any(|(table, key)| {
            *table == span && missing_key(message).is_none_or(|missing| missing == key.as_ref())
        });
        if !follows_from_removal {
            report(problems, span.clone(), message);
        }
        pruned.push(prune(&mut value, &span)?);
    }
}

/// Takes out of `value` the innermost entry that `span` points at (its key, or its value)
/// and returns the span of the table or array it was in, with its key.
fn prune<'i>(
    value: &mut Spanned<DeValue<'i>>,
    span: &Range<usize>,
) -> Option<(Range<usize>, Cow<'i, str>)> {
    let here = value.span();
    let points_at = |key: Option<Range<usize>>, v: &Spanned<DeValue<'_>>| {
        key.as_ref() == Some(span)
            || v.span() == *span
            || (!matches!(v.get_ref(), DeValue::Table(_) | DeValue::Array(_))
                && v.span().start <= span.start
                && span.end <= v.span().end)
    };
    match value.get_mut() {
        DeValue::Table(table) => {
            let mut hit = None;
            for (key, entry) in table.iter_mut() {
                if let Some(found) = prune(entry, span) {
                    return Some(found);
                }
                if hit.is_none() && points_at(Some(key.span()), entry) {
                    hit = Some(key.get_ref().clone());
                }
            }
            let key = hit?;
            table.remove(key.as_ref());
            Some((here, key))
        }
        DeValue::Array(items) => {
            for entry in items.iter_mut() {
                if let Some(found) = prune(entry, span) {
                    return Some(found);
                }
            }
            let at = items.iter().position(|entry| points_at(None, entry))?;
            // `DeArray` has no `remove`: the array is rebuilt without the element.
            let mut kept = DeArray::new();
            for (index, entry) in items.iter().enumerate() {
                if index != at {
                    kept.push(entry.clone());
                }
            }
            *items = kept;
            Some((here, Cow::Borrowed("")))
        }
        _ => None,
    }
}

/// `missing field `x`` → `x`.
fn missing_key(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
}

/// The names in backticks of a serde message: "unknown field `colour`, expected one of
/// `cdn`, `server`" → ["colour", "cdn", "server"].
fn quoted(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

/// Reports a serde problem in the file's words: TOML keys, tables and arrays rather than
/// Rust fields, structs and sequences.
fn report(problems: &Problems, span: Range<usize>, message: &str) {
    let names = quoted(message);
    let help = |unknown: &str, known: &[&str]| {
        did_you_mean(unknown, known.iter().copied()).or_else(|| {
            (!known.is_empty()).then(|| format!("expected one of {}", backticked(known)))
        })
    };
    if message.starts_with("unknown field") && !names.is_empty() {
        problems
            .error(span, format!("unknown key `{}`", names[0]))
            .label("not a known key here")
            .help_opt(help(names[0], &names[1..]));
    } else if message.starts_with("unknown variant") && !names.is_empty() {
        problems
            .error(span, format!("unknown value `{}`", names[0]))
            .label("not accepted here")
            .help_opt(help(names[0], &names[1..]));
    } else if let Some(key) = missing_key(message) {
        problems
            .error(span, format!("missing key `{key}`"))
            .label(format!("this table needs `{key}`"));
    } else {
        let message = in_toml_words(message);
        let label = message
            .rsplit_once(", expected ")
            .map_or_else(|| "here".to_owned(), |(_, e)| format!("expected {e}"));
        problems.error(span, message).label(label);
    }
}

fn in_toml_words(message: &str) -> String {
    let Some((head, expected)) = message.rsplit_once(", expected ") else {
        return message.to_owned();
    };
    let expected = match expected {
        "u8" => "an integer from 0 to 255",
        "u16" => "an integer from 0 to 65535",
        "u32" => "an integer from 0 to 4294967295",
        "u64" | "usize" => "a non-negative integer",
        "f32" | "f64" => "a number",
        "a sequence" => "an array",
        "a map" => "a table",
        other if other.starts_with("struct ") => "a table",
        other => other,
    };
    format!("{head}, expected {expected}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_kinds_come_from_the_format() {
        let kinds = variants_of::<LayerFile>();
        assert!(kinds.contains(&"path_deny"), "{kinds:?}");
        assert_eq!(kinds.len(), 11, "{kinds:?}");
    }

    #[test]
    fn serde_messages_are_put_in_toml_words() {
        assert_eq!(
            in_toml_words("invalid type: integer `3`, expected struct JwtFile"),
            "invalid type: integer `3`, expected a table"
        );
        assert_eq!(
            in_toml_words("invalid type: string \"x\", expected a sequence"),
            "invalid type: string \"x\", expected an array"
        );
        assert_eq!(
            quoted("unknown field `colour`, expected one of `cdn`, `server`"),
            ["colour", "cdn", "server"]
        );
        assert_eq!(missing_key("missing field `requests`"), Some("requests"));
    }
}
