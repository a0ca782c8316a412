//! The mock app's resources: collections whose objects callers create, read, change,
//! share and delete through the API, each object owned by its creator and kept in the
//! running mock's [`Store`].
//!
//! Refusals are the app's own (the JSON body with `code`, `message` and `request_id`), so
//! attribution and deny-body snapshots treat them like any route's. With `conceal`, a
//! caller who may not read an object gets the same 404 as an id that was never handed out.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header;
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::answer::{
    AppAnswer, AppRequest, Segment, check_tenant, header_value, json_answer, match_prefix,
    method_not_allowed, not_found, refuse,
};
use crate::auth::Principal;
use crate::store::{Collection, Full, MAX_MEMBERS, Object, Store};

/// Largest body an object is created or replaced with; larger ones answer 413.
pub(crate) const MAX_OBJECT_BYTES: usize = 16 * 1024;

/// Longest subject an invite names.
const MAX_SUBJECT_BYTES: usize = 256;

/// The path segment of the invite route, `{collection}/{id}/members`.
pub(crate) const MEMBERS: &str = "members";

/// One way a caller may be allowed; a policy allows when any of its grants does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grant {
    /// Any signed-in caller.
    Authenticated,
    /// The object's creator.
    Owner,
    /// Callers added through the invite route.
    Members,
    /// Callers of the object's tenant (for create and list: callers with a tenant).
    Tenant,
    /// Callers with this role, within the object's tenant (an admin of another tenant is
    /// not an admin here).
    Role(String),
}

impl Grant {
    /// The spellings of `mock.toml`, for "did you mean".
    pub(crate) const NAMES: [&str; 5] = ["authenticated", "owner", "members", "tenant", "role:"];

    /// Whether the grant lets `principal` at `object` (`None`: the collection itself).
    fn admits(&self, principal: &Principal, object: Option<&Object>) -> bool {
        match self {
            Self::Authenticated => true,
            Self::Owner => object.is_some_and(|o| o.owner == principal.sub),
            Self::Members => object.is_some_and(|o| o.members.contains(&principal.sub)),
            Self::Tenant => match object {
                Some(o) => o.tenant.is_some() && o.tenant == principal.tenant,
                None => principal.tenant.is_some(),
            },
            Self::Role(role) => {
                principal.roles.contains(role)
                    && object.is_none_or(|o| o.tenant.is_none() || o.tenant == principal.tenant)
            }
        }
    }
}

/// Who may do one thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy(pub(crate) Vec<Grant>);

impl Policy {
    fn admits(&self, principal: &Principal, object: Option<&Object>) -> bool {
        self.0.iter().any(|grant| grant.admits(principal, object))
    }
}

/// An operation on an object at `{collection}/{id}/{name}`.
#[derive(Debug)]
pub(crate) struct Action {
    pub(crate) method: Method,
    pub(crate) name: String,
    pub(crate) allow: Policy,
}

/// A compiled `[[origin.app.resource]]`.
#[derive(Debug)]
pub(crate) struct Resource {
    /// The collection path as written, for messages.
    pub(crate) label: String,
    pub(crate) segments: Vec<Segment>,
    pub(crate) tenant_param: Option<String>,
    pub(crate) conceal: bool,
    pub(crate) max_objects: usize,
    pub(crate) create: Policy,
    pub(crate) list: Policy,
    pub(crate) read: Policy,
    pub(crate) update: Policy,
    pub(crate) delete: Policy,
    pub(crate) invite: Policy,
    pub(crate) actions: Vec<Action>,
}

/// Where in a resource a request lands.
#[derive(Debug, Clone, Copy)]
enum Target<'p> {
    Collection,
    Object(&'p str),
    Members(&'p str),
    Action(&'p str, &'p str),
}

/// What a request found of a resource: which, its parameters, its concrete collection
/// path and the part of it addressed.
struct Found<'a> {
    index: usize,
    resource: &'a Resource,
    params: BTreeMap<&'a str, &'a str>,
    collection: &'a str,
    target: Target<'a>,
}

