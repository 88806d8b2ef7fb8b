//! The layout the code promises (ARCHITECTURE.md): no stage imports a later stage, the pipeline
//! only calls stages, no function of the library is much longer than a screenful or two, and
//! the README's option table is the one `wangge partition --help` shows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod common;

/// The stages in pipeline order; a module may import modules of an earlier stage, of its own
/// stage and the cross-cutting ones, never of a later stage.
const STAGES: &[&[&str]] = &[
    &["read"],
    &["model"],
    &["graph"],
    &["distance", "network"],
    &["partition", "workers"],
    &["tessellate"],
    &["check"],
    &["report"],
    &["write"],
    &["pipeline", "audit"],
    &["batch"],
    &["cli"],
    &["python"],
];

/// Modules every stage may use.
const CROSS_CUTTING: &[&str] = &["error", "config", "text", "geom", "rng", "pieces", "progress", "crs", "offset", "solver", "VERSION"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

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

/// The top-level module a file of src/ belongs to (`model` for src/model/split.rs).
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(src()).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules a file names with `crate::` (in `use` lines and paths), tests aside.
fn imports(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut out = Vec::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + 7..];
            if let Some(group) = rest.strip_prefix('{') {
                // use crate::{a, b::c, ...}
                let inner = group.split('}').next().unwrap_or("");
                out.extend(inner.split(',').map(|p| p.trim().split("::").next().unwrap_or("").to_string()).filter(|m| !m.is_empty()));
            } else {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                out.push(name);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn stage_of(module: &str) -> Option<usize> {
    STAGES.iter().position(|s| s.contains(&module))
}

#[test]
fn no_stage_imports_a_later_stage() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut wrong = Vec::new();
    for path in &files {
        let module = module_of(path);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        for m in imports(&text) {
            if m == module || CROSS_CUTTING.contains(&m.as_str()) {
                continue;
            }
            match (stage_of(&module), stage_of(&m)) {
                // A cross-cutting module may use only cross-cutting ones and the read stage's types.
                (None, Some(to)) if to > 0 => wrong.push(format!("{}: cross-cutting {module} imports the stage {m}", path.display())),
                (Some(from), Some(to)) if to > from => wrong.push(format!("{}: {module} imports the later stage {m}", path.display())),
                (_, None) if !CROSS_CUTTING.contains(&m.as_str()) && stage_of(&module).is_some() => {
                    wrong.push(format!("{}: {module} imports {m}, which is neither a stage nor cross-cutting", path.display()))
                }
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the stage order:\n{}", wrong.join("\n"));
}

/// Functions of src/ longer than `limit` lines (from the `fn` line to its closing brace).
fn long_functions(limit: usize) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let is_fn = ["fn ", "pub fn ", "pub(crate) fn ", "pub(super) fn "].iter().any(|p| trimmed.starts_with(p));
            if !is_fn || line.trim_end().ends_with(';') {
                continue;
            }
            let indent = &line[..line.len() - trimmed.len()];
            let close = format!("{indent}}}");
            if let Some(end) = lines[i..].iter().position(|l| *l == close) {
                if end + 1 > limit {
                    out.push(format!("{}:{} ({} lines)", path.display(), i + 1, end + 1));
                }
            }
        }
    }
    out
}

#[test]
fn no_function_is_longer_than_150_lines() {
    let long = long_functions(150);
    assert!(long.is_empty(), "functions over 150 lines:\n{}", long.join("\n"));
}

#[test]
fn the_pipeline_only_calls_stages() {
    let text = std::fs::read_to_string(src().join("pipeline.rs")).unwrap();
    let code = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    // No loops and no branching on data: one call per stage (the micro-grid stage is optional).
    for word in ["for ", "while ", "loop {", ".iter()", ".map(|"] {
        assert!(!code.contains(word), "pipeline.rs contains `{word}`: logic belongs in a stage");
    }
    assert!(code.lines().count() < 90, "pipeline.rs has {} lines of code", code.lines().count());
}

/// The option names and default values (`[default: X]` lines) of `wangge partition --help`.
fn help_options() -> BTreeMap<String, Option<String>> {
    let out = common::wangge(&["partition", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut options = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let t = line.trim_start();
        // Option lines are indented by 2 (`-o, --output`) or 6 spaces (`--seed`); their
        // descriptions by 10.
        let indent = line.len() - t.len();
        if t.starts_with('-') && indent <= 6 {
            let long = t.split("--").nth(1).unwrap_or("").split([' ', ',']).next().unwrap_or("").to_string();
            options.insert(long.clone(), None);
            current = Some(long);
        } else if let (Some(c), Some(rest)) = (&current, t.strip_prefix("[default: ")) {
            // clap's own default line (descriptive defaults in the text are not checked).
            options.insert(c.clone(), Some(rest.trim_end_matches(']').to_string()));
        }
    }
    options.remove("help");
    options
}

/// The options of the README's `wangge partition` table and the text of their default column.
fn readme_options() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = text.split("## `wangge partition`").nth(1).expect("a wangge partition section").split("\n## ").next().unwrap_or("");
    let mut options = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (names, default) = (cells[1], cells.get(2).copied().unwrap_or(""));
        for part in names.split(['`', ',']) {
            let part = part.trim();
            if let Some(long) = part.strip_prefix("--") {
                options.insert(long.split(' ').next().unwrap_or("").to_string(), default.to_string());
            }
        }
    }
    options
}

#[test]
fn the_readme_lists_every_option_of_the_help_with_its_default() {
    let help = help_options();
    let readme = readme_options();
    let missing: Vec<&String> = help.keys().filter(|k| !readme.contains_key(*k)).collect();
    let extra: Vec<&String> = readme.keys().filter(|k| !help.contains_key(*k)).collect();
    assert!(missing.is_empty(), "options of --help missing from the README table: {missing:?}");
    assert!(extra.is_empty(), "README options that --help does not have: {extra:?}");
    for (name, default) in &help {
        if let Some(d) = default {
            assert!(readme[name].contains(d.as_str()), "--{name}: the README says '{}', --help says [default: {d}]", readme[name]);
        }
    }
}

#[test]
fn the_stage_table_can_read_this_crate() {
    // The checks above rely on the parsers finding things: make sure they do.
    assert_eq!(imports("use crate::{model::Model, graph};\nlet x = crate::text::count(1.0);"), vec!["graph", "model", "text"]);
    assert_eq!(help_options()["min-households"].as_deref(), Some("300"));
    assert!(readme_options().contains_key("min-households"));
    assert!(!long_functions(5).is_empty());
}
