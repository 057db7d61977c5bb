//! Dependencies run one way. Each module of `src/` sits in one layer, and may use only
//! modules of the layers below its own: never one above, never a neighbour in its own layer.
//! A new module fails this test until it is given a place here. Inside a folder, files import
//! one way too (`files_in_a_folder_use_each_other_one_way`).

use std::collections::BTreeSet;
use std::path::Path;

/// Top to bottom.
const LAYERS: &[&[&str]] = &[
    &["bin"],
    &["lambda", "local"],
    &["app"],
    &["config"],
    &["intake", "sweeper"],
    &["callers", "simulator", "submission"],
    &["tickets"],
    &["graph", "store", "callback", "secrets"],
    &["outbound"],
    &["change", "clock"],
    &["telemetry", "metrics", "aws"],
    &["tls"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level module a file under `src/` belongs to.
fn module_of(relative: &Path) -> String {
    let first = relative.components().next().unwrap().as_os_str();
    first.to_str().unwrap().trim_end_matches(".rs").to_owned()
}

/// Every use in `source`, a file of `module`, that goes up or sideways.
fn violations(module: &str, source: &str) -> Vec<String> {
    // A binary names the library `graphgate`; the library names itself `crate`.
    let root = if module == "bin" {
        "graphgate"
    } else {
        "crate"
    };
    let Some(own) = layer(module) else {
        return vec![format!("{module} has no layer in tests/repo/layers.rs")];
    };
    let used: BTreeSet<String> = absolute_paths(source, &[], &[root])
        .into_iter()
        .filter_map(|path| path.into_iter().next())
        .collect();
    used.into_iter()
        .filter(|used| used != module)
        .filter_map(|used| match layer(&used) {
            Some(theirs) if theirs > own => None,
            Some(_) => Some(format!("{module} uses {used}, which is not below it")),
            None => Some(format!("{module} uses {used}, which has no layer")),
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    let mut modules = BTreeSet::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        if relative == Path::new("lib.rs") {
            continue;
        }
        let module = module_of(relative);
        let source = std::fs::read_to_string(&file).unwrap();
        for v in violations(&module, &source) {
            found.push(format!("{}: {v}", relative.display()));
        }
        modules.insert(module);
    }
    assert!(found.is_empty(), "{found:#?}");
    let placed: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|l| l.iter().map(|m| m.to_string()))
        .collect();
    assert_eq!(modules, placed, "every layer names a module that exists");
}

#[test]
fn the_check_catches_uses_that_go_up_or_sideways() {
    assert!(violations("sweeper", "use crate::change::Status; use crate::graph::X;").is_empty());
    assert_eq!(
        violations("change", "use crate::store::Store;"),
        ["change uses store, which is not below it"]
    );
    assert_eq!(
        violations("sweeper", "let s = crate::intake::router;"),
        ["sweeper uses intake, which is not below it"]
    );
    assert_eq!(
        violations("bin", "use graphgate::nowhere::X;"),
        ["bin uses nowhere, which has no layer"]
    );
    assert_eq!(
        violations("store", "fn f() { crate::lambda::Starting::begin() }"),
        ["store uses lambda, which is not below it"]
    );
    assert_eq!(
        violations(
            "graph",
            "use crate::{change::{Action, DeviceId},\n    sweeper::Sweeper, telemetry};"
        ),
        ["graph uses sweeper, which is not below it"]
    );
    assert_eq!(
        violations("bin", "use graphgate::{local, telemetry};"),
        Vec::<String>::new()
    );
}

/// Files inside one folder import one way too: two files that use each other, directly or
/// around a longer circle, are one module in disguise. A file stands for its sibling module;
/// a name its folder re-exports (`pub use fleet::Fleet;`) counts as a use of the file that
/// defines it. Unit tests (`#[cfg(test)]` to the end of a file) are left out: a test may
/// reach anywhere.
#[test]
fn files_in_a_folder_use_each_other_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let circles = circles_in(&src);
    assert!(
        circles.is_empty(),
        "circles between files of a folder: {circles:#?}"
    );
}

/// A file's module path under `src/`: `change/record/made.rs` is `["change", "record", "made"]`,
/// `change/mod.rs` is `["change"]`, `lib.rs` is `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut path: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_str().unwrap().to_owned())
        .collect();
    if path
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        path.pop();
    }
    path
}

