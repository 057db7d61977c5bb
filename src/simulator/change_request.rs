//! A ServiceNow change request as the simulator keeps it, and the Table API's reading and
//! writing of it: each field as stored or as displayed (`sysparm_display_value`), and a
//! PATCH's changes, under the data policy that a closed change has a close code and notes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::format_description::BorrowedFormatItem;
use time::{OffsetDateTime, PrimitiveDateTime};

/// A choice field: its values as stored, each with the label a person sees.
macro_rules! choice {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $value:literal, $label:literal;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),* }

        impl $name {
            /// The value as stored, and as the Table API answers it by default.
            pub fn value(self) -> &'static str {
                match self { $(Self::$variant => $value),* }
            }

            /// The label a person sees, and the Table API answers with `sysparm_display_value=true`.
            pub fn label(self) -> &'static str {
                match self { $(Self::$variant => $label),* }
            }

            pub(super) fn parse(value: &str) -> Option<Self> {
                match value { $($value => Some(Self::$variant),)* _ => None }
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.value())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!("{text:?} is not a {}", stringify!($name)))
                })
            }
        }
    };
}

choice! {
    /// A change request's `approval`.
    Approval {
        NotRequested = "not requested", "Not Yet Requested";
        Requested = "requested", "Requested";
        Approved = "approved", "Approved";
        Rejected = "rejected", "Rejected";
    }
}

choice! {
    /// A change request's `state`, stored as a number in a string.
    ChangeState {
        New = "-5", "New";
        Assess = "-4", "Assess";
        Authorize = "-3", "Authorize";
        Scheduled = "-2", "Scheduled";
        Implement = "-1", "Implement";
        Review = "0", "Review";
        Closed = "3", "Closed";
        Canceled = "4", "Canceled";
    }
}

choice! {
    /// A change request's `close_code`.
    CloseCode {
        Successful = "successful", "Successful";
        SuccessfulIssues = "successful_issues", "Successful with issues";
        Unsuccessful = "unsuccessful", "Unsuccessful";
    }
}

/// A date and time as the Table API writes it: UTC, `YYYY-MM-DD HH:MM:SS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlideDateTime(pub OffsetDateTime);

fn glide_format() -> Vec<BorrowedFormatItem<'static>> {
    time::format_description::parse_borrowed::<1>("[year]-[month]-[day] [hour]:[minute]:[second]")
        .expect("a valid format description")
}

impl GlideDateTime {
    pub(super) fn now() -> Self {
        GlideDateTime(OffsetDateTime::now_utc())
    }

    pub(super) fn text(self) -> String {
        self.0
            .to_offset(time::UtcOffset::UTC)
            .format(&glide_format())
            .unwrap_or_default()
    }

    pub(super) fn parse(text: &str) -> Option<Self> {
        let at = PrimitiveDateTime::parse(text, &glide_format()).ok()?;
        Some(GlideDateTime(at.assume_utc()))
    }
}

impl Serialize for GlideDateTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for GlideDateTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not YYYY-MM-DD HH:MM:SS")))
    }
}

/// One entry of a journal field (`work_notes`).
#[derive(Debug, Clone)]
pub(super) struct JournalEntry {
    pub(super) created_on: GlideDateTime,
    pub(super) created_by: String,
    pub(super) value: String,
}

/// How `sysparm_display_value` asks for fields: as stored (`false`, the default), as shown
/// (`true`), or both (`all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DisplayValue {
    Stored,
    Shown,
    Both,
}

impl DisplayValue {
    pub(super) fn parse(param: Option<&str>) -> Self {
        match param {
            Some("true") => DisplayValue::Shown,
            Some("all") => DisplayValue::Both,
            _ => DisplayValue::Stored,
        }
    }
}

/// The fields of a change request the simulator has, in the order it lists them.
const FIELDS: &[&str] = &[
    "sys_id",
    "number",
    "short_description",
    "type",
    "approval",
    "state",
    "start_date",
    "end_date",
    "close_code",
    "close_notes",
    "work_notes",
    "sys_created_on",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
];

/// A change request.
#[derive(Debug, Clone)]
pub(super) struct ChangeRequest {
    pub(super) sys_id: String,
    pub(super) number: String,
    pub(super) short_description: String,
    pub(super) approval: Approval,
    pub(super) state: ChangeState,
    pub(super) start_date: Option<GlideDateTime>,
    pub(super) end_date: Option<GlideDateTime>,
    pub(super) close_code: Option<CloseCode>,
    pub(super) close_notes: String,
    /// Oldest first.
    pub(super) work_notes: Vec<JournalEntry>,
    pub(super) created_on: GlideDateTime,
    pub(super) updated_on: GlideDateTime,
    pub(super) updated_by: String,
    pub(super) mod_count: u32,
}

