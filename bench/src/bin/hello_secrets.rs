//! The second baseline of the harness's cold start figure (`bench/src/cold_start.rs`):
//! `hello_lambda.rs`, and once its first poll is sent, the read of the secrets `intake` reads by
//! ARN, with graphgate's AWS configuration, on one thread: as `intake` does. From `hello_lambda`
//! to this is what reading secrets through the AWS SDK costs; from this to `intake`,
//! graphgate's own start-up. Not deployed, like `hello_lambda`.

use futures::FutureExt;
use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let env = |name: &str| std::env::var(name).ok();
    let read = tokio::spawn(async move {
        graphgate::lambda::after_first_poll().await;
        graphgate::config::secrets_by_arn(&env)
            .await
            .map(|read| read.len())
            .map_err(|e| e.to_string())
    })
    .map(|joined| joined.map_err(|e| e.to_string()).and_then(|read| read))
    .shared();
    run(service_fn(move |_: Request| {
        let read = read.clone();
        async move {
            let read = read.await?;
            Ok::<_, Error>(Response::new(Body::from(format!("read {read} secrets"))))
        }
    }))
    .await
}
