//! The `intake` Lambda function: the HTTP API behind API Gateway or a function URL.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = graphgate::lambda::start().await?;
    lambda_http::run(app.router()).await
}
