//! Bad input: a problem+json 4xx naming every bad field, and not one call to Graph.

use serde_json::{Value, json};

use crate::helpers::*;

/// Each request, and the fields its 400 must name (in order).
fn invalid_requests() -> Vec<(&'static str, Value, Vec<&'static str>)> {
    vec![
        ("no action", json!({"deviceId": "d1"}), vec!["action"]),
        (
            "unknown action",
            json!({"action": "reboot", "deviceId": "d1"}),
            vec!["action"],
        ),
        (
            "action not a string",
            json!({"action": ["restartDevice"]}),
            vec!["action"],
        ),
        (
            "unknown field",
            json!({"action": "restartDevice", "deviceId": "d1", "force": true}),
            vec!["force"],
        ),
        (
            "missing device",
            json!({"action": "restartDevice"}),
            vec!["deviceId"],
        ),
        (
            "device not a string",
            json!({"action": "restartDevice", "deviceId": 42}),
            vec!["deviceId"],
        ),
        (
            "software type unknownFutureValue",
            json!({"action": "updateSoftware", "deviceId": "d1", "softwareType": "unknownFutureValue", "softwareVersion": "1"}),
            vec!["softwareType"],
        ),
        (
            "software type wrong case",
            json!({"action": "updateSoftware", "deviceId": "d1", "softwareType": "TeamsClient", "softwareVersion": "1"}),
            vec!["softwareType"],
        ),
        (
            "empty software version",
            json!({"action": "updateSoftware", "deviceId": "d1", "softwareType": "firmware", "softwareVersion": ""}),
            vec!["softwareVersion"],
        ),
        (
            "blank software version",
            json!({"action": "updateSoftware", "deviceId": "d1", "softwareType": "firmware", "softwareVersion": "  "}),
            vec!["softwareVersion"],
        ),
        (
            "update without type or version",
            json!({"action": "updateSoftware", "deviceId": "d1"}),
            vec!["softwareType", "softwareVersion"],
        ),
        (
            "software fields on a restart",
            json!({"action": "restartDevice", "deviceId": "d1", "softwareType": "firmware", "softwareVersion": "1"}),
            vec!["softwareType", "softwareVersion"],
        ),
        (
            "app fields on a device action",
            json!({"action": "runDiagnostics", "deviceId": "d1", "teamId": "t1", "installationId": "i1"}),
            vec!["installationId", "teamId"],
        ),
        (
            "upgrade without a scope",
            json!({"action": "upgradeApp", "installationId": "i1"}),
            vec!["teamId"],
        ),
        (
            "upgrade with two scopes",
            json!({"action": "upgradeApp", "teamId": "t1", "userId": "u1", "installationId": "i1"}),
            vec!["userId"],
        ),
        (
            "upgrade without installation",
            json!({"action": "upgradeApp", "chatId": "c1"}),
            vec!["installationId"],
        ),
        (
            "device field on an upgrade",
            json!({"action": "upgradeApp", "teamId": "t1", "installationId": "i1", "deviceId": "d1"}),
            vec!["deviceId"],
        ),
        (
            "bad permission type",
            json!({"action": "upgradeApp", "teamId": "t1", "installationId": "i1", "consentedPermissionSet":
                {"resourceSpecificPermissions": [{"permissionValue": "X.Read", "permissionType": "both"}]}}),
            vec!["consentedPermissionSet.resourceSpecificPermissions[0].permissionType"],
        ),
        (
            "empty permission list",
            json!({"action": "upgradeApp", "teamId": "t1", "installationId": "i1",
                "consentedPermissionSet": {"resourceSpecificPermissions": []}}),
            vec!["consentedPermissionSet.resourceSpecificPermissions"],
        ),
        (
            "permission set not an object",
            json!({"action": "upgradeApp", "teamId": "t1", "installationId": "i1", "consentedPermissionSet": "all"}),
            vec!["consentedPermissionSet"],
        ),
        (
            "callback not a URL",
            json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": "itsm/hook"}),
            vec!["callbackUrl"],
        ),
        (
            "reference too long",
            json!({"action": "restartDevice", "deviceId": "d1", "reference": "x".repeat(300)}),
            vec!["reference"],
        ),
        (
            "many at once",
            json!({"action": "updateSoftware", "deviceId": "a/b", "softwareType": "bios", "softwareVersion": "", "colour": "red"}),
            vec!["deviceId", "softwareType", "softwareVersion", "colour"],
        ),
        (
            "right-to-left override in reference",
            json!({"action": "restartDevice", "deviceId": "d1", "reference": "CHG\u{202E}4321"}),
            vec!["reference"],
        ),
        (
            "isolate in requestedBy",
            json!({"action": "restartDevice", "deviceId": "d1", "requestedBy": "alice\u{2066}@contoso.com\u{2069}"}),
            vec!["requestedBy"],
        ),
        (
            "bidi mark in software version",
            json!({"action": "updateSoftware", "deviceId": "d1", "softwareType": "firmware", "softwareVersion": "1.0\u{200F}.2"}),
            vec!["softwareVersion"],
        ),
        (
            "callback URL with CR/LF",
            json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": "https://itsm.example.com/h\r\nX-Injected: 1"}),
            vec!["callbackUrl"],
        ),
        (
            "callback URL with a tab",
            json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": "https://itsm.exa\tmple.com/h"}),
            vec!["callbackUrl"],
        ),
    ]
}

