//! No module of any crate imports, directly or through others, a module that imports it.
//!
//! Reads every `src/**/*.rs` of each crate of the workspace and follows the paths that start
//! with `crate::`, `super::` or `self::` (in `use` items and inline), resolving re-exports
//! (`pub use inner::Name`) to the file that defines the name. A file's `#[cfg(test)]` module
//! at its end is left out: tests may use anything. Text only, no dependencies: it runs in
//! milliseconds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module: its path from the crate root (`[]` for `lib.rs`).
type ModPath = Vec<String>;

struct Crate {
    /// Module path -> the file's code (comments, strings and the test module removed).
    modules: BTreeMap<ModPath, String>,
}

fn main_text(src: &str) -> String {
    let cut = src.find("\n#[cfg(test)]\nmod ").unwrap_or(src.len());
    let mut out = String::with_capacity(cut);
    let b = &src.as_bytes()[..cut];
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // A character literal such as '"' (a lifetime never closes).
            out.push_str("' '");
            i += 3;
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            let end = src[i + 2..cut].find('\'').map_or(cut, |e| i + 2 + e + 1);
            out.push_str("' '");
            i = end;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'r' && b.get(i + 1) == Some(&b'#') && b.get(i + 2) == Some(&b'"') {
            let end = src[i + 3..cut].find("\"#").map_or(cut, |e| i + 3 + e + 2);
            i = end;
            out.push_str("\"\"");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

fn load(root: &Path) -> Crate {
    let src = root.join("src");
    let mut modules = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "bin") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).expect("under src");
            let mut m: ModPath = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if m.last().is_some_and(|l| l == "mod") || m == ["lib"] {
                m.pop();
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            modules.insert(m, main_text(&text));
        }
    }
    Crate { modules }
}

/// Splits `use` trees and inline paths into tokens.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' || c == '$' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        match c {
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                out.push("::".into());
            }
            '{' | '}' | ',' | ';' | '*' => out.push(c.to_string()),
            c if c.is_whitespace() => {}
            _ => out.push(" ".into()),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Expands a use tree (`a::{b, c::d}`) starting at `toks[*i]` into full paths.
fn expand(toks: &[String], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    while *i < toks.len() {
        let t = toks[*i].as_str();
        match t {
            "{" => {
                *i += 1;
                loop {
                    expand(toks, i, &path, out);
                    match toks.get(*i).map(String::as_str) {
                        Some(",") => *i += 1,
                        Some("}") => {
                            *i += 1;
                            break;
                        }
                        _ => return,
                    }
                    if toks.get(*i).map(String::as_str) == Some("}") {
                        *i += 1;
                        break;
                    }
                }
                return;
            }
            "::" => *i += 1,
            "," | "}" | ";" => break,
            "*" => {
                *i += 1;
                break;
            }
            "as" => {
                *i += 2;
                break;
            }
            _ => {
                if t != "self" || path.is_empty() {
                    path.push(t.to_owned());
                }
                *i += 1;
            }
        }
    }
    out.push(path);
}

/// Every path a module names in `use` items, and inline paths that start at `crate` or
/// `super`, as written.
fn paths_of(text: &str) -> Vec<Vec<String>> {
    let toks = tokens(text);
    let mut raw = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i] == "use" {
            i += 1;
            // A re-export (`pub use`, `pub(crate) use`) is a door, not a dependency: it is
            // followed when resolving paths, not counted as an import.
            let before = |k: usize| i.checked_sub(k).map_or("", |j| toks[j].as_str());
            let public = before(2) == "pub" || (before(3) == "crate" && before(5) == "pub");
            if public {
                let mut skipped = Vec::new();
                expand(&toks, &mut i, &[], &mut skipped);
                continue;
            }
            let mut paths = Vec::new();
            expand(&toks, &mut i, &[], &mut paths);
            raw.extend(paths);
            continue;
        }
        let t = toks[i].as_str();
        if (t == "crate" || t == "super") && toks.get(i + 1).is_some_and(|n| n == "::") {
            let mut p = vec![t.to_owned()];
            i += 1;
            while toks.get(i).is_some_and(|n| n == "::") {
                match toks.get(i + 1) {
                    Some(w) if w.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                        p.push(w.clone());
                        i += 2;
                    }
                    _ => break,
                }
            }
            raw.push(p);
            continue;
        }
        i += 1;
    }
    raw
}

fn absolute(module: &ModPath, p: &[String]) -> Option<ModPath> {
    let mut base = match p.first()?.as_str() {
        "crate" => Vec::new(),
        "super" | "self" => module.clone(),
        _ => return None,
    };
    let mut rest = p;
    if p[0] == "crate" {
        rest = &p[1..];
    }
    for seg in rest {
        match seg.as_str() {
            "super" => {
                base.pop()?;
            }
            "self" => {}
            s => base.push(s.to_owned()),
        }
    }
    Some(base)
}