/// Every path a use tree names, expanded: `a::{b, c::{d, e}}` is `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    fn items(text: &str) -> Vec<&str> {
        let (mut depth, mut start, mut out) = (0, 0, Vec::new());
        for (i, c) in text.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(&text[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(&text[start..]);
        out
    }
    // `Name as Other` names `Name`.
    let mut tree = tree.to_owned();
    while let Some(at) = tree.find(" as ") {
        let rest = &tree[at + 4..];
        let alias = rest.len() - rest.trim_start().len()
            + rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .count();
        tree.replace_range(at..at + 4 + alias, "");
    }
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        let path: Vec<String> = tree
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        return vec![path];
    };
    let prefix: Vec<String> = tree[..open]
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    items(inner)
        .into_iter()
        .filter(|item| !item.is_empty())
        .flat_map(|item| {
            expand(item).into_iter().map(|rest| {
                let mut path = prefix.clone();
                path.extend(rest.into_iter().filter(|s| s != "self"));
                path
            })
        })
        .collect()
}

/// The paths `source`, the file of module `at`, names through each of `starts` (`crate`,
/// `graphgate` in a binary, `super`, `self`), made absolute (from the crate's root).
fn absolute_paths(source: &str, at: &[String], starts: &[&str]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for start in starts {
        for (i, _) in source.match_indices(&format!("{start}::")) {
            let before = source[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            // The path runs to the end of its use tree: a balanced group, or the first
            // character no path has.
            let rest = &source[i..];
            let (mut depth, mut end) = (0, rest.len());
            for (j, c) in rest.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        end = j;
                        break;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = j + 1;
                            break;
                        }
                    }
                    c if depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':') => {
                        end = j;
                        break;
                    }
                    _ => {}
                }
            }
            for path in expand(&rest[..end]) {
                // `super` from `a/b.rs` and from `a/b/mod.rs` (both module a::b) is `a`.
                let mut base: Vec<String> = match path.first().map(String::as_str) {
                    Some("crate" | "graphgate") => Vec::new(),
                    Some("self") => at.to_vec(),
                    Some("super") => at[..at.len().saturating_sub(1)].to_vec(),
                    _ => continue,
                };
                let mut segments = path[1..].iter().peekable();
                while segments.peek().is_some_and(|s| *s == "super") {
                    base.pop();
                    segments.next();
                }
                base.extend(segments.cloned());
                found.push(base);
            }
        }
    }
    found
}

