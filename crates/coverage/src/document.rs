//! Reading JSON and YAML files into `serde_json::Value`, and `$ref`s across them.
//!
//! Every file a reference reaches (relative paths only, to files in the description's
//! directory or below it: nothing is fetched, and neither an absolute path, a `..` out of
//! that directory nor a link out of it is followed) is read once, up front, and every
//! `$ref` in every file is checked, so an unresolvable one is reported with the pointer of
//! the `$ref` itself, all at once.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::errors::{InputError, Place, pointer};

/// The largest file read: big public descriptions are tens of megabytes.
const MAX_FILE: u64 = 256 << 20;
/// The longest chain of references followed to reach a value.
const MAX_HOPS: usize = 64;

/// Reads `path` as JSON or YAML (YAML is a superset: JSON files parse with the faster JSON
/// parser, picked by the first non-blank byte).
pub(crate) fn read(path: &Path) -> Result<Value, InputError> {
    let at_file = |message: String| InputError {
        file: path.to_owned(),
        place: Place::File,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| at_file(format!("cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(at_file("is not a regular file".into()));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| at_file(format!("cannot be read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(at_file(format!("is larger than {} MiB", MAX_FILE >> 20)));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let (line, col) = line_col(&e.as_bytes()[..e.utf8_error().valid_up_to()]);
        InputError {
            file: path.to_owned(),
            place: Place::LineCol(line, col),
            message: "is not UTF-8 text".into(),
        }
    })?;
    parse(path, &text)
}

fn line_col(before: &[u8]) -> (usize, usize) {
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, col)
}

/// Parses `text` (the contents of `path`) as JSON when it starts with `{` or `[`, else as
/// YAML.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Value, InputError> {
    let error = |line: usize, col: usize, message: String| InputError {
        file: path.to_owned(),
        place: Place::LineCol(line, col),
        message,
    };
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|e| {
            let offset = text.len() - trimmed.len();
            let (extra_line, _) = line_col(&text.as_bytes()[..offset]);
            let message = e.to_string();
            let message = message.split(" at line").next().unwrap_or("").to_owned();
            error(
                e.line() + extra_line - 1,
                e.column(),
                format!("invalid JSON: {message}"),
            )
        })
    } else {
        serde_norway::from_str(text).map_err(|e| {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            let message = e.to_string();
            let message = message.split(" at line").next().unwrap_or("").to_owned();
            error(line, col, format!("invalid YAML: {message}"))
        })
    }
}

/// Every file of a description, read once, keyed by its normalised path.
#[derive(Debug)]
pub(crate) struct Documents {
    /// The file named on the command line.
    pub(crate) root: PathBuf,
    /// Its directory: references reach files in it or below it only.
    base: PathBuf,
    files: BTreeMap<PathBuf, Value>,
}

