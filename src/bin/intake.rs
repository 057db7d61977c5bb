//! The `intake` Lambda function: the HTTP API behind API Gateway or a function URL.
//!
//! It runs on one thread: Lambda hands it one invocation at a time, and at its deployed memory
//! (256 MB) it has a fraction of one vCPU, so worker threads would only cost their start-up and
//! their hand-offs. BENCHMARKS.md measures the cold start both ways.

use graphgate::lambda::Starting;
use lambda_http::{Request, service_fn};
use tower::ServiceExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let router = Starting::begin(graphgate::app::App::router);
    lambda_http::run(service_fn(move |request: Request| {
        let router = router.clone();
        async move { router.ready().await.oneshot(request).await }
    }))
    .await
}
