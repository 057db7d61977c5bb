//! Reading a request's JSON object field by field, so that every bad field is named at once.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::TARGET_FIELDS;
use crate::change::action::ActionKind;
use crate::change::field_error::FieldError;

/// Reads fields out of one JSON object, remembering which it read and every error it met.
pub(super) struct Fields<'a> {
    body: &'a Map<String, Value>,
    prefix: String,
    seen: BTreeSet<&'a str>,
    pub(super) errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    pub(super) fn new(body: &'a Map<String, Value>, prefix: &str) -> Self {
        Self {
            body,
            prefix: prefix.to_owned(),
            seen: BTreeSet::new(),
            errors: Vec::new(),
        }
    }

    pub(super) fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    pub(super) fn error(&mut self, name: &str, detail: &str) {
        self.errors.push(FieldError {
            field: self.path(name),
            detail: detail.to_owned(),
        });
    }

    pub(super) fn is_present(&self, name: &str) -> bool {
        self.body.get(name).is_some_and(|v| !v.is_null())
    }

    pub(super) fn mark_seen(&mut self, names: &[&str]) {
        for name in names {
            if let Some((k, _)) = self.body.get_key_value(*name) {
                self.seen.insert(k.as_str());
            }
        }
    }

    /// The field's value; `null` counts as absent, as ticketing systems send it for blanks.
    pub(super) fn take(&mut self, name: &str) -> Option<&'a Value> {
        let (key, value) = self.body.get_key_value(name)?;
        self.seen.insert(key.as_str());
        (!value.is_null()).then_some(value)
    }

    pub(super) fn string(&mut self, name: &str) -> Option<&'a str> {
        let value = self.take(name)?;
        match value.as_str() {
            Some(s) => Some(s),
            None => {
                self.error(name, "must be a string");
                None
            }
        }
    }

    /// A whole number from `min` to `max`.
    pub(super) fn optional_count(&mut self, name: &str, min: u32, max: u32) -> Option<u32> {
        let value = self.take(name)?;
        match value
            .as_u64()
            .filter(|n| (u64::from(min)..=u64::from(max)).contains(n))
        {
            Some(n) => Some(n as u32),
            None => {
                self.error(name, &format!("must be a whole number from {min} to {max}"));
                None
            }
        }
    }

    pub(super) fn optional_bool(&mut self, name: &str) -> Option<bool> {
        let value = self.take(name)?;
        match value.as_bool() {
            Some(b) => Some(b),
            None => {
                self.error(name, "must be true or false");
                None
            }
        }
    }

    pub(super) fn optional<T, E: std::fmt::Display>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let raw = self.string(name)?;
        match parse(raw) {
            Ok(v) => Some(v),
            Err(detail) => {
                self.error(name, &detail.to_string());
                None
            }
        }
    }

    pub(super) fn required<T, E: std::fmt::Display>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        if !self.is_present(name) {
            self.take(name);
            self.error(name, "is required");
            return None;
        }
        self.optional(name, parse)
    }

    pub(super) fn required_array(&mut self, name: &str) -> Option<&'a Vec<Value>> {
        match self.take(name) {
            None => {
                self.error(name, "is required");
                None
            }
            Some(Value::Array(items)) => Some(items),
            Some(_) => {
                self.error(name, "must be an array");
                None
            }
        }
    }

    pub(super) fn optional_value<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&mut Fields<'a>) -> Option<T>,
    ) -> Option<T> {
        let value = self.take(name)?;
        let Some(obj) = value.as_object() else {
            self.error(name, "must be an object");
            return None;
        };
        let mut nested = Fields::new(obj, &self.path(name));
        let parsed = parse(&mut nested);
        self.errors.extend(nested.errors);
        parsed
    }

    /// Every field not read is an error: unknown here, or belonging to another action.
    pub(super) fn reject_unseen(&mut self, kind: Option<ActionKind>) {
        let unseen: Vec<&str> = self
            .body
            .keys()
            .map(String::as_str)
            .filter(|k| !self.seen.contains(k))
            .collect();
        for name in unseen {
            let detail = match kind {
                Some(kind) if TARGET_FIELDS.contains(&name) => {
                    format!("not allowed for action {kind}")
                }
                _ => "unknown field".to_owned(),
            };
            self.error(name, &detail);
        }
    }

    pub(super) fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}
