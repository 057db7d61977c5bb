//! The chat grammar Slack and Teams users type, shared by both:
//!
//! ```text
//! update-software <deviceId> <softwareType> <version> [reference]
//! restart <deviceId> [reference]
//! diagnostics <deviceId> [reference]
//! upgrade-app team|chat|user <id> <installationId> [reference]
//! status <changeId>
//! help
//! ```
//!
//! `--dry-run`, anywhere after the command's name, makes a change a dry run.
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
    update-software <deviceId> <softwareType> <version> [reference]\n\
    restart <deviceId> [reference]\n\
    diagnostics <deviceId> [reference]\n\
    upgrade-app team|chat|user <id> <installationId> [reference]\n\
    status <changeId>\n\
    help\n\
    add --dry-run to a change to see what it would send, without doing it";

/// Why a command was refused, as a sentence for the chat user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("that command is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("too many words for {0}")]
    TooManyWords(String),
    #[error("{0} takes no --dry-run")]
    NoDryRun(String),
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

impl Command {
    /// Parses `text`, made by `requested_by`. The error is a sentence for the chat user.
    pub fn parse(text: &str, requested_by: &str) -> Result<Self, CommandError> {
        if text.len() > MAX_LEN {
            return Err(CommandError::TooLong);
        }
        let mut words: Vec<&str> = text.split_whitespace().collect();
        let before = words.len();
        words.retain(|w| !w.eq_ignore_ascii_case("--dry-run"));
        let dry_run = words.len() < before;
        let Some((&verb, args)) = words.split_first() else {
            return Ok(Command::Help);
        };
        let with_reference = |mut body: Map<String, Value>, fixed: usize| {
            match args.get(fixed..) {
                Some([]) | None => {}
                Some([reference]) => {
                    body.insert("reference".into(), json!(reference));
                }
                Some(_) => return Err(CommandError::TooManyWords(verb.to_owned())),
            }
            body.insert("requestedBy".into(), json!(requested_by));
            if dry_run {
                body.insert("dryRun".into(), json!(true));
            }
            change(body)
        };
        match (verb.to_ascii_lowercase().as_str(), args) {
            ("help" | "status", _) if dry_run => Err(CommandError::NoDryRun(verb.to_owned())),
            ("help", []) => Ok(Command::Help),
            ("status", [id]) => ChangeId::parse(*id)
                .map(Command::Status)
                .map_err(|_| CommandError::NotAChangeId((*id).to_owned())),
            ("update-software", [device, software_type, version, ..]) => with_reference(
                object(json!({"action": "updateSoftware", "deviceId": device,
                    "softwareType": software_type, "softwareVersion": version})),
                3,
            ),
            ("restart", [device, ..]) => with_reference(
                object(json!({"action": "restartDevice", "deviceId": device})),
                1,
            ),
            ("diagnostics", [device, ..]) => with_reference(
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
                with_reference(
                    object(
                        json!({"action": "upgradeApp", field: id, "installationId": installation}),
                    ),
                    3,
                )
            }
            (
                "help" | "status" | "update-software" | "restart" | "diagnostics" | "upgrade-app",
                _,
            ) => Err(CommandError::OtherArguments(verb.to_owned())),
            _ => Err(CommandError::Unknown(verb.to_owned())),
        }
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

    fn parse(text: &str) -> Result<Command, String> {
        Command::parse(text, "slack:T1/U2").map_err(|e| e.to_string())
    }

    #[test]
    fn each_command_becomes_the_request_a_webhook_would_send() {
        let Ok(Command::Change(update)) =
            parse("update-software rally-1 teamsClient 1.0.96.22 CHG0031234")
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
    fn dry_run_makes_any_change_a_dry_run() {
        for text in [
            "restart d1 --dry-run",
            "--dry-run restart d1 CHG1",
            "update-software d1 teamsClient 1.0 --DRY-RUN",
        ] {
            let Ok(Command::Change(request)) = parse(text) else {
                panic!("{text}")
            };
            assert!(request.dry_run, "{text}");
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
            ("restart d1 CHG1 extra", "too many words for restart"),
            ("restart ../../x", "deviceId:"),
            ("update-software d1 teamsclient 1.0", "softwareType:"),
            (
                "upgrade-app room r1 i1",
                "\"room\" is not team, chat or user",
            ),
            ("status a b", "status takes other arguments"),
            ("restart d1 CHG\u{202E}1", "reference:"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
