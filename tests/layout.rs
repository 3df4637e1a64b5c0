//! The house rules of the source tree, read from the files themselves: the library's
//! top-level modules depend on each other one way only (no import cycle), and none of them
//! names the binary's flags (`src/bin/trafficgraph/flags.rs`) or clap.
//!
//! A module's edges are its `crate::X` references (`use crate::X`, `crate::X::...`,
//! `use crate::{X, Y}`) outside comments and outside its `#[cfg(test)]` part (a test may
//! reach anything). `src/lib.rs` is the root that runs every stage, so it is not a node.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The library's files (not the binary's), by top-level module.
fn library() -> BTreeMap<String, Vec<(PathBuf, String)>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules: BTreeMap<String, Vec<(PathBuf, String)>> = BTreeMap::new();
    for path in files {
        let rel = path.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        if first == "bin" || rel == Path::new("lib.rs") {
            continue;
        }
        let module = first.trim_end_matches(".rs").to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        modules.entry(module).or_default().push((path, text));
    }
    modules
}

/// The code of a file that is not a comment, up to its `#[cfg(test)]` part.
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The names `crate::` is followed by in `code`: `crate::X` and each `X` of `crate::{X, ...}`.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        // `trafficgraph::...` or `my_crate::` are not `crate::`.
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 0 => {
                        refs.insert(ident(&group[i..]).to_string());
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            refs.insert(ident(rest).to_string());
        }
    }
    refs
}

/// module -> the other modules it names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = library();
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(module, files)| {
            let deps = files
                .iter()
                .flat_map(|(_, text)| crate_refs(&code(text)))
                .filter(|r| names.contains(r) && r != module)
                .collect();
            (module.clone(), deps)
        })
        .collect()
}

/// A cycle of `graph`, as the modules around it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let from = path.iter().position(|n| n == next).unwrap();
                    let mut cycle = path[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, graph, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node.as_str()) {
            if let Some(c) = visit(node, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_reference_reader_sees_every_form() {
    let refs = crate_refs(
        "use crate::a::b;\nuse crate::{c, d::{e, f}, g};\nlet x = crate::h::i(trafficgraph::z);",
    );
    let want: BTreeSet<String> = ["a", "c", "d", "g", "h"].map(String::from).into();
    assert_eq!(refs, want);
    let g: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"])]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
            .collect();
    assert_eq!(
        find_cycle(&g),
        Some(["a", "b", "c", "a"].map(String::from).to_vec())
    );
    assert!(code("use crate::x;\n// crate::y\n#[cfg(test)]\nuse crate::z;").contains("crate::x"));
    assert!(!code("// crate::y\n#[cfg(test)]\nuse crate::z;").contains("crate::"));
}

#[test]
fn library_modules_have_no_import_cycle() {
    let graph = graph();
    assert!(graph.len() > 15, "modules found: {:?}", graph.keys());
    assert!(graph["fetch"].contains("source"), "{graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle between library modules: {}\n{graph:#?}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn no_library_module_names_the_binary_flags_or_clap() {
    for (module, files) in library() {
        for (path, text) in files {
            let code = code(&text);
            for banned in [
                "flags::",
                "mod flags",
                "clap::",
                "clap",
                "println!",
                "eprintln!",
            ] {
                let found = code.match_indices(banned).any(|(at, _)| {
                    let before = code[..at].chars().next_back();
                    let after = code[at + banned.len()..].chars().next();
                    let word =
                        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
                    !word(before) && (banned.ends_with(['!', ':']) || !word(after))
                });
                assert!(
                    !found,
                    "{} (module {module}) names `{banned}`: the flags are the binary's, and \
                     the library prints nothing",
                    path.display()
                );
            }
        }
    }
}
