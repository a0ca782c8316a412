//! Path templates and how a suite's request paths match them.
//!
//! A description's `{param}` matches any one segment; a suite's `{var}` (filled per
//! identity at run time) matches only a description parameter, never a literal, since its
//! value is not known here. Empty segments (a trailing or doubled slash) and the query are
//! ignored. Where several templates match, the one with more literal segments wins, as
//! OpenAPI says concrete paths match before templated ones.

use std::collections::HashMap;

/// One segment of a path or template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Literal text.
    Literal(String),
    /// A whole-segment placeholder: `{id}`.
    Param,
    /// A placeholder inside literal text: `{name}.json` keeps `("", ".json")`.
    Partial(String, String),
}

/// The segments of `path` (its query cut off).
pub(crate) fn segments(path: &str) -> Vec<Segment> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match (s.find('{'), s.rfind('}')) {
            (Some(0), Some(end)) if end == s.len() - 1 && s[1..end].find('{').is_none() => {
                Segment::Param
            }
            (Some(start), Some(end)) if start < end => {
                Segment::Partial(s[..start].to_owned(), s[end + 1..].to_owned())
            }
            _ => Segment::Literal(s.to_owned()),
        })
        .collect()
}

/// How well `path` (a suite route's or a capture's) fits `template`: the number of
/// literal segments matched, or `None`.
fn fit(path: &[Segment], template: &[Segment]) -> Option<usize> {
    if path.len() != template.len() {
        return None;
    }
    let mut literals = 0;
    for (p, t) in path.iter().zip(template) {
        match (p, t) {
            (Segment::Literal(a), Segment::Literal(b)) if a == b => literals += 1,
            (Segment::Literal(a), Segment::Partial(pre, post))
                if a.len() > pre.len() + post.len()
                    && a.starts_with(pre.as_str())
                    && a.ends_with(post.as_str()) => {}
            (Segment::Literal(_) | Segment::Param | Segment::Partial(..), Segment::Param) => {}
            _ => return None,
        }
    }
    Some(literals)
}

/// Operation templates indexed by method and segment count, each under every base path
/// it is served at and also without one (a suite whose base URL already holds the base
/// path).
#[derive(Debug, Default)]
pub(crate) struct Index {
    by_shape: HashMap<Shape, Vec<(usize, Vec<Segment>)>>,
}

/// A method and a segment count.
type Shape = (String, usize);

impl Index {
    /// Adds template `id`: `method` on `base + path` for each base path.
    pub(crate) fn insert(&mut self, id: usize, method: &str, path: &str, base_paths: &[String]) {
        let template = segments(path);
        let mut shapes: Vec<Vec<Segment>> = vec![template.clone()];
        for base in base_paths {
            let mut full = segments(base);
            if full.is_empty() {
                continue;
            }
            full.extend(template.iter().cloned());
            if !shapes.contains(&full) {
                shapes.push(full);
            }
        }
        for shape in shapes {
            self.by_shape
                .entry((method.to_owned(), shape.len()))
                .or_default()
                .push((id, shape));
        }
    }

    /// The template `method path` fits best (most literal segments, then the first).
    pub(crate) fn best(&self, method: &str, path: &[Segment]) -> Option<usize> {
        let candidates = self.by_shape.get(&(method.to_owned(), path.len()))?;
        let mut best: Option<(usize, usize)> = None;
        for (id, template) in candidates {
            if let Some(score) = fit(path, template)
                && best.is_none_or(|(_, s)| score > s)
            {
                best = Some((*id, score));
            }
        }
        best.map(|(id, _)| id)
    }
}

/// Whether a concrete captured path fits a suite route's path (whose `{var}`s match any
/// one segment).
pub(crate) fn fits_route(captured: &[Segment], route: &[Segment]) -> bool {
    captured.len() == route.len()
        && captured.iter().zip(route).all(|(c, r)| match (c, r) {
            (_, Segment::Param) => true,
            (Segment::Literal(a), Segment::Literal(b)) => a == b,
            (Segment::Literal(a), Segment::Partial(pre, post)) => {
                a.starts_with(pre.as_str()) && a.ends_with(post.as_str())
            }
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(templates: &[(&str, &[&str])], method: &str, path: &str, expected: Option<usize>) {
        let mut index = Index::default();
        for (id, (template, bases)) in templates.iter().enumerate() {
            let bases: Vec<String> = bases.iter().map(|b| (*b).to_owned()).collect();
            index.insert(id, "GET", template, &bases);
        }
        assert_eq!(
            index.best(method, &segments(path)),
            expected,
            "{method} {path}"
        );
    }

    #[test]
    fn parameters_match_whatever_their_names() {
        check(&[("/pets/{petId}", &[])], "GET", "/pets/{id}", Some(0));
        check(&[("/pets/{petId}", &[])], "GET", "/pets/42", Some(0));
        check(&[("/pets/{petId}", &[])], "GET", "/pets/42/", Some(0));
        check(&[("/pets/{petId}", &[])], "GET", "/pets/42?x=1", Some(0));
        check(&[("/pets/{petId}", &[])], "POST", "/pets/42", None);
        check(&[("/pets/{petId}", &[])], "GET", "/pets", None);
    }

    #[test]
    fn a_suite_variable_never_matches_a_literal() {
        check(&[("/pets/mine", &[])], "GET", "/pets/{tenant}", None);
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        let t: &[(&str, &[&str])] = &[("/users/{id}", &[]), ("/users/me", &[])];
        check(t, "GET", "/users/me", Some(1));
        check(t, "GET", "/users/u-1", Some(0));
    }

    #[test]
    fn base_paths_may_be_present_or_not() {
        let t: &[(&str, &[&str])] = &[("/pets", &["/v1", "/api/v2"])];
        check(t, "GET", "/v1/pets", Some(0));
        check(t, "GET", "/api/v2/pets", Some(0));
        check(t, "GET", "/pets", Some(0));
        check(t, "GET", "/v3/pets", None);
    }

    #[test]
    fn partial_parameters_keep_their_literal_text() {
        check(
            &[("/files/{name}.json", &[])],
            "GET",
            "/files/a.json",
            Some(0),
        );
        check(&[("/files/{name}.json", &[])], "GET", "/files/a.xml", None);
    }

    #[test]
    fn captured_paths_fit_routes_with_variables() {
        assert!(fits_route(
            &segments("/v1/tenants/acme/projects"),
            &segments("/v1/tenants/{tenant}/projects")
        ));
        assert!(!fits_route(
            &segments("/v1/tenants/acme/members"),
            &segments("/v1/tenants/{tenant}/projects")
        ));
    }
}
