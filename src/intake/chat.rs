//! What Slack and Teams commands share once their transport is undone: the grammar
//! (`change::Command`), the same checks as `/v1/changes`, and a reply in words within the chat
//! tool's deadline. When Graph is slower than that deadline the reply says the change was
//! accepted: it is already recorded as `submitting`, and whatever happens next (Graph's
//! answer, or the sweeper's recovery if this process stops) completes it.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::changes::admit;
use super::submit::{SubmitFailure, submit};
use super::{ApiError, Intake};
use crate::callers::Caller;
use crate::change::{ChangeRecord, Command, USAGE};

/// Carries out `text`, typed by `requested_by`, for `caller`, and answers in words, within
/// `reply_within` of now.
pub async fn run(
    intake: &Intake,
    caller: &Arc<Caller>,
    text: &str,
    requested_by: &str,
    reply_within: Duration,
    deadline: Instant,
) -> String {
    let command = match Command::parse(text, requested_by) {
        Ok(command) => command,
        Err(why) => return format!("{why}\n{USAGE}"),
    };
    match command {
        Command::Help => USAGE.to_owned(),
        Command::Status(id) => match intake.store.get(&id).await {
            Ok(Some(record)) if record.caller() == caller.name() => status_line(&record),
            Ok(_) => format!("no change {id} was made here"),
            Err(e) => ApiError::Store(e).sentence(),
        },
        Command::Change(request) => {
            let record = match admit(intake, caller, request) {
                Ok(record) => record,
                Err(refused) => return refused.sentence(),
            };
            let id = record.id().clone();
            let submitting = {
                let intake = intake.clone();
                tokio::spawn(async move { submit(&intake, record, deadline).await })
            };
            match tokio::time::timeout(reply_within, submitting).await {
                Ok(Ok(Ok(record))) => status_line(&record),
                Ok(Ok(Err(SubmitFailure::Store(e)))) => ApiError::Store(e).sentence(),
                Ok(Ok(Err(SubmitFailure::Graph { record, error }))) => ApiError::Graph {
                    change_id: record.id().clone(),
                    action: Box::new(record.action().clone()),
                    source: error,
                }
                .sentence(),
                // Slower than the chat tool waits, or the task failed: the change is recorded.
                Ok(Err(_)) | Err(_) => format!(
                    "accepted: change {id} is recorded and on its way to Graph; `status {id}` tells how it goes"
                ),
            }
        }
    }
}

/// One line on a change, as the status API shows it.
fn status_line(record: &ChangeRecord) -> String {
    let mut line = format!(
        "{}: change {} ({}) is {}",
        if record.status().is_terminal() {
            "done"
        } else {
            "accepted"
        },
        record.id(),
        record.action().kind(),
        record.status().as_str()
    );
    if let Some(location) = record.location() {
        line += &format!("; Graph operation {location}");
    }
    if let Some(failure) = record.failure() {
        line += &format!("; {}: {}", failure.code, failure.message);
    }
    line
}
