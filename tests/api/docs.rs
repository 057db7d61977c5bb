//! The docs held to the code. Every environment variable the code reads, every problem type,
//! metric, subcommand, flag and template parameter is on its page; every relative link in the
//! Markdown resolves, anchors included; and every example marked `<!-- checked: KIND -->` just
//! before its fence is parsed by graphgate's own parsers, shell recipes run as a reader would
//! run them. Each check has a small self-test below showing that it catches what it is for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use graphgate::callers::CallerRegistry;
use graphgate::change::{ChangeRequest, FailureReason};
use graphgate::metrics::Metric;
use serde_json::Value;

use super::template::repo;

const CONFIGURATION: &str = "docs/src/operating/configuration.md";
const ERRORS: &str = "docs/src/calling/errors.md";
const MONITORING: &str = "docs/src/operating/monitoring.md";
const COMMAND: &str = "docs/src/operating/install.md";
/// The pages that deploy the template, where its parameters are explained.
const DEPLOYING: &[&str] = &[
    "docs/src/operating/sam.md",
    "docs/src/operating/monitoring.md",
];

/// What a reader puts in place of each placeholder of a checked example. Where a placeholder
/// states a rule, its value is the least the rule allows, so that a rule the docs state too
/// loosely fails.
const PLACEHOLDERS: &[(&str, &str)] = &[
    (
        "<at least 32 characters>",
        "0123456789abcdef0123456789abcdef",
    ),
    // 24 bytes.
    ("<base64, 24+ bytes>", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    (
        "<64 hex digits>",
        "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
    ),
    // GitHub's example secret: what a reader types into the sender.
    ("<shared secret>", "It's a Secret to Everybody"),
    // Slack's example signing secret.
    ("<signing secret>", "8f742231b10e8888abcd99yyyzzz85a5"),
    // Teams shows base64 of a 32-byte key.
    (
        "<security token>",
        "wBEnSqKyHbw1ZLIKNNMUPjZwbXRXU3t1Zc6nIX+7ba0=",
    ),
    ("<a device id>", "room-lisbon"),
    // A receiver's own user, for `callbackAuthorization`.
    ("<base64 of user:password>", "Z3JhcGhnYXRlOnBhc3N3b3Jk"),
    // Ticket systems' credentials, as their admin pages give them.
    ("<password>", "correct horse battery staple"),
    ("<OAuth client ID>", "ac0dd8bdcbe2d4c8eb6e1e5c5e9b4b3a"),
    ("<OAuth client secret>", "R3ZGhTt6Yw"),
    ("<API token>", "ATATT3xFfGF0T1pLm2rXYZ"),
];

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo().join(relative))
        .unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

/// Every file under `dir` (relative to the repository) whose name ends in `extension`.
fn files_under(dir: &str, extension: &str) -> Vec<String> {
    fn walk(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, extension, out);
            } else if path.extension().is_some_and(|e| e == extension) {
                out.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&repo().join(dir), extension, &mut found);
    let mut relative: Vec<String> = found
        .iter()
        .map(|p| p.strip_prefix(repo()).unwrap().to_str().unwrap().to_owned())
        .collect();
    relative.sort();
    relative
}

/// The Markdown the docs are made of: the front page, the two guides for contributors, and
/// the manual.
fn markdown_files() -> Vec<String> {
    let mut files: Vec<String> = ["README.md", "ARCHITECTURE.md", "CONTRIBUTING.md"]
        .map(str::to_owned)
        .to_vec();
    files.extend(files_under("docs", "md"));
    files
}

/// The names of `names` that `text` does not mention in backticks: as `` `NAME` ``, or at the
/// start of a code span such as `` `--throttle N` ``, but not inside a longer name.
fn unmentioned<'a>(text: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    names
        .into_iter()
        .filter(|name| {
            !text.match_indices(&format!("`{name}")).any(|(at, found)| {
                let after = text[at + found.len()..].chars().next();
                !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
            })
        })
        .collect()
}

fn assert_mentioned<'a>(page: &str, what: &str, names: impl IntoIterator<Item = &'a str>) {
    let missing = unmentioned(&read(page), names);
    assert!(
        missing.is_empty(),
        "{page} does not mention these {what} (in backticks): {missing:?}; document each there"
    );
}