/// A ServiceNow change request to seed; its `sysId` is made from its number when not given.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedChange {
    pub number: String,
    #[serde(default)]
    pub sys_id: Option<String>,
    #[serde(default)]
    pub short_description: String,
    pub approval: Approval,
    pub state: ChangeState,
    #[serde(default)]
    pub start_date: Option<GlideDateTime>,
    #[serde(default)]
    pub end_date: Option<GlideDateTime>,
}

/// A sys_id made from a change's number, so seeded changes keep theirs from run to run.
pub(super) fn sys_id_of(number: &str) -> String {
    hex::encode(&Sha256::digest(number.as_bytes())[..16])
}

/// Why a PATCH was refused; the record is left as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PatchRefusal {
    /// A choice field given a value outside its list (ServiceNow would store it; the
    /// simulator refuses it so a caller's typo shows).
    NotAChoice { field: &'static str, value: String },
    /// The data policy's mandatory fields of a closed change, by label, that are empty.
    Mandatory(Vec<&'static str>),
}

impl ChangeRequest {
    /// A change as seeded at `now`, its sys_id made from its number unless given.
    pub(super) fn seeded(seed: SeedChange, now: GlideDateTime) -> Self {
        ChangeRequest {
            sys_id: seed.sys_id.unwrap_or_else(|| sys_id_of(&seed.number)),
            number: seed.number,
            short_description: seed.short_description,
            approval: seed.approval,
            state: seed.state,
            start_date: seed.start_date,
            end_date: seed.end_date,
            close_code: None,
            close_notes: String::new(),
            work_notes: Vec::new(),
            created_on: now,
            updated_on: now,
            updated_by: "admin".into(),
            mod_count: 0,
        }
    }

    /// The field as stored, as the Table API's query compares it; `None` for a field the table
    /// does not have.
    pub(super) fn stored(&self, field: &str) -> Option<String> {
        let date = |d: Option<GlideDateTime>| d.map(GlideDateTime::text).unwrap_or_default();
        Some(match field {
            "sys_id" => self.sys_id.clone(),
            "number" => self.number.clone(),
            "short_description" => self.short_description.clone(),
            "type" => "normal".into(),
            "approval" => self.approval.value().into(),
            "state" => self.state.value().into(),
            "start_date" => date(self.start_date),
            "end_date" => date(self.end_date),
            "close_code" => self
                .close_code
                .map(CloseCode::value)
                .unwrap_or_default()
                .into(),
            "close_notes" => self.close_notes.clone(),
            // A journal field reads empty; its entries are its display value.
            "work_notes" => String::new(),
            "sys_created_on" => self.created_on.text(),
            "sys_updated_on" => self.updated_on.text(),
            "sys_updated_by" => self.updated_by.clone(),
            "sys_mod_count" => self.mod_count.to_string(),
            _ => return None,
        })
    }

    /// The field as a person sees it.
    fn shown(&self, field: &str) -> Option<String> {
        Some(match field {
            "type" => "Normal".into(),
            "approval" => self.approval.label().into(),
            "state" => self.state.label().into(),
            "close_code" => self
                .close_code
                .map(CloseCode::label)
                .unwrap_or_default()
                .into(),
            "work_notes" => self
                .work_notes
                .iter()
                .rev()
                .map(|e| {
                    format!(
                        "{} - {} (Work notes)\n{}\n\n",
                        e.created_on.text(),
                        e.created_by,
                        e.value
                    )
                })
                .collect(),
            other => return self.stored(other),
        })
    }

    fn field(&self, field: &str, display: DisplayValue) -> Option<Value> {
        Some(match display {
            DisplayValue::Stored => json!(self.stored(field)?),
            DisplayValue::Shown => json!(self.shown(field)?),
            DisplayValue::Both => {
                json!({"display_value": self.shown(field)?, "value": self.stored(field)?})
            }
        })
    }

    /// The record as the Table API answers it: the fields asked for (every field when none
    /// is), those the table does not have left out.
    pub(super) fn record(&self, fields: Option<&[String]>, display: DisplayValue) -> Value {
        let every: Vec<String>;
        let names = match fields {
            Some(names) => names,
            None => {
                every = FIELDS.iter().map(|f| (*f).to_owned()).collect();
                &every
            }
        };
        let record: Map<String, Value> = names
            .iter()
            .filter_map(|name| Some((name.clone(), self.field(name, display)?)))
            .collect();
        Value::Object(record)
    }

    /// A PATCH's fields applied by `user`: `work_notes` adds a journal entry; `state`,
    /// `close_code`, `close_notes` and `short_description` are set; other fields are ignored.
    pub(super) fn patch(
        &mut self,
        body: &Map<String, Value>,
        user: &str,
        now: GlideDateTime,
    ) -> Result<(), PatchRefusal> {
        let mut next = self.clone();
        for (name, value) in body {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            match name.as_str() {
                "work_notes" if !text.is_empty() => next.work_notes.push(JournalEntry {
                    created_on: now,
                    created_by: user.to_owned(),
                    value: text,
                }),
                "state" => next.state = choice_of("state", text, ChangeState::parse)?,
                "close_code" if text.is_empty() => next.close_code = None,
                "close_code" => {
                    next.close_code = Some(choice_of("close_code", text, CloseCode::parse)?)
                }
                "close_notes" => next.close_notes = text,
                "short_description" => next.short_description = text,
                _ => {}
            }
        }
        if next.state == ChangeState::Closed {
            let mut missing = Vec::new();
            if next.close_code.is_none() {
                missing.push("Close code");
            }
            if next.close_notes.trim().is_empty() {
                missing.push("Close notes");
            }
            if !missing.is_empty() {
                return Err(PatchRefusal::Mandatory(missing));
            }
        }
        next.updated_on = now;
        next.updated_by = user.to_owned();
        next.mod_count += 1;
        *self = next;
        Ok(())
    }
}

fn choice_of<T>(
    field: &'static str,
    value: String,
    parse: fn(&str) -> Option<T>,
) -> Result<T, PatchRefusal> {
    parse(&value).ok_or(PatchRefusal::NotAChoice { field, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change() -> ChangeRequest {
        let at = GlideDateTime::parse("2026-12-08 10:00:00").unwrap();
        let seed = SeedChange {
            number: "CHG0030001".into(),
            sys_id: None,
            short_description: "Update the rooms".into(),
            approval: Approval::Approved,
            state: ChangeState::Implement,
            start_date: Some(at),
            end_date: None,
        };
        ChangeRequest::seeded(seed, at)
    }

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn fields_are_strings_as_stored_or_as_shown() {
        let c = change();
        let names = [
            "number",
            "approval",
            "state",
            "start_date",
            "end_date",
            "nope",
        ]
        .map(String::from);
        assert_eq!(
            c.record(Some(&names), DisplayValue::Stored),
            json!({"number": "CHG0030001", "approval": "approved", "state": "-1",
                   "start_date": "2026-12-08 10:00:00", "end_date": ""})
        );
        assert_eq!(
            c.record(Some(&names[1..3]), DisplayValue::Shown),
            json!({"approval": "Approved", "state": "Implement"})
        );
        assert_eq!(
            c.record(Some(&names[2..3]), DisplayValue::Both),
            json!({"state": {"display_value": "Implement", "value": "-1"}})
        );
        assert_eq!(
            c.record(None, DisplayValue::Stored)
                .as_object()
                .unwrap()
                .len(),
            FIELDS.len()
        );
    }

    #[test]
    fn work_notes_are_journal_entries_read_empty_and_shown_newest_first() {
        let mut c = change();
        let t1 = GlideDateTime::parse("2026-12-08 10:01:00").unwrap();
        let t2 = GlideDateTime::parse("2026-12-08 10:02:00").unwrap();
        c.patch(&body(json!({"work_notes": "first"})), "svc", t1)
            .unwrap();
        c.patch(&body(json!({"work_notes": "second"})), "svc", t2)
            .unwrap();
        assert_eq!(c.stored("work_notes").unwrap(), "");
        assert_eq!(
            c.shown("work_notes").unwrap(),
            "2026-12-08 10:02:00 - svc (Work notes)\nsecond\n\n2026-12-08 10:01:00 - svc (Work notes)\nfirst\n\n"
        );
        assert_eq!(c.mod_count, 2);
        assert_eq!(c.updated_by, "svc");
        assert_eq!(c.stored("sys_updated_on").unwrap(), "2026-12-08 10:02:00");
    }

    #[test]
    fn closing_needs_a_close_code_and_notes_and_a_refusal_changes_nothing() {
        let mut c = change();
        let now = GlideDateTime::now();
        let refused = c.patch(
            &body(json!({"state": "3", "work_notes": "done"})),
            "svc",
            now,
        );
        assert_eq!(
            refused,
            Err(PatchRefusal::Mandatory(vec!["Close code", "Close notes"]))
        );
        assert_eq!(c.state, ChangeState::Implement);
        assert!(c.work_notes.is_empty());
        let refused = c.patch(&body(json!({"close_code": "fine"})), "svc", now);
        assert_eq!(
            refused,
            Err(PatchRefusal::NotAChoice {
                field: "close_code",
                value: "fine".into()
            })
        );
        c.patch(
            &body(json!({"state": "3", "close_code": "successful", "close_notes": "All rooms updated", "other": 1})),
            "svc",
            now,
        )
        .unwrap();
        assert_eq!(c.state, ChangeState::Closed);
        assert_eq!(c.close_code, Some(CloseCode::Successful));
    }

    #[test]
    fn dates_read_back_as_written() {
        let text = "2026-01-02 03:04:05";
        assert_eq!(GlideDateTime::parse(text).unwrap().text(), text);
        assert!(GlideDateTime::parse("2026-01-02T03:04:05Z").is_none());
        assert_eq!(
            serde_json::from_value::<ChangeState>(json!("-3")).unwrap(),
            ChangeState::Authorize
        );
        assert!(serde_json::from_value::<Approval>(json!("Approved")).is_err());
    }
}
