//! The device inventory: `GET /v1/devices` and `graphgate devices`. graphgate reads Graph's
//! device list (every page) and each device's health (in `$batch`es of at most 20),
//! honouring throttling of a batch and of the requests inside it. What Graph received is
//! asserted, not only what graphgate answered.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use graphgate::simulator::{self, SimulatorState};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, Request, ResponseTemplate};

use crate::helpers::*;

fn graph_device(id: &str, device_type: &str) -> Value {
    json!({"id": id, "deviceType": device_type, "healthStatus": "healthy", "activityState": "idle",
        "hardwareDetail": {"manufacturer": "Contoso", "model": "R1"}})
}

/// A `teamworkDeviceHealth` whose Teams client is at `current`, with 1.0.96.22 available.
fn health(current: &str) -> Value {
    let freshness = if current == "1.0.96.22" {
        "latest"
    } else {
        "updateAvailable"
    };
    json!({"id": "h", "softwareUpdateHealth": {
        "teamsClientSoftwareUpdateStatus": {"currentVersion": current, "availableVersion": "1.0.96.22", "softwareFreshness": freshness},
        "firmwareSoftwareUpdateStatus": {"currentVersion": "8.1", "availableVersion": "8.1", "softwareFreshness": "latest"}
    }})
}

/// Serves `devices` as Graph's device list, `page` to a page, each page's `@odata.nextLink`
/// absolute on the fake Graph, as Graph's is.
async fn mount_list(app: &TestApp, devices: &[Value], page: usize) {
    let pages: Vec<&[Value]> = devices.chunks(page).collect();
    for (i, items) in pages.iter().enumerate() {
        let mut body = json!({ "value": items });
        if i + 1 < pages.len() {
            body["@odata.nextLink"] = json!(format!(
                "{}/beta/teamwork/devices?$skiptoken=p{}",
                app.graph.uri(),
                i + 1
            ));
        }
        let mock = Mock::given(method("GET")).and(path("/beta/teamwork/devices"));
        let mock = if i == 0 {
            mock.and(query_param_is_missing("$skiptoken"))
        } else {
            mock.and(query_param("$skiptoken", format!("p{i}")))
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&app.graph)
            .await;
    }
}

/// Graph's `$batch`, answering each device's health from `healths` (404 for a device not
/// there), throttling each device in `throttle` the first time it is asked for. Notes each
/// batch's requested URLs.
#[derive(Clone, Default)]
struct Batches {
    healths: Arc<HashMap<String, Value>>,
    throttle: Arc<Mutex<HashSet<String>>>,
    seen: Arc<Mutex<Vec<Vec<String>>>>,
}

impl Batches {
    async fn mount(&self, app: &TestApp) {
        let this = self.clone();
        Mock::given(method("POST"))
            .and(path("/beta/$batch"))
            .respond_with(move |request: &Request| this.answer(request))
            .mount(&app.graph)
            .await;
    }

    fn answer(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let mut urls = Vec::new();
        let responses: Vec<Value> = body["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                assert_eq!(item["method"], "GET");
                let url = item["url"].as_str().unwrap().to_owned();
                urls.push(url.clone());
                let device = url
                    .strip_prefix("/teamwork/devices/")
                    .and_then(|rest| rest.strip_suffix("/health"))
                    .unwrap_or_else(|| panic!("not a health read: {url}"));
                let id = item["id"].clone();
                if self.throttle.lock().unwrap().remove(device) {
                    return json!({"id": id, "status": 429, "headers": {"Retry-After": "0.2"},
                        "body": {"error": {"code": "TooManyRequests", "message": "slow down"}}});
                }
                match self.healths.get(device) {
                    Some(health) => json!({"id": id, "status": 200, "headers": {"Content-Type": "application/json"}, "body": health}),
                    None => json!({"id": id, "status": 404, "headers": {"request-id": "req-404"},
                        "body": {"error": {"code": "NotFound", "message": "The requested device was not found."}}}),
                }
            })
            .collect();
        self.seen.lock().unwrap().push(urls);
        ResponseTemplate::new(200).set_body_json(json!({ "responses": responses }))
    }

    fn batches(&self) -> Vec<Vec<String>> {
        self.seen.lock().unwrap().clone()
    }
}

