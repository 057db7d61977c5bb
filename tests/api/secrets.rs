//! Secrets named by ARN, read from a real Secrets Manager-compatible server (moto) at start-up.

use std::collections::HashMap;

use graphgate::config::secrets_by_arn;

use crate::helpers::*;

async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .expect("the Secrets Manager tests need moto_server: run scripts/test.sh, which starts it");
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "tests only talk to loopback, not {endpoint}"
    );
    aws_sdk_secretsmanager::Client::new(graphgate::aws::config().await)
}

/// Stores `value` as a new secret and returns its ARN.
pub async fn new_secret(value: &str) -> String {
    let created = secrets_client()
        .await
        .create_secret()
        .name(format!("graphgate-test-{}", uuid::Uuid::new_v4().simple()))
        .secret_string(value)
        .send()
        .await
        .unwrap();
    created.arn().unwrap().to_owned()
}

/// Stores `value` as the secret's new current version, as a rotation does.
pub async fn rotate_secret(arn: &str, value: &str) {
    secrets_client()
        .await
        .put_secret_value()
        .secret_id(arn)
        .secret_string(value)
        .send()
        .await
        .unwrap();
}

fn lookup(vars: HashMap<&'static str, String>) -> impl Fn(&str) -> Option<String> {
    move |name| vars.get(name).cloned()
}

#[tokio::test]
async fn secrets_named_by_arn_stand_in_for_their_variables() {
    let secret_arn = new_secret(CLIENT_SECRET).await;
    let callers_arn = new_secret(&callers_json()).await;
    let env = lookup(HashMap::from([
        ("GRAPH_CLIENT_SECRET_ARN", secret_arn.clone()),
        ("GRAPHGATE_CALLERS_SECRET_ARN", callers_arn),
    ]));
    let resolved = secrets_by_arn(&env).await.unwrap();
    assert_eq!(resolved["GRAPH_CLIENT_SECRET"], CLIENT_SECRET);
    assert_eq!(resolved["GRAPHGATE_CALLERS"], callers_json());

    let nothing = lookup(HashMap::from([("GRAPH_CLIENT_SECRET", "plain".to_owned())]));
    assert!(
        secrets_by_arn(&nothing).await.unwrap().is_empty(),
        "no ARN, no call"
    );
}

#[tokio::test]
async fn a_secret_that_cannot_be_read_stops_start_up_by_name() {
    let both = lookup(HashMap::from([
        (
            "GRAPH_CLIENT_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:x".to_owned(),
        ),
        ("GRAPH_CLIENT_SECRET", "plain".to_owned()),
    ]));
    let err = secrets_by_arn(&both).await.unwrap_err().to_string();
    assert!(
        err.contains("set either GRAPH_CLIENT_SECRET or GRAPH_CLIENT_SECRET_ARN"),
        "{err}"
    );

    let missing = lookup(HashMap::from([(
        "GRAPHGATE_CALLERS_SECRET_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-secret".to_owned(),
    )]));
    let err = secrets_by_arn(&missing).await.unwrap_err().to_string();
    assert!(
        err.starts_with("GRAPHGATE_CALLERS_SECRET_ARN is invalid: cannot read the secret"),
        "{err}"
    );
}
