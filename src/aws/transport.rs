//! The AWS SDK's HTTP client: its requests go through `reqwest`, whose TLS trusts the roots
//! compiled in ([`crate::tls`]). The SDK's own client would decode the system's PEM bundle at
//! every cold start.
//!
//! Written here because no well-kept crate does it. The two on crates.io are first releases
//! (0.1) by one person each: one reports every failure as `other`, which the SDK does not
//! retry, and the other builds its own clients, so their trust cannot be chosen.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// One `reqwest` client per distinct timeout setting the SDK asks for, each with its own
/// connection pool, as the SDK's own client keeps them.
#[derive(Debug, Default)]
pub struct Transport {
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

type Timeouts = (Option<Duration>, Option<Duration>);

impl HttpClient for Transport {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        self.connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(timeouts)
            .or_insert_with(|| SharedHttpConnector::new(Connector::new(timeouts)))
            .clone()
    }
}

#[derive(Debug)]
struct Connector(reqwest::Client);

impl Connector {
    fn new((connect, read): Timeouts) -> Self {
        // The SDK signs and retries; it must see a redirect, not follow it.
        let mut builder = crate::tls::public_client().redirect(reqwest::redirect::Policy::none());
        if let Some(connect) = connect {
            builder = builder.connect_timeout(connect);
        }
        if let Some(read) = read {
            builder = builder.read_timeout(read);
        }
        Connector(builder.build().expect("the TLS backend is compiled in"))
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?
                .map(reqwest::Body::wrap);
            let request = reqwest::Request::try_from(request).map_err(classify)?;
            let response = http::Response::from(client.execute(request).await.map_err(classify)?);
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// What the SDK's retry policy needs to know of a failure: a timeout or a broken connection is
/// retried, a request that could not be built is not.
fn classify(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_builder() {
        ConnectorError::user(e.into())
    } else if e.is_connect() {
        ConnectorError::io(e.into()).never_connected()
    } else if e.is_request() || e.is_body() || e.is_decode() {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}