impl Documents {
    /// Reads `root` and every file its references reach, and checks every reference.
    pub(crate) fn load(root: &Path) -> Result<Documents, Vec<InputError>> {
        let root = normalise(root);
        let first = read(&root).map_err(|e| vec![e])?;
        let base = root.parent().unwrap_or(Path::new("")).to_owned();
        let mut docs = Documents {
            root: root.clone(),
            base,
            files: BTreeMap::new(),
        };
        docs.files.insert(root.clone(), first);
        let mut errors = Vec::new();
        let mut queue = VecDeque::from([root]);
        let mut all_refs = Vec::new();
        // Load every file reached, breadth first.
        while let Some(file) = queue.pop_front() {
            let mut refs = Vec::new();
            collect_refs(&docs.files[&file], &mut refs);
            for (at, reference) in &refs {
                let (at, reference) = (at.clone(), reference.as_str());
                match split(&file, &docs.base, reference) {
                    Ok((target, _)) if !docs.files.contains_key(&target) => {
                        match inside(&docs.base, &target).and_then(|()| read(&target)) {
                            Ok(value) => {
                                docs.files.insert(target.clone(), value);
                                queue.push_back(target);
                            }
                            Err(e) => errors.push(InputError {
                                file: file.clone(),
                                place: Place::Pointer(at),
                                message: format!("`$ref` to `{reference}`: {e}"),
                            }),
                        }
                    }
                    Ok(_) => {}
                    Err(message) => errors.push(InputError {
                        file: file.clone(),
                        place: Place::Pointer(at),
                        message,
                    }),
                }
            }
            all_refs.push((file, refs));
        }
        // Then check every reference's target exists.
        for (file, refs) in all_refs {
            for (at, reference) in refs {
                if let Ok((target, fragment)) = split(&file, &docs.base, &reference)
                    && let Some(doc) = docs.files.get(&target)
                    && doc.pointer(&fragment).is_none()
                {
                    errors.push(InputError {
                        file: file.clone(),
                        place: Place::Pointer(at),
                        message: format!("`$ref` to `{reference}`: no such value"),
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(docs)
        } else {
            Err(errors)
        }
    }

    /// The root document.
    pub(crate) fn root_value(&self) -> &Value {
        &self.files[&self.root]
    }

    /// Follows `value`'s `$ref` (found in `file`), if it has one, to the value it names and
    /// the file that holds it. References were checked on load; a cycle ends in `None`.
    pub(crate) fn resolve<'a>(
        &'a self,
        file: &Path,
        value: &'a Value,
    ) -> Option<(PathBuf, &'a Value)> {
        let mut file = file.to_owned();
        let mut value = value;
        for _ in 0..MAX_HOPS {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                return Some((file, value));
            };
            let (target, fragment) = split(&file, &self.base, reference).ok()?;
            value = self.files.get(&target)?.pointer(&fragment)?;
            file = target;
        }
        None
    }
}

/// Keys whose object maps names (of properties, components, paths …) to objects: its
/// keys are never keywords.
const NAME_MAPS: [&str; 21] = [
    "properties",
    "patternProperties",
    "definitions",
    "$defs",
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "securityDefinitions",
    "links",
    "callbacks",
    "pathItems",
    "paths",
    "webhooks",
    "content",
    "encoding",
    "variables",
    "dependentSchemas",
];

/// Keywords whose values are literal data, not description: a `$ref` inside an example
/// or a default is text (GitHub's description has some).
fn literal(key: &str, value: &Value, in_example: bool) -> bool {
    matches!(key, "example" | "default" | "enum" | "const")
        || key.starts_with("x-")
        || (key == "examples" && value.is_array())
        || (in_example && key == "value")
}

/// Every `$ref` string below `value`, with the pointer of the object holding it. The
/// pointer is built only for a reference found: a large description has few of them
/// among hundreds of thousands of objects.
fn collect_refs(value: &Value, out: &mut Vec<(String, String)>) {
    walk_refs(value, &mut Vec::new(), ("", ""), out);
}

/// `via` is the key `value` was reached through, `via_parent` the name map above it;
/// `path` holds the keys (or indexes) from the root.
fn walk_refs<'a>(
    value: &'a Value,
    path: &mut Vec<Token<'a>>,
    (via, via_parent): (&str, &str),
    out: &mut Vec<(String, String)>,
) {
    match value {
        Value::Object(map) => {
            let names = NAME_MAPS.contains(&via);
            // An Example Object: an entry of a map of examples.
            let in_example = via_parent == "examples" && !names;
            if let Some(Value::String(r)) = map.get("$ref") {
                let mut at = String::new();
                for t in path.iter() {
                    match t {
                        Token::Key(k) => at = pointer(&at, &[k]),
                        Token::Index(i) => at.push_str(&format!("/{i}")),
                    }
                }
                out.push((at, r.clone()));
            }
            for (k, v) in map {
                if (v.is_object() || v.is_array()) && (names || !literal(k, v, in_example)) {
                    let parent = if names { via } else { "" };
                    path.push(Token::Key(k));
                    walk_refs(v, path, (k, parent), out);
                    path.pop();
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                if v.is_object() || v.is_array() {
                    path.push(Token::Index(i));
                    walk_refs(v, path, ("", ""), out);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

/// One step of a JSON pointer.
enum Token<'a> {
    Key(&'a str),
    Index(usize),
}

/// Whether `target` (already checked to be below `base` by name) is still below it once
/// links are resolved: a link in the description's directory may point anywhere.
fn inside(base: &Path, target: &Path) -> Result<(), InputError> {
    let dir = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    // A file that does not exist is reported by `read`.
    if let (Ok(dir), Ok(real)) = (dir.canonicalize(), target.canonicalize())
        && !real.starts_with(&dir)
    {
        return Err(InputError {
            file: target.to_owned(),
            place: Place::File,
            message: "is a link to a file outside the description's directory; it is not read"
                .into(),
        });
    }
    Ok(())
}

/// A reference's file (relative to the referring file, in `base`, the description's
/// directory, or below it) and its fragment as a JSON pointer.
fn split(from: &Path, base: &Path, reference: &str) -> Result<(PathBuf, String), String> {
    let (file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
    if file.contains("://") || file.starts_with("//") {
        return Err(format!(
            "`$ref` to `{reference}`: remote references are not followed; save the file and refer to it by a relative path"
        ));
    }
    if !fragment.is_empty() && !fragment.starts_with('/') {
        return Err(format!(
            "`$ref` to `{reference}`: the fragment must be a JSON pointer (`#/…`)"
        ));
    }
    let fragment = percent_decode(fragment);
    let target = if file.is_empty() {
        from.to_owned()
    } else {
        let file = percent_decode(file);
        if file.starts_with(['/', '\\']) || Path::new(&file).has_root() {
            return Err(format!(
                "`$ref` to `{reference}`: absolute paths are not followed; refer to a file by a path relative to the description"
            ));
        }
        let target = normalise(&from.parent().unwrap_or(Path::new("")).join(file));
        let below = target.strip_prefix(base).is_ok_and(|rest| {
            rest.components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
        });
        if !below {
            return Err(format!(
                "`$ref` to `{reference}`: the file is outside the description's directory; only files in it or below it are read"
            ));
        }
        target
    };
    Ok((target, fragment))
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// `a/./b/../c` → `a/c`, without touching the file system (links are not resolved).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                // `..` cancels a name, never another `..` (nor the root: `/..` is `/`).
                match out.components().next_back() {
                    Some(std::path::Component::Normal(_)) => {
                        out.pop();
                    }
                    Some(std::path::Component::RootDir | std::path::Component::Prefix(_)) => {}
                    _ => out.push(".."),
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_error(text: &str, expected: &str) {
        let e = parse(Path::new("d.yaml"), text).unwrap_err();
        assert_eq!(e.to_string(), expected);
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        check_error(
            "{\n  \"a\": 1,\n  \"b\" 2\n}",
            "d.yaml:3:7: invalid JSON: expected `:`",
        );
        check_error(
            "a: 1\nb: [1, 2\n",
            "d.yaml:3:1: invalid YAML: did not find expected ',' or ']'",
        );
    }

    #[test]
    fn yaml_keys_that_look_like_numbers_read_as_strings() {
        let v = parse(
            Path::new("d.yaml"),
            "responses:\n  200: {description: ok}\n",
        )
        .unwrap();
        assert_eq!(
            v.pointer("/responses/200/description"),
            Some(&Value::from("ok"))
        );
    }

    #[test]
    fn references_in_examples_and_defaults_are_data() {
        let v = parse(
            Path::new("d.yaml"),
            "components:\n  examples:\n    stats: { value: [{ $ref: a.yaml }] }\n  schemas:\n    S:\n      default: { $ref: b.yaml }\n      x-note: { $ref: c.yaml }\n      properties:\n        example: { $ref: '#/real' }\n        value: { $ref: '#/also' }\n  parameters:\n    list: [{ $ref: '#/in-list' }]\n",
        )
        .unwrap();
        let mut refs = Vec::new();
        collect_refs(&v, &mut refs);
        let refs: Vec<&str> = refs.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(refs, ["#/in-list", "#/real", "#/also"]);
    }

    #[test]
    fn references_split_into_file_and_pointer() {
        let from = Path::new("api/openapi.yaml");
        let base = Path::new("api");
        assert_eq!(
            split(from, base, "paths/pets.yaml#/get").unwrap(),
            (PathBuf::from("api/paths/pets.yaml"), "/get".to_owned())
        );
        assert_eq!(
            split(from, base, "#/components/schemas/Pet%20Name").unwrap(),
            (
                PathBuf::from("api/openapi.yaml"),
                "/components/schemas/Pet Name".to_owned()
            )
        );
        assert_eq!(
            split(Path::new("api/paths/pets.yaml"), base, "../common.json").unwrap(),
            (PathBuf::from("api/common.json"), String::new())
        );
        assert!(split(from, base, "https://example.com/x.yaml#/a").is_err());
        assert!(split(from, base, "#components").is_err());
    }

    #[test]
    fn references_stay_in_the_description_directory() {
        let from = Path::new("api/openapi.yaml");
        let base = Path::new("api");
        for reference in [
            "/proc/self/environ",
            "%2Fproc/self/environ",
            "../secrets.yaml",
            "paths/../../secrets.yaml",
            "paths/%2E%2E/%2E%2E/secrets.yaml",
        ] {
            let e = split(from, base, reference).unwrap_err();
            assert!(
                e.contains("absolute paths are not followed")
                    || e.contains("outside the description's directory"),
                "{reference}: {e}"
            );
        }
        // The description named from a directory above the working directory.
        assert_eq!(
            split(
                Path::new("../../api/openapi.yaml"),
                Path::new("../../api"),
                "a.yaml"
            )
            .unwrap()
            .0,
            PathBuf::from("../../api/a.yaml")
        );
        assert!(split(Path::new("openapi.yaml"), Path::new(""), "../a.yaml").is_err());
    }

    #[test]
    fn parent_segments_cancel_names_only() {
        assert_eq!(
            normalise(Path::new("../../a/./b/../c")),
            PathBuf::from("../../a/c")
        );
        assert_eq!(normalise(Path::new("/../a")), PathBuf::from("/a"));
    }
}
