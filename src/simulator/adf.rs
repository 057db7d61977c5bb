//! Atlassian Document Format as Jira checks a comment's body: a `doc` of version 1 whose
//! nodes are ones ADF has, each where ADF allows it, text nodes not empty; and a document's
//! plain text, for a person reading the simulator's tickets.

use serde_json::Value;

/// Why Jira refuses a comment's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AdfRefusal {
    /// Not a JSON object at all (a plain string, as API v2 takes it).
    NotADocument,
    /// A document with no content.
    Empty,
    /// An object that breaks ADF's schema; Jira does not say where.
    Invalid,
}

/// Where a node may stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Block,
    Inline,
    ListItem,
    Row,
    Cell,
    TaskItem,
    DecisionItem,
    Media,
}

/// Where a node of `kind` stands, and what its content holds (`None`: it has none).
fn node(kind: &str) -> Option<(Place, Option<Place>)> {
    use Place::*;
    Some(match kind {
        "paragraph" | "heading" | "codeBlock" => (Block, Some(Inline)),
        "blockquote" | "panel" | "expand" => (Block, Some(Block)),
        "bulletList" | "orderedList" => (Block, Some(ListItem)),
        "listItem" => (ListItem, Some(Block)),
        "table" => (Block, Some(Row)),
        "tableRow" => (Row, Some(Cell)),
        "tableHeader" | "tableCell" => (Cell, Some(Block)),
        "taskList" => (Block, Some(TaskItem)),
        "taskItem" => (TaskItem, Some(Inline)),
        "decisionList" => (Block, Some(DecisionItem)),
        "decisionItem" => (DecisionItem, Some(Inline)),
        "mediaSingle" | "mediaGroup" => (Block, Some(Media)),
        "media" => (Media, None),
        "rule" | "blockCard" => (Block, None),
        "text" | "hardBreak" | "mention" | "emoji" | "date" | "status" | "inlineCard" => {
            (Inline, None)
        }
        _ => return None,
    })
}

const MARKS: &[&str] = &[
    "strong",
    "em",
    "code",
    "strike",
    "underline",
    "link",
    "textColor",
    "backgroundColor",
    "subsup",
];

/// Checks `body` as Jira checks a comment's body.
pub(super) fn check(body: &Value) -> Result<(), AdfRefusal> {
    let Value::Object(doc) = body else {
        return Err(AdfRefusal::NotADocument);
    };
    if doc.get("type").and_then(Value::as_str) != Some("doc")
        || doc.get("version").and_then(Value::as_u64) != Some(1)
    {
        return Err(AdfRefusal::Invalid);
    }
    let Some(Value::Array(content)) = doc.get("content") else {
        return Err(AdfRefusal::Invalid);
    };
    if content.is_empty() {
        return Err(AdfRefusal::Empty);
    }
    if content.iter().all(|n| check_node(n, Place::Block)) {
        Ok(())
    } else {
        Err(AdfRefusal::Invalid)
    }
}

fn check_node(value: &Value, place: Place) -> bool {
    let Some(kind) = value.get("type").and_then(Value::as_str) else {
        return false;
    };
    let Some((stands, holds)) = node(kind) else {
        return false;
    };
    if stands != place {
        return false;
    }
    if kind == "text"
        && value
            .get("text")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        return false;
    }
    if let Some(marks) = value.get("marks") {
        let known = |m: &Value| {
            m.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| MARKS.contains(&t))
        };
        if kind != "text" || !marks.as_array().is_some_and(|ms| ms.iter().all(known)) {
            return false;
        }
    }
    match (value.get("content"), holds) {
        (None, _) => true,
        (Some(Value::Array(children)), Some(inner)) => {
            children.iter().all(|child| check_node(child, inner))
        }
        _ => false,
    }
}

/// The document's text: inline nodes run on, blocks are lines.
pub(super) fn plain_text(doc: &Value) -> String {
    let attr = |name: &str| {
        doc.get("attrs")
            .and_then(|a| a.get(name))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let kind = doc.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "text" => doc
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        "hardBreak" => "\n".into(),
        "mention" | "status" => attr("text"),
        "emoji" => attr("shortName"),
        _ => {
            let children = doc.get("content").and_then(Value::as_array);
            let texts = children.into_iter().flatten().map(plain_text);
            let inline = node(kind).is_some_and(|(_, holds)| holds == Some(Place::Inline));
            texts
                .collect::<Vec<_>>()
                .join(if inline { "" } else { "\n" })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(content: Value) -> Value {
        json!({"type": "doc", "version": 1, "content": content})
    }

    fn paragraph(text: &str) -> Value {
        json!({"type": "paragraph", "content": [{"type": "text", "text": text}]})
    }

    #[test]
    fn documents_jira_takes() {
        let rich = doc(json!([
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "graphgate"}]},
            {"type": "paragraph", "content": [
                {"type": "text", "text": "Updated ", "marks": [{"type": "strong"}]},
                {"type": "text", "text": "3 rooms", "marks": [{"type": "link", "attrs": {"href": "https://x"}}]},
                {"type": "hardBreak"},
                {"type": "mention", "attrs": {"id": "1", "text": "@Ana"}}
            ]},
            {"type": "bulletList", "content": [{"type": "listItem", "content": [paragraph("room-oslo")]}]},
            {"type": "paragraph"}
        ]));
        assert_eq!(check(&rich), Ok(()));
        assert_eq!(
            plain_text(&rich),
            "graphgate\nUpdated 3 rooms\n@Ana\nroom-oslo\n"
        );
    }

    #[test]
    fn what_jira_refuses() {
        assert_eq!(check(&json!("plain text")), Err(AdfRefusal::NotADocument));
        assert_eq!(check(&doc(json!([]))), Err(AdfRefusal::Empty));
        let invalid = [
            json!({"type": "doc", "content": [paragraph("no version")]}),
            json!({"type": "doc", "version": 2, "content": [paragraph("v2")]}),
            json!({"type": "paragraph", "version": 1, "content": [paragraph("not a doc")]}),
            json!({"type": "doc", "version": 1, "content": "text"}),
            doc(json!([{"type": "text", "text": "text at the top"}])),
            doc(json!([{"type": "paragraph", "content": [{"type": "text", "text": ""}]}])),
            doc(json!([{"type": "paragraph", "content": [{"type": "blink", "text": "x"}]}])),
            doc(json!([{"type": "paragraph", "content": [paragraph("nested")]}])),
            doc(json!([{"type": "bulletList", "content": [paragraph("not an item")]}])),
            doc(
                json!([{"type": "paragraph", "content": [{"type": "text", "text": "x", "marks": [{"type": "blink"}]}]}]),
            ),
            doc(json!([{"type": "rule", "content": []}])),
        ];
        for body in invalid {
            assert_eq!(check(&body), Err(AdfRefusal::Invalid), "{body}");
        }
    }
}
