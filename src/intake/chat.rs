//! What Slack and Teams commands share once their transport is undone: the grammar
//! (`change::Command`), the same checks as `/v1/changes`, the same once-only delivery, and a
//! reply in words within the chat tool's deadline. When Graph is slower than that deadline
//! the reply says the change was accepted: it is already recorded as `submitting`, and
//! whatever happens next (Graph's answer, or the sweeper's recovery if this process stops)
//! completes it.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use tokio::time::Instant;

use super::admission::{admit, check};
use super::gate::gated_turn;
use super::idempotency::{self, Place};
use super::problem::Refused;
use super::rehearsal::rehearse;
use super::submit::submit;
use super::{ApiError, Intake};
use crate::callers::Caller;
use crate::change::{
    CallbackUrl, ChangeRecord, ChangeView, ChatReply, ChatTool, Command, IdempotencyKey, USAGE,
};
use crate::tickets::GateError;

/// Where a command came from, and where its final result may go back to.
pub struct Origin<'a> {
    pub tool: ChatTool,
    pub requested_by: &'a str,
    /// The chat's own URL for later messages (Slack's `response_url`), if it gave one.
    pub response_url: Option<&'a str>,
}

/// How one delivery of a command reaches the chat tool, and how the tool wants a reply.
pub struct Delivery<'a> {
    /// The tool's own ID of the delivery (Slack's `trigger_id`, a Teams activity's `id`),
    /// which a repeat of it carries again.
    pub key: Option<IdempotencyKey>,
    pub body: &'a [u8],
    /// How long the tool waits for the reply.
    pub reply_within: Duration,
    pub render: fn(&str) -> Response,
}

/// How long Slack's `response_url` takes messages.
const RESPONSE_URL_LIFETIME: time::Duration = time::Duration::minutes(30);

/// Carries out `text` for `caller`, and answers in words within the delivery's deadline. A
/// change is carried out once per delivery key, like a keyed `/v1/changes`: its record is
/// known before it is submitted, so a delivery interrupted mid-way is answered for its
/// repeats instead of being made again. A refused command is answered as the tool wants
/// (200 and words), marked as refused for the metrics.
pub async fn run(
    intake: &Intake,
    caller: &Arc<Caller>,
    text: &str,
    origin: Origin<'_>,
    delivery: Delivery<'_>,
    deadline: Instant,
) -> Result<Response, ApiError> {
    let render = delivery.render;
    let refused = |words: String, reason: &'static str| {
        let mut response = render(&words);
        response.extensions_mut().insert(Refused(reason));
        response
    };
    let failed = |e: ApiError| {
        let mut words = e.sentence();
        // The webhook's field is `reference`; a command's is its flag.
        if matches!(e, ApiError::Gate(GateError::Reference(_))) {
            words += "; a command names its ticket with --ticket";
        }
        match e.refusal() {
            Some(reason) => refused(words, reason),
            None => render(&words),
        }
    };
    let request = match Command::parse(text, origin.requested_by) {
        Ok(Command::Help) => return Ok(render(USAGE)),
        Ok(Command::Status(id)) => {
            let words = match intake.store.get(&id).await {
                Ok(Some(record)) if record.caller() == caller.name() => {
                    ChangeView::summary(&record)
                }
                Ok(_) => format!("no change {id} was made here"),
                Err(e) => ApiError::Store(e).sentence(),
            };
            return Ok(render(&words));
        }
        Ok(Command::Change(request)) => *request,
        Err(why) => return Ok(refused(format!("{why}\n{USAGE}"), "validation")),
    };
    if request.dry_run {
        let rehearsed = match check(intake, caller, &request, deadline).await {
            Ok(()) => rehearse(intake, caller, &request, deadline).await,
            Err(e) => Err(e),
        };
        return Ok(match rehearsed {
            Ok(rehearsal) => render(&rehearsal.summary()),
            Err(e) => failed(e),
        });
    }
    let record = match admit(intake, caller, request, deadline).await {
        Ok(record) => with_reply(intake, caller, record, &origin),
        Err(e) => return Ok(failed(e)),
    };
    // The ticket is read within the time the chat tool waits, so a refusal reaches it.
    let within = deadline.min(Instant::now() + delivery.reply_within);
    let place = match gated_turn(intake, caller, delivery.key, delivery.body, &record, within).await
    {
        Ok(Place::Answered(answer)) => return Ok(answer),
        Ok(place) => place,
        Err(e) => return Ok(failed(e)),
    };
    let work = async {
        match carry_out(intake, record, delivery.reply_within, deadline).await {
            Ok(words) => render(&words),
            Err(e) => failed(e),
        }
    };
    idempotency::once_at(intake, place, deadline, work).await
}

/// Records the change and sends it to Graph, answering within `reply_within`: Graph's
/// answer, or "accepted" when Graph is slower (the submission goes on).
async fn carry_out(
    intake: &Intake,
    record: ChangeRecord,
    reply_within: Duration,
    deadline: Instant,
) -> Result<String, ApiError> {
    let id = record.id().clone();
    let submitting = {
        let intake = intake.clone();
        tokio::spawn(async move { submit(&intake, record, deadline).await })
    };
    match tokio::time::timeout(reply_within, submitting).await {
        Ok(Ok(submitted)) => Ok(ChangeView::summary(&submitted?)),
        // Slower than the chat tool waits, or the task failed: the change is recorded.
        Ok(Err(_)) | Err(_) => Ok(format!(
            "accepted: change {id} is recorded and on its way to Graph; `status {id}` tells how it goes"
        )),
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
