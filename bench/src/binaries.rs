//! (f) What graphgate ships: the binaries' sizes, the TLS crypto providers they link, and
//! what the provider's first random draw costs a fresh process.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, ms, percentile, row};

/// The rows of figure (f), for the binaries built in `bin`; `starts` fresh processes time
/// the first random draw.
pub fn rows(bin: &Path, starts: usize) -> Result<Vec<String>, Error> {
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
    rows.push(first_draw_row(starts)?);
    Ok(rows)
}

/// aws-lc seeds its generator on the first draw of a process: from CPU jitter, unless built
/// with `AWS_LC_SYS_NO_JITTER_ENTROPY=1`. A TLS handshake is the first draw of a cold start
/// in production; the harness's moto speaks plain HTTP, so (a) never makes one.
fn first_draw_row(starts: usize) -> Result<String, Error> {
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for _ in 0..starts {
        let out = Command::new(std::env::current_exe()?)
            .arg("--first-random")
            .stderr(Stdio::inherit())
            .output()?;
        let text = String::from_utf8(out.stdout)?;
        let mut nanos = text.split_whitespace().map(str::parse::<u64>);
        let (Some(Ok(a)), Some(Ok(b))) = (nanos.next(), nanos.next()) else {
            return Err(format!("--first-random printed {text:?}").into());
        };
        first.push(Duration::from_nanos(a));
        second.push(Duration::from_nanos(b));
    }
    let (first, second) = (percentile(&mut first, 50.0), percentile(&mut second, 50.0));
    // As the build saw it; aws-lc-sys reads the value itself (`1`, `true`, …).
    let setting = option_env!("AWS_LC_SYS_NO_JITTER_ENTROPY").unwrap_or("unset");
    Ok(row(
        "f",
        &format!(
            "aws-lc's first random draw in a fresh process, built with \
             `AWS_LC_SYS_NO_JITTER_ENTROPY` {setting}, median of {starts}"
        ),
        &format!("{} the first, {} the second", ms(first), ms(second)),
        "",
        "reported",
    ))
}

/// How long the first and the second 32-byte draw from aws-lc take in this process, in
/// nanoseconds.
pub fn first_random_draws() -> String {
    let mut bytes = [0; 32];
    let started = Instant::now();
    aws_lc_rs::rand::fill(&mut bytes).expect("aws-lc draws");
    let first = started.elapsed();
    let started = Instant::now();
    aws_lc_rs::rand::fill(&mut bytes).expect("aws-lc draws");
    format!("{} {}", first.as_nanos(), started.elapsed().as_nanos())
}

/// Whether `package` is in the dependency graph of what graphgate ships on this target
/// (`cargo tree` succeeds, printing nothing, for a package only other targets use).
fn linked(package: &str) -> bool {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "tree",
            "--package",
            "graphgate",
            "--edges",
            "normal",
            "--invert",
            package,
            "--offline",
        ])
        // The workspace's root: graphgate's own package, not the harness's.
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && !out.stdout.is_empty())
}
