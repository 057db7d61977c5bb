//! The baseline of the harness's cold start figure (`bench/src/cold_start.rs`): the
//! smallest `lambda_http` function, built with graphgate's own dependencies and release
//! profile, so the difference is graphgate's start-up alone. A binary rather than an example
//! because an example's build brings the dev-dependencies' features into the binaries built
//! beside it. It is not deployed: `template.yaml` and cargo-lambda name `intake` and `sweeper`.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
