//! `rolecall new`: route files drafted from a description, a capture or one request line.
//!
//! Drafts are deny by default: a route's `allow` lists only identities a capture showed
//! being let in, and every choice left to a person is marked `# TODO(rolecall): …`. A path
//! parameter the suite has no variable for becomes a literal `TODO-name`, so the file
//! passes `rolecall check` as written. Captured credentials are never written: an identity
//! is named, its token is not, queries are left out, and a captured path segment that
//! looks like a token is a `TODO-token` placeholder.

use std::collections::{BTreeMap, HashSet};

use rolecall_scenario::{Method, Suite, derive_route_name};

use crate::har::{Har, TOKEN};
use crate::identify::recognise;
use crate::openapi::{Description, Security};

/// A route file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The file name, e.g. `pets.toml`.
    pub name: String,
    /// Its contents.
    pub text: String,
    /// How many routes it holds.
    pub routes: usize,
}

/// One route of a draft.
struct Route {
    todo: Vec<String>,
    note: Option<String>,
    method: String,
    path: String,
    allow: Vec<String>,
}

const METHODS: [&str; 8] = [
    "GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE",
];

/// The methods as the scenario model names them, in the order of [`METHODS`].
const MODEL_METHODS: [Method; 8] = [
    Method::Get,
    Method::Head,
    Method::Options,
    Method::Trace,
    Method::Post,
    Method::Put,
    Method::Patch,
    Method::Delete,
];

/// The file stem for a route: its first tag, else its first path segment that is not a
/// parameter, `api` or a version (`v1`), else `routes`.
fn stem(tag: Option<&str>, path: &str) -> String {
    let from_path = || {
        path.split('/')
            .find(|s| {
                let version =
                    s.starts_with('v') && s.len() > 1 && s[1..].chars().all(|c| c.is_ascii_digit());
                !(s.is_empty() || s.contains('{') || *s == "api" || version)
            })
            .unwrap_or("routes")
            .to_owned()
    };
    let raw = tag.map(str::to_owned).unwrap_or_else(from_path);
    let mut out = String::new();
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_owned();
    match out.as_str() {
        "" => "routes".into(),
        // Names the loader treats as something else.
        "rolecall" | "cargo" => format!("{out}_routes"),
        _ => out,
    }
}

