//! The core's modules form layers: each `crate::` path in `src/` names a
//! module of a lower layer than the file's own (or its own module), so the
//! modules import each other in no cycle. The order is the one `src/lib.rs`
//! declares and documents.

use std::path::{Path, PathBuf};

/// Lowest first; a module may use only those before it.
const LAYERS: &[&[&str]] = &[
    &["sync", "stats", "strategy", "target", "perf_map"],
    &["ledger"],
    &["os"],
    &["error"],
    &["icache"],
    &["probe"],
    &["config"],
    &["arena"],
    &["handles"],
    &["registry"],
    &["object"],
    &["ffi"],
    &["compat", "inkwell", "orc"],
];

/// Names reachable as `crate::NAME` that are not modules of the crate.
const EXTERNAL: &[&str] = &["llvm_sys"];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `NAME`s of every `crate::NAME` outside comments.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let whole_word =
                at == 0 || !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
            if whole_word && !name.is_empty() {
                found.push((n + 1, name));
            }
            rest = after;
        }
        // `use crate::{a, b}` groups.
        if let Some(group) = code.split("crate::{").nth(1) {
            for name in group.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                if !name.is_empty() && layer(name).is_some() {
                    found.push((n + 1, name.to_string()));
                }
            }
        }
    }
    found
}

#[test]
fn modules_use_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        let module = top.trim_end_matches(".rs");
        if module == "lib" {
            continue; // the root: declarations and re-exports
        }
        let Some(own) = layer(module) else {
            violations.push(format!(
                "{}: module `{module}` has no layer",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, name) in crate_paths(&text) {
            if name == module || EXTERNAL.contains(&name.as_str()) {
                continue;
            }
            match layer(&name) {
                Some(l) if l < own => {}
                Some(_) => violations.push(format!(
                    "{}:{line}: `{module}` uses `crate::{name}`, which is not below it",
                    relative.display()
                )),
                None => violations.push(format!(
                    "{}:{line}: `crate::{name}` is a root re-export: name its module",
                    relative.display()
                )),
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layer order broken:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_sees_paths_and_groups() {
    let text = "use crate::arena::Arena;\nuse crate::{os, stats};\n// crate::ffi in a comment\nlet x = crate::probe::probe();";
    let names: Vec<String> = crate_paths(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["arena", "os", "stats", "probe"]);
}
