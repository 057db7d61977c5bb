//! The Table API's `sysparm_query`, as far as the simulator reads it: conditions
//! `field=value` and `field!=value` joined by `^`, and `ORDERBYfield` / `ORDERBYDESCfield`.
//!
//! As ServiceNow does by default (`glide.invalid_query.returns_no_rows` false), a condition on
//! a field the table does not have is dropped, not failed: `nunber=CHG0030001` matches every
//! record. A client that reads one record by number should check the number it got back.

use std::cmp::Ordering;

use super::change_request::ChangeRequest;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    Is(String, String),
    IsNot(String, String),
}

/// A parsed `sysparm_query`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct TableQuery {
    conditions: Vec<Condition>,
    /// Fields to order by, each descending or not, first one first.
    order: Vec<(String, bool)>,
}

/// A term the simulator does not read (another operator, `^OR`, `^NQ`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unsupported(pub(super) String);

impl TableQuery {
    pub(super) fn parse(text: &str) -> Result<Self, Unsupported> {
        let mut query = TableQuery::default();
        for term in text.split('^').filter(|t| !t.is_empty()) {
            if let Some(field) = term.strip_prefix("ORDERBYDESC") {
                query.order.push((field.to_owned(), true));
            } else if let Some(field) = term.strip_prefix("ORDERBY") {
                query.order.push((field.to_owned(), false));
            } else if let Some((field, value)) = term.split_once("!=") {
                query
                    .conditions
                    .push(Condition::IsNot(field.to_owned(), value.to_owned()));
            } else if let Some((field, value)) = term.split_once('=')
                && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                query
                    .conditions
                    .push(Condition::Is(field.to_owned(), value.to_owned()));
            } else {
                return Err(Unsupported(term.to_owned()));
            }
        }
        Ok(query)
    }

    /// Whether `record` meets every condition on a field it has.
    pub(super) fn matches(&self, record: &ChangeRequest) -> bool {
        self.conditions.iter().all(|condition| match condition {
            Condition::Is(field, value) => record.stored(field).is_none_or(|v| v == *value),
            Condition::IsNot(field, value) => record.stored(field).is_none_or(|v| v != *value),
        })
    }

    /// How `a` and `b` are ordered; equal when no order is asked.
    pub(super) fn compare(&self, a: &ChangeRequest, b: &ChangeRequest) -> Ordering {
        self.order
            .iter()
            .map(|(field, descending)| {
                let ordering = a.stored(field).cmp(&b.stored(field));
                if *descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

#[cfg(test)]
mod tests {
    use super::super::change_request::{Approval, ChangeState, GlideDateTime, SeedChange};
    use super::*;

    fn change(number: &str, approval: Approval) -> ChangeRequest {
        let seed = SeedChange {
            number: number.into(),
            sys_id: Some(format!("id-{number}")),
            short_description: String::new(),
            approval,
            state: ChangeState::Implement,
            start_date: None,
            end_date: None,
        };
        ChangeRequest::seeded(seed, GlideDateTime::now())
    }

    #[test]
    fn conditions_on_known_fields_filter_and_unknown_fields_are_dropped() {
        let one = change("CHG1", Approval::Approved);
        let two = change("CHG2", Approval::Requested);
        let by_number = TableQuery::parse("number=CHG1").unwrap();
        assert!(by_number.matches(&one) && !by_number.matches(&two));
        let both = TableQuery::parse("approval!=approved^number=CHG2").unwrap();
        assert!(!both.matches(&one) && both.matches(&two));
        let by_id = TableQuery::parse("sys_id=id-CHG2").unwrap();
        assert!(by_id.matches(&two) && !by_id.matches(&one));
        let misspelt = TableQuery::parse("nunber=CHG1").unwrap();
        assert!(misspelt.matches(&one) && misspelt.matches(&two));
    }

    #[test]
    fn order_by_and_unsupported_terms() {
        let one = change("CHG1", Approval::Approved);
        let two = change("CHG2", Approval::Requested);
        let desc = TableQuery::parse("ORDERBYDESCnumber").unwrap();
        assert_eq!(desc.compare(&one, &two), Ordering::Greater);
        let asc = TableQuery::parse("ORDERBYnumber").unwrap();
        assert_eq!(asc.compare(&one, &two), Ordering::Less);
        assert_eq!(
            TableQuery::parse("numberLIKE0030"),
            Err(Unsupported("numberLIKE0030".into()))
        );
        assert_eq!(
            TableQuery::parse("number>=CHG1"),
            Err(Unsupported("number>=CHG1".into()))
        );
    }
}
