//! Compiling `[[origin.app.resource]]`: collection paths, grants, actions and the cap, and
//! the check that no resource path meets a route or another resource.

use std::ops::Range;

use toml::Spanned;

use super::Compiler;
use crate::app::{Route, Segment, parse_segments};
use crate::file::{self, Read};
use crate::resource::{Action, Grant, MEMBERS, Policy, Resource};

/// Objects a collection keeps unless `max_objects` says otherwise.
const DEFAULT_MAX_OBJECTS: usize = 10_000;
/// The most `max_objects` may say: a mock holds a test run's objects, not a database.
const MOST_OBJECTS: u64 = 1_000_000;

impl Compiler<'_> {
    /// Every resource, or `None` when any has a problem (all reported).
    pub(super) fn resources(
        &self,
        resources: &[Read<Spanned<file::ResourceFile>>],
        routes: &[(Route, Range<usize>)],
    ) -> Option<Vec<Resource>> {
        let mut compiled: Vec<(Resource, Range<usize>)> = Vec::new();
        let mut ok = true;
        for read in resources {
            let file = read.value.get_ref();
            let Some(resource) = self.resource(file) else {
                ok = false;
                continue;
            };
            let span = file.collection.span();
            let shapes = shapes(&resource);
            let route = routes
                .iter()
                .find(|(route, _)| shapes.iter().any(|s| may_meet(s, &route.segments)));
            let other = compiled.iter().find(|(other, _)| {
                shapes
                    .iter()
                    .any(|s| self::shapes(other).iter().any(|o| may_meet(s, o)))
            });
            let clash = route
                .map(|(route, span)| (route.label.clone(), span))
                .or(other.map(|(other, span)| (other.label.clone(), span)));
            if let Some((label, other_span)) = clash {
                let (line, _) = self.p.file().line_col(other_span.start);
                self.p
                    .error(
                        span,
                        format!("resource `{}` meets `{label}`", resource.label),
                    )
                    .label(format!("some paths match both this and line {line}"))
                    .help("a resource owns its collection path and everything under it: give one of them another literal segment");
                ok = false;
                continue;
            }
            compiled.push((resource, span));
        }
        ok.then(|| compiled.into_iter().map(|(r, _)| r).collect())
    }

    fn resource(&self, file: &file::ResourceFile) -> Option<Resource> {
        let path = file.collection.get_ref().trim();
        let segments = match parse_segments(path) {
            Ok(segments)
                if segments
                    .iter()
                    .any(|s| matches!(s, Segment::Literal(l) if !l.is_empty())) =>
            {
                Some(segments)
            }
            Ok(_) => {
                self.p
                    .error(
                        file.collection.span(),
                        "a collection needs a literal segment",
                    )
                    .label("expected e.g. \"/v1/docs\"");
                None
            }
            Err(message) => {
                self.p
                    .error(file.collection.span(), message)
                    .label("in this path");
                None
            }
        };
        let tenant_param = self.tenant_param(file.tenant_param.as_ref(), segments.as_deref(), path);
        let max_objects = match &file.max_objects {
            None => Some(DEFAULT_MAX_OBJECTS),
            Some(max) if (1..=MOST_OBJECTS).contains(max.get_ref()) => {
                usize::try_from(*max.get_ref()).ok()
            }
            Some(max) => {
                self.p
                    .error(max.span(), "`max_objects` must be from 1 to 1000000")
                    .label("out of range");
                None
            }
        };
        let create = self.policy(file.create.as_deref(), &["authenticated"], false);
        let list = self.policy(file.list.as_deref(), &["authenticated"], false);
        let read = self.policy(file.read.as_deref(), &["owner"], true);
        let update = self.policy(file.update.as_deref(), &["owner"], true);
        let delete = self.policy(file.delete.as_deref(), &["owner"], true);
        let invite = self.policy(file.invite.as_deref(), &["owner"], true);
        let mut actions = Vec::new();
        let mut actions_ok = true;
        for action in &file.action {
            match self.action(action) {
                Some(compiled) => {
                    if actions
                        .iter()
                        .any(|a: &Action| a.name == compiled.name && a.method == compiled.method)
                    {
                        self.p
                            .error(
                                action.request.span(),
                                format!("`{}` is listed twice", action.request.get_ref().trim()),
                            )
                            .label("a second action of the same method and name");
                        actions_ok = false;
                    } else {
                        actions.push(compiled);
                    }
                }
                None => actions_ok = false,
            }
        }
        let (segments, tenant_param, max_objects) = (segments?, tenant_param?, max_objects?);
        let (create, list, read, update, delete, invite) =
            (create?, list?, read?, update?, delete?, invite?);
        actions_ok.then(|| Resource {
            label: path.to_owned(),
            segments,
            tenant_param,
            conceal: file.conceal,
            max_objects,
            create,
            list,
            read,
            update,
            delete,
            invite,
            actions,
        })
    }

    fn action(&self, action: &file::ActionFile) -> Option<Action> {
        let span = action.request.span();
        let (method, name) = self.method_and_rest(
            &action.request,
            "an action is written \"METHOD name\"",
            "expected e.g. \"GET export\"",
        )?;
        let name = name.trim();
        let plain = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        let name = if name == MEMBERS {
            self.p
                .error(self.locate(span, name), "`members` is the invite route")
                .label("taken")
                .help("name the action otherwise, e.g. \"export\"");
            None
        } else if plain {
            Some(name.to_owned())
        } else {
            self.p
                .error(
                    self.locate(span, name),
                    format!("`{name}` is not a plain path segment"),
                )
                .label("letters, digits and `-`, `_`, `.` only, e.g. \"export\"");
            None
        };
        let allow = self.policy(Some(&action.allow), &[], true);
        Some(Action {
            method: method?,
            name: name?,
            allow: allow?,
        })
    }

    /// A list of grants; `on_object` says whether "owner" and "members" can mean anything.
    fn policy(
        &self,
        grants: Option<&[Spanned<String>]>,
        default: &[&str],
        on_object: bool,
    ) -> Option<Policy> {
        let Some(grants) = grants else {
            return Some(Policy(
                default.iter().filter_map(|g| parse_grant(g)).collect(),
            ));
        };
        let mut ok = true;
        let mut policy = Vec::new();
        for grant in grants {
            let text = grant.get_ref().trim();
            match parse_grant(text) {
                Some(Grant::Owner | Grant::Members) if !on_object => {
                    self.p
                        .error(grant.span(), format!("`{text}` needs an object"))
                        .label("creating and listing happen before there is one")
                        .help("use \"authenticated\", \"tenant\" or \"role:NAME\" here");
                    ok = false;
                }
                Some(parsed) => policy.push(parsed),
                None if text.starts_with("role:") => {
                    self.p
                        .error(grant.span(), "`role:` needs a role name")
                        .label("no role")
                        .help("e.g. \"role:admin\"");
                    ok = false;
                }
                None => {
                    let help = rolecall_scenario::did_you_mean(text, Grant::NAMES.iter().copied())
                        .unwrap_or_else(|| {
                            "grants: `authenticated`, `owner`, `members`, `tenant`, `role:NAME`"
                                .to_owned()
                        });
                    self.p
                        .error(grant.span(), format!("unknown grant `{text}`"))
                        .label("not a grant")
                        .help(help);
                    ok = false;
                }
            }
        }
        ok.then_some(Policy(policy))
    }
}