/// The answer of the resource `request` addresses, if it addresses one; `caller` checks
/// the request (CSRF) and authenticates it.
pub(crate) fn handle(
    resources: &[Resource],
    request: &AppRequest<'_>,
    store: &Store,
    caller: impl FnOnce() -> Result<Principal, Box<AppAnswer>>,
) -> Option<AppAnswer> {
    let found = resources.iter().enumerate().find_map(|(index, r)| {
        let (params, collection, target) = locate(&r.segments, request.path)?;
        // A name that is none of this resource's actions may be another's path.
        if let Target::Action(_, name) = target
            && !r.actions.iter().any(|a| a.name == name)
        {
            return None;
        }
        Some(Found {
            index,
            resource: r,
            params,
            collection,
            target,
        })
    })?;
    let principal = match caller() {
        Ok(principal) => principal,
        Err(answer) => return Some(*answer),
    };
    let resource = found.resource;
    if let Some(answer) = check_tenant(
        resource.tenant_param.as_deref(),
        &found.params,
        &principal,
        resource.conceal,
        request,
    ) {
        return Some(answer);
    }
    // A store built for another app has no such collection: nothing was created.
    let Some(mut objects) = store.collection(found.index) else {
        return Some(not_found(request));
    };
    let context = Context {
        resource,
        principal: &principal,
        collection: found.collection,
        request,
    };
    Some(context.answer(&mut objects, found.target))
}

/// A request to one resource by an authenticated caller.
struct Context<'a> {
    resource: &'a Resource,
    principal: &'a Principal,
    collection: &'a str,
    request: &'a AppRequest<'a>,
}

