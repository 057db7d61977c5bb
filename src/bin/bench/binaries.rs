//! (f) What graphgate ships: the binaries' sizes, and the TLS crypto providers they link.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::row;

/// The rows of figure (f), for the binaries built in `bin`.
pub fn rows(bin: &Path) -> Vec<String> {
    let mut rows = Vec::new();
    for name in ["intake", "sweeper", "graphgate"] {
        if let Ok(meta) = std::fs::metadata(bin.join(name)) {
            rows.push(row(
                "f",
                &format!("`{name}` size"),
                &format!("{:.1} MB", meta.len() as f64 / 1_048_576.0),
                "",
                "",
            ));
        }
    }
    let providers: Vec<&str> = ["ring", "aws-lc-rs"]
        .into_iter()
        .filter(|p| linked(p))
        .collect();
    rows.push(row(
        "f",
        "TLS crypto providers linked",
        &providers.join(", "),
        "",
        "one",
    ));
    rows
}

/// Whether `package` is in the dependency graph of what graphgate ships on this target
/// (`cargo tree` succeeds, printing nothing, for a package only other targets use).
fn linked(package: &str) -> bool {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "tree",
            "--edges",
            "normal",
            "--invert",
            package,
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && !out.stdout.is_empty())
}