/// The circles between sibling files in each folder of `src`, each listed by its files.
fn circles_in(src: &Path) -> Vec<Vec<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    // Each file's module path, and its code: no unit tests, no comment lines.
    let parsed: Vec<(Vec<String>, String)> = files
        .iter()
        .map(|file| {
            let relative = file.strip_prefix(src).unwrap();
            let source = std::fs::read_to_string(file).unwrap();
            let code = source.split("#[cfg(test)]").next().unwrap();
            let code: Vec<&str> = code
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .collect();
            (module_path(relative), code.join("\n"))
        })
        .collect();
    let modules: BTreeSet<Vec<String>> = parsed.iter().map(|(m, ..)| m.clone()).collect();
    // Which sibling defines a name its folder re-exports: `pub use fleet::Fleet` in `change`.
    let mut reexported: std::collections::BTreeMap<(Vec<String>, String), String> =
        Default::default();
    for (module, code) in &parsed {
        for statement in code.split(';') {
            let statement = statement.trim();
            let Some(tree) = ["pub use ", "pub(crate) use ", "pub(super) use "]
                .iter()
                .find_map(|p| statement.split_once(p).map(|(_, tree)| tree))
            else {
                continue;
            };
            for path in expand(tree) {
                let (Some(sibling), Some(name)) = (path.first(), path.last()) else {
                    continue;
                };
                let mut defined = module.clone();
                defined.push(sibling.clone());
                if modules.contains(&defined) {
                    reexported.insert((module.clone(), name.clone()), sibling.clone());
                }
            }
        }
    }
    // Edges between siblings: (folder, from, to).
    let mut edges: BTreeSet<(Vec<String>, String, String)> = BTreeSet::new();
    for (module, code) in &parsed {
        for path in absolute_paths(code, module, &["crate", "super", "self"]) {
            // The deepest folder both share, and the siblings under it each lies in.
            let shared = module.iter().zip(&path).take_while(|(a, b)| a == b).count();
            if shared >= module.len() || shared >= path.len() {
                continue;
            }
            let folder = module[..shared].to_vec();
            let from = module[shared].clone();
            let mut sibling_path = folder.clone();
            sibling_path.push(path[shared].clone());
            let to = if modules.contains(&sibling_path) {
                path[shared].clone()
            } else if let Some(defined) = reexported.get(&(folder.clone(), path[shared].clone())) {
                defined.clone()
            } else {
                continue;
            };
            if from != to {
                edges.insert((folder, from, to));
            }
        }
    }
    let mut circles = Vec::new();
    let folders: BTreeSet<&Vec<String>> = edges.iter().map(|(f, ..)| f).collect();
    for folder in folders {
        let next = |from: &str| -> Vec<String> {
            edges
                .iter()
                .filter(|(f, a, _)| f == folder && a == from)
                .map(|(_, _, b)| b.clone())
                .collect()
        };
        let names: BTreeSet<String> = edges
            .iter()
            .filter(|(f, ..)| f == folder)
            .flat_map(|(_, a, b)| [a.clone(), b.clone()])
            .collect();
        // Two siblings are in one circle when each reaches the other.
        let reach = |from: &str| -> BTreeSet<String> {
            let (mut seen, mut todo) = (BTreeSet::new(), vec![from.to_owned()]);
            while let Some(at) = todo.pop() {
                for n in next(&at) {
                    if seen.insert(n.clone()) {
                        todo.push(n);
                    }
                }
            }
            seen
        };
        let mut placed = BTreeSet::new();
        for name in &names {
            if placed.contains(name) {
                continue;
            }
            let from_here = reach(name);
            let circle: Vec<String> = names
                .iter()
                .filter(|other| {
                    *other == name || (from_here.contains(*other) && reach(other).contains(name))
                })
                .cloned()
                .collect();
            if circle.len() > 1 {
                let prefix = if folder.is_empty() {
                    String::new()
                } else {
                    format!("{}/", folder.join("/"))
                };
                circles.push(circle.iter().map(|c| format!("{prefix}{c}")).collect());
                placed.extend(circle);
            }
        }
    }
    circles
}

#[test]
fn the_circle_check_follows_paths_groups_and_reexports() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    };
    write("lib.rs", "pub mod shop;");
    write(
        "shop/mod.rs",
        "mod cart; mod price; mod tax; pub use price::Price;",
    );
    // cart -> price through the folder's re-export, price -> tax in a group, tax -> cart.
    write("shop/cart.rs", "use super::Price;");
    write("shop/price.rs", "use crate::shop::{tax::{Rate, Zone}};");
    write(
        "shop/tax.rs",
        "fn f() { super::cart::total() }\n#[cfg(test)]\nuse super::price::X;",
    );
    assert_eq!(
        circles_in(dir.path()),
        [["shop/cart", "shop/price", "shop/tax"]]
    );
    // Broken at one place, and a use only in unit tests is not an edge.
    write(
        "shop/tax.rs",
        "pub struct Rate;\n#[cfg(test)]\nuse super::cart::X;",
    );
    assert!(circles_in(dir.path()).is_empty());
}
