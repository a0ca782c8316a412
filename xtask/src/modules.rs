//! `cargo xtask modules`: the `crate::`/`super::` edges between the modules of each crate,
//! and the tidy test that keeps them acyclic and free of glob imports.
//!
//! A module and its own submodules count as one unit when looking for loops (a parent
//! re-exporting a child, and the child using the parent's items, is one module split in
//! files). Between units a loop fails, and so does a glob import (`use x::*`) outside a
//! test module: a glob hides which module an item comes from, so it hides a loop too.
//!
//! The parser is deliberately small: it reads paths (`a::b::c`, with `{…}` groups),
//! resolves `crate::`, `super::`, `self::` and a module's own children, and maps names the
//! crate root re-exports (`crate::Outcome`) to the module that defines them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

/// A module path inside its crate, e.g. `["resolve", "routes"]`; the root is empty.
type ModPath = Vec<String>;

/// The module graph of one crate.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    /// Every module found, with the modules it uses.
    pub(crate) edges: BTreeMap<ModPath, BTreeSet<ModPath>>,
    /// `file: use …::*` for every glob import outside a test module.
    pub(crate) globs: Vec<String>,
}

/// Reads the crate whose sources are in `src` (holding `lib.rs` or `main.rs`).
pub(crate) fn graph(src: &Path) -> Result<Graph> {
    let mut files = Vec::new();
    collect(src, src, &mut files)?;
    // Test-only file modules (and their children) are left out, as inline ones are.
    let mut tests: Vec<ModPath> = Vec::new();
    for (module, path) in &files {
        let text = fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        tests.extend(test_modules(&text).into_iter().map(|name| {
            let mut test = module.clone();
            test.push(name);
            test
        }));
    }
    files.retain(|(module, _)| !tests.iter().any(|t| module.starts_with(t)));
    let modules: BTreeSet<ModPath> = files.iter().map(|(m, _)| m.clone()).collect();
    // Names the crate root re-exports: `pub use module::{A, B}` → A, B live in `module`.
    let mut reexports: BTreeMap<String, ModPath> = BTreeMap::new();
    let mut graph = Graph::default();
    let sources: Vec<(ModPath, String, String)> = files
        .iter()
        .map(|(module, path)| {
            let text = fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
            let name = path.strip_prefix(src).unwrap_or(path).display().to_string();
            Ok((module.clone(), name, without_tests(&strip_comments(&text))))
        })
        .collect::<Result<_>>()?;
    for (module, _, text) in &sources {
        if module.is_empty() {
            for statement in statements(text, "pub use ") {
                for path in expand(&statement) {
                    let mut path = path;
                    let name = path.pop().unwrap_or_default();
                    if let Some(target) = resolve(&[], &path, &modules, &BTreeMap::new()) {
                        reexports.insert(name, target);
                    }
                }
            }
        }
    }
    for (module, name, text) in &sources {
        let uses = graph.edges.entry(module.clone()).or_default();
        for statement in statements(text, "use ") {
            if statement.trim_end().ends_with("::*") || statement.contains("::*,") {
                graph.globs.push(format!("{name}: use {statement}"));
            }
        }
        for path in paths(text) {
            if let Some(target) = resolve(module, &path, &modules, &reexports)
                && !target.is_empty()
                && &target != module
            {
                uses.insert(target);
            }
        }
    }
    Ok(graph)
}

impl Graph {
    /// Loops between units (a module with its submodules), each as `a → b → a`.
    pub(crate) fn loops(&self) -> Vec<String> {
        let related = |a: &ModPath, b: &ModPath| a.starts_with(b) || b.starts_with(a);
        let mut found = BTreeSet::new();
        for start in self.edges.keys() {
            // Depth-first search for a path back to `start`, through unrelated modules.
            let mut stack = vec![(start.clone(), vec![start.clone()])];
            let mut seen = BTreeSet::new();
            while let Some((at, trail)) = stack.pop() {
                for next in self.edges.get(&at).into_iter().flatten() {
                    if related(&at, next) {
                        continue;
                    }
                    if next == start {
                        let mut cycle: Vec<String> = trail.iter().map(|m| m.join("::")).collect();
                        // Report each loop once, from its smallest module.
                        let min = (0..cycle.len()).min_by_key(|&i| &cycle[i]).unwrap_or(0);
                        cycle.rotate_left(min);
                        cycle.push(cycle[0].clone());
                        found.insert(cycle.join(" → "));
                    } else if seen.insert(next.clone()) {
                        let mut trail = trail.clone();
                        trail.push(next.clone());
                        stack.push((next.clone(), trail));
                    }
                }
            }
        }
        found.into_iter().collect()
    }
}

