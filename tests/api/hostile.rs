//! The hostile-input corpus: invalid and hostile requests on every route, each answered with
//! a 4xx `application/problem+json` (or, on the chat routes, the chat tool's own error reply),
//! never a 5xx, and not one reaching Graph or the token endpoint.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// One hostile request.
struct Case {
    name: String,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// A chat route answers a bad command in the chat's own words, with 200.
    chat_reply: bool,
}

fn json_case(name: impl Into<String>, body: Vec<u8>) -> Case {
    Case {
        name: name.into(),
        method: Method::POST,
        path: "/v1/changes".into(),
        headers: vec![
            ("authorization".into(), format!("Bearer {TOKEN}")),
            ("content-type".into(), "application/json".into()),
        ],
        body,
        chat_reply: false,
    }
}

fn value_case(name: impl Into<String>, body: Value) -> Case {
    json_case(name, serde_json::to_vec(&body).unwrap())
}

fn with_headers(mut case: Case, headers: &[(&str, &str)]) -> Case {
    for (k, v) in headers {
        case.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case(k));
        case.headers.push((k.to_string(), v.to_string()));
    }
    case
}

fn corpus(now: i64) -> Vec<Case> {
    let mut cases = Vec::new();

    // IDs that would reshape a Graph URL, or are not IDs at all, in every ID field.
    let hostile_ids = [
        "..",
        ".",
        "%2e%2e",
        "a/b",
        "x?y",
        "a\\b",
        "../../x",
        "",
        " ",
        "a b",
        "x\ty",
        "dev%00",
        "dev\u{0}",
        "dev\n",
        "ｄｅｖ",
        "dev\u{202E}1",
        "dev\u{200B}",
        "x;y",
        "<script>",
        "x&y",
    ];
    for id in hostile_ids {
        cases.push(value_case(
            format!("deviceId {id:?}"),
            json!({"action": "restartDevice", "deviceId": id}),
        ));
        cases.push(value_case(
            format!("teamId {id:?}"),
            json!({"action": "upgradeApp", "teamId": id, "installationId": "i1"}),
        ));
        cases.push(value_case(
            format!("installationId {id:?}"),
            json!({"action": "upgradeApp", "chatId": "19:a@thread.v2", "installationId": id}),
        ));
    }
    for id in ["x#y", "a/b", "..", "x?y", "%2e%2e"] {
        cases.push(value_case(
            format!("chatId {id:?}"),
            json!({"action": "upgradeApp", "chatId": id, "installationId": "i1"}),
        ));
    }
    for id in ["a/b@contoso.com", "..", "x?y", "al ice@contoso.com"] {
        cases.push(value_case(
            format!("userId {id:?}"),
            json!({"action": "upgradeApp", "userId": id, "installationId": "i1"}),
        ));
    }

    // Wrong types, in each field.
    for (field, base) in [
        ("deviceId", json!({"action": "restartDevice"})),
        (
            "softwareVersion",
            json!({"action": "updateSoftware", "deviceId": "d1", "softwareType": "firmware"}),
        ),
        (
            "softwareType",
            json!({"action": "updateSoftware", "deviceId": "d1", "softwareVersion": "1"}),
        ),
        (
            "reference",
            json!({"action": "restartDevice", "deviceId": "d1"}),
        ),
        (
            "callbackUrl",
            json!({"action": "restartDevice", "deviceId": "d1"}),
        ),
    ] {
        for wrong in [
            json!(42),
            json!(1e308),
            json!(true),
            json!(["d1"]),
            json!({"id": "d1"}),
        ] {
            let mut body = base.clone();
            body[field] = wrong.clone();
            cases.push(value_case(format!("{field} as {wrong}"), body));
        }
    }

    // Look-alikes and strangers.
    for (name, body) in [
        (
            "Cyrillic e in the action",
            json!({"action": "restartDevic\u{0435}", "deviceId": "d1"}),
        ),
        (
            "fullwidth action",
            json!({"action": "ｒｅｓｔａｒｔＤｅｖｉｃｅ", "deviceId": "d1"}),
        ),
        (
            "capital I for l in softwareType",
            json!({"action": "updateSoftware", "deviceId": "d1", "softwareType": "teamsCIient", "softwareVersion": "1"}),
        ),
        (
            "look-alike field name",
            json!({"action": "restartDevice", "devic\u{0435}Id": "d1"}),
        ),
        (
            "zero-width space in the action",
            json!({"action": "restart\u{200B}Device", "deviceId": "d1"}),
        ),
        (
            "unknownFutureValue",
            json!({"action": "updateSoftware", "deviceId": "d1", "softwareType": "unknownFutureValue", "softwareVersion": "1"}),
        ),
        (
            "bidi override in reference",
            json!({"action": "restartDevice", "deviceId": "d1", "reference": "CHG\u{202E}1"}),
        ),
        (
            "bidi isolate in requestedBy",
            json!({"action": "restartDevice", "deviceId": "d1", "requestedBy": "\u{2067}eve"}),
        ),
        (
            "bidi mark in softwareVersion",
            json!({"action": "updateSoftware", "deviceId": "d1", "softwareType": "firmware", "softwareVersion": "1\u{200F}"}),
        ),
        (
            "CR/LF in callbackUrl",
            json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": "https://a.example/h\r\nX: 1"}),
        ),
        (
            "metadata callbackUrl",
            json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": "https://169.254.169.254/latest"}),
        ),
        (
            "IPv4-translated metadata callbackUrl",
            json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": "https://[::ffff:0:a9fe:a9fe]/"}),
        ),
        (
            "decimal metadata callbackUrl",
            json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": "https://2852039166/"}),
        ),
        (
            "private callbackUrl",
            json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": "https://10.0.0.1/h"}),
        ),
        (
            "file callbackUrl",
            json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": "file:///etc/passwd"}),
        ),
        (
            "callbackUrl with credentials",
            json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": "https://u:p@a.example/"}),
        ),
        (
            "a second target",
            json!({"action": "upgradeApp", "teamId": "t", "chatId": "c", "installationId": "i"}),
        ),
        (
            "no target",
            json!({"action": "upgradeApp", "installationId": "i"}),
        ),
        (
            "empty consent set",
            json!({"action": "upgradeApp", "teamId": "t", "installationId": "i", "consentedPermissionSet": {"resourceSpecificPermissions": []}}),
        ),
        (
            "bad permission type",
            json!({"action": "upgradeApp", "teamId": "t", "installationId": "i", "consentedPermissionSet": {"resourceSpecificPermissions": [{"permissionValue": "x", "permissionType": "root"}]}}),
        ),
        (
            "unknown field",
            json!({"action": "restartDevice", "deviceId": "d1", "force": true}),
        ),
        (
            "__proto__",
            json!({"action": "restartDevice", "deviceId": "d1", "__proto__": {"admin": true}}),
        ),
        (
            "long reference",
            json!({"action": "restartDevice", "deviceId": "d1", "reference": "x".repeat(300)}),
        ),
        (
            "long version",
            json!({"action": "updateSoftware", "deviceId": "d1", "softwareType": "firmware", "softwareVersion": "9".repeat(200)}),
        ),
        (
            "long device",
            json!({"action": "restartDevice", "deviceId": "d".repeat(300)}),
        ),
        ("an empty object", json!({})),
        ("null action", json!({"action": null, "deviceId": "d1"})),
    ] {
        cases.push(value_case(name, body));
    }

    // Bodies that are not one well-formed JSON object.
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let deep_object = "{\"a\":".repeat(200) + "1" + &"}".repeat(200);
    for (name, raw) in [
        ("empty body", String::new()),
        ("truncated", r#"{"action": "restartDevice", "deviceId": "#.to_owned()),
        ("trailing comma", r#"{"action": "restartDevice", "deviceId": "d1",}"#.to_owned()),
        ("single quotes", r#"{'action': 'restartDevice'}"#.to_owned()),
        ("comment", r#"{"action": "restartDevice" /* x */, "deviceId": "d1"}"#.to_owned()),
        ("NaN", r#"{"action": "restartDevice", "deviceId": NaN}"#.to_owned()),
        ("huge number", r#"{"action": "restartDevice", "deviceId": 1e999}"#.to_owned()),
        ("huge integer", format!(r#"{{"action": "restartDevice", "deviceId": {}}}"#, "9".repeat(400))),
        ("deep array", deep),
        ("deep object", deep_object),
        ("duplicate key", r#"{"action":"restartDevice","deviceId":"../../x","deviceId":"ok"}"#.to_owned()),
        ("duplicate action", r#"{"action":"runDiagnostics","action":"restartDevice","deviceId":"d1"}"#.to_owned()),
        ("null", "null".to_owned()),
        ("array", r#"[{"action":"restartDevice","deviceId":"d1"}]"#.to_owned()),
        ("string", r#""restartDevice""#.to_owned()),
        ("two objects", r#"{"action":"restartDevice","deviceId":"d1"}{"action":"restartDevice","deviceId":"d2"}"#.to_owned()),
        ("byte order mark", "\u{feff}{\"action\":\"restartDevice\",\"deviceId\":\"d1\"}".to_owned()),
        ("lone surrogate", r#"{"action":"restartDevice","deviceId":"\ud800"}"#.to_owned()),
    ] {
        cases.push(json_case(name, raw.into_bytes()));
    }
    cases.push(json_case(
        "invalid UTF-8",
        b"{\"action\":\"restartDevice\",\"deviceId\":\"\xff\xfe\"}".to_vec(),
    ));
    cases.push(json_case(
        "a body over 64 KiB",
        format!(
            r#"{{"action":"restartDevice","deviceId":"d1","reference":"{}"}}"#,
            "x".repeat(70_000)
        )
        .into_bytes(),
    ));

    // The wrong content type, or none.
    let good = serde_json::to_vec(&json!({"action": "restartDevice", "deviceId": "d1"})).unwrap();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "multipart/form-data; boundary=x",
        "",
    ] {
        let mut case = with_headers(
            json_case(format!("content type {content_type:?}"), good.clone()),
            &[("content-type", content_type)],
        );
        if content_type.is_empty() {
            case.headers.retain(|(k, _)| k != "content-type");
        }
        cases.push(case);
    }

    // Credentials: missing, wrong, wrongly framed, or signatures that do not hold.
    for (name, value) in [
        ("no authorization", None),
        (
            "unknown token",
            Some("Bearer not-a-registered-token-0123456789abcdef".to_owned()),
        ),
        (
            "Basic",
            Some(format!("Basic {}", BASE64.encode(format!("itsm:{TOKEN}")))),
        ),
        ("empty bearer", Some("Bearer ".to_owned())),
        ("token without scheme", Some(TOKEN.to_owned())),
        ("token with a suffix", Some(format!("Bearer {TOKEN}x"))),
        ("token prefix", Some(format!("Bearer {}", &TOKEN[..20]))),
        (
            "two tokens",
            Some(format!("Bearer {TOKEN}, Bearer {TOKEN}")),
        ),
    ] {
        let mut case = json_case(format!("auth: {name}"), good.clone());
        case.headers.retain(|(k, _)| k != "authorization");
        if let Some(v) = value {
            case.headers.push(("authorization".into(), v));
        }
        cases.push(case);
    }
    let signed = standard_webhooks_signature;
    for (name, id, ts, signature) in [
        (
            "standard webhooks: expired",
            "m1",
            now - 600,
            signed("m1", now - 600, &good),
        ),
        (
            "standard webhooks: from the future",
            "m2",
            now + 600,
            signed("m2", now + 600, &good),
        ),
        (
            "standard webhooks: signed for another id",
            "m3",
            now,
            signed("other", now, &good),
        ),
        (
            "standard webhooks: signed for another body",
            "m4",
            now,
            signed("m4", now, b"{}"),
        ),
        (
            "standard webhooks: v2 prefix",
            "m5",
            now,
            signed("m5", now, &good).replace("v1,", "v2,"),
        ),
        (
            "standard webhooks: not base64",
            "m6",
            now,
            "v1,!!!".to_owned(),
        ),
        ("standard webhooks: empty", "m7", now, String::new()),
        (
            "standard webhooks: timestamp not a number",
            "m8",
            i64::MIN,
            signed("m8", now, &good),
        ),
    ] {
        let mut case = json_case(name, good.clone());
        case.headers.retain(|(k, _)| k != "authorization");
        let ts = if ts == i64::MIN {
            "soon".to_owned()
        } else {
            ts.to_string()
        };
        case.headers.extend([
            ("webhook-id".into(), id.into()),
            ("webhook-timestamp".into(), ts),
            ("webhook-signature".into(), signature),
        ]);
        cases.push(case);
    }
    for (name, header, value) in [
        (
            "hmac: wrong header",
            "X-Hub-Signature-256",
            hmac_sha256_signature(HMAC_SECRET, &good),
        ),
        (
            "hmac: sha1",
            HMAC_HEADER,
            hmac_sha256_signature(HMAC_SECRET, &good).replace("sha256=", "sha1="),
        ),
        (
            "hmac: other body",
            HMAC_HEADER,
            hmac_sha256_signature(HMAC_SECRET, b"x"),
        ),
        ("hmac: not hex", HMAC_HEADER, "sha256=zz".to_owned()),
    ] {
        let mut case = json_case(name, good.clone());
        case.headers.retain(|(k, _)| k != "authorization");
        case.headers.push((header.into(), value));
        cases.push(case);
    }

    // Header injection and unusable keys.
    for key in ["has spaces", "caf\u{e9}", &"k".repeat(300)] {
        cases.push(with_headers(
            json_case(format!("Idempotency-Key {key:.20?}"), good.clone()),
            &[("idempotency-key", key)],
        ));
    }

    // The read routes.
    for (name, path, auth) in [
        (
            "change: no token",
            "/v1/changes/2f0c9a4e-8a51-4c55-9a6e-1c4b2f1d9e11",
            None,
        ),
        (
            "change: unknown id",
            "/v1/changes/2f0c9a4e-8a51-4c55-9a6e-1c4b2f1d9e11",
            Some(TOKEN),
        ),
        (
            "change: dot segments",
            "/v1/changes/..%2f..%2fetc",
            Some(TOKEN),
        ),
        ("change: encoded slash", "/v1/changes/a%2Fb", Some(TOKEN)),
        (
            "change: very long id",
            &format!("/v1/changes/{}", "a".repeat(3000)),
            Some(TOKEN),
        ),
        ("check: no token", "/v1/check", None),
        (
            "check: wrong token",
            "/v1/check",
            Some("nope-nope-nope-nope-nope-nope-nope"),
        ),
        ("unknown route", "/v1/admin", Some(TOKEN)),
        ("traversal route", "/v1/../../etc/passwd", Some(TOKEN)),
        (
            "encoded traversal",
            "/%2e%2e/%2e%2e/etc/passwd",
            Some(TOKEN),
        ),
    ] {
        cases.push(Case {
            name: name.into(),
            method: Method::GET,
            path: path.to_owned(),
            headers: auth
                .map(|t| vec![("authorization".into(), format!("Bearer {t}"))])
                .unwrap_or_default(),
            body: Vec::new(),
            chat_reply: false,
        });
    }
    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        let mut case = json_case(format!("{method} /v1/changes"), good.clone());
        case.method = method;
        cases.push(case);
    }

    // Slack: signatures that do not hold, and commands graphgate will not carry out.
    let slack_signed =
        |ts: i64, body: &str, secret: &str| slack_signature(secret.as_bytes(), ts, body.as_bytes());
    let slack_case =
        |name: &str, body: String, ts: i64, signature: String, chat_reply: bool| Case {
            name: format!("slack: {name}"),
            method: Method::POST,
            path: "/v1/slack/commands".into(),
            headers: vec![
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("x-slack-request-timestamp".into(), ts.to_string()),
                ("x-slack-signature".into(), signature),
            ],
            body: body.into_bytes(),
            chat_reply,
        };
    let form = |text: &str, user: &str, team: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("team_id", team)
            .append_pair("user_id", user)
            .append_pair("text", text)
            .finish()
    };
    let ok_form = form("restart d1", "U1", SLACK_TEAM);
    cases.push(slack_case(
        "wrong secret",
        ok_form.clone(),
        now,
        slack_signed(now, &ok_form, "another-signing-secret-0000"),
        false,
    ));
    cases.push(slack_case(
        "replayed after 5 minutes",
        ok_form.clone(),
        now - 301,
        slack_signed(now - 301, &ok_form, SLACK_SECRET),
        false,
    ));
    cases.push(slack_case(
        "signed for another body",
        ok_form.clone(),
        now,
        slack_signed(now, "x", SLACK_SECRET),
        false,
    ));
    cases.push(slack_case(
        "v1 prefix",
        ok_form.clone(),
        now,
        slack_signed(now, &ok_form, SLACK_SECRET).replace("v0=", "v1="),
        false,
    ));
    let no_user = form("restart d1", "", SLACK_TEAM);
    cases.push(slack_case(
        "no user",
        no_user.clone(),
        now,
        slack_signed(now, &no_user, SLACK_SECRET),
        false,
    ));
    for text in [
        "restart ../../x",
        "restart a/b",
        "reboot d1",
        "restart",
        "restart d1 CHG1 more",
        "update-software d1 TeamsClient 1",
        "upgrade-app room r i",
        "restart d1 --ticket CHG\u{202E}1",
        "status",
        "diagnostics %2e%2e",
        // A mistyped flag, or a leftover word, is refused: none is carried out.
        "restart d1 -dry-run",
        "restart d1 --dryrun",
        "restart d1 \u{2212}\u{2212}dry-run",
        "restart d1 \u{FF0D}\u{FF0D}dry-run",
        "restart d1 \u{2014}\u{2014}dry-run",
        "restart d1 --force",
        "restart d1 CHG1",
    ] {
        let body = form(text, "U1", SLACK_TEAM);
        cases.push(slack_case(
            &format!("command {text:?}"),
            body.clone(),
            now,
            slack_signed(now, &body, SLACK_SECRET),
            true,
        ));
    }
    let outsider = form("restart d1", "U9", "T0OTHER");
    cases.push(slack_case(
        "another workspace",
        outsider.clone(),
        now,
        slack_signed(now, &outsider, SLACK_SECRET),
        true,
    ));

    // Teams: forged, malformed, or commands graphgate will not carry out.
    let teams_case = |name: &str, body: Vec<u8>, token: &str, chat_reply: bool| Case {
        name: format!("teams: {name}"),
        method: Method::POST,
        path: "/v1/teams/messages".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("authorization".into(), teams_authorization(token, &body)),
        ],
        body,
        chat_reply,
    };
    let activity = |text: &str| {
        serde_json::to_vec(
            &json!({"type": "message", "text": text, "from": {"aadObjectId": "u1", "name": "Bob"}}),
        )
        .unwrap()
    };
    cases.push(teams_case(
        "forged",
        activity("<at>g</at> restart d1"),
        // Base64 of another key of 32 bytes.
        "YW5vdGhlciBrZXkgb2YgdGhpcnR5LXR3byBieXRlcyE=",
        false,
    ));
    cases.push(teams_case(
        "no text",
        serde_json::to_vec(&json!({"type": "message"})).unwrap(),
        TEAMS_TOKEN,
        false,
    ));
    cases.push(teams_case(
        "not JSON",
        b"restart d1".to_vec(),
        TEAMS_TOKEN,
        false,
    ));
    cases.push(teams_case(
        "duplicate text",
        br#"{"type":"message","text":"x","text":"<at>g</at> restart d1"}"#.to_vec(),
        TEAMS_TOKEN,
        false,
    ));
    for text in [
        "<at>g</at> restart ../x",
        "<at>g</at> upgrade-app team t i",
        "<at>g</at> reboot",
        "<at>g</at>",
        "<at>g</at> restart d1 -dry-run",
        "<at>g</at> restart d1 \u{2010}\u{2010}dry-run",
        "<at>g</at> restart d1 \u{FE58}dry-run",
        "<at>g</at> restart d1 CHG1",
    ] {
        cases.push(teams_case(
            &format!("command {text:?}"),
            activity(text),
            TEAMS_TOKEN,
            true,
        ));
    }
    cases
}

#[tokio::test]
async fn every_hostile_request_gets_a_4xx_and_nothing_reaches_graph() {
    let app = spawn_app().await;
    let cases = corpus(app.now().unix_timestamp());
    assert!(cases.len() >= 150, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let mut request = app
            .http
            .request(case.method.clone(), format!("{}{}", app.address, case.path))
            .body(case.body.clone());
        for (k, v) in &case.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                failures.push(format!("{}: no answer ({e})", case.name));
                continue;
            }
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.text().await.unwrap_or_default();
        let ok = if case.chat_reply {
            status == 200 && !body.contains("accepted") && !body.contains("done:")
        } else {
            (400..500).contains(&status) && content_type == "application/problem+json"
        };
        if !ok {
            failures.push(format!(
                "{}: {status} {content_type} {body:.200}",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(app.graph_requests().await.is_empty(), "Graph was called");
    assert!(app.token_requests().await.is_empty(), "a token was fetched");
}
