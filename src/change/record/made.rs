//! Made: a change's record as it is first stored, from its request.

use time::OffsetDateTime;

use super::ChangeRecord;
use crate::change::action::Action;
use crate::change::callback_url::CallbackUrl;
use crate::change::delivery::ChatReply;
use crate::change::ids::ChangeId;
use crate::change::outcome::AppDefinition;
use crate::change::request::Requested;
use crate::change::schedule::Due;
use crate::change::status::Status;
use crate::change::window::Schedule;

/// Constructors: a new change, before it is first stored.
impl ChangeRecord {
    /// A new change, about to be sent to Graph by a submitter holding it until `lease_until`.
    pub fn submitting(
        request: Requested<Action>,
        caller: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Self {
        ChangeRecord {
            status: Status::Submitting,
            submitted_at: Some(now),
            due: Some(Due::Lease(lease_until)),
            ..Self::requested(request, caller, now)
        }
    }

    /// A new change that waits for its window, which opens at `opens_at`.
    pub fn scheduled(
        request: Requested<Action>,
        caller: &str,
        now: OffsetDateTime,
        opens_at: OffsetDateTime,
    ) -> Self {
        ChangeRecord {
            status: Status::Scheduled,
            due: Some(Due::Open(opens_at)),
            ..Self::requested(request, caller, now)
        }
    }

    /// A new change as `request` asks it, not yet given its status.
    pub(super) fn requested(request: Requested<Action>, caller: &str, now: OffsetDateTime) -> Self {
        ChangeRecord {
            reference: request.reference,
            requested_by: request.requested_by,
            callback_url: request.callback_url,
            schedule: request.schedule,
            ..Self::made(ChangeId::new(), caller, request.target, now)
        }
    }

    /// A record of `action` at `now` with nothing else known yet: every constructor starts
    /// from it and sets what its stage knows.
    pub(super) fn made(id: ChangeId, caller: &str, action: Action, now: OffsetDateTime) -> Self {
        ChangeRecord {
            id,
            caller: caller.to_owned(),
            action,
            reference: None,
            requested_by: None,
            callback_url: None,
            status: Status::Scheduled,
            location: None,
            graph_request_id: None,
            failure: None,
            operation_status: None,
            operation: None,
            installed_before: None,
            callback: None,
            chat_reply: None,
            polls: 0,
            resubmitted: false,
            gated: false,
            schedule: Schedule::default(),
            fleet: None,
            parent: None,
            verification: None,
            created_at: now,
            submitted_at: None,
            updated_at: now,
            due: None,
            unnamed_due: None,
            version: 0,
        }
    }

    /// Makes the report of a chat command's change a chat message: to `first` while
    /// `reply` says it is valid, then to `reply`'s fallback. Before the record is first
    /// stored.
    pub fn with_chat_reply(self, first: Option<CallbackUrl>, reply: ChatReply) -> Self {
        let owed = first.is_some() || reply.fallback.is_some();
        ChangeRecord {
            callback_url: first.or_else(|| reply.fallback.clone()),
            chat_reply: Some(reply).filter(|_| owed),
            ..self
        }
    }

    /// Notes, before the record is first stored, the definition the app installation runs
    /// now.
    pub fn with_installed_before(self, definition: AppDefinition) -> Self {
        ChangeRecord {
            installed_before: Some(definition),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn a_new_change_is_held_by_its_submitter_for_the_lease() {
        let record = submitting(false);
        assert_eq!(record.status(), Status::Submitting);
        assert_eq!(record.due(), Some(Due::Lease(T0 + SECS(55))));
    }
}