#[tokio::test]
async fn every_invalid_request_gets_a_400_naming_each_bad_field() {
    let app = spawn_app().await;
    for (case, body, fields) in invalid_requests() {
        let response = app.post_change(body).await;
        let problem = problem(response, 400).await;
        assert_eq!(
            problem["type"], "urn:graphgate:problem:validation",
            "{case}"
        );
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{case}: no errors list"))
            .iter()
            .map(|e| {
                assert!(
                    e["detail"].as_str().is_some_and(|d| !d.is_empty()),
                    "{case}"
                );
                e["field"].as_str().unwrap()
            })
            .collect();
        assert_eq!(named, fields, "{case}");
    }
    assert!(
        app.graph_requests().await.is_empty(),
        "Graph must not be called"
    );
    assert!(
        app.token_requests().await.is_empty(),
        "not even for a token"
    );
}

#[tokio::test]
async fn ids_that_could_change_the_graph_url_are_refused() {
    let app = spawn_app().await;
    for bad in [
        "", ".", "..", "a/b", "a\\b", "a?b", "a#b", "a%2Fb", "a b", "a\tb", "a\u{0}b", "dé",
        "../../me",
    ] {
        let response = app
            .post_change(json!({"action": "restartDevice", "deviceId": bad}))
            .await;
        let problem = problem(response, 400).await;
        assert_eq!(problem["errors"][0]["field"], "deviceId", "{bad:?}");
    }
    let too_long = "x".repeat(257);
    let response = app
        .post_change(json!({"action": "upgradeApp", "teamId": too_long, "installationId": "i/1"}))
        .await;
    let problem = problem(response, 400).await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2);
    assert!(app.graph_requests().await.is_empty());
}

