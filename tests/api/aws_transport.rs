//! The AWS SDK's requests through graphgate's transport (src/aws/transport.rs), against a
//! DynamoDB endpoint on loopback that misbehaves on purpose: what the SDK retries, over which
//! connection, what it gives up on, and that it sees a redirect rather than follows it; and a
//! store that reads back a lost delivery key where a server sends no old item. moto
//! serves every other DynamoDB and Secrets Manager test through the same transport.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the fake endpoint does with each request it reads, in turn.
enum Answer {
    /// Closes the connection without a word.
    Drop,
    /// Keeps the connection open and never answers.
    Hold,
    /// Writes this response and keeps the connection open for the next request.
    Respond(String),
}

/// The requests the fake endpoint read: the number of the connection each came over (0 for
/// the first accepted), and its head.
type Seen = Arc<Mutex<Vec<(usize, String)>>>;

/// A DynamoDB endpoint on loopback that answers as told, whatever connection a request comes
/// over; and what it read.
async fn endpoint(answers: Vec<Answer>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Seen::default();
    let record = seen.clone();
    let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
    tokio::spawn(async move {
        for connection in 0_usize.. {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(serve(connection, socket, answers.clone(), record.clone()));
        }
    });
    (url, seen)
}

/// Answers the requests of one connection in turn.
async fn serve(
    connection: usize,
    mut socket: TcpStream,
    answers: Arc<Mutex<VecDeque<Answer>>>,
    seen: Seen,
) {
    while let Some(head) = read_request(&mut socket).await {
        seen.lock().unwrap().push((connection, head));
        let answer = answers.lock().unwrap().pop_front();
        match answer {
            Some(Answer::Respond(response)) => {
                if socket.write_all(response.as_bytes()).await.is_err() {
                    return;
                }
            }
            Some(Answer::Hold) => std::future::pending::<()>().await,
            Some(Answer::Drop) | None => return,
        }
    }
}

/// Reads one request, its body included; returns its head.
async fn read_request(socket: &mut TcpStream) -> Option<String> {
    let mut read = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        read.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&read);
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_owned();
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if read.len() >= end + 4 + length {
                return Some(head);
            }
        }
    }
}

fn dynamo_answer(status: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.0\r\n\
         x-amzn-requestid: test\r\n{extra_headers}content-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A DynamoDB client of `url`, through graphgate's SDK configuration, allowed `attempts`.
async fn client(url: &str, attempts: u32, read_timeout: Duration) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(graphgate::aws::config().await)
        .endpoint_url(url)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .timeout_config(TimeoutConfig::builder().read_timeout(read_timeout).build())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

async fn get_item(
    client: &aws_sdk_dynamodb::Client,
) -> Result<
    aws_sdk_dynamodb::operation::get_item::GetItemOutput,
    aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::get_item::GetItemError>,
> {
    client
        .get_item()
        .table_name("graphgate")
        .key("id", AttributeValue::S("change-1".into()))
        .send()
        .await
}

fn dispatch_failure<E: std::fmt::Debug>(
    error: &aws_sdk_dynamodb::error::SdkError<E>,
) -> &aws_smithy_runtime_api::client::result::DispatchFailure {
    match error {
        aws_sdk_dynamodb::error::SdkError::DispatchFailure(failure) => failure,
        other => panic!("not a failure to send: {other:?}"),
    }
}

fn is_get_item(head: &str) -> bool {
    head.starts_with("POST / HTTP/1.1")
        && head
            .to_ascii_lowercase()
            .contains("x-amz-target: dynamodb_20120810.getitem")
}

#[tokio::test]
async fn a_connection_dropped_before_its_answer_is_retried() {
    let (url, heads) = endpoint(vec![Answer::Drop, found()]).await;
    let client = client(&url, 2, Duration::from_secs(5)).await;

    let item = get_item(&client)
        .await
        .expect("the second attempt is answered");

    assert_eq!(
        item.item().unwrap()["id"],
        AttributeValue::S("change-1".into())
    );
    let heads = heads.lock().unwrap();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(heads.iter().all(|(_, head)| is_get_item(head)), "{heads:?}");
}

fn found() -> Answer {
    Answer::Respond(dynamo_answer(
        "200 OK",
        "",
        r#"{"Item":{"id":{"S":"change-1"}}}"#,
    ))
}

/// The connection each request the endpoint read came over.
fn connections(seen: &Seen) -> Vec<usize> {
    seen.lock().unwrap().iter().map(|(c, _)| *c).collect()
}

#[tokio::test]
async fn the_retry_after_a_transient_error_goes_over_a_new_connection() {
    let (url, seen) = endpoint(vec![
        Answer::Respond(dynamo_answer(
            "500 Internal Server Error",
            "",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"again"}"#,
        )),
        found(),
    ])
    .await;
    let client = client(&url, 2, Duration::from_secs(5)).await;

    get_item(&client).await.expect("the retry is answered");

    // The 500's connection stayed open; the SDK poisons it, so the retry must not use it.
    assert_eq!(connections(&seen), [0, 1]);
}

