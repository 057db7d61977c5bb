//! The `intake` Lambda function: the HTTP API behind API Gateway or a function URL.

use graphgate::intake::router;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = graphgate::lambda::start().await?;
    lambda_http::run(router(state)).await
}
