//! The simulator's ServiceNow instance and Jira Cloud site, over HTTP as graphgate's ticket
//! client meets them: authentication, reading a change ticket, writing back into it, and the
//! `/_simulator/tickets` routes a person or a test uses to watch and steer them.

use std::time::{Duration, Instant};

use graphgate::simulator::{
    self, JIRA_API_TOKEN, JIRA_EMAIL, SERVICENOW_CLIENT_ID, SERVICENOW_CLIENT_SECRET,
    SERVICENOW_PASSWORD, SERVICENOW_USER, SimulatorState,
};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

/// The simulator on a random loopback port with its demo tickets, as `serve --simulate` has
/// them.
async fn start() -> (String, SimulatorState, Client) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let state = SimulatorState::default();
    state.seed_demo_tickets();
    tokio::spawn(simulator::serve(listener, state.clone()));
    (origin, state, Client::new())
}

async fn body(response: Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

/// The JSON of a `200` answer to `request`.
async fn ok(request: RequestBuilder) -> Value {
    body(request.send().await.unwrap(), 200).await
}

fn servicenow(request: RequestBuilder) -> RequestBuilder {
    request.basic_auth(SERVICENOW_USER, Some(SERVICENOW_PASSWORD))
}

fn jira(request: RequestBuilder) -> RequestBuilder {
    request.basic_auth(JIRA_EMAIL, Some(JIRA_API_TOKEN))
}

const CHANGE_FIELDS: &str = "sys_id,number,approval,state,start_date,end_date";

fn by_number(origin: &str, number: &str) -> String {
    format!(
        "{origin}/api/now/table/change_request?sysparm_query=number={number}&sysparm_fields={CHANGE_FIELDS}&sysparm_limit=1&sysparm_display_value=false"
    )
}

async fn sys_id(http: &Client, origin: &str, number: &str) -> String {
    let found = ok(servicenow(http.get(by_number(origin, number)))).await;
    found["result"][0]["sys_id"].as_str().unwrap().to_owned()
}

/// The status of a Jira issue, as graphgate's gate reads it.
async fn jira_status(http: &Client, origin: &str, key: &str) -> Value {
    let url = format!("{origin}/rest/api/3/issue/{key}?fields=status");
    ok(jira(http.get(url))).await["fields"]["status"].clone()
}

fn adf(text: &str) -> Value {
    json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    ]})
}