fn parse_grant(text: &str) -> Option<Grant> {
    match text {
        "authenticated" => Some(Grant::Authenticated),
        "owner" => Some(Grant::Owner),
        "members" => Some(Grant::Members),
        "tenant" => Some(Grant::Tenant),
        _ => {
            let role = text.strip_prefix("role:")?.trim();
            (!role.is_empty()).then(|| Grant::Role(role.to_owned()))
        }
    }
}

/// Every path shape a resource answers: the collection, an object, its members, its actions.
fn shapes(resource: &Resource) -> Vec<Vec<Segment>> {
    let collection = resource.segments.clone();
    let mut object = collection.clone();
    object.push(Segment::Param("id".to_owned()));
    let mut shapes = vec![collection, object.clone()];
    for name in std::iter::once(MEMBERS).chain(resource.actions.iter().map(|a| a.name.as_str())) {
        let mut under = object.clone();
        under.push(Segment::Literal(name.to_owned()));
        shapes.push(under);
    }
    shapes
}

/// Whether some path matches both shapes: a parameter meets any segment.
fn may_meet(a: &[Segment], b: &[Segment]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|pair| match pair {
            (Segment::Literal(x), Segment::Literal(y)) => x == y,
            _ => true,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse() {
        assert_eq!(parse_grant("owner"), Some(Grant::Owner));
        assert_eq!(parse_grant("role:admin"), Some(Grant::Role("admin".into())));
        assert_eq!(parse_grant("role:"), None);
        assert_eq!(parse_grant("owners"), None);
    }

    #[test]
    fn parameters_meet_literals() {
        let a = parse_segments("/v1/docs/{id}").unwrap();
        let b = parse_segments("/v1/{x}/7").unwrap();
        let c = parse_segments("/v1/files/{id}").unwrap();
        assert!(may_meet(&a, &b));
        assert!(!may_meet(&a, &c));
        assert!(!may_meet(&a, &parse_segments("/v1/docs").unwrap()));
    }
}
