//! DynamoDB for the tests: moto's client, fresh tables, and a record of the requests a
//! client sends.

use std::sync::{Arc, Mutex};

use graphgate::store::DynamoStore;

/// A client for the DynamoDB-compatible server `scripts/test.sh` starts (moto).
pub async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect(
        "the DynamoDB tests need a DynamoDB-compatible server: run scripts/test.sh, which starts moto_server",
    );
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "tests only talk to loopback, not {endpoint}"
    );
    aws_sdk_dynamodb::Client::new(graphgate::aws::config().await)
}

tokio::task_local! {
    /// The store method a DynamoDB request is sent for, when a test names it.
    pub static STORE_METHOD: &'static str;
}

/// One DynamoDB request: the store method it was sent for, if a test named one, and its
/// action (as the SDK names the operation, and IAM the action).
pub type DynamoRequest = (Option<&'static str>, String);

/// Every DynamoDB request a client sends.
#[derive(Debug, Clone, Default)]
pub struct DynamoRequests(pub Arc<Mutex<Vec<DynamoRequest>>>);

impl aws_sdk_dynamodb::config::Intercept for DynamoRequests {
    fn name(&self) -> &'static str {
        "DynamoRequests"
    }

    // The operation's metadata is in the bag from here on, not yet before execution.
    fn read_before_serialization(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<
            '_,
        >,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .expect("every request names its operation");
        let method = STORE_METHOD.try_with(|m| *m).ok();
        self.0
            .lock()
            .unwrap()
            .push((method, operation.name().to_owned()));
        Ok(())
    }
}

impl DynamoRequests {
    /// A client for moto that notes its requests here.
    pub async fn client(&self) -> aws_sdk_dynamodb::Client {
        // The same loopback checks and endpoint as every other DynamoDB client of the tests.
        let config = dynamo_client()
            .await
            .config()
            .to_builder()
            .interceptor(self.clone())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// The actions sent so far, in order.
    pub fn actions(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, a)| a.clone())
            .collect()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// A new table with graphgate's key schema, as `template.yaml` declares it.
pub async fn fresh_table(client: &aws_sdk_dynamodb::Client) -> String {
    let name = format!("graphgate-test-{}", uuid::Uuid::new_v4().simple());
    DynamoStore::create_table(client, &name).await.unwrap();
    name
}