#[tokio::test]
async fn servicenow_takes_its_integration_user_or_an_oauth_token_and_refuses_the_rest() {
    let (origin, _, http) = start().await;
    let url = by_number(&origin, "CHG0030001");
    let unauthenticated = json!({"error": {"message": "User Not Authenticated",
        "detail": "Required to provide Auth information"}, "status": "failure"});
    let anonymous = http.get(&url).send().await.unwrap();
    assert!(anonymous.headers().contains_key("www-authenticate"));
    assert_eq!(body(anonymous, 401).await, unauthenticated);
    let wrong = http
        .get(&url)
        .basic_auth(SERVICENOW_USER, Some("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(body(wrong, 401).await, unauthenticated);
    let made_up = http.get(&url).bearer_auth("made-up").send().await.unwrap();
    assert_eq!(body(made_up, 401).await, unauthenticated);
    let basic = servicenow(http.get(&url)).send().await.unwrap();
    assert_eq!(body(basic, 200).await["result"][0]["number"], "CHG0030001");

    let token_url = format!("{origin}/oauth_token.do");
    let bad_client = http
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", SERVICENOW_CLIENT_ID),
            ("client_secret", "guess"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(bad_client, 401).await,
        json!({"error_description": "access_denied", "error": "server_error"})
    );
    let issued = http
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", SERVICENOW_CLIENT_ID),
            ("client_secret", SERVICENOW_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    let issued = body(issued, 200).await;
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["scope"], "useraccount");
    assert_eq!(issued["expires_in"], 1799);
    let token = issued["access_token"].as_str().unwrap();
    let bearer = http.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(body(bearer, 200).await["result"][0]["approval"], "approved");
}

#[tokio::test]
async fn a_change_is_read_by_number_with_only_the_fields_asked_as_strings() {
    let (origin, _, http) = start().await;
    let found = servicenow(http.get(by_number(&origin, "CHG0030001")))
        .send()
        .await
        .unwrap();
    assert_eq!(found.headers()["x-total-count"], "1");
    let found = body(found, 200).await;
    let records = found["result"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    let change = records[0].as_object().unwrap();
    let mut keys: Vec<&str> = change.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "approval",
            "end_date",
            "number",
            "start_date",
            "state",
            "sys_id"
        ]
    );
    assert!(change.values().all(Value::is_string), "{found}");
    assert_eq!(change["approval"], "approved");
    assert_eq!(change["state"], "-1");
    let format = time::format_description::parse_borrowed::<1>(
        "[year]-[month]-[day] [hour]:[minute]:[second]",
    )
    .unwrap();
    let when = |field: &str| {
        time::PrimitiveDateTime::parse(change[field].as_str().unwrap(), &format)
            .unwrap()
            .assume_utc()
    };
    let now = time::OffsetDateTime::now_utc();
    assert!(when("start_date") < now && now < when("end_date"));
    let sys_id = change["sys_id"].as_str().unwrap();
    assert!(sys_id.len() == 32 && sys_id.chars().all(|c| c.is_ascii_hexdigit()));

    // The same record by its sys_id, in a query and by path, every field when none is asked.
    let url = format!("{origin}/api/now/table/change_request?sysparm_query=sys_id={sys_id}");
    let by_query = ok(servicenow(http.get(url))).await;
    assert_eq!(by_query["result"][0]["number"], "CHG0030001");
    assert_eq!(by_query["result"][0]["work_notes"], "");
    let url = format!("{origin}/api/now/table/change_request/{sys_id}?sysparm_display_value=true");
    let shown = ok(servicenow(http.get(url))).await;
    assert_eq!(shown["result"]["state"], "Implement");
    assert_eq!(shown["result"]["approval"], "Approved");

    let waiting = ok(servicenow(http.get(by_number(&origin, "CHG0030002")))).await;
    assert_eq!(waiting["result"][0]["approval"], "requested");
    assert_eq!(waiting["result"][0]["state"], "-3");

    let none = ok(servicenow(http.get(by_number(&origin, "CHG0099999")))).await;
    assert_eq!(none, json!({"result": []}));

    let other_table = servicenow(http.get(format!("{origin}/api/now/table/incident")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(other_table, 400).await["error"]["message"],
        "Invalid table incident"
    );
}

#[tokio::test]
async fn an_unknown_sys_id_is_servicenows_404() {
    let (origin, _, http) = start().await;
    let url = format!("{origin}/api/now/table/change_request/0123456789abcdef0123456789abcdef");
    let expected = json!({"error": {"message": "No Record found",
        "detail": "Record doesn't exist or ACL restricts the record retrieval"}, "status": "failure"});
    assert_eq!(
        body(servicenow(http.get(&url)).send().await.unwrap(), 404).await,
        expected
    );
    let patched = servicenow(http.patch(&url))
        .json(&json!({"work_notes": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(body(patched, 404).await, expected);
}

#[tokio::test]
async fn work_notes_are_appended_in_order_and_closing_needs_a_close_code() {
    let (origin, sim, http) = start().await;
    let id = sys_id(&http, &origin, "CHG0030001").await;
    let url = format!("{origin}/api/now/table/change_request/{id}");
    for note in [
        "graphgate: 2 devices updated",
        "graphgate: room-oslo failed",
    ] {
        let patched = servicenow(http.patch(&url))
            .json(&json!({"work_notes": note}))
            .send()
            .await
            .unwrap();
        let patched = body(patched, 200).await;
        assert_eq!(patched["result"]["number"], "CHG0030001");
        assert_eq!(patched["result"]["sys_updated_by"], SERVICENOW_USER);
    }
    let shown = ok(servicenow(http.get(format!(
        "{url}?sysparm_fields=work_notes&sysparm_display_value=true"
    ))))
    .await;
    let journal = shown["result"]["work_notes"].as_str().unwrap();
    assert!(
        journal.find("room-oslo failed").unwrap() < journal.find("2 devices updated").unwrap(),
        "newest first: {journal}"
    );

    // A closed change needs a close code and notes; the refusal changes nothing.
    let refused = servicenow(http.patch(&url))
        .json(&json!({"state": "3", "work_notes": "closing"}))
        .send()
        .await
        .unwrap();
    let refused = body(refused, 403).await;
    assert_eq!(refused["error"]["message"], "Operation Failed");
    assert!(
        refused["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("mandatory: Close code, Close notes")
    );
    let closed = servicenow(http.patch(&url))
        .json(&json!({"state": "3", "close_code": "successful_issues", "close_notes": "1 of 2 rooms updated"}))
        .send()
        .await
        .unwrap();
    assert_eq!(body(closed, 200).await["result"]["state"], "3");

    // What a person sees of the write-back.
    let seen = ok(http.get(format!("{origin}/_simulator/tickets"))).await;
    let change = &seen["servicenow"][0];
    assert_eq!(change["number"], "CHG0030001");
    assert_eq!(
        (change["state"].as_str(), change["stateLabel"].as_str()),
        (Some("3"), Some("Closed"))
    );
    assert_eq!(change["closeCode"], "successful_issues");
    let notes: Vec<&str> = change["workNotes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            assert_eq!(n["createdBy"], SERVICENOW_USER);
            n["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        notes,
        [
            "graphgate: 2 devices updated",
            "graphgate: room-oslo failed"
        ]
    );
    assert_eq!(sim.tickets().servicenow[0].work_notes.len(), 2);

    let not_json = servicenow(http.patch(&url))
        .header("content-type", "application/json")
        .body("work_notes=x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(not_json, 400).await["error"]["detail"],
        "The payload is not valid JSON."
    );
}

#[tokio::test]
async fn jira_takes_its_users_api_token_and_refuses_the_rest() {
    let (origin, _, http) = start().await;
    let url = format!("{origin}/rest/api/3/issue/CHG-1?fields=status");
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(
        body(anonymous, 401).await["message"],
        "Client must be authenticated to access this resource."
    );
    let wrong = http
        .get(&url)
        .basic_auth(JIRA_EMAIL, Some("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.headers()["x-seraph-loginreason"],
        "AUTHENTICATED_FAILED"
    );
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .starts_with("Basic authentication")
    );
    assert_eq!(jira(http.get(&url)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_jira_issue_shows_its_status_and_an_unknown_one_is_404() {
    let (origin, _, http) = start().await;
    let issue = ok(jira(
        http.get(format!("{origin}/rest/api/3/issue/CHG-1?fields=status")),
    ))
    .await;
    assert_eq!(issue["key"], "CHG-1");
    assert_eq!(issue["id"], "10001");
    assert_eq!(issue["self"], format!("{origin}/rest/api/3/issue/10001"));
    let fields = issue["fields"].as_object().unwrap();
    assert_eq!(fields.keys().collect::<Vec<_>>(), ["status"]);
    assert_eq!(fields["status"]["name"], "Approved");
    assert_eq!(fields["status"]["statusCategory"]["key"], "indeterminate");
    // By its numeric ID too, and every field when none is asked.
    let waiting = ok(jira(http.get(format!("{origin}/rest/api/3/issue/10002")))).await;
    assert_eq!(waiting["key"], "CHG-2");
    assert_eq!(waiting["fields"]["status"]["name"], "Waiting for approval");
    assert!(waiting["fields"]["summary"].is_string());

    let missing = jira(http.get(format!("{origin}/rest/api/3/issue/CHG-99?fields=status")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(missing, 404).await,
        json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}})
    );
}

#[tokio::test]
async fn a_jira_comment_takes_adf_and_shows_in_the_ticket() {
    let (origin, _, http) = start().await;
    let url = format!("{origin}/rest/api/3/issue/CHG-1/comment");
    let made = jira(http.post(&url))
        .json(&json!({"body": adf("graphgate: 2 devices updated")}))
        .send()
        .await
        .unwrap();
    let made = body(made, 201).await;
    assert!(made["id"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(made["body"], adf("graphgate: 2 devices updated"));
    assert_eq!(made["author"]["emailAddress"], JIRA_EMAIL);
    assert!(made["created"].as_str().unwrap().ends_with("+0000"));

    let plain = jira(http.post(&url))
        .json(&json!({"body": "graphgate: plain text"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(plain, 400).await,
        json!({"errorMessages": [], "errors": {"comment": "Comment body is not valid!"}})
    );
    let broken = jira(http.post(&url))
        .json(&json!({"body": {"type": "doc", "version": 1, "content": [{"type": "text", "text": "bare"}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(broken, 400).await,
        json!({"errorMessages": ["INVALID_INPUT"], "errors": {}})
    );
    let elsewhere = jira(http.post(format!("{origin}/rest/api/3/issue/CHG-99/comment")))
        .json(&json!({"body": adf("lost")}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);

    let seen = ok(http.get(format!("{origin}/_simulator/tickets"))).await;
    let comments = seen["jira"][0]["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1, "only the valid comment was kept");
    assert_eq!(comments[0]["text"], "graphgate: 2 devices updated");
    assert_eq!(comments[0]["author"], JIRA_EMAIL);
    assert_eq!(comments[0]["id"], made["id"]);
    let issue = ok(jira(
        http.get(format!("{origin}/rest/api/3/issue/CHG-1?fields=comment")),
    ))
    .await;
    assert_eq!(issue["fields"]["comment"]["total"], 1);
}

#[tokio::test]
async fn a_jira_transition_moves_the_issue_and_an_unknown_one_is_refused() {
    let (origin, _, http) = start().await;
    let url = format!("{origin}/rest/api/3/issue/CHG-1/transitions");
    let listed = ok(jira(http.get(&url))).await;
    let offered: Vec<(&str, &str)> = listed["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap(), t["to"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(offered, [("31", "Done"), ("41", "Failed")]);

    let unknown = jira(http.post(&url))
        .json(&json!({"transition": {"id": "11"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        body(unknown, 400).await["errorMessages"][0],
        "Transition id '11' is not valid for this issue."
    );
    let done = jira(http.post(&url))
        .json(&json!({"transition": {"id": "31"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 204);
    let status = jira_status(&http, &origin, "CHG-1").await;
    assert_eq!(status["name"], "Done");
    assert_eq!(status["statusCategory"]["key"], "done");
    let after = ok(jira(http.get(&url))).await;
    assert_eq!(after["transitions"], json!([]));
    let seen = ok(http.get(format!("{origin}/_simulator/tickets"))).await;
    assert_eq!(seen["jira"][0]["status"], "Done");
}

#[tokio::test]
async fn an_approval_withdrawn_behind_graphgates_back_shows_in_both_systems() {
    let (origin, _, http) = start().await;
    let withdrawn = http
        .patch(format!("{origin}/_simulator/tickets/servicenow/CHG0030001"))
        .json(&json!({"approval": "rejected", "state": "-3"}))
        .send()
        .await
        .unwrap();
    let withdrawn = body(withdrawn, 200).await;
    assert_eq!(withdrawn["approval"], "rejected");
    let read = ok(servicenow(http.get(by_number(&origin, "CHG0030001")))).await;
    assert_eq!(read["result"][0]["approval"], "rejected");
    assert_eq!(read["result"][0]["state"], "-3");

    let reopened = http
        .patch(format!("{origin}/_simulator/tickets/jira/CHG-1"))
        .json(&json!({"status": "Waiting for approval"}))
        .send()
        .await
        .unwrap();
    assert_eq!(body(reopened, 200).await["status"], "Waiting for approval");
    assert_eq!(
        jira_status(&http, &origin, "CHG-1").await["name"],
        "Waiting for approval"
    );

    let unknown = http
        .patch(format!("{origin}/_simulator/tickets/jira/CHG-99"))
        .json(&json!({"status": "Approved"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let no_such_status = http
        .patch(format!("{origin}/_simulator/tickets/jira/CHG-1"))
        .json(&json!({"status": "Sort of approved"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_such_status.status(), 422);
}

#[tokio::test]
async fn tickets_are_seeded_over_http() {
    let (origin, _, http) = start().await;
    let seeds = json!({
        "servicenow": [{"number": "CHG0040001", "approval": "approved", "state": "-2",
                        "startDate": "2030-01-01 08:00:00", "endDate": "2030-01-01 10:00:00"}],
        "jira": [{"key": "OPS-7", "status": "Approved", "summary": "Firmware"}]
    });
    let put = http
        .put(format!("{origin}/_simulator/tickets"))
        .json(&seeds)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let found = ok(servicenow(http.get(by_number(&origin, "CHG0040001")))).await;
    assert_eq!(found["result"][0]["start_date"], "2030-01-01 08:00:00");
    assert_eq!(found["result"][0]["state"], "-2");
    assert_eq!(
        jira_status(&http, &origin, "OPS-7").await["name"],
        "Approved"
    );
    let seen = ok(http.get(format!("{origin}/_simulator/tickets"))).await;
    assert_eq!(seen["servicenow"].as_array().unwrap().len(), 3);
    assert_eq!(seen["jira"].as_array().unwrap().len(), 3);

    let bad_key = http
        .put(format!("{origin}/_simulator/tickets"))
        .json(&json!({"jira": [{"key": "ops 7", "status": "Approved"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 422);
    let bad_state = http
        .put(format!("{origin}/_simulator/tickets"))
        .json(&json!({"servicenow": [{"number": "CHG1", "approval": "approved", "state": "Implement"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_state.status(), 422);
}

#[tokio::test]
async fn a_ticket_system_can_be_made_unavailable_or_slow_on_its_own() {
    let (origin, _, http) = start().await;
    let faults =
        json!({"servicenow": {"unavailable": 2, "latencyMs": 0}, "jira": {"latencyMs": 300}});
    let set = http
        .put(format!("{origin}/_simulator/tickets/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let url = by_number(&origin, "CHG0030001");
    for _ in 0..2 {
        let down = servicenow(http.get(&url)).send().await.unwrap();
        assert_eq!(down.status(), 503);
    }
    let left = ok(http.get(format!("{origin}/_simulator/tickets/faults"))).await;
    assert_eq!(left["servicenow"]["unavailable"], 0);
    assert_eq!(
        servicenow(http.get(&url)).send().await.unwrap().status(),
        200
    );

    let started = Instant::now();
    let slow = jira(http.get(format!("{origin}/rest/api/3/issue/CHG-1?fields=status")))
        .send()
        .await
        .unwrap();
    assert_eq!(slow.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // The inspection routes and Graph are not the ticket systems.
    assert_eq!(
        http.get(format!("{origin}/_simulator/tickets"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let bad = http
        .put(format!("{origin}/_simulator/tickets/faults"))
        .json(&json!({"servicenow": {"unavailable": "many"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}
