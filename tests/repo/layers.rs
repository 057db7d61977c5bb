//! Dependencies run one way. Each module of `src/` sits in one layer, and may use only
//! modules of the layers below its own: never one above, never a neighbour in its own layer.
//! A new module fails this test until it is given a place here.

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
    &["graph", "store", "callback", "secrets"],
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

/// The graphgate modules `source` names: `crate::x` inside the library, `graphgate::x` in a
/// binary, and each first name in a group such as `crate::{x, y::z}`.
fn uses(source: &str, prefix: &str) -> BTreeSet<String> {
    let ident = |text: &str| -> String {
        text.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = BTreeSet::new();
    for (at, _) in source.match_indices(prefix) {
        // `graphgate::` inside a longer path, such as `xgraphgate::`, is not ours.
        let before = source[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &source[at + prefix.len()..];
        let Some(group) = rest.strip_prefix('{') else {
            names.insert(ident(rest));
            continue;
        };
        // The first name of each item at the group's own depth.
        let mut depth = 1;
        names.insert(ident(group));
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 1 => {
                    names.insert(ident(&group[i + 1..]));
                }
                _ => {}
            }
            if depth == 0 {
                break;
            }
        }
    }
    names.retain(|name| !name.is_empty());
    names
}

/// Every use in `source`, a file of `module`, that goes up or sideways.
fn violations(module: &str, source: &str) -> Vec<String> {
    let prefix = if module == "bin" {
        "graphgate::"
    } else {
        "crate::"
    };
    let Some(own) = layer(module) else {
        return vec![format!("{module} has no layer in tests/repo/layers.rs")];
    };
    uses(source, prefix)
        .into_iter()
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
