//! The mock app's objects: what callers created through its resources, kept per running
//! mock (one [`Store`] per [`MockServer`](crate::MockServer)), so every run starts empty.
//!
//! One mutex per resource: requests hold it for a map lookup or insert, never across an
//! await, so contention stays negligible next to the socket work around it.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::{Map, Value};

/// Members an object keeps at most; inviting one more answers 507.
pub(crate) const MAX_MEMBERS: usize = 100;

/// One object.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub(crate) id: String,
    /// The concrete collection path it was created under ("/v1/tenants/acme/workspaces"):
    /// the same id under another tenant's path is not this object.
    pub(crate) collection: String,
    pub(crate) owner: String,
    pub(crate) tenant: Option<String>,
    pub(crate) members: Vec<String>,
    /// The fields of the body it was created (or last replaced) with.
    pub(crate) data: Map<String, Value>,
}

impl Object {
    /// Its JSON form: the caller's fields, then `id`, `owner`, `tenant` and `members`,
    /// which the caller cannot overwrite.
    pub(crate) fn to_json(&self) -> Value {
        let mut body = self.data.clone();
        body.insert("id".to_owned(), Value::String(self.id.clone()));
        body.insert("owner".to_owned(), Value::String(self.owner.clone()));
        body.insert(
            "tenant".to_owned(),
            self.tenant.clone().map_or(Value::Null, Value::String),
        );
        body.insert(
            "members".to_owned(),
            Value::Array(self.members.iter().cloned().map(Value::String).collect()),
        );
        Value::Object(body)
    }
}

/// The objects of one resource.
#[derive(Debug, Default)]
pub(crate) struct Collection {
    next: u64,
    /// By number, so a list comes out in creation order.
    objects: BTreeMap<u64, Object>,
}

/// Why an object was not created.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Full;

impl Collection {
    /// Adds an object under the next id, unless `max` objects are kept already.
    pub(crate) fn create(
        &mut self,
        max: usize,
        make: impl FnOnce(String) -> Object,
    ) -> Result<&Object, Full> {
        if self.objects.len() >= max {
            return Err(Full);
        }
        self.next += 1;
        let object = make(self.next.to_string());
        Ok(self.objects.entry(self.next).or_insert(object))
    }

    /// The object `id` created under `collection`.
    pub(crate) fn get_mut(&mut self, collection: &str, id: &str) -> Option<&mut Object> {
        let number = parse_id(id)?;
        self.objects
            .get_mut(&number)
            .filter(|object| object.collection == collection)
    }

    /// Removes the object `id` created under `collection`.
    pub(crate) fn remove(&mut self, collection: &str, id: &str) -> Option<Object> {
        self.get_mut(collection, id)?;
        self.objects.remove(&parse_id(id)?)
    }

    /// The objects created under `collection`, oldest first.
    pub(crate) fn under<'a>(&'a self, collection: &'a str) -> impl Iterator<Item = &'a Object> {
        self.objects
            .values()
            .filter(move |object| object.collection == collection)
    }
}

/// Ids are the decimal numbers this store hands out; anything else names nothing
/// ("01" is not "1").
fn parse_id(id: &str) -> Option<u64> {
    id.parse::<u64>()
        .ok()
        .filter(|number| number.to_string() == id)
}

/// Every resource's objects, by the resource's index in the app.
#[derive(Debug, Default)]
pub(crate) struct Store {
    collections: Vec<Mutex<Collection>>,
}

impl Store {
    /// An empty store for an app with `resources` resources.
    pub(crate) fn new(resources: usize) -> Self {
        Self {
            collections: (0..resources).map(|_| Mutex::default()).collect(),
        }
    }

    /// The objects of resource `index`. A request that panicked while holding the lock
    /// left the map consistent (every change is one insert or remove), so a poisoned lock
    /// is taken over.
    pub(crate) fn collection(&self, index: usize) -> Option<MutexGuard<'_, Collection>> {
        self.collections
            .get(index)
            .map(|lock| lock.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(id: String) -> Object {
        Object {
            id,
            collection: "/v1/docs".to_owned(),
            owner: "alice".to_owned(),
            tenant: None,
            members: Vec::new(),
            data: Map::new(),
        }
    }

    #[test]
    fn ids_count_up_and_the_cap_holds() {
        let mut docs = Collection::default();
        assert_eq!(docs.create(2, object).unwrap().id, "1");
        assert_eq!(docs.create(2, object).unwrap().id, "2");
        assert_eq!(docs.create(2, object).unwrap_err(), Full);
        assert!(docs.remove("/v1/docs", "1").is_some());
        // A freed place is taken by a new id: an id is never handed out twice.
        assert_eq!(docs.create(2, object).unwrap().id, "3");
    }

    #[test]
    fn objects_are_found_only_under_their_collection_and_spelling() {
        let mut docs = Collection::default();
        docs.create(10, object).unwrap();
        assert!(docs.get_mut("/v1/docs", "1").is_some());
        assert!(docs.get_mut("/v1/other", "1").is_none());
        assert!(docs.get_mut("/v1/docs", "01").is_none());
        assert!(docs.get_mut("/v1/docs", "+1").is_none());
        assert!(docs.remove("/v1/other", "1").is_none());
        assert_eq!(docs.under("/v1/docs").count(), 1);
    }
}