#[tokio::test]
async fn requests_answered_well_share_a_connection() {
    let (url, seen) = endpoint(vec![found(), found()]).await;
    let client = client(&url, 1, Duration::from_secs(5)).await;

    get_item(&client).await.unwrap();
    get_item(&client).await.unwrap();

    assert_eq!(connections(&seen), [0, 0]);
}

#[tokio::test]
async fn an_endpoint_that_never_answers_is_a_timeout() {
    let (url, heads) = endpoint(vec![Answer::Hold]).await;
    let client = client(&url, 1, Duration::from_millis(200)).await;

    let started = std::time::Instant::now();
    let error = get_item(&client).await.unwrap_err();

    let failure = dispatch_failure(&error);
    assert!(failure.is_timeout(), "{failure:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(heads.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_a_failure_to_connect() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let client = client(&url, 1, Duration::from_secs(5)).await;

    let error = get_item(&client).await.unwrap_err();

    let failure = dispatch_failure(&error);
    assert!(failure.is_io(), "{failure:?}");
}

#[tokio::test]
async fn a_redirect_is_answered_to_the_sdk_not_followed() {
    let (elsewhere, followed) = endpoint(vec![]).await;
    let (url, heads) = endpoint(vec![Answer::Respond(dynamo_answer(
        "302 Found",
        &format!("location: {elsewhere}/\r\n"),
        "",
    ))])
    .await;
    let client = client(&url, 1, Duration::from_secs(5)).await;

    let error = get_item(&client).await.unwrap_err();

    let answered = error
        .raw_response()
        .unwrap_or_else(|| panic!("no response: {error:?}"));
    assert_eq!(answered.status().as_u16(), 302);
    assert_eq!(heads.lock().unwrap().len(), 1);
    assert!(
        followed.lock().unwrap().is_empty(),
        "the redirect was followed"
    );
}

/// A DynamoDB-compatible server that ignores `ReturnValuesOnConditionCheckFailure` answers a
/// lost conditional write without the item: the store then reads who holds the key, as it did
/// before it asked for the item back, rather than calling the kept delivery bodiless.
#[tokio::test]
async fn a_lost_delivery_key_without_the_old_item_is_read_back() {
    use graphgate::change::{IdempotencyKey, KeyedDelivery};
    use graphgate::store::{DynamoStore, Store};

    let now = time::OffsetDateTime::now_utc();
    let key = IdempotencyKey::parse("delivery-1").unwrap();
    let held = KeyedDelivery::new("itsm", key.clone(), b"{}", None, now, time::Duration::HOUR);
    let item = serde_json::json!({"Item": {
        "id": {"S": "ignored"},
        "delivery": {"S": serde_json::to_string(&held).unwrap()},
    }});
    let (url, seen) = endpoint(vec![
        Answer::Respond(dynamo_answer(
            "400 Bad Request",
            "",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#,
        )),
        Answer::Respond(dynamo_answer("200 OK", "", &item.to_string())),
    ])
    .await;
    let store = DynamoStore::new(
        client(&url, 1, Duration::from_secs(5)).await,
        "graphgate",
        Duration::from_secs(3600),
    );
    let repeat = KeyedDelivery::new("itsm", key, b"{}", None, now, time::Duration::HOUR);
    assert_eq!(store.keep_delivery(&repeat, now).await.unwrap(), Some(held));
    let targets: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, head)| {
            head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("x-amz-target: ")
                    .map(str::to_owned)
            })
        })
        .collect();
    assert_eq!(
        targets,
        ["dynamodb_20120810.putitem", "dynamodb_20120810.getitem"]
    );
}
