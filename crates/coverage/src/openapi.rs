//! Swagger 2.0, OpenAPI 3.0 and 3.1 descriptions: operations and their declared security.
//!
//! Only what coverage needs is read (methods, path templates, base paths, tags, ids and
//! security), by walking the parsed value: one walker serves all three versions, and
//! `security: []` stays apart from a missing `security`, which typed models blur.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::document::Documents;
use crate::errors::{InputError, Place, pointer};

/// The methods an OpenAPI path item may hold, in the order the specification lists them.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Which specification a description follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// `swagger: "2.0"`.
    Swagger2,
    /// `openapi: 3.0.x`.
    OpenApi30,
    /// `openapi: 3.1.x`.
    OpenApi31,
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Spec::Swagger2 => "Swagger 2.0",
            Spec::OpenApi30 => "OpenAPI 3.0",
            Spec::OpenApi31 => "OpenAPI 3.1",
        })
    }
}

/// One alternative of a security requirement: every scheme named, each with its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement(pub Vec<(String, Vec<String>)>);

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (scheme, scopes)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" and ")?;
            }
            f.write_str(scheme)?;
            if !scopes.is_empty() {
                write!(f, " ({})", scopes.join(", "))?;
            }
        }
        Ok(())
    }
}

/// An operation's declared security: its own `security`, else the document's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// Neither the operation nor the document says anything.
    Absent,
    /// `security: []`: declared public, an explicit opt-out.
    OptOut,
    /// Credentials are optional: one alternative is the empty requirement `{}`.
    Optional(Vec<Requirement>),
    /// Credentials are required: any one of these alternatives.
    Required(Vec<Requirement>),
}

impl Security {
    /// Whether an anonymous caller may use the operation, as declared.
    pub fn declared_public(&self) -> bool {
        matches!(self, Security::OptOut | Security::Optional(_))
    }

    /// The alternatives, when credentials are required or optional.
    pub fn requirements(&self) -> &[Requirement] {
        match self {
            Security::Optional(r) | Security::Required(r) => r,
            _ => &[],
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alternatives = |f: &mut fmt::Formatter<'_>, r: &[Requirement]| {
            for (i, req) in r.iter().enumerate() {
                if i > 0 {
                    f.write_str(" or ")?;
                }
                write!(f, "{req}")?;
            }
            Ok(())
        };
        match self {
            Security::Absent => f.write_str("none declared"),
            Security::OptOut => f.write_str("public (`security: []`)"),
            Security::Optional(r) => {
                f.write_str("optional: ")?;
                alternatives(f, r)
            }
            Security::Required(r) => alternatives(f, r),
        }
    }
}

/// One operation: a method on a path template.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The method, uppercase.
    pub method: String,
    /// The path template as written under `paths`, e.g. `/pets/{petId}`.
    pub path: String,
    /// The path parts of the servers (or `basePath`) it is served under, e.g. `/v1`;
    /// empty when served at the root.
    pub base_paths: Vec<String>,
    /// `operationId`.
    pub operation_id: Option<String>,
    /// `summary`.
    pub summary: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// The declared security.
    pub security: Security,
    /// The JSON pointer of the operation in the root document.
    pub pointer: String,
}

impl Operation {
    /// `GET /pets/{petId}`.
    pub fn request_line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A read description.
#[derive(Debug, Clone)]
pub struct Description {
    /// The file named on the command line.
    pub file: PathBuf,
    /// Which specification it follows.
    pub spec: Spec,
    /// `info.title`.
    pub title: String,
    /// Every operation, by path (sorted: serde_json keeps object keys sorted), then in
    /// the specification's order of methods.
    pub operations: Vec<Operation>,
}

/// Reads the description at `path`, following its references; every problem is returned.
pub fn read_description(path: &Path) -> Result<Description, Vec<InputError>> {
    let docs = Documents::load(path)?;
    Walker {
        docs: &docs,
        errors: Vec::new(),
    }
    .description()
}

struct Walker<'a> {
    docs: &'a Documents,
    errors: Vec<InputError>,
}