impl Context<'_> {
    fn answer(&self, objects: &mut Collection, target: Target<'_>) -> AppAnswer {
        let method = self.request.method;
        let get = *method == Method::GET || *method == Method::HEAD;
        match target {
            Target::Collection if get => self.list(objects),
            Target::Collection if *method == Method::POST => self.create(objects),
            Target::Collection => self.method_not_allowed("GET, POST"),
            Target::Object(id) => {
                let (policy, verb) = match *method {
                    _ if get => (&self.resource.read, "read"),
                    Method::PUT | Method::PATCH => (&self.resource.update, "change"),
                    Method::DELETE => (&self.resource.delete, "delete"),
                    _ => return self.method_not_allowed("GET, PUT, PATCH, DELETE"),
                };
                let Some(object) = objects.get_mut(self.collection, id) else {
                    return not_found(self.request);
                };
                if let Some(refusal) = self.check(policy, object, verb) {
                    return refusal;
                }
                match *method {
                    Method::DELETE => {
                        objects.remove(self.collection, id);
                        let mut answer =
                            json_answer(StatusCode::NO_CONTENT, &Value::Null, self.request);
                        answer.body = Bytes::new();
                        answer.headers.remove(header::CONTENT_TYPE);
                        answer
                    }
                    Method::PUT | Method::PATCH => match self.data() {
                        Ok(data) => {
                            let data = if *method == Method::PUT {
                                data
                            } else {
                                let mut merged = object.data.clone();
                                merged.extend(data);
                                merged
                            };
                            // Changes add up: the merged object is held to the same bound.
                            if Value::Object(data.clone()).to_string().len() > MAX_OBJECT_BYTES {
                                return self.too_large();
                            }
                            object.data = data;
                            json_answer(StatusCode::OK, &object.to_json(), self.request)
                        }
                        Err(answer) => *answer,
                    },
                    _ => json_answer(StatusCode::OK, &object.to_json(), self.request),
                }
            }
            Target::Members(id) if *method == Method::POST => {
                let Some(object) = objects.get_mut(self.collection, id) else {
                    return not_found(self.request);
                };
                if let Some(refusal) = self.check(&self.resource.invite, object, "share") {
                    return refusal;
                }
                self.invite(object)
            }
            Target::Members(_) => self.method_not_allowed("POST"),
            Target::Action(id, name) => {
                let actions: Vec<&Action> = self
                    .resource
                    .actions
                    .iter()
                    .filter(|a| a.name == name)
                    .collect();
                let Some(action) = actions.iter().find(|a| {
                    a.method == *method || (*method == Method::HEAD && a.method == Method::GET)
                }) else {
                    let allow: Vec<&str> = actions.iter().map(|a| a.method.as_str()).collect();
                    return self.method_not_allowed(&allow.join(", "));
                };
                let Some(object) = objects.get_mut(self.collection, id) else {
                    return not_found(self.request);
                };
                if let Some(refusal) = self.check(&action.allow, object, name) {
                    return refusal;
                }
                let body = json!({
                    "id": object.id,
                    "action": name,
                    "by": self.principal.sub,
                    "request_id": self.request.request_id,
                });
                json_answer(StatusCode::OK, &body, self.request)
            }
        }
    }

    /// The refusal of `verb` on `object` when `policy` does not admit the caller. A
    /// caller who may not even read it, under `conceal`, learns nothing: 404.
    fn check(&self, policy: &Policy, object: &Object, verb: &str) -> Option<AppAnswer> {
        if policy.admits(self.principal, Some(object)) {
            return None;
        }
        if self.resource.conceal && !self.resource.read.admits(self.principal, Some(object)) {
            return Some(not_found(self.request));
        }
        Some(refuse(
            StatusCode::FORBIDDEN,
            "not_permitted",
            &format!(
                "You may not {verb} this object of {}. Ask its owner to share it with you.",
                self.resource.label
            ),
            self.request,
        ))
    }

    fn list(&self, objects: &Collection) -> AppAnswer {
        if !self.resource.list.admits(self.principal, None) {
            return self.collection_refusal("list");
        }
        let items: Vec<Value> = objects
            .under(self.collection)
            .filter(|o| self.resource.read.admits(self.principal, Some(o)))
            .map(Object::to_json)
            .collect();
        json_answer(
            StatusCode::OK,
            &json!({ "items": items, "request_id": self.request.request_id }),
            self.request,
        )
    }

    fn create(&self, objects: &mut Collection) -> AppAnswer {
        if !self.resource.create.admits(self.principal, None) {
            return self.collection_refusal("create");
        }
        let data = match self.data() {
            Ok(data) => data,
            Err(answer) => return *answer,
        };
        let created = objects.create(self.resource.max_objects, |id| Object {
            id,
            collection: self.collection.to_owned(),
            owner: self.principal.sub.clone(),
            tenant: self.principal.tenant.clone(),
            members: Vec::new(),
            data,
        });
        match created {
            Ok(object) => {
                let mut answer = json_answer(StatusCode::CREATED, &object.to_json(), self.request);
                let location = format!("{}/{}", self.collection, object.id);
                answer
                    .headers
                    .insert(header::LOCATION, header_value(&location));
                answer
            }
            Err(Full) => {
                self.full("This collection is full. Delete objects you no longer need, then retry.")
            }
        }
    }

    fn invite(&self, object: &mut Object) -> AppAnswer {
        let form: Value = serde_json::from_slice(self.request.body).unwrap_or(Value::Null);
        let Some(user) = form
            .get("user")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty() && u.len() <= MAX_SUBJECT_BYTES)
        else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "Invite with a JSON body {\"user\": \"<subject>\"} (a subject of at most 256 bytes).",
                self.request,
            );
        };
        if !object.members.iter().any(|m| m == user) {
            if object.members.len() >= MAX_MEMBERS {
                return self
                    .full("This object has as many members as it may. Remove one, then retry.");
            }
            object.members.push(user.to_owned());
        }
        json_answer(StatusCode::CREATED, &object.to_json(), self.request)
    }

    /// The body's fields: an object, or nothing at all.
    fn data(&self) -> Result<Map<String, Value>, Box<AppAnswer>> {
        let body = self.request.body;
        if body.len() > MAX_OBJECT_BYTES {
            return Err(Box::new(self.too_large()));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice(body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(Box::new(refuse(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "Send the object as a JSON object, e.g. {\"title\": \"Q3 plan\"}.",
                self.request,
            ))),
        }
    }

    fn too_large(&self) -> AppAnswer {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "An object holds at most 16 KiB of JSON. Send less.",
            self.request,
        )
    }

    fn collection_refusal(&self, verb: &str) -> AppAnswer {
        refuse(
            StatusCode::FORBIDDEN,
            "insufficient_role",
            &format!(
                "Your account may not {verb} objects of {}. Ask an administrator of your workspace to grant you access to it.",
                self.resource.label
            ),
            self.request,
        )
    }

    fn full(&self, message: &str) -> AppAnswer {
        refuse(
            StatusCode::INSUFFICIENT_STORAGE,
            "storage_full",
            message,
            self.request,
        )
    }

    fn method_not_allowed(&self, allow: &str) -> AppAnswer {
        method_not_allowed(allow, self.request)
    }
}