/// The environment variables `source` reads: its string literals in SCREAMING_SNAKE_CASE,
/// which graphgate uses for nothing else, but for what `env!` reads when it is built.
fn env_vars_read(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in source.match_indices('"') {
        let rest = &source[at + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        let closed = rest[name.len()..].starts_with('"');
        let screaming = name.starts_with(|c: char| c.is_ascii_uppercase())
            && name.contains('_')
            && !name.ends_with('_');
        if closed && screaming && !source[..at].ends_with("env!(") {
            names.insert(name);
        }
    }
    names
}

/// The problem types `source` defines: the first string literal after each `Problem::new(`.
fn problem_types(source: &str) -> BTreeSet<String> {
    source
        .split("Problem::new(")
        .skip(1)
        .filter_map(|call| call.split('"').nth(1).map(str::to_owned))
        .collect()
}

#[test]
fn every_environment_variable_the_code_reads_is_on_the_configuration_page() {
    let mut read_by_code = BTreeSet::new();
    for file in files_under("src", "rs") {
        read_by_code.extend(env_vars_read(&read(&file)));
    }
    assert!(
        read_by_code.contains("GRAPHGATE_CALLERS") && read_by_code.contains("RUST_LOG"),
        "the scan of src/ no longer finds the variables it should: {read_by_code:?}"
    );
    assert_mentioned(
        CONFIGURATION,
        "environment variables",
        read_by_code.iter().map(String::as_str),
    );
}

/// The rows of the table under `## Failure codes`: each code, and what it says of it with
/// links read as their text.
fn failure_codes_table(markdown: &str) -> BTreeMap<String, String> {
    let section = markdown
        .split("\n## Failure codes")
        .nth(1)
        .expect("a Failure codes section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `")?.strip_suffix(" |"))
        .filter_map(|row| row.split_once("` | "))
        .map(|(code, meaning)| (code.to_owned(), link_text(meaning)))
        .collect()
}

/// `text` with each Markdown link `[words](target)` read as its words.
fn link_text(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some((words, after)) = rest[open + 1..].split_once("](") else {
            break;
        };
        let Some(close) = after.find(')') else { break };
        out.push_str(&rest[..open]);
        out.push_str(words);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_failure_codes_table_is_graphgates_own_reasons_and_their_meanings() {
    let page = "docs/src/calling/changes.md";
    let documented = failure_codes_table(&read(page));
    let reasons: BTreeMap<String, String> = FailureReason::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), r.meaning().to_owned()))
        .collect();
    assert_eq!(
        documented, reasons,
        "{page}'s failure codes table and graphgate::change::FailureReason (codes and meanings) differ"
    );
}

#[test]
fn every_problem_type_is_in_the_errors_table() {
    let mut types = BTreeSet::new();
    for file in files_under("src/intake", "rs") {
        types.extend(problem_types(&read(&file)));
    }
    assert!(
        types.contains("validation") && types.contains("internal"),
        "no problem types found under src/intake as the first argument of Problem::new: has \
         the way they are made changed? ({types:?})"
    );
    assert_mentioned(ERRORS, "problem types", types.iter().map(String::as_str));
}

#[test]
fn every_metric_is_on_the_metrics_page() {
    assert_mentioned(MONITORING, "metrics", Metric::ALL.iter().map(|m| m.name()));
}

/// The words `help` lists under `heading:`, each the first of its line: subcommands or flags.
fn listed(help: &str, heading: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim_end() != heading)
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| match heading {
            "Commands:" => line.split_whitespace().next(),
            // A flag's line starts with it (`-h, --help`); its description's lines do not.
            _ => line
                .trim_start()
                .starts_with('-')
                .then(|| line.split_whitespace().find(|w| w.starts_with("--")))
                .flatten(),
        })
        .map(|w| w.trim_end_matches(',').to_owned())
        .collect()
}

fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_graphgate"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success(), "graphgate {args:?} --help failed");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_subcommand_and_flag_is_on_the_command_page() {
    let subcommands: Vec<String> = listed(&help(&[]), "Commands:")
        .into_iter()
        .filter(|s| s != "help")
        .collect();
    assert!(
        subcommands.iter().any(|s| s == "serve"),
        "graphgate --help lists no subcommands as expected: {subcommands:?}"
    );
    let mut flags = BTreeSet::new();
    for subcommand in &subcommands {
        flags.extend(
            listed(&help(&[subcommand]), "Options:")
                .into_iter()
                .filter(|f| f != "--help" && f != "--version"),
        );
    }
    assert_mentioned(
        COMMAND,
        "subcommands",
        subcommands.iter().map(String::as_str),
    );
    assert_mentioned(COMMAND, "flags", flags.iter().map(String::as_str));
}

/// What GitHub (and mdBook) make of a heading for its anchor.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// `markdown` without its fenced code blocks, which hold no links or headings.
fn prose(markdown: &str) -> Vec<(usize, &str)> {
    let mut in_fence = false;
    markdown
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            if line.trim_start().starts_with("```") {
                in_fence = !in_fence;
                return false;
            }
            !in_fence
        })
        .map(|(i, line)| (i + 1, line))
        .collect()
}

/// The anchors of `markdown`'s headings, a repeated one numbered as GitHub numbers it.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for (_, line) in prose(markdown) {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let base = slug(heading.trim_start_matches('#'));
        let count = seen.entry(base.clone()).or_default();
        anchors.insert(match *count {
            0 => base.clone(),
            n => format!("{base}-{n}"),
        });
        *count += 1;
    }
    anchors
}

