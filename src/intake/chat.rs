//! What Slack and Teams commands share once their transport is undone: the grammar
//! (`change::Command`), the same checks as `/v1/changes`, and a reply in words within the chat
//! tool's deadline. When Graph is slower than that deadline the reply says the change was
//! accepted: it is already recorded as `submitting`, and whatever happens next (Graph's
//! answer, or the sweeper's recovery if this process stops) completes it.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::changes::admit;
use super::problem::count_rejected;
use super::submit::{SubmitFailure, submit};
use super::{ApiError, Intake};
use crate::callers::Caller;
use crate::change::{CallbackUrl, ChangeRecord, ChatReply, ChatTool, Command, USAGE};

/// Where a command came from, and where its final result may go back to.
pub struct Origin<'a> {
    pub tool: ChatTool,
    pub requested_by: &'a str,
    /// The chat's own URL for later messages (Slack's `response_url`), if it gave one.
    pub response_url: Option<&'a str>,
}

/// How long Slack's `response_url` takes messages.
const RESPONSE_URL_LIFETIME: time::Duration = time::Duration::minutes(30);

/// Carries out `text` for `caller`, and answers in words, within `reply_within` of now.
pub async fn run(
    intake: &Intake,
    caller: &Arc<Caller>,
    text: &str,
    origin: Origin<'_>,
    reply_within: Duration,
    deadline: Instant,
) -> String {
    let requested_by = origin.requested_by;
    let command = match Command::parse(text, requested_by) {
        Ok(command) => command,
        Err(why) => {
            count_rejected("validation");
            return format!("{why}\n{USAGE}");
        }
    };
    match command {
        Command::Help => USAGE.to_owned(),
        Command::Status(id) => match intake.store.get(&id).await {
            Ok(Some(record)) if record.caller() == caller.name() => record.summary(),
            Ok(_) => format!("no change {id} was made here"),
            Err(e) => ApiError::Store(e).sentence(),
        },
        Command::Change(request) => {
            let record = match admit(intake, caller, request) {
                Ok(record) => with_reply(intake, caller, record, &origin),
                Err(refused) => return refused.sentence(),
            };
            let id = record.id().clone();
            let submitting = {
                let intake = intake.clone();
                tokio::spawn(async move { submit(&intake, record, deadline).await })
            };
            match tokio::time::timeout(reply_within, submitting).await {
                Ok(Ok(Ok(record))) => record.summary(),
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

/// The record, set to report its final result to the chat: to the chat's own reply URL while
/// it is valid, then to the caller's `chat.resultWebhookUrl`.
fn with_reply(
    intake: &Intake,
    caller: &Caller,
    record: ChangeRecord,
    origin: &Origin<'_>,
) -> ChangeRecord {
    let first = origin
        .response_url
        .and_then(|raw| CallbackUrl::parse(raw).ok())
        .filter(|url| intake.callbacks.check_target(url.url()).is_ok());
    let valid_until = first
        .as_ref()
        .map(|_| record.created_at() + RESPONSE_URL_LIFETIME);
    let reply = ChatReply {
        tool: origin.tool,
        valid_until,
        fallback: caller.chat_results().cloned(),
    };
    record.with_chat_reply(first, reply)
}
