//! The chat grammar Slack and Teams users type, shared by both:
//!
//! ```text
//! update-software <deviceId> <softwareType> <version> [--ticket <reference>] [--dry-run]
//! restart <deviceId> [--ticket <reference>] [--dry-run]
//! diagnostics <deviceId> [--ticket <reference>] [--dry-run]
//! upgrade-app team|chat|user <id> <installationId> [--ticket <reference>] [--dry-run]
//! status <changeId>
//! help
//! ```
//!
//! Every word has one reading, so that a typo is refused rather than carried out:
//!
//! - A word that starts with a dash of any kind (`-`, or any Unicode dash or minus) is a flag,
//!   anywhere in the command. The flags are `--dry-run`, which makes a change a dry run, and
//!   `--ticket <reference>` (or `--ticket=<reference>`), which names the change's ticket.
//!   Their dashes are `--`, or the one em or en dash that phones and macOS make of `--`; their
//!   names are matched exactly, ASCII case aside. Any other word that looks like a flag
//!   (`-dry-run`, `--dryrun`, `−−dry-run`, `--force`) is refused.
//! - Every other word is an argument in its place, and a word left over is refused: the
//!   ticket is only ever what `--ticket` names.
//!
//! A command becomes the same change request a webhook sends, so it meets the same checks.

use serde_json::{Map, Value, json};

use super::action::Action;
use super::field_error::FieldError;
use super::ids::ChangeId;
use super::request::{ChangeRequest, Requested};

/// What a chat user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A change to one device or app installation: the grammar names no fleet.
    Change(Box<Requested<Action>>),
    Status(ChangeId),
    Help,
}

/// The reply for `help`, and the tail of every reply to a command that does not parse.
pub const USAGE: &str = "commands:\n\
    update-software <deviceId> <softwareType> <version> [--ticket <reference>]\n\
    restart <deviceId> [--ticket <reference>]\n\
    diagnostics <deviceId> [--ticket <reference>]\n\
    upgrade-app team|chat|user <id> <installationId> [--ticket <reference>]\n\
    status <changeId>\n\
    help\n\
    --ticket <reference> names the change's ticket, such as CHG0030001\n\
    add --dry-run to a change to see what it would send, without doing it";

/// Why a command was refused, as a sentence for the chat user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("that command is longer than {MAX_LEN} characters")]
    TooLong,
    #[error(
        "{0:?} looks like a flag but is not one: the flags are --dry-run and --ticket <reference>"
    )]
    NotAFlag(String),
    #[error("--ticket needs a reference after it, such as --ticket CHG0030001")]
    NoTicket,
    #[error("name one ticket: --ticket is there twice")]
    TwoTickets,
    #[error("flags go with a command")]
    NoCommand,
    #[error("{verb} takes no {flag}")]
    NoFlag { verb: String, flag: &'static str },
    #[error("unexpected word {0:?}: name a ticket with --ticket {0}")]
    Unexpected(String),
    #[error("{0:?} is not a change ID")]
    NotAChangeId(String),
    #[error("{0:?} is not team, chat or user")]
    NotAScope(String),
    #[error("{0} takes other arguments")]
    OtherArguments(String),
    #[error("unknown command {0:?}")]
    Unknown(String),
    #[error("a command changes one device or app")]
    Fleet,
    /// The change request it makes is refused: `deviceId: must not contain '/'`, each field.
    #[error("{}", plain(.0))]
    Fields(Vec<FieldError>),
}

/// The longest command read; chat tools cap messages well below this.
const MAX_LEN: usize = 4000;

/// Whether a word starting with `c` is a flag: `-`, every dash of Unicode (category Pd), and
/// the minus signs that look like one.
fn is_dash(c: char) -> bool {
    matches!(
        c,
        '-' | '\u{058A}' | '\u{05BE}' | '\u{1400}' | '\u{1806}' | '\u{2010}'
            ..='\u{2015}'
            | '\u{2E17}'
            | '\u{2E1A}'
            | '\u{2E3A}'
            | '\u{2E3B}'
            | '\u{2E40}'
            | '\u{2E5D}'
            | '\u{301C}'
            | '\u{3030}'
            | '\u{30A0}'
            | '\u{FE31}'
            | '\u{FE32}'
            | '\u{FE58}'
            | '\u{FE63}'
            | '\u{FF0D}'
            | '\u{10D6E}'
            | '\u{10EAD}'
            // Minus signs: mathematical, superscript, subscript, heavy, modifier letter.
            | '\u{2212}'
            | '\u{207B}'
            | '\u{208B}'
            | '\u{2796}'
            | '\u{02D7}'
    )
}

