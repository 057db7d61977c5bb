//! Keyed deliveries this process is handling now, so that repeats of one that arrive here
//! together (a retry storm) wait for it in memory instead of each asking the store: one
//! request per key goes to the store, and the others follow what it learns. This serves
//! `graphgate serve`, which takes many requests at once; a Lambda instance takes one at a
//! time, so there every repeat is another process's and waits on the store, backing off.
//! Every change, a fleet's too, takes its turn here before it reads the store or Graph's
//! inventory: its ID is made first (`intake::changes::create`), so a storm of one fleet
//! delivery resolves its devices once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::change::KeyedDelivery;

/// By slot, what the request handling each key knows of its first delivery: the body, the
/// change and, once known, the answer.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashMap<String, watch::Receiver<KeyedDelivery>>>>);

/// What a request does with its delivery's key.
pub enum Turn {
    /// Another request of this process handles a delivery of the same body under this key:
    /// follow what it learns of the first.
    Follow(watch::Receiver<KeyedDelivery>),
    /// Go to the store; while the guard lives, repeats of the same body follow this request.
    /// `None` when another request handles the key with another body: the store then
    /// judges which came first.
    Lead(Option<Leading>),
}

/// This request handles its key for the process; dropped, it hands the key on.
pub struct Leading {
    in_flight: InFlight,
    slot: String,
    news: watch::Sender<KeyedDelivery>,
}

impl InFlight {
    pub fn join(&self, delivery: &KeyedDelivery) -> Turn {
        let slot = delivery.slot();
        let mut handled = self.lock();
        if let Some(news) = handled.get(&slot) {
            return if news.borrow().same_body(delivery) {
                Turn::Follow(news.clone())
            } else {
                Turn::Lead(None)
            };
        }
        let (news, follow) = watch::channel(delivery.clone());
        handled.insert(slot.clone(), follow);
        Turn::Lead(Some(Leading {
            in_flight: self.clone(),
            slot,
            news,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, watch::Receiver<KeyedDelivery>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Leading {
    /// Tells the followers what the store says of the first delivery.
    pub fn learned(&self, first: &KeyedDelivery) {
        self.news.send_replace(first.clone());
    }
}

impl Drop for Leading {
    fn drop(&mut self) {
        self.in_flight.lock().remove(&self.slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::IdempotencyKey;

    fn delivery(body: &[u8]) -> KeyedDelivery {
        KeyedDelivery::new(
            "itsm",
            IdempotencyKey::parse("k").unwrap(),
            body,
            None,
            time::OffsetDateTime::UNIX_EPOCH,
            time::Duration::DAY,
        )
    }

    #[test]
    fn one_request_per_key_leads_and_repeats_of_its_body_follow_it() {
        let in_flight = InFlight::default();
        let Turn::Lead(Some(leading)) = in_flight.join(&delivery(b"a")) else {
            panic!("the first request leads");
        };
        let Turn::Follow(news) = in_flight.join(&delivery(b"a")) else {
            panic!("a repeat follows");
        };
        assert!(matches!(in_flight.join(&delivery(b"b")), Turn::Lead(None)));
        leading.learned(&delivery(b"a").answered(crate::change::KeptAnswer {
            status: 202,
            content_type: None,
            location: None,
            body: String::new(),
        }));
        assert!(news.borrow().answer.is_some());
        drop(leading);
        assert!(matches!(
            in_flight.join(&delivery(b"a")),
            Turn::Lead(Some(_))
        ));
    }
}