fn collect(src: &Path, dir: &Path, out: &mut Vec<(ModPath, std::path::PathBuf)>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("{}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(src, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(src)?.with_extension("");
            let mut module: ModPath = relative
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            out.push((module, path));
        }
    }
    Ok(())
}

/// Drops `//` comments (doc comments included), so prose naming a path is no edge.
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Drops an inline `#[cfg(…test…)] mod tests { … }` (it sits at the end of a file here):
/// a test module may use its parent freely.
fn without_tests(text: &str) -> String {
    let Some(at) = text.find("\nmod tests {") else {
        return text.to_owned();
    };
    let attribute = text[..at].rsplit('\n').next().unwrap_or_default();
    if attribute.starts_with("#[cfg(") && attribute.contains("test") {
        text[..at - attribute.len()].to_owned()
    } else {
        text.to_owned()
    }
}

/// Names of the file modules `text` declares for tests only (`#[cfg(test)] mod name;`).
fn test_modules(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter(|w| w[0].starts_with("#[cfg(") && w[0].contains("test"))
        .filter_map(|w| w[1].strip_prefix("mod ")?.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

/// The text of every statement starting with `keyword` at the start of a line (indented
/// or not), up to its `;`.
fn statements(text: &str, keyword: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(keyword) {
        let line_start = rest[..at].rfind('\n').map_or(0, |i| i + 1);
        let before = rest[line_start..at].trim();
        let after = &rest[at + keyword.len()..];
        if (before.is_empty() || before == "pub(crate)" || before == "pub(super)")
            && let Some(end) = after.find(';')
        {
            out.push(
                after[..end]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            rest = &after[end..];
        } else {
            rest = after;
        }
    }
    out
}

/// Every path (`a::b::c`) in `text`, with `{…}` groups expanded.
fn paths(text: &str) -> Vec<Vec<String>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        if is_ident(bytes[i]) && (i == 0 || !(is_ident(bytes[i - 1]) || bytes[i - 1] == b':')) {
            // Read a run of identifiers, `::` and balanced `{…}` groups.
            let start = i;
            let mut depth = 0usize;
            while i < bytes.len() {
                let c = bytes[i];
                if is_ident(c)
                    || c == b':'
                    || (depth > 0 && (c == b',' || c.is_ascii_whitespace() || c == b'*'))
                {
                    i += 1;
                } else if c == b'{' && i >= 2 && &bytes[i - 2..i] == b"::" {
                    depth += 1;
                    i += 1;
                } else if c == b'}' && depth > 0 {
                    depth -= 1;
                    i += 1;
                } else {
                    break;
                }
            }
            let chain = &text[start..i];
            if chain.contains("::") {
                out.extend(expand(chain).into_iter().filter(|p| p.len() > 1));
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into its paths.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path: Vec<String> = tree
            .split(" as ")
            .next()
            .unwrap_or_default()
            .split("::")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && s != "*")
            .collect();
        return vec![path];
    };
    let prefix: Vec<String> = tree[..open]
        .split("::")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let inner = tree[open + 1..]
        .strip_suffix('}')
        .unwrap_or(&tree[open + 1..]);
    let mut items = Vec::new();
    let (mut depth, mut from) = (0usize, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&inner[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[from..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(expand)
        .map(|tail| {
            let mut path = prefix.clone();
            path.extend(tail.into_iter().filter(|s| s != "self"));
            path
        })
        .collect()
}

/// The module `path`, used from `from`, refers to (the longest prefix that is a module).
fn resolve(
    from: &[String],
    path: &[String],
    modules: &BTreeSet<ModPath>,
    reexports: &BTreeMap<String, ModPath>,
) -> Option<ModPath> {
    let (mut base, rest): (ModPath, &[String]) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("self") => (from.to_vec(), &path[1..]),
        Some("super") => {
            let mut base = from.to_vec();
            let mut rest = path;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            (base, rest)
        }
        Some(child) => {
            let mut candidate = from.to_vec();
            candidate.push(child.to_owned());
            if !modules.contains(&candidate) {
                return None;
            }
            (from.to_vec(), path)
        }
        None => return None,
    };
    for segment in rest {
        let mut next = base.clone();
        next.push(segment.clone());
        if modules.contains(&next) {
            base = next;
        } else if base.is_empty() {
            return Some(reexports.get(segment).cloned().unwrap_or_default());
        } else {
            break;
        }
    }
    Some(base)
}

/// `cargo xtask modules`: prints each library crate's module edges, loops and globs.
pub(crate) fn print(root: &Path) -> Result<bool> {
    let mut clean = true;
    for krate in crates(root)? {
        let graph = graph(&krate.join("src"))?;
        println!("{}", krate.strip_prefix(root)?.display());
        for (module, uses) in &graph.edges {
            let uses: Vec<String> = uses.iter().map(|m| m.join("::")).collect();
            println!("  {} → {}", display(module), uses.join(", "));
        }
        for problem in graph.loops().iter().chain(&graph.globs) {
            clean = false;
            println!("  PROBLEM: {problem}");
        }
    }
    Ok(clean)
}

fn display(module: &ModPath) -> String {
    if module.is_empty() {
        "(root)".to_owned()
    } else {
        module.join("::")
    }
}

fn crates(root: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out: Vec<_> = fs::read_dir(root.join("crates"))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    out.push(root.join("xtask"));
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_crate_has_a_module_loop_or_a_glob_import() {
        let root = crate::root();
        let mut problems = Vec::new();
        for krate in crates(&root).unwrap() {
            let graph = graph(&krate.join("src")).unwrap();
            assert!(
                graph.edges.len() > 1 || krate.ends_with("alloc"),
                "{krate:?} read no modules"
            );
            let name = krate.file_name().unwrap().to_string_lossy().into_owned();
            problems.extend(
                graph
                    .loops()
                    .into_iter()
                    .map(|l| format!("{name}: loop {l}")),
            );
            problems.extend(graph.globs.iter().map(|g| format!("{name}: glob {g}")));
        }
        assert!(
            problems.is_empty(),
            "run `cargo xtask modules`:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn the_parser_finds_loops_through_groups_reexports_and_super() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path();
        fs::create_dir(src.join("r")).unwrap();
        fs::write(
            src.join("lib.rs"),
            "mod a; mod b; mod r;\npub use a::Thing;\n",
        )
        .unwrap();
        fs::write(
            src.join("a.rs"),
            "use crate::{b::{self, Other}};\npub struct Thing;\n",
        )
        .unwrap();
        fs::write(
            src.join("b.rs"),
            "// use crate::r::X is prose\nfn f() -> crate::Thing { todo!() }\n",
        )
        .unwrap();
        fs::write(src.join("r/mod.rs"), "mod x; mod y;\nuse x::*;\n").unwrap();
        fs::write(src.join("r/x.rs"), "use super::y::Y;\n").unwrap();
        fs::write(
            src.join("r/y.rs"),
            "fn g() { super::x::h(); }\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        )
        .unwrap();
        let graph = graph(src).unwrap();
        assert_eq!(graph.loops(), ["a → b → a", "r::x → r::y → r::x"]);
        assert_eq!(graph.globs, ["r/mod.rs: use x::*"]);
        // A module and its children are one unit: `r` using `r::x` and back is no loop.
        fs::write(src.join("r/x.rs"), "use super::Z;\n").unwrap();
        fs::write(src.join("r/y.rs"), "").unwrap();
        fs::write(src.join("b.rs"), "").unwrap();
        assert!(super::graph(src).unwrap().loops().is_empty());
    }
}
