//! The `sweeper` Lambda function: one sweep pass per scheduled invocation.

use graphgate::lambda::{Starting, on_schedule};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tokio::time::Duration;

/// Time kept back from the invocation's deadline to store the last results and answer.
const MARGIN: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sweeper = Starting::begin(graphgate::app::App::sweeper);
    let sweeper = &sweeper;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = event.context.deadline();
        let sweeper = sweeper.ready().await;
        Ok::<_, Error>(on_schedule(&sweeper, &event.payload, deadline, MARGIN).await?)
    }))
    .await
}