/// A flag the grammar knows.
enum Flag<'a> {
    DryRun,
    /// `--ticket`, with its reference when written `--ticket=<reference>`.
    Ticket(Option<&'a str>),
}

/// The flag `word` is, if it is one: `--`, or the em or en dash a phone or macOS makes of
/// `--`, then a known name.
fn flag(word: &str) -> Option<Flag<'_>> {
    let name = ["--", "\u{2014}", "\u{2013}"]
        .into_iter()
        .find_map(|dashes| word.strip_prefix(dashes))
        .filter(|name| !name.starts_with(is_dash))?;
    let (name, value) = match name.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (name, None),
    };
    if name.eq_ignore_ascii_case("dry-run") && value.is_none() {
        Some(Flag::DryRun)
    } else if name.eq_ignore_ascii_case("ticket") {
        Some(Flag::Ticket(value))
    } else {
        None
    }
}

/// The words of a command, with its flags taken out.
struct Words<'a> {
    args: Vec<&'a str>,
    dry_run: bool,
    ticket: Option<&'a str>,
}

impl<'a> Words<'a> {
    fn split(text: &'a str) -> Result<Self, CommandError> {
        let mut words = Words {
            args: Vec::new(),
            dry_run: false,
            ticket: None,
        };
        let mut text = text.split_whitespace();
        while let Some(word) = text.next() {
            if !word.starts_with(is_dash) {
                words.args.push(word);
                continue;
            }
            match flag(word) {
                Some(Flag::DryRun) => words.dry_run = true,
                Some(Flag::Ticket(value)) => {
                    let reference = value
                        .or_else(|| text.next())
                        .filter(|r| !r.is_empty() && !r.starts_with(is_dash))
                        .ok_or(CommandError::NoTicket)?;
                    if words.ticket.replace(reference).is_some() {
                        return Err(CommandError::TwoTickets);
                    }
                }
                None => return Err(CommandError::NotAFlag(word.to_owned())),
            }
        }
        Ok(words)
    }

    /// The first flag given, to a command that takes none.
    fn flag_given(&self) -> Option<&'static str> {
        if self.dry_run {
            Some("--dry-run")
        } else if self.ticket.is_some() {
            Some("--ticket")
        } else {
            None
        }
    }
}

impl Command {
    /// Parses `text`, made by `requested_by`. The error is a sentence for the chat user.
    pub fn parse(text: &str, requested_by: &str) -> Result<Self, CommandError> {
        if text.len() > MAX_LEN {
            return Err(CommandError::TooLong);
        }
        let words = Words::split(text)?;
        let Some((&verb, args)) = words.args.split_first() else {
            return match words.flag_given() {
                Some(_) => Err(CommandError::NoCommand),
                None => Ok(Command::Help),
            };
        };
        let verb_lower = verb.to_ascii_lowercase();
        if let ("help" | "status", Some(flag)) = (verb_lower.as_str(), words.flag_given()) {
            return Err(CommandError::NoFlag {
                verb: verb.to_owned(),
                flag,
            });
        }
        let (mut body, taken) = match (verb_lower.as_str(), args) {
            ("help", []) => return Ok(Command::Help),
            ("status", [id]) => {
                return ChangeId::parse(*id)
                    .map(Command::Status)
                    .map_err(|_| CommandError::NotAChangeId((*id).to_owned()));
            }
            ("update-software", [device, software_type, version, ..]) => (
                object(json!({"action": "updateSoftware", "deviceId": device,
                    "softwareType": software_type, "softwareVersion": version})),
                3,
            ),
            ("restart", [device, ..]) => (
                object(json!({"action": "restartDevice", "deviceId": device})),
                1,
            ),
            ("diagnostics", [device, ..]) => (
                object(json!({"action": "runDiagnostics", "deviceId": device})),
                1,
            ),
            ("upgrade-app", [scope, id, installation, ..]) => {
                let field = match scope.to_ascii_lowercase().as_str() {
                    "team" => "teamId",
                    "chat" => "chatId",
                    "user" => "userId",
                    _ => return Err(CommandError::NotAScope((*scope).to_owned())),
                };
                (
                    object(
                        json!({"action": "upgradeApp", field: id, "installationId": installation}),
                    ),
                    3,
                )
            }
            (
                "help" | "status" | "update-software" | "restart" | "diagnostics" | "upgrade-app",
                _,
            ) => return Err(CommandError::OtherArguments(verb.to_owned())),
            _ => return Err(CommandError::Unknown(verb.to_owned())),
        };
        if let Some(extra) = args.get(taken) {
            return Err(CommandError::Unexpected((*extra).to_owned()));
        }
        if let Some(reference) = words.ticket {
            body.insert("reference".into(), json!(reference));
        }
        body.insert("requestedBy".into(), json!(requested_by));
        if words.dry_run {
            body.insert("dryRun".into(), json!(true));
        }
        change(body)
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("built from an object literal"),
    }
}