/// `path` with every `{param}` the suite has no variable for replaced by `TODO-param`,
/// and a TODO for each.
fn placeholders(path: &str, suite: Option<&Suite>, todo: &mut Vec<String>) -> String {
    let known = |name: &str| {
        suite.is_some_and(|s| {
            !s.identities.is_empty() && s.identities.iter().all(|i| i.vars.contains_key(name))
        })
    };
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        out.push_str(&rest[..start]);
        let clean: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        if known(name) {
            out.push_str(&rest[start..=start + len]);
        } else {
            out.push_str(&format!("TODO-{clean}"));
            todo.push(format!(
                "replace `TODO-{clean}` with a real {name}, or a `{{var}}` the suite defines"
            ));
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    // A request line holds no spaces or quotes.
    out.replace([' ', '"', '\\'], "_")
}

fn security_todo(security: &Security) -> String {
    match security {
        Security::Absent => {
            "decide who may use this route; the description declares no security".into()
        }
        Security::OptOut | Security::Optional(_) => format!(
            "the description declares it public ({security}): set `public = true` (and remove `allow`) if anyone may use it"
        ),
        Security::Required(_) => {
            format!("decide who may use this route; the description requires {security}")
        }
    }
}

/// Route files from a description: one per tag (or first path segment).
pub fn from_description(description: &Description, suite: Option<&Suite>) -> Vec<Draft> {
    let mut files: BTreeMap<String, Vec<Route>> = BTreeMap::new();
    for op in &description.operations {
        if !METHODS.contains(&op.method.as_str()) {
            continue;
        }
        let mut todo = vec![security_todo(&op.security)];
        let base = op.base_paths.first().map(String::as_str).unwrap_or("");
        let path = placeholders(&format!("{base}{}", op.path), suite, &mut todo);
        if !matches!(
            op.method.as_str(),
            "GET" | "HEAD" | "OPTIONS" | "TRACE" | "DELETE"
        ) {
            todo.push("add the body this operation needs (`body.json = { … }`)".into());
        }
        let note = match (&op.operation_id, &op.summary) {
            (Some(id), Some(s)) => Some(format!("{id}: {s}")),
            (Some(x), None) | (None, Some(x)) => Some(x.clone()),
            (None, None) => None,
        };
        files
            .entry(stem(op.tags.first().map(String::as_str), &op.path))
            .or_default()
            .push(Route {
                todo,
                note,
                method: op.method.clone(),
                path,
                allow: Vec::new(),
            });
    }
    let source = format!("the API description `{}`", description.file.display());
    render(files, &source)
}

/// Route files from captures: each distinct method and path is a route; an identity
/// recognised from its credentials in a capture that was let in (2xx or 3xx) is allowed.
pub fn from_har(hars: &[Har], suite: Option<&Suite>) -> Vec<Draft> {
    let mut files: BTreeMap<String, Vec<Route>> = BTreeMap::new();
    let mut seen: BTreeMap<(String, String), (String, usize)> = BTreeMap::new();
    for capture in hars.iter().flat_map(|h| &h.captures) {
        if !METHODS.contains(&capture.method.as_str()) {
            continue;
        }
        let path = capture
            .path
            .replace(TOKEN, "TODO-token")
            .replace(['{', '}', ' ', '"', '\\'], "_");
        let key = (capture.method.clone(), path.clone());
        let (file, at) = match seen.get(&key) {
            Some(found) => found.clone(),
            None => {
                let file = stem(None, &path);
                let routes = files.entry(file.clone()).or_default();
                routes.push(Route {
                    todo: Vec::new(),
                    note: None,
                    method: capture.method.clone(),
                    path,
                    allow: Vec::new(),
                });
                let found = (file, routes.len() - 1);
                seen.insert(key, found.clone());
                found
            }
        };
        let route = &mut files.get_mut(&file).expect("inserted above")[at];
        if capture.path.contains(TOKEN) {
            let line = "replace `TODO-token` with a real value, or a `{var}` the suite defines; the captured one looked like a credential and is left out".to_owned();
            if !route.todo.contains(&line) {
                route.todo.push(line);
            }
        }
        let status = capture
            .status
            .map_or("no response".to_owned(), |s| s.to_string());
        let let_in = capture.status.is_some_and(|s| (200..400).contains(&s));
        let who: Vec<String> = suite
            .map(|s| {
                recognise(s, capture)
                    .into_iter()
                    .map(|i| s.identities[i].name.clone())
                    .collect()
            })
            .unwrap_or_default();
        let line = match who.as_slice() {
            [] => format!(
                "captured without credentials of a suite identity ({status}): decide who may use it"
            ),
            [one] if let_in => {
                if !route.allow.contains(one) {
                    route.allow.push(one.clone());
                }
                format!("captured as `{one}` ({status}): confirm `{one}` may use it")
            }
            [one] => format!("captured as `{one}` and refused ({status}): confirm the refusal"),
            many => format!(
                "captured with credentials several identities share ({}; {status}): decide who may use it",
                many.join(", ")
            ),
        };
        if !route.todo.contains(&line) {
            route.todo.push(line);
        }
        if !capture.query_names.is_empty() {
            let line = format!(
                "captured with query parameters {} (values left out): add the ones the route needs",
                capture.query_names.join(", ")
            );
            if !route.todo.contains(&line) {
                route.todo.push(line);
            }
        }
        if !matches!(
            capture.method.as_str(),
            "GET" | "HEAD" | "OPTIONS" | "TRACE" | "DELETE"
        ) {
            let line = "add the body this request needs (`body.json = { … }`); the captured one is left out".to_owned();
            if !route.todo.contains(&line) {
                route.todo.push(line);
            }
        }
    }
    let sources: Vec<String> = hars
        .iter()
        .map(|h| format!("`{}`", h.file.display()))
        .collect();
    render(files, &format!("the capture {}", sources.join(", ")))
}

/// One route file from a request line such as `DELETE /v1/projects/{id}`.
pub fn from_request_line(
    line: &str,
    allow: &[String],
    suite: Option<&Suite>,
) -> Result<Draft, String> {
    let (method, path) = line.trim().split_once(' ').ok_or_else(|| {
        format!("`{line}` is not a request line; expected e.g. `DELETE /v1/projects/{{id}}`")
    })?;
    let method = method.to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(format!(
            "`{method}` is not a method rolecall sends ({})",
            METHODS.join(", ")
        ));
    }
    let path = path.trim();
    if !path.starts_with('/') || path.contains(char::is_whitespace) {
        return Err(format!(
            "`{path}` is not a path: it starts with `/` and holds no spaces"
        ));
    }
    let mut todo = Vec::new();
    if allow.is_empty() {
        todo.push("decide who may use this route: every identity is refused until it is listed in `allow`".into());
    }
    let path = placeholders(path, suite, &mut todo);
    let file = stem(None, &path);
    let route = Route {
        todo,
        note: None,
        method,
        path,
        allow: allow.to_vec(),
    };
    let source = "the command line".to_owned();
    Ok(render(BTreeMap::from([(file, vec![route])]), &source).remove(0))
}

fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn render(files: BTreeMap<String, Vec<Route>>, source: &str) -> Vec<Draft> {
    files
        .into_iter()
        .map(|(stem, routes)| {
            let mut text = format!(
                "# Drafted by `rolecall new` from {source}.\n# Deny by default: an identity not in a route's `allow` must be refused. Settle every\n# `TODO(rolecall)` and delete its line.\n"
            );
            let mut names = HashSet::new();
            for route in &routes {
                text.push('\n');
                if let Some(note) = &route.note {
                    text.push_str(&format!("# {}\n", note.replace(['\n', '\r'], " ")));
                }
                for todo in &route.todo {
                    text.push_str(&format!("# TODO(rolecall): {todo}\n"));
                }
                text.push_str("[[route]]\n");
                text.push_str(&format!("request = {}\n", quote(&format!("{} {}", route.method, route.path))));
                let method = METHODS
                    .iter()
                    .position(|m| *m == route.method)
                    .map_or(Method::Get, |i| MODEL_METHODS[i]);
                let derived = derive_route_name(method, &route.path);
                if !names.insert(derived.clone()) {
                    let mut n = 2;
                    while !names.insert(format!("{derived}_{n}")) {
                        n += 1;
                    }
                    text.push_str(&format!("name = {}\n", quote(&format!("{derived}_{n}"))));
                }
                let allow: Vec<String> = route.allow.iter().map(|a| quote(a)).collect();
                text.push_str(&format!("allow = [{}]\n", allow.join(", ")));
            }
            Draft {
                name: format!("{stem}.toml"),
                text,
                routes: routes.len(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_by_tag_or_first_meaningful_segment() {
        assert_eq!(stem(Some("Pet Store"), "/pets"), "pet_store");
        assert_eq!(stem(None, "/v1/tenants/{t}/projects"), "tenants");
        assert_eq!(stem(None, "/api/v2/projects"), "projects");
        assert_eq!(stem(None, "/{id}"), "routes");
        assert_eq!(stem(None, "/rolecall"), "rolecall_routes");
    }

    #[test]
    fn a_request_line_becomes_a_route_with_its_unknown_parameters_marked() {
        let draft = from_request_line("DELETE /v1/projects/{id}", &["admin".into()], None).unwrap();
        assert_eq!(draft.name, "projects.toml");
        assert!(
            draft
                .text
                .contains("request = \"DELETE /v1/projects/TODO-id\"\n"),
            "{}",
            draft.text
        );
        assert!(
            draft.text.contains("# TODO(rolecall): replace `TODO-id`"),
            "{}",
            draft.text
        );
        assert!(
            draft.text.contains("allow = [\"admin\"]\n"),
            "{}",
            draft.text
        );
        assert!(from_request_line("FETCH /x", &[], None).is_err());
        assert!(from_request_line("GET x", &[], None).is_err());
    }

    #[test]
    fn names_the_loader_would_derive_twice_are_made_unique() {
        let routes = ["/a-b", "/a_b"]
            .iter()
            .map(|p| Route {
                todo: Vec::new(),
                note: None,
                method: "GET".into(),
                path: (*p).into(),
                allow: Vec::new(),
            })
            .collect();
        let drafts = render(BTreeMap::from([("a".to_owned(), routes)]), "a test");
        assert!(
            drafts[0].text.contains("name = \"get_a_b_2\"\n"),
            "{}",
            drafts[0].text
        );
    }
}