/// Matches `path` against a collection's segments: its parameters, the concrete
/// collection path, and what follows it (nothing, an id, `{id}/members`, `{id}/{action}`).
fn locate<'p>(
    segments: &'p [Segment],
    path: &'p str,
) -> Option<(BTreeMap<&'p str, &'p str>, &'p str, Target<'p>)> {
    let (params, rest) = match_prefix(segments, path)?;
    let collection = &path[..path.len() - rest.len()];
    let rest: Vec<&str> = match rest.strip_prefix('/') {
        Some(rest) => rest.split('/').collect(),
        None => Vec::new(),
    };
    if rest.iter().any(|piece| piece.is_empty()) {
        return None;
    }
    let target = match rest[..] {
        [] => Target::Collection,
        [id] => Target::Object(id),
        [id, MEMBERS] => Target::Members(id),
        [id, name] => Target::Action(id, name),
        _ => return None,
    };
    Some((params, collection, target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::parse_segments;

    #[test]
    fn paths_land_on_collection_object_members_and_actions() {
        let segments = parse_segments("/v1/tenants/{tenant}/workspaces").unwrap();
        let (params, collection, target) =
            locate(&segments, "/v1/tenants/acme/workspaces").unwrap();
        assert_eq!(params.get("tenant"), Some(&"acme"));
        assert_eq!(collection, "/v1/tenants/acme/workspaces");
        assert!(matches!(target, Target::Collection));
        let at = |path| locate(&segments, path).map(|(_, c, t)| (c, t));
        assert!(matches!(
            at("/v1/tenants/acme/workspaces/7"),
            Some(("/v1/tenants/acme/workspaces", Target::Object("7")))
        ));
        assert!(matches!(
            at("/v1/tenants/acme/workspaces/7/members"),
            Some((_, Target::Members("7")))
        ));
        assert!(matches!(
            at("/v1/tenants/acme/workspaces/7/export"),
            Some((_, Target::Action("7", "export")))
        ));
        assert!(at("/v1/tenants/acme/workspaces/").is_none());
        assert!(at("/v1/tenants/acme/workspaces/7/export/x").is_none());
        assert!(at("/v1/tenants//workspaces").is_none());
        assert!(at("/v1/tenants/acme").is_none());
    }

    fn principal(sub: &str, tenant: Option<&str>, roles: &[&str]) -> Principal {
        Principal {
            sub: sub.to_owned(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            scopes: Vec::new(),
            tenant: tenant.map(str::to_owned),
        }
    }

    #[test]
    fn grants_admit_exactly_whom_they_name() {
        let object = Object {
            id: "1".to_owned(),
            collection: "/v1/docs".to_owned(),
            owner: "alice".to_owned(),
            tenant: Some("acme".to_owned()),
            members: vec!["carol".to_owned()],
            data: Map::new(),
        };
        let alice = principal("alice", Some("acme"), &[]);
        let bob = principal("bob", Some("acme"), &["admin"]);
        let carol = principal("carol", Some("globex"), &[]);
        let eve = principal("eve", None, &[]);
        let admits = |grant: Grant, who: &Principal| grant.admits(who, Some(&object));
        assert!(admits(Grant::Owner, &alice) && !admits(Grant::Owner, &bob));
        assert!(admits(Grant::Members, &carol) && !admits(Grant::Members, &alice));
        assert!(admits(Grant::Tenant, &bob) && !admits(Grant::Tenant, &carol));
        assert!(!admits(Grant::Tenant, &eve));
        assert!(admits(Grant::Role("admin".into()), &bob));
        assert!(!admits(Grant::Role("admin".into()), &alice));
        let other_admin = principal("gina", Some("globex"), &["admin"]);
        assert!(!admits(Grant::Role("admin".into()), &other_admin));
        assert!(admits(Grant::Authenticated, &eve));
        // Without an object, only the caller's own standing counts.
        assert!(!Grant::Owner.admits(&alice, None));
        assert!(Grant::Tenant.admits(&alice, None) && !Grant::Tenant.admits(&eve, None));
        let either = Policy(vec![Grant::Owner, Grant::Role("admin".into())]);
        assert!(either.admits(&alice, Some(&object)) && either.admits(&bob, Some(&object)));
        assert!(!either.admits(&carol, Some(&object)));
    }

    #[test]
    fn an_object_without_a_tenant_is_no_tenant_s() {
        let object = Object {
            id: "1".to_owned(),
            collection: "/v1/docs".to_owned(),
            owner: "alice".to_owned(),
            tenant: None,
            members: Vec::new(),
            data: Map::new(),
        };
        assert!(!Grant::Tenant.admits(&principal("eve", None, &[]), Some(&object)));
    }
}