/// Each link of `markdown` that is not to another site, with its line: `](target)`.
fn relative_links(markdown: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    for (number, line) in prose(markdown) {
        for (at, _) in line.match_indices("](") {
            let rest = &line[at + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if !target.contains("://") && !target.starts_with("mailto:") {
                links.push((number, target.to_owned()));
            }
        }
    }
    links
}

/// `path` with its `.` and `..` taken out, as a path relative to the repository; `None` when it
/// leaves the repository.
fn normalised(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// The links of `file` (relative to the repository, holding `markdown`) that lead nowhere.
/// `exists` says whether a path is in the repository, and `markdown_of` gives a page's text.
fn broken_links(
    file: &str,
    markdown: &str,
    exists: &dyn Fn(&Path) -> bool,
    markdown_of: &dyn Fn(&Path) -> Option<String>,
) -> Vec<String> {
    let here = Path::new(file).parent().unwrap();
    let mut broken = Vec::new();
    for (line, target) in relative_links(markdown) {
        let (path, anchor) = match target.split_once('#') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (target.as_str(), None),
        };
        let resolved = if path.is_empty() {
            Some(PathBuf::from(file))
        } else {
            normalised(&here.join(path))
        };
        let problem = match &resolved {
            None => Some("leaves the repository".to_owned()),
            Some(p) if !exists(p) => Some(format!("{} does not exist", p.display())),
            Some(p) => anchor.and_then(|anchor| match markdown_of(p) {
                Some(text) if anchors(&text).contains(anchor) => None,
                Some(_) => Some(format!("{} has no heading #{anchor}", p.display())),
                None => Some(format!(
                    "{} is not Markdown, so has no #{anchor}",
                    p.display()
                )),
            }),
        };
        if let Some(problem) = problem {
            broken.push(format!("{file}:{line}: ({target}) {problem}"));
        }
    }
    broken
}

#[test]
fn every_relative_link_resolves() {
    let exists = |p: &Path| repo().join(p).exists();
    let markdown_of = |p: &Path| {
        (p.extension().is_some_and(|e| e == "md"))
            .then(|| std::fs::read_to_string(repo().join(p)).ok())
            .flatten()
    };
    let mut broken = Vec::new();
    for file in markdown_files() {
        broken.extend(broken_links(&file, &read(&file), &exists, &markdown_of));
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_template_parameter_is_explained_and_every_one_named_exists() {
    let declared: BTreeSet<String> = super::template::rendered()["Parameters"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let pages: String = DEPLOYING.iter().map(|p| read(p)).collect();
    let missing = unmentioned(&pages, declared.iter().map(String::as_str));
    assert!(
        missing.is_empty(),
        "no page of {DEPLOYING:?} explains these template parameters: {missing:?}"
    );
    let mut named = BTreeSet::new();
    for file in markdown_files() {
        named.extend(parameters_named(&read(&file)));
    }
    let unknown: Vec<&String> = named.difference(&declared).collect();
    assert!(
        unknown.is_empty(),
        "the docs name template parameters that template.yaml does not declare: {unknown:?}"
    );
}

/// The names of `` `code` `` spans in `text` that look like a template parameter (`CamelCase`).
fn camel_names(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split('`').skip(1).step_by(2).filter_map(|code| {
        let camel = code.starts_with(|c: char| c.is_ascii_uppercase())
            && code.chars().all(|c| c.is_ascii_alphanumeric())
            && code.chars().any(|c| c.is_ascii_lowercase());
        camel.then(|| code.to_owned())
    })
}

/// The template parameters `markdown` names as such: in a section headed "Parameters", in a
/// table's column headed "parameter…", and wherever it says "the `Name` parameter".
fn parameters_named(markdown: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let mut in_section = false;
    let mut column = None;
    for (_, line) in prose(markdown) {
        if let Some(heading) = line.strip_prefix('#') {
            in_section = heading.trim_start_matches('#').trim() == "Parameters";
            continue;
        }
        if in_section {
            named.extend(camel_names(line));
        }
        if line.starts_with('|') {
            let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
            if column.is_none() {
                column = cells.iter().position(|c| c.trim().starts_with("parameter"));
            } else if let Some(cell) = column.and_then(|i| cells.get(i)) {
                named.extend(camel_names(cell));
            }
        } else {
            column = None;
        }
        for (at, _) in line.match_indices("` parameter") {
            if let Some(start) = line[..at].rfind('`') {
                named.extend(camel_names(&line[start..=at]));
            }
        }
    }
    named
}

/// A checked example: its file and line, its kind, and the text of its fence.
struct Example {
    place: String,
    kind: String,
    text: String,
}

/// The examples of `file` marked `<!-- checked: KIND -->` on the line before their fence, each
/// fence's lines taken out of the indentation it has (in a list, say).
fn examples(file: &str, markdown: &str) -> Vec<Example> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(kind) = line
            .trim()
            .strip_prefix("<!-- checked:")
            .and_then(|rest| rest.strip_suffix("-->"))
        else {
            continue;
        };
        let place = format!("{file}:{}", i + 1);
        let fence = lines.get(i + 1).copied().unwrap_or_default();
        assert!(
            fence.trim_start().starts_with("```"),
            "{place}: a checked marker must be on the line just before its fence"
        );
        let indent = fence.len() - fence.trim_start().len();
        let text: Vec<&str> = lines[i + 2..]
            .iter()
            .take_while(|l| l.trim() != "```")
            .map(|l| l.get(indent..).unwrap_or(l.trim_start()))
            .collect();
        found.push(Example {
            place,
            kind: kind.trim().to_owned(),
            text: text.join("\n"),
        });
    }
    found
}

/// `json` with each placeholder as [`PLACEHOLDERS`] fills it; an unknown one is an error.
fn filled(json: &str) -> Result<String, String> {
    let mut text = json.to_owned();
    for (placeholder, value) in PLACEHOLDERS {
        text = text.replace(placeholder, value);
    }
    match text.find('<').zip(text.find('>')) {
        Some((open, close)) if open < close => Err(format!(
            "a placeholder the test does not know: {}; add it to PLACEHOLDERS",
            &text[open..=close]
        )),
        _ => Ok(text),
    }
}

fn parse_callers(json: &str) -> Result<CallerRegistry, String> {
    let json = filled(json)?;
    // A single caller, as the chat pages show one, is a registry of one.
    let json = if json.trim_start().starts_with('{') {
        format!("[{json}]")
    } else {
        json
    };
    CallerRegistry::parse(&json).map_err(|e| e.to_string())
}

fn parse_change(json: &str) -> Result<ChangeRequest, String> {
    let body: Value = serde_json::from_str(&filled(json)?).map_err(|e| e.to_string())?;
    let Value::Object(body) = body else {
        return Err("not a JSON object".into());
    };
    ChangeRequest::parse(&body).map_err(|errors| format!("{errors:?}"))
}

/// A sender's template variables (`${number}`, `{{issue.key}}`) in an inline example, each
/// given a value such as the sender would put there.
fn with_sender_values(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    loop {
        let next = [("${", "}"), ("{{", "}}")]
            .into_iter()
            .filter_map(|(open, close)| {
                let at = rest.find(open)?;
                let end = rest[at..].find(close)? + at + close.len();
                Some((at, end))
            })
            .min();
        let Some((at, end)) = next else { break };
        out.push_str(&rest[..at]);
        out.push_str("CHG0001");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A reader's shell, as far as the docs' recipes go: words in single and double quotes,
/// `$NAME` and `$(command)`, `\` line continuations, `#` comments and `NAME=value`
/// assignments (also after `export`). Of the commands in `$(…)`, `openssl rand -hex N` and
/// `openssl rand -base64 N` print N bytes as openssl does; any other prints nothing.
#[derive(Default)]
struct Shell {
    vars: BTreeMap<String, String>,
}

impl Shell {
    /// Runs `script`: keeps its assignments, and returns its other commands' words.
    fn run(&mut self, script: &str) -> Vec<Vec<String>> {
        let chars: Vec<char> = script.chars().collect();
        let mut commands = Vec::new();
        let mut words: Vec<String> = Vec::new();
        let mut word: Option<String> = None;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '\\' => {
                    let next = chars.get(i).copied().unwrap_or('\n');
                    i += 1;
                    if next != '\n' {
                        word.get_or_insert_default().push(next);
                    }
                }
                '\n' | ';' => {
                    words.extend(word.take());
                    self.finish(std::mem::take(&mut words), &mut commands);
                }
                ' ' | '\t' => words.extend(word.take()),
                '#' if word.is_none() => {
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                }
                '\'' => {
                    let w = word.get_or_insert_default();
                    while i < chars.len() && chars[i] != '\'' {
                        w.push(chars[i]);
                        i += 1;
                    }
                    i += 1;
                }
                '"' => {
                    word.get_or_insert_default();
                    while i < chars.len() && chars[i] != '"' {
                        let c = chars[i];
                        i += 1;
                        let text = match c {
                            '\\' if matches!(chars.get(i), Some('"' | '\\' | '$' | '`')) => {
                                i += 1;
                                chars[i - 1].to_string()
                            }
                            '$' => self.expand(&chars, &mut i),
                            c => c.to_string(),
                        };
                        word.as_mut().unwrap().push_str(&text);
                    }
                    i += 1;
                }
                '$' => {
                    let text = self.expand(&chars, &mut i);
                    word.get_or_insert_default().push_str(&text);
                }
                c => word.get_or_insert_default().push(c),
            }
        }
        words.extend(word);
        self.finish(words, &mut commands);
        commands
    }

    fn finish(&mut self, mut words: Vec<String>, commands: &mut Vec<Vec<String>>) {
        if words.first().is_some_and(|w| w == "export") {
            words.remove(0);
        }
        let assignment = words
            .first()
            .and_then(|w| w.split_once('='))
            .filter(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        match assignment {
            Some((name, value)) if words.len() == 1 => {
                self.vars.insert(name.to_owned(), value.to_owned());
            }
            _ if words.is_empty() => {}
            _ => commands.push(words),
        }
    }

    /// What `$…` at `chars[*i..]` (after the `$`) stands for, moving `i` past it.
    fn expand(&mut self, chars: &[char], i: &mut usize) -> String {
        if chars.get(*i) == Some(&'(') {
            let mut depth = 0;
            let start = *i + 1;
            while *i < chars.len() {
                match chars[*i] {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                *i += 1;
                if depth == 0 {
                    break;
                }
            }
            let inner: String = chars[start..*i - 1].iter().collect();
            let words = Shell::default().run(&inner).into_iter().next();
            return Self::output(&words.unwrap_or_default());
        }
        let braced = chars.get(*i) == Some(&'{');
        if braced {
            *i += 1;
        }
        let name: String = chars[*i..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
            .collect();
        if name.is_empty() && !braced {
            return "$".into();
        }
        *i += name.len() + usize::from(braced);
        self.vars.get(&name).cloned().unwrap_or_default()
    }

    fn output(words: &[String]) -> String {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let bytes = |n: &str| -> Vec<u8> { (0..n.parse::<u8>().unwrap()).collect() };
        match words[..] {
            ["openssl", "rand", "-hex", n] => hex::encode(bytes(n)),
            ["openssl", "rand", "-base64", n] => BASE64.encode(bytes(n)),
            _ => String::new(),
        }
    }
}

/// The word after `flag` in each of `commands` that starts with `program`.
fn arguments(commands: &[Vec<String>], program: &str, flags: &[&str]) -> Vec<String> {
    commands
        .iter()
        .filter(|words| words[0] == program)
        .filter_map(|words| {
            let at = words.iter().position(|w| flags.contains(&w.as_str()))?;
            words.get(at + 1).cloned()
        })
        .collect()
}

/// What is wrong with `example`, run in `shell` (which keeps the page's variables).
fn check_example(example: &Example, shell: &mut Shell) -> Vec<String> {
    let results: Vec<Result<(), String>> = match example.kind.as_str() {
        "callers" => vec![parse_callers(&example.text).map(drop)],
        "change" => vec![parse_change(&example.text).map(drop)],
        "change-curl" => {
            let commands = shell.run(&example.text);
            let bodies = arguments(&commands, "curl", &["-d", "--data"]);
            if bodies.is_empty() {
                vec![Err("no curl -d body in it".into())]
            } else {
                bodies.iter().map(|b| parse_change(b).map(drop)).collect()
            }
        }
        "callers-recipe" => {
            let commands = shell.run(&example.text);
            let registries = arguments(&commands, "aws", &["--secret-string"]);
            if registries.is_empty() {
                vec![Err("no aws … --secret-string in it".into())]
            } else {
                registries
                    .iter()
                    .map(|r| parse_callers(r).map(drop))
                    .collect()
            }
        }
        other => vec![Err(format!("unknown kind {other:?}"))],
    };
    results
        .into_iter()
        .filter_map(Result::err)
        .map(|e| format!("{} ({}): {e}", example.place, example.kind))
        .collect()
}

#[test]
fn every_checked_example_parses_as_graphgate_reads_it() {
    let mut problems = Vec::new();
    let mut kinds = BTreeSet::new();
    for file in markdown_files() {
        let mut shell = Shell::default();
        for example in examples(&file, &read(&file)) {
            problems.extend(check_example(&example, &mut shell));
            kinds.insert(example.kind);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        kinds,
        BTreeSet::from(["callers", "callers-recipe", "change", "change-curl"].map(String::from)),
        "an example kind the docs no longer mark is no longer checked"
    );
}

/// A request body shown inline in prose (a sender's body built from its record), with the
/// sender's variables filled in, parses as graphgate reads it.
#[test]
fn every_inline_request_body_parses() {
    let (mut found, mut refused) = (0, Vec::new());
    for file in markdown_files() {
        let text = read(&file);
        for (line, words) in prose(&text) {
            // Code spans are the odd pieces between backticks.
            for span in words.split('`').skip(1).step_by(2) {
                if !span.starts_with("{\"action\"") {
                    continue;
                }
                found += 1;
                if let Err(e) = parse_change(&with_sender_values(span)) {
                    refused.push(format!("{file}:{line}: {span}: {e}"));
                }
            }
        }
    }
    assert!(
        found > 0,
        "no inline request body found: the scan no longer sees them"
    );
    assert!(refused.is_empty(), "{refused:#?}");
}

#[test]
fn the_checks_catch_what_they_are_for() {
    // A sender's variables are filled, whichever template syntax it has.
    assert_eq!(
        with_sender_values(r#"{"deviceId": "${u_device_id}", "reference": "{{issue.key}}"}"#),
        r#"{"deviceId": "CHG0001", "reference": "CHG0001"}"#
    );
    // A table row's links read as their words, whatever their target.
    assert_eq!(
        link_text("sent again (see [Fleet changes](fleets.md#a)) and [b](c)"),
        "sent again (see Fleet changes) and b"
    );
    // A name missing from a page, or only inside a longer one.
    assert_eq!(
        unmentioned(
            "`GRAPH_A` and `--x N`, `not-found-ish`",
            ["GRAPH_A", "GRAPH_AB", "--x", "not-found"]
        ),
        ["GRAPH_AB", "not-found"]
    );
    assert_eq!(
        env_vars_read(
            r#"env("GRAPH_X"); env!("CARGO_PKG_VERSION"); "lower_case"; "NOUNDERSCORE"; "A_""#
        ),
        BTreeSet::from(["GRAPH_X".to_owned()])
    );
    assert_eq!(
        problem_types("Problem::new(\n StatusCode::GONE,\n \"gone\",\n \"Gone\",\n \"…\")"),
        BTreeSet::from(["gone".to_owned()])
    );
    assert_eq!(
        listed(
            "Commands:\n  serve  Serve\n  help  Print\n\nOptions:\n  -h, --help  Print help\n",
            "Commands:"
        ),
        ["serve", "help"]
    );
    assert_eq!(
        listed(
            "Options:\n      --listen <LISTEN>\n          [default: x]\n  -h, --help\n",
            "Options:"
        ),
        ["--listen", "--help"]
    );

    // Links: a missing file, a missing anchor, a way out of the repository.
    let pages = BTreeMap::from([
        ("docs/a.md", "# A title\n\n## The `x` part, again\n"),
        ("docs/b.md", "# B\n"),
    ]);
    let exists = |p: &Path| pages.contains_key(p.to_str().unwrap());
    let markdown_of = |p: &Path| pages.get(p.to_str().unwrap()).map(|t| t.to_string());
    let page = "[ok](b.md) [ok](a.md#the-x-part-again) [ok](#a-title)\n\
                [bad](c.md) [bad](b.md#nope) [bad](../../x.md)\n\
                ```\n[in code](nowhere.md)\n```\n[web](https://example.com/x)";
    let broken = broken_links("docs/a.md", page, &exists, &markdown_of);
    assert_eq!(broken.len(), 3, "{broken:#?}");
    assert!(
        broken[0].contains("docs/c.md does not exist"),
        "{broken:#?}"
    );
    assert!(broken[1].contains("docs/b.md has no heading #nope"));
    assert!(broken[2].contains("leaves the repository"));

    // Parameters named as such.
    let named = parameters_named(
        "## Parameters\n\n`GraphCloud` and `usgov`\n\n## Other\n\n`NotOne`, the `DueShards` \
         parameter\n\n| alarm | parameter (default) |\n|---|---|\n| `XAlarm` | `Threshold` (1) |\n",
    );
    assert_eq!(
        named,
        BTreeSet::from(["DueShards", "GraphCloud", "Threshold"].map(String::from))
    );

    // Examples: a placeholder the test cannot fill, a change with a bad field.
    assert!(
        parse_callers(
            r#"{"name": "x", "auth": {"scheme": "slack", "secret": "<what>"}, "allow": ["*"]}"#
        )
        .unwrap_err()
        .contains("<what>")
    );
    assert!(parse_change(r#"{"action": "restartDevice", "deviceId": "a/b"}"#).is_err());

    // The shell: the registry recipe as the docs once had it, with a hex signing secret,
    // is refused, as graphgate refuses it; with whsec_ and base64 it is taken.
    let recipe = |secret: &str| {
        format!(
            "TOKEN=$(openssl rand -hex 32)\n\
             aws secretsmanager create-secret --name graphgate/callers --secret-string \"[\n  \
             {{\\\"name\\\": \\\"s\\\", \\\"auth\\\": {{\\\"scheme\\\": \\\"bearer\\\", \\\"token\\\": \\\"$TOKEN\\\"}},\n   \
             \\\"allow\\\": [\\\"*\\\"], \\\"signingSecret\\\": \\\"{secret}\\\"}}]\" # a comment\n"
        )
    };
    let check = |secret: &str| {
        check_example(
            &Example {
                place: "here".into(),
                kind: "callers-recipe".into(),
                text: recipe(secret),
            },
            &mut Shell::default(),
        )
    };
    assert!(!check("$(openssl rand -hex 32)").is_empty());
    assert_eq!(
        check("whsec_$(openssl rand -base64 32)"),
        Vec::<String>::new()
    );

    // Quotes, variables and continuations, as a reader's shell joins them.
    let mut shell = Shell::default();
    let commands = shell
        .run("BODY='{\"a\":1'\ncurl -s x \\\n  -d \"$BODY\"',\"b\":2}' # why\nexport T=${BODY}");
    assert_eq!(
        commands,
        [["curl", "-s", "x", "-d", "{\"a\":1,\"b\":2}"].map(String::from)]
    );
    assert_eq!(shell.vars["T"], "{\"a\":1");
}