impl Walker<'_> {
    fn error(&mut self, at: String, message: impl Into<String>) {
        self.errors.push(InputError {
            file: self.docs.root.clone(),
            place: Place::Pointer(at),
            message: message.into(),
        });
    }

    fn description(mut self) -> Result<Description, Vec<InputError>> {
        let root = self.docs.root_value();
        let Some(doc) = root.as_object() else {
            self.error(String::new(), "an API description is a JSON or YAML object");
            return Err(self.errors);
        };
        let spec = match (doc.get("swagger"), doc.get("openapi")) {
            (Some(Value::String(v)), None) if v == "2.0" => Spec::Swagger2,
            (None, Some(Value::String(v))) if v.starts_with("3.0.") || v == "3.0" => {
                Spec::OpenApi30
            }
            (None, Some(Value::String(v))) if v.starts_with("3.1.") || v == "3.1" => {
                Spec::OpenApi31
            }
            (Some(_), _) => {
                self.error(
                    "/swagger".into(),
                    "only Swagger 2.0 (`swagger: \"2.0\"`) is read",
                );
                return Err(self.errors);
            }
            (_, Some(_)) => {
                self.error("/openapi".into(), "only OpenAPI 3.0.x and 3.1.x are read");
                return Err(self.errors);
            }
            (None, None) => {
                self.error(
                    String::new(),
                    "neither `swagger` nor `openapi` is set: this is not an API description",
                );
                return Err(self.errors);
            }
        };
        let title = doc
            .get("info")
            .and_then(|i| i.get("title"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let schemes = self.schemes(doc, spec);
        let global = self.security(doc.get("security"), "/security", &schemes);
        let servers = match spec {
            Spec::Swagger2 => vec![
                doc.get("basePath")
                    .and_then(Value::as_str)
                    .map(trim_base)
                    .unwrap_or_default(),
            ],
            _ => self.servers(doc.get("servers"), "/servers"),
        };
        let mut operations = Vec::new();
        match doc.get("paths") {
            Some(Value::Object(paths)) => {
                for (template, item) in paths {
                    let at = pointer("/paths", &[template]);
                    if template.starts_with("x-") {
                        continue;
                    }
                    if !template.starts_with('/') {
                        self.error(at, format!("path `{template}` does not start with `/`"));
                        continue;
                    }
                    let root = self.docs.root.clone();
                    let Some((_, item)) = self.docs.resolve(&root, item) else {
                        self.error(at, "`$ref` cycle");
                        continue;
                    };
                    let Some(item) = item.as_object() else {
                        self.error(at, "a path item is an object");
                        continue;
                    };
                    let item_servers = match item.get("servers") {
                        Some(s) => self.servers(Some(s), &pointer(&at, &["servers"])),
                        None => servers.clone(),
                    };
                    for method in METHODS {
                        let Some(op) = item.get(method) else { continue };
                        let op_at = pointer(&at, &[method]);
                        let Some(op) = op.as_object() else {
                            self.error(op_at, "an operation is an object");
                            continue;
                        };
                        let security = match op.get("security") {
                            Some(s) => {
                                self.security(Some(s), &pointer(&op_at, &["security"]), &schemes)
                            }
                            None => global.clone(),
                        };
                        let base_paths = match op.get("servers") {
                            Some(s) => self.servers(Some(s), &pointer(&op_at, &["servers"])),
                            None => item_servers.clone(),
                        };
                        let text = |k: &str| op.get(k).and_then(Value::as_str).map(str::to_owned);
                        let tags = op
                            .get("tags")
                            .and_then(Value::as_array)
                            .map(|t| {
                                t.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_owned)
                                    .collect()
                            })
                            .unwrap_or_default();
                        operations.push(Operation {
                            method: method.to_ascii_uppercase(),
                            path: template.clone(),
                            base_paths,
                            operation_id: text("operationId"),
                            summary: text("summary"),
                            tags,
                            security,
                            pointer: op_at,
                        });
                    }
                }
            }
            Some(_) => self.error("/paths".into(), "`paths` is an object"),
            None if spec == Spec::OpenApi31 => {}
            None => self.error(String::new(), "`paths` is missing"),
        }
        if self.errors.is_empty() {
            Ok(Description {
                file: self.docs.root.clone(),
                spec,
                title,
                operations,
            })
        } else {
            Err(self.errors)
        }
    }

    /// The security schemes by name, with whether each carries scopes (OAuth 2 and
    /// OpenID Connect do).
    fn schemes(&mut self, doc: &Map<String, Value>, spec: Spec) -> BTreeSet<String> {
        let (found, at) = match spec {
            Spec::Swagger2 => (doc.get("securityDefinitions"), "/securityDefinitions"),
            _ => (
                doc.get("components").and_then(|c| c.get("securitySchemes")),
                "/components/securitySchemes",
            ),
        };
        let mut schemes = BTreeSet::new();
        let Some(found) = found else { return schemes };
        let Some(map) = found.as_object() else {
            self.error(at.into(), "security schemes are an object");
            return schemes;
        };
        let root = self.docs.root.clone();
        for (name, scheme) in map {
            let kind = self
                .docs
                .resolve(&root, scheme)
                .and_then(|(_, s)| s.get("type"))
                .and_then(Value::as_str);
            match kind {
                Some(_) => {
                    schemes.insert(name.clone());
                }
                None => self.error(pointer(at, &[name]), "a security scheme needs a `type`"),
            }
        }
        schemes
    }

    /// A `security` value: absent, `[]`, or alternatives of scheme → scopes.
    fn security(
        &mut self,
        value: Option<&Value>,
        at: &str,
        schemes: &BTreeSet<String>,
    ) -> Security {
        let Some(value) = value else {
            return Security::Absent;
        };
        let Some(items) = value.as_array() else {
            self.error(at.into(), "`security` is a list of requirements");
            return Security::Absent;
        };
        if items.is_empty() {
            return Security::OptOut;
        }
        let mut optional = false;
        let mut alternatives = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_at = format!("{at}/{i}");
            let Some(map) = item.as_object() else {
                self.error(
                    item_at,
                    "a security requirement maps scheme names to scopes",
                );
                continue;
            };
            if map.is_empty() {
                optional = true;
                continue;
            }
            let mut requirement = Vec::new();
            for (scheme, scopes) in map {
                let scheme_at = pointer(&item_at, &[scheme]);
                if !schemes.contains(scheme) {
                    self.error(
                        scheme_at.clone(),
                        format!("no security scheme `{scheme}` is defined"),
                    );
                }
                let Some(scopes) = scopes.as_array() else {
                    self.error(scheme_at, "scopes are a list of strings");
                    continue;
                };
                let scopes = scopes
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
                requirement.push((scheme.clone(), scopes));
            }
            alternatives.push(Requirement(requirement));
        }
        if optional {
            Security::Optional(alternatives)
        } else {
            Security::Required(alternatives)
        }
    }

    /// The path parts of `servers` (variables set to their defaults); `[""]` when none.
    fn servers(&mut self, value: Option<&Value>, at: &str) -> Vec<String> {
        let Some(value) = value else {
            return vec![String::new()];
        };
        let Some(items) = value.as_array() else {
            self.error(at.into(), "`servers` is a list");
            return vec![String::new()];
        };
        let mut paths: Vec<String> = Vec::new();
        for (i, server) in items.iter().enumerate() {
            let Some(url) = server.get("url").and_then(Value::as_str) else {
                self.error(format!("{at}/{i}"), "a server needs a `url`");
                continue;
            };
            let mut url = url.to_owned();
            if let Some(vars) = server.get("variables").and_then(Value::as_object) {
                for (name, var) in vars {
                    if let Some(default) = var.get("default").and_then(Value::as_str) {
                        url = url.replace(&format!("{{{name}}}"), default);
                    }
                }
            }
            let path = match url.find("://") {
                Some(i) => url[i + 3..]
                    .find('/')
                    .map_or("", |j| &url[i + 3 + j..])
                    .to_owned(),
                None => url,
            };
            let path = trim_base(&path);
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        if paths.is_empty() {
            paths.push(String::new());
        }
        paths
    }
}

fn trim_base(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = path.trim_end_matches('/');
    if path.is_empty() || path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}