async fn get_devices(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/v1/devices{query}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn ids(body: &Value, list: &str) -> Vec<String> {
    body[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_inventory_reads_every_page_and_each_devices_health_in_batches_of_twenty() {
    let app = spawn_app().await;
    let mut devices = Vec::new();
    let mut healths = HashMap::new();
    for i in 0..30 {
        let id = format!("room-{i:02}");
        devices.push(graph_device(&id, "teamsRoom"));
        let current = if i % 2 == 0 { "1.0.96.20" } else { "1.0.96.22" };
        healths.insert(id, health(current));
    }
    for i in 0..15 {
        devices.push(graph_device(&format!("phone-{i:02}"), "ipPhone"));
    }
    mount_list(&app, &devices, 20).await;
    let batches = Batches {
        healths: Arc::new(healths),
        ..Batches::default()
    };
    batches.mount(&app).await;

    let response = get_devices(
        &app,
        TOKEN,
        "?deviceType=teamsRoom&updateAvailable=teamsClient",
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let expected: Vec<String> = (0..30).step_by(2).map(|i| format!("room-{i:02}")).collect();
    assert_eq!(ids(&body, "devices"), expected);
    assert_eq!(body["count"], 15);
    assert_eq!(
        body["filter"],
        json!({"deviceType": "teamsRoom", "updateAvailable": "teamsClient"})
    );
    let first = &body["devices"][0];
    assert_eq!(first["deviceType"], "teamsRoom");
    assert_eq!(first["healthStatus"], "healthy");
    assert_eq!(first["model"], "R1");
    assert_eq!(
        first["software"]["teamsClient"],
        json!({"currentVersion": "1.0.96.20", "availableVersion": "1.0.96.22", "softwareFreshness": "updateAvailable"})
    );
    assert_eq!(first["software"]["firmware"]["softwareFreshness"], "latest");

    // Three pages of the list, then the health of the 30 rooms alone, 20 at most a batch.
    let requests = app.graph_requests().await;
    let list_reads = requests
        .iter()
        .filter(|r| r.url.path() == "/beta/teamwork/devices")
        .count();
    assert_eq!(list_reads, 3);
    let mut sizes: Vec<usize> = batches.batches().iter().map(Vec::len).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [10, 20]);
    let asked: HashSet<String> = batches.batches().concat().into_iter().collect();
    let rooms: HashSet<String> = (0..30)
        .map(|i| format!("/teamwork/devices/room-{i:02}/health"))
        .collect();
    assert_eq!(asked, rooms);
    assert!(
        requests
            .iter()
            .all(|r| bearer(r).starts_with("Bearer graph-token-"))
    );
}

#[tokio::test]
async fn throttling_of_a_batch_and_of_requests_in_it_is_waited_out() {
    let app = spawn_app().await;
    let ids_all: Vec<String> = (0..25).map(|i| format!("room-{i:02}")).collect();
    let devices: Vec<Value> = ids_all
        .iter()
        .map(|id| graph_device(id, "teamsRoom"))
        .collect();
    mount_list(&app, &devices, 100).await;
    // The first batch call is throttled as a whole; then two requests inside a batch are.
    Mock::given(method("POST"))
        .and(path("/beta/$batch"))
        .respond_with(
            graph_error(429, "TooManyRequests", "req-429").insert_header("Retry-After", "0.1"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&app.graph)
        .await;
    let batches = Batches {
        healths: Arc::new(
            ids_all
                .iter()
                .map(|id| (id.clone(), health("1.0.96.20")))
                .collect(),
        ),
        throttle: Arc::new(Mutex::new(HashSet::from([
            "room-03".to_owned(),
            "room-21".to_owned(),
        ]))),
        ..Batches::default()
    };
    batches.mount(&app).await;

    let response = get_devices(&app, TOKEN, "").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(ids(&body, "devices"), ids_all);
    assert!(
        body["devices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["software"]["teamsClient"]["currentVersion"] == "1.0.96.20"),
        "{body}"
    );
    // Graph saw three batch calls with health reads in them: 20 and 5, then the two it throttled.
    let mut asked: HashMap<String, usize> = HashMap::new();
    for url in batches.batches().concat() {
        *asked.entry(url).or_default() += 1;
    }
    for id in &ids_all {
        let times = asked[&format!("/teamwork/devices/{id}/health")];
        let expected = if id == "room-03" || id == "room-21" {
            2
        } else {
            1
        };
        assert_eq!(times, expected, "{id}");
    }
    assert_eq!(batches.batches().last().unwrap().len(), 2);
    let batch_calls = app
        .graph_requests()
        .await
        .iter()
        .filter(|r| r.url.path() == "/beta/$batch")
        .count();
    assert_eq!(batch_calls, 4, "one throttled call, and three answered");
}

#[tokio::test]
async fn a_device_whose_health_graph_refuses_is_shown_with_why() {
    let app = spawn_app().await;
    mount_list(
        &app,
        &[
            graph_device("room-1", "teamsRoom"),
            graph_device("gone-1", "teamsRoom"),
        ],
        20,
    )
    .await;
    Batches {
        healths: Arc::new(HashMap::from([("room-1".to_owned(), health("1.0.96.20"))])),
        ..Batches::default()
    }
    .mount(&app)
    .await;

    let all: Value = get_devices(&app, TOKEN, "").await.json().await.unwrap();
    assert_eq!(ids(&all, "devices"), ["room-1", "gone-1"]);
    assert_eq!(
        all["devices"][1]["softwareError"],
        json!({"httpStatus": 404, "code": "NotFound", "message": "The requested device was not found.", "requestId": "req-404"})
    );
    assert!(all["devices"][1].get("software").is_none());

    // Asked which devices are behind, graphgate cannot tell for that one, and says so.
    let behind: Value = get_devices(&app, TOKEN, "?updateAvailable=teamsClient")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&behind, "devices"), ["room-1"]);
    assert_eq!(ids(&behind, "unjudged"), ["gone-1"]);
    assert_eq!(
        behind["unjudged"][0]["reason"],
        "its software health could not be read: NotFound"
    );
}

#[tokio::test]
async fn graph_refusing_the_list_is_a_problem_that_says_what_to_fix() {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices"))
        .respond_with(graph_error(403, "Forbidden", "req-403"))
        .up_to_n_times(1)
        .mount(&app.graph)
        .await;
    let refused = problem(get_devices(&app, TOKEN, "").await, 502).await;
    assert_eq!(refused["type"], "urn:graphgate:problem:graph-permission");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("TeamworkDevice.Read.All"),
        "{refused}"
    );
    assert_eq!(refused["graphRequestId"], "req-403");

    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": "BadRequest", "message": "Resource not found for the segment 'devices'."}})))
        .mount(&app.graph)
        .await;
    let retired = problem(get_devices(&app, TOKEN, "").await, 502).await;
    assert_eq!(retired["type"], "urn:graphgate:problem:graph-api-retired");
}

#[tokio::test]
async fn bad_queries_and_callers_are_refused_before_graph_is_asked() {
    let app = spawn_app_with(Options {
        more_callers: vec![json!({"name": "apps", "auth": {"scheme": "bearer",
            "token": "apps-only-token-0123456789abcdef0123"}, "allow": ["upgradeApp"]})],
        ..Options::default()
    })
    .await;
    let bad = problem(
        get_devices(
            &app,
            TOKEN,
            "?deviceType=toaster&updateAvailable=unknownFutureValue&colour=red&deviceType=sip",
        )
        .await,
        400,
    )
    .await;
    assert_eq!(bad["title"], "The query is invalid");
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["deviceType", "colour", "updateAvailable"]);
    assert_eq!(bad["errors"][0]["detail"], "given more than once");

    let anonymous = app
        .http
        .get(format!("{}/v1/devices", app.address))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;
    let apps_only = problem(
        get_devices(&app, "apps-only-token-0123456789abcdef0123", "").await,
        403,
    )
    .await;
    assert_eq!(
        apps_only["title"],
        "This caller may not read the device inventory"
    );
    assert!(app.graph_requests().await.is_empty());
}

/// A fleet of `n` devices for the simulator: every third a collaboration bar, the rest rooms.
fn seeds(n: usize) -> Value {
    let devices: Vec<Value> = (0..n)
        .map(|i| {
            let device_type = if i % 3 == 0 {
                "collaborationBar"
            } else {
                "teamsRoom"
            };
            json!({"id": format!("sim-{i:03}"), "deviceType": device_type})
        })
        .collect();
    Value::Array(devices)
}

#[tokio::test]
async fn the_simulator_serves_a_paged_fleet_and_throttles_inside_batches() {
    let (app, state) = spawn_simulated_app(Options::default()).await;
    let origin = app.app.graph.base().origin();
    let seeded = app
        .http
        .put(format!("{origin}/_simulator/devices"))
        .json(&seeds(45))
        .send()
        .await
        .unwrap();
    assert_eq!(seeded.status(), 204);
    state.set_faults(simulator::Faults {
        throttle_batch_items: 3,
        retry_after_secs: 0.05,
        ..simulator::Faults::default()
    });

    let bars: Value = get_devices(&app, TOKEN, "?deviceType=collaborationBar")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bars["count"], 15, "{bars}");
    assert!(
        bars["devices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["software"]["teamsClient"]["softwareFreshness"] == "updateAvailable")
    );
    assert_eq!(
        state.faults().throttle_batch_items,
        0,
        "the throttled requests were sent again"
    );

    // The simulator refuses a batch of more than 20, as Graph does.
    let token = sim_token(
        &app.http,
        &format!("{origin}/simulated-tenant/oauth2/v2.0/token"),
        &origin,
    )
    .await;
    let requests: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/teamwork/devices/sim-001/health"}))
        .collect();
    let too_many = app
        .http
        .post(format!("{origin}/beta/$batch"))
        .bearer_auth(&token)
        .json(&json!({ "requests": requests }))
        .send()
        .await
        .unwrap();
    assert_eq!(too_many.status(), 400);
}

#[tokio::test]
async fn graphgate_devices_prints_the_inventory_from_graph() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let state = SimulatorState::default();
    state.seed_demo_fleet();
    tokio::spawn(simulator::serve(listener, state));

    let (code, table) = run_cli(&origin, &["devices", "--update-available", "teamsClient"]).await;
    assert_eq!(code, 0, "{table}");
    let rows: Vec<&str> = table
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        rows,
        [
            "ID",
            "bar-accra",
            "room-lisbon",
            "room-oslo",
            "stale-room-quito",
            "4"
        ],
        "{table}"
    );
    assert!(
        table.contains("teamsClient 1.0.96.20 -> 1.0.96.22"),
        "{table}"
    );

    let (code, json) = run_cli(
        &origin,
        &["devices", "--device-type", "teamsPanel", "--json"],
    )
    .await;
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["devices"][0]["id"], "panel-lima");

    let (code, _) = run_cli(&origin, &["devices", "--device-type", "toaster"]).await;
    assert_eq!(code, 1);
}