fn change(body: Map<String, Value>) -> Result<Command, CommandError> {
    match ChangeRequest::parse(&body) {
        Ok(ChangeRequest::One(request)) => Ok(Command::Change(Box::new(request))),
        Ok(ChangeRequest::Fleet(_)) => Err(CommandError::Fleet),
        Err(errors) => Err(CommandError::Fields(errors)),
    }
}

/// Field errors in words a chat user reads: `deviceId: must not contain '/'`.
fn plain(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{Action, AppScope};
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<Command, String> {
        Command::parse(text, "slack:T1/U2").map_err(|e| e.to_string())
    }

    #[test]
    fn each_command_becomes_the_request_a_webhook_would_send() {
        let Ok(Command::Change(update)) =
            parse("update-software rally-1 teamsClient 1.0.96.22 --ticket CHG0031234")
        else {
            panic!()
        };
        assert_eq!(update.reference.as_deref(), Some("CHG0031234"));
        assert_eq!(update.requested_by.as_deref(), Some("slack:T1/U2"));
        assert_eq!(update.target.kind().as_str(), "updateSoftware");
        let Ok(Command::Change(restart)) = parse("  Restart   rally-1 ") else {
            panic!()
        };
        assert_eq!(restart.target.device_id().unwrap().as_ref(), "rally-1");
        assert_eq!(restart.reference, None);
        let Ok(Command::Change(upgrade)) = parse("upgrade-app chat 19:abc@thread.v2 aW5zdA==")
        else {
            panic!()
        };
        assert!(matches!(
            upgrade.target,
            Action::UpgradeApp {
                scope: AppScope::Chat(_),
                ..
            }
        ));
        assert!(matches!(parse("diagnostics d1"), Ok(Command::Change(_))));
        assert_eq!(parse(""), Ok(Command::Help));
        assert_eq!(parse("help"), Ok(Command::Help));
        let id = ChangeId::new();
        assert_eq!(parse(&format!("status {id}")), Ok(Command::Status(id)));
    }

    #[test]
    fn the_ticket_is_what_the_ticket_flag_names() {
        for text in [
            "restart d1 --ticket CHG0030001",
            "--ticket CHG0030001 restart d1",
            "restart --ticket=CHG0030001 d1",
            "restart d1 \u{2014}ticket CHG0030001",
            "restart d1 \u{2013}TICKET=CHG0030001 --dry-run",
        ] {
            let Ok(Command::Change(request)) = parse(text) else {
                panic!("{text}")
            };
            assert_eq!(request.reference.as_deref(), Some("CHG0030001"), "{text}");
        }
        for (text, says) in [
            (
                "restart d1 CHG0030001",
                "unexpected word \"CHG0030001\": name a ticket with --ticket CHG0030001",
            ),
            ("restart d1 --ticket", "--ticket needs a reference"),
            ("restart d1 --ticket=", "--ticket needs a reference"),
            (
                "restart d1 --ticket --dry-run",
                "--ticket needs a reference",
            ),
            ("restart d1 --ticket=-1", "--ticket needs a reference"),
            ("restart d1 --ticket A --ticket B", "name one ticket"),
            ("status x --ticket A", "status takes no --ticket"),
            ("--ticket A", "flags go with a command"),
            // The reference meets the webhook's rules for it.
            ("restart d1 --ticket CHG\u{202E}1", "reference:"),
        ] {
            assert!(parse(text).unwrap_err().contains(says), "{text}");
        }
    }

    #[test]
    fn a_flag_is_a_dry_run_in_its_spellings_and_refused_in_any_other() {
        let accepted = [
            "--dry-run",
            "--DRY-RUN",
            "\u{2014}dry-run", // the em dash phones and macOS make of --
            "\u{2013}dry-run", // an en dash, which they make too
            "\u{2014}Dry-Run",
        ];
        let refused = [
            "-dry-run",
            "--dryrun",
            "--dry_run",
            "---dry-run",
            "--dry-rn",
            "--dry-run=yes",
            "--dry\u{2010}run",
            "\u{2212}\u{2212}dry-run", // minus signs
            "\u{2010}\u{2010}dry-run", // hyphens
            "\u{2011}\u{2011}dry-run", // non-breaking hyphens
            "\u{2012}dry-run",         // figure dash
            "\u{2015}dry-run",         // horizontal bar
            "\u{2014}\u{2014}dry-run",
            "\u{2014}-dry-run",
            "\u{FE58}dry-run",         // small em dash
            "\u{FE63}\u{FE63}dry-run", // small hyphen-minus
            "\u{FF0D}\u{FF0D}dry-run", // fullwidth hyphen-minus
            "\u{2E3A}dry-run",         // two-em dash, category Pd
            "--force",
            "--",
            "\u{2014}",
        ];
        for (i, flag) in accepted.iter().chain(&refused).enumerate() {
            for text in [
                format!("restart d1 {flag}"),
                format!("{flag} update-software d1 teamsClient 1.0 --ticket CHG1"),
            ] {
                match parse(&text) {
                    Ok(Command::Change(request)) if i < accepted.len() => {
                        assert!(request.dry_run, "{text}")
                    }
                    Err(why) if i >= accepted.len() => {
                        let named = format!("{flag:?} looks like a flag but is not one");
                        assert!(why.starts_with(&named), "{text}: {why}");
                    }
                    other => panic!("{text}: {other:?}"),
                }
            }
        }
        let Ok(Command::Change(request)) = parse("restart d1") else {
            panic!()
        };
        assert!(!request.dry_run);
        assert_eq!(
            parse("help --dry-run"),
            Err("help takes no --dry-run".into())
        );
    }

    #[test]
    fn a_bad_command_is_answered_in_plain_words() {
        for (text, says) in [
            ("reboot d1", "unknown command \"reboot\""),
            ("restart", "restart takes other arguments"),
            ("restart d1 CHG1 extra", "unexpected word \"CHG1\""),
            ("restart ../../x", "deviceId:"),
            ("update-software d1 teamsclient 1.0", "softwareType:"),
            (
                "upgrade-app room r1 i1",
                "\"room\" is not team, chat or user",
            ),
            ("status a b", "status takes other arguments"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    /// Whether `word` is a flag as the grammar's documentation spells them.
    fn documented_flag(word: &str) -> bool {
        let word = word.to_ascii_lowercase();
        ["--", "\u{2014}", "\u{2013}"].iter().any(|dashes| {
            word.strip_prefix(dashes).is_some_and(|name| {
                name == "dry-run"
                    || name == "ticket"
                    || name
                        .strip_prefix("ticket=")
                        .is_some_and(|r| !r.is_empty() && !r.starts_with(is_dash))
            })
        })
    }

    fn dash_word() -> impl Strategy<Value = String> {
        let dash = prop::sample::select(vec![
            "-", "--", "---", "\u{2014}", "\u{2013}", "\u{2212}", "\u{2010}", "\u{2011}",
            "\u{2012}", "\u{2015}", "\u{FE58}", "\u{FE63}", "\u{FF0D}", "\u{058A}", "\u{301C}",
        ]);
        let name = prop_oneof![
            prop::sample::select(vec!["dry-run", "DRY-RUN", "dryrun", "ticket", "ticket=T1"])
                .prop_map(str::to_owned),
            "[a-zA-Z=_\u{2010}-]{0,10}",
        ];
        (dash, name).prop_map(|(dash, name)| format!("{dash}{name}"))
    }

    proptest! {
        #[test]
        fn no_dash_word_but_a_flag_reaches_a_change(
            command in prop::sample::select(vec![
                "restart d1",
                "diagnostics d1 --ticket CHG1",
                "update-software d1 teamsClient 1.0",
                "upgrade-app team t1 i1",
            ]),
            inserted in prop::collection::vec((dash_word(), 0usize..6), 1..4),
        ) {
            let mut words: Vec<String> = command.split(' ').map(str::to_owned).collect();
            for (word, at) in &inserted {
                words.insert((*at).min(words.len()), word.clone());
            }
            let text = words.join(" ");
            if let Ok(Command::Change(request)) = Command::parse(&text, "u") {
                for (word, _) in &inserted {
                    prop_assert!(documented_flag(word), "{text}");
                }
                prop_assert!(!request.reference.as_deref().is_some_and(|r| r.starts_with(is_dash)), "{text}");
                if let Some(device) = request.target.device_id() {
                    prop_assert!(!device.as_ref().starts_with(is_dash), "{text}");
                }
            }
        }
    }
}