#[tokio::test]
async fn body_shape_content_type_and_size() {
    let app = spawn_app().await;
    let url = format!("{}/v1/changes", app.address);
    let send = |content_type: Option<&'static str>, body: Vec<u8>| {
        let mut request = app.http.post(&url).bearer_auth(TOKEN).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        request.send()
    };

    let p = problem(
        send(Some("application/json"), b"{\"action\":".to_vec())
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(p["type"], "urn:graphgate:problem:malformed-json");
    let p = problem(
        send(Some("application/json"), b"[1,2]".to_vec())
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(p["type"], "urn:graphgate:problem:malformed-json");

    let p = problem(send(Some("text/plain"), b"{}".to_vec()).await.unwrap(), 415).await;
    assert_eq!(p["type"], "urn:graphgate:problem:unsupported-media-type");
    problem(send(None, b"{}".to_vec()).await.unwrap(), 415).await;
    problem(
        send(Some("application/x-www-form-urlencoded"), b"a=b".to_vec())
            .await
            .unwrap(),
        415,
    )
    .await;

    // Just over 64 KiB of otherwise valid JSON.
    let padding = "x".repeat(64 * 1024);
    let big = format!(r#"{{"action":"restartDevice","deviceId":"d1","reference":"{padding}"}}"#);
    let p = problem(
        send(Some("application/json"), big.into_bytes())
            .await
            .unwrap(),
        413,
    )
    .await;
    assert_eq!(p["type"], "urn:graphgate:problem:payload-too-large");

    // A body of exactly 64 KiB is read (and refused only for its content).
    let mut exact = r#"{"action":"restartDevice","deviceId":"d1","x":""#.to_owned();
    exact.push_str(&" ".repeat(64 * 1024 - exact.len() - 2));
    exact.push_str("\"}");
    assert_eq!(exact.len(), 64 * 1024);
    let p = problem(
        send(Some("application/json"), exact.into_bytes())
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "x");

    assert!(app.graph_requests().await.is_empty());
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let app = spawn_app().await;
    let p = problem(
        app.http
            .get(format!("{}/v2/changes", app.address))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(p["type"], "urn:graphgate:problem:not-found");
    let p = problem(
        app.http
            .delete(format!("{}/v1/changes", app.address))
            .send()
            .await
            .unwrap(),
        405,
    )
    .await;
    assert_eq!(p["type"], "urn:graphgate:problem:method-not-allowed");
    let health = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_duplicate_key_is_refused_not_resolved_to_the_last() {
    let app = spawn_app().await;
    for (body, key) in [
        (
            r#"{"action":"restartDevice","deviceId":"../../x","deviceId":"ok"}"#,
            "deviceId",
        ),
        (
            r#"{"action":"restartDevice","action":"runDiagnostics","deviceId":"d1"}"#,
            "action",
        ),
        (
            r#"{"action":"upgradeApp","teamId":"t","installationId":"i","consentedPermissionSet":{"resourceSpecificPermissions":[{"permissionValue":"a","permissionValue":"b","permissionType":"application"}]}}"#,
            "permissionValue",
        ),
    ] {
        let response = app
            .http
            .post(format!("{}/v1/changes", app.address))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let p = problem(response, 400).await;
        assert_eq!(p["type"], "urn:graphgate:problem:duplicate-key", "{body}");
        assert_eq!(p["key"], key, "{body}");
    }
    assert!(app.graph_requests().await.is_empty());
    assert!(app.token_requests().await.is_empty());
}

#[tokio::test]
async fn thousands_of_unknown_keys_get_a_short_answer_with_a_count() {
    let app = spawn_app().await;
    let mut body = serde_json::Map::new();
    body.insert("action".into(), json!("restartDevice"));
    body.insert("deviceId".into(), json!("d1"));
    let mut size = serde_json::to_vec(&body).unwrap().len();
    let mut n = 0;
    // Each `"kN":1,` adds the key's length and 5 bytes.
    while size + format!("k{n}").len() + 5 < 64 * 1024 {
        size += format!("k{n}").len() + 5;
        body.insert(format!("k{n}"), json!(1));
        n += 1;
    }
    assert!(n > 6000, "{n} keys");
    let response = app.post_change(Value::Object(body)).await;
    let text_len = response.content_length();
    let p = problem(response, 400).await;
    assert_eq!(p["errorCount"], n);
    assert_eq!(p["errors"].as_array().unwrap().len(), 20);
    assert!(p.to_string().len() < 4096, "{} bytes", p.to_string().len());
    assert!(text_len.is_none_or(|l| l < 4096));
    assert!(app.graph_requests().await.is_empty());
}
