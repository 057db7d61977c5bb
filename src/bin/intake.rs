//! The `intake` Lambda function: the HTTP API behind API Gateway or a function URL.

use graphgate::lambda::Starting;
use lambda_http::{Request, service_fn};
use tower::ServiceExt;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let router = Starting::begin(graphgate::app::App::router);
    lambda_http::run(service_fn(move |request: Request| {
        let router = router.clone();
        async move { router.ready().await.oneshot(request).await }
    }))
    .await
}
