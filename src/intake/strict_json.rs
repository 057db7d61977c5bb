//! JSON parsing that refuses a duplicate object key. serde_json keeps the last of duplicate
//! keys, so `{"deviceId":"../../x","deviceId":"ok"}` would reach Graph as `ok` while a log or
//! a ticket system reading the first saw `../../x`. No maintained crate offers this for an
//! untyped `Value`, so this is a `DeserializeSeed` over serde_json's own parser: syntax, depth
//! limits and number handling stay serde_json's.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why the body is not usable JSON.
#[derive(Debug)]
pub enum StrictJsonError {
    Syntax(serde_json::Error),
    /// An object holds `key` twice.
    DuplicateKey(String),
}

pub fn parse(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = Strict(&duplicate)
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    match (parsed, duplicate.into_inner()) {
        (_, Some(key)) => Err(StrictJsonError::DuplicateKey(key)),
        (Ok(value), None) => Ok(value),
        (Err(e), None) => Err(StrictJsonError::Syntax(e)),
    }
}

/// Builds a `Value`, noting the first duplicate key it meets in the cell.
#[derive(Clone, Copy)]
struct Strict<'a>(&'a RefCell<Option<String>>);

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            if object.contains_key(&key) {
                *self.0.borrow_mut() = Some(key);
                return Err(de::Error::custom("duplicate key"));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_key_at_any_depth_is_named() {
        for (body, key) in [
            (r#"{"deviceId":"../../x","deviceId":"ok"}"#, "deviceId"),
            (r#"{"a":{"b":1,"b":2}}"#, "b"),
            (r#"{"a":[{"c":1},{"c":1,"c":1}]}"#, "c"),
        ] {
            match parse(body.as_bytes()) {
                Err(StrictJsonError::DuplicateKey(k)) => assert_eq!(k, key, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn it_reads_what_serde_json_reads() {
        for body in [
            r#"{"a":1,"b":[true,null,"x",-2,3.5,18446744073709551615],"c":{"d":{}}}"#,
            r#"[]"#,
            r#""s""#,
        ] {
            assert_eq!(
                parse(body.as_bytes()).unwrap(),
                serde_json::from_str::<Value>(body).unwrap()
            );
        }
        assert!(matches!(
            parse(b"{\"a\":1} x"),
            Err(StrictJsonError::Syntax(_))
        ));
        assert!(matches!(parse(b"{\"a\":"), Err(StrictJsonError::Syntax(_))));
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(matches!(
            parse(deep.as_bytes()),
            Err(StrictJsonError::Syntax(_))
        ));
    }
}