impl Crate {
    /// The file a path leads to: the deepest module it names, or, when it names an item the
    /// module only re-exports, the file that defines it.
    fn resolve(&self, path: &ModPath, depth: u32) -> Option<ModPath> {
        let n = (0..=path.len())
            .rev()
            .find(|&n| self.modules.contains_key(&path[..n]))?;
        let module = path[..n].to_vec();
        let Some(item) = path.get(n) else {
            return Some(module);
        };
        if depth < 8 {
            for target in self.reexports(&module) {
                if target.last() == Some(item) {
                    let mut next = target.clone();
                    next.extend_from_slice(&path[n + 1..]);
                    return self.resolve(&next, depth + 1);
                }
            }
        }
        Some(module)
    }

    /// The absolute paths of `pub use` / `pub(crate) use` items of `module`.
    fn reexports(&self, module: &ModPath) -> Vec<ModPath> {
        let text = &self.modules[module];
        let mut out = Vec::new();
        for stmt in text.split(';') {
            let s = stmt.trim_start();
            let Some(rest) = s
                .strip_prefix("pub use ")
                .or_else(|| s.strip_prefix("pub(crate) use "))
            else {
                continue;
            };
            let toks = tokens(rest);
            let mut i = 0;
            let mut paths = Vec::new();
            expand(&toks, &mut i, &[], &mut paths);
            for p in paths {
                let p = match p.first().map(String::as_str) {
                    Some("crate" | "super" | "self") => absolute(module, &p),
                    Some(_) => {
                        // `pub use child::Name` in a module is relative to it.
                        let mut m = module.clone();
                        m.extend(p);
                        Some(m)
                    }
                    None => None,
                };
                out.extend(p);
            }
        }
        out
    }

    fn edges(&self) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
        let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
        for (m, text) in &self.modules {
            let set = edges.entry(m.clone()).or_default();
            for p in paths_of(text) {
                let p = match absolute(m, &p) {
                    Some(p) => p,
                    // `use child::Name`: relative to this module when it has that child.
                    None => {
                        let mut child = m.clone();
                        child.extend(p);
                        if child.len() <= m.len()
                            || !self.modules.contains_key(&child[..m.len() + 1])
                        {
                            continue;
                        }
                        child
                    }
                };
                if let Some(to) = self.resolve(&p, 0) {
                    // A module's own children and itself are not imports.
                    if to != *m && !(to.len() > m.len() && to.starts_with(m) && m.is_empty()) {
                        set.insert(to);
                    }
                }
            }
        }
        edges
    }
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct St<'a> {
        edges: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on: BTreeSet<&'a ModPath>,
        next: usize,
        out: Vec<Vec<ModPath>>,
    }
    fn visit<'a>(s: &mut St<'a>, v: &'a ModPath) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        if let Some(ws) = s.edges.get(v) {
            for w in ws {
                let Some((w, _)) = s.edges.get_key_value(w) else {
                    continue;
                };
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if s.on.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = St {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn crates() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.to_owned()];
    for entry in std::fs::read_dir(root).expect("read workspace") {
        let path = entry.expect("entry").path();
        if path.join("Cargo.toml").is_file() && path.join("src").is_dir() {
            dirs.push(path);
        }
    }
    dirs.sort();
    dirs
}

fn show(m: &ModPath) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// Circles that were there when this check came, each to be broken by the work that owns
/// its modules: (crate directory, the modules of the circle). A circle not listed fails the
/// test, and so does a listed one that is gone (take it off the list).
const KNOWN: &[(&str, &[&str])] = &[];

#[test]
fn no_module_imports_a_module_that_imports_it() {
    let mut found = Vec::new();
    let mut known_seen = Vec::new();
    for dir in crates() {
        let name = dir
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        let krate = load(&dir);
        let edges = krate.edges();
        for cycle in cycles(&edges) {
            let names: Vec<String> = cycle.iter().map(show).collect();
            if let Some(k) = KNOWN.iter().position(|(c, ms)| *c == name && names == *ms) {
                known_seen.push(k);
                continue;
            }
            let mut lines = Vec::new();
            for m in &cycle {
                let to: Vec<String> = edges[m]
                    .iter()
                    .filter(|t| cycle.contains(t))
                    .map(show)
                    .collect();
                lines.push(format!("    {} -> {}", show(m), to.join(", ")));
            }
            found.push(format!("{name}:\n{}", lines.join("\n")));
        }
    }
    assert!(
        found.is_empty(),
        "modules that import each other (break each circle: move the shared part into a \
         module of its own, or add methods with an `impl` block in the feature's file):\n{}",
        found.join("\n")
    );
    for (k, (krate, modules)) in KNOWN.iter().enumerate() {
        assert!(
            known_seen.contains(&k),
            "the known circle {modules:?} of {krate} is gone: take it off KNOWN"
        );
    }
}

#[test]
fn the_check_sees_a_cycle_through_a_reexport() {
    let mut modules = BTreeMap::new();
    modules.insert(
        vec![],
        "mod a; mod b; pub use b::Thing; pub use a::{Other, More};".to_owned(),
    );
    modules.insert(
        vec!["a".into()],
        "use crate::Thing; pub struct Other;".to_owned(),
    );
    modules.insert(
        vec!["b".into()],
        "pub struct Thing; fn f() { crate::Other::new() }".to_owned(),
    );
    let edges = Crate { modules }.edges();
    let found = cycles(&edges);
    assert_eq!(
        found,
        vec![vec![vec!["a".to_owned()], vec!["b".to_owned()]]]
    );
}
