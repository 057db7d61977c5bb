//! The AWS SDK's HTTP client: its requests go through `reqwest`, with the TLS configuration of
//! [`crate::tls`], made once. The SDK's own client would decode the system's PEM bundle at
//! every cold start.
//!
//! Written here because no crate does all of it. `smithy-transport-reqwest` (0.1, MIT or
//! Apache-2.0), whose conversions and error mapping this follows, builds its own `reqwest`
//! clients, so their TLS cannot be chosen; `aws-smithy-http-client-reqwest` (0.1) reports
//! every failure as `other`, which the SDK does not retry. Neither lets the SDK close a
//! connection after a transient error, which this does by starting a fresh pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// One `reqwest` client per distinct timeout setting the SDK asks for, as the SDK's own client
/// keeps one connector per setting.
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

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("reqwest", None))
    }
}

#[derive(Debug, Clone)]
struct Connector {
    timeouts: Timeouts,
    /// Replaced by a fresh client, and so a fresh pool, when the SDK poisons a connection.
    client: Arc<Mutex<reqwest::Client>>,
}

impl Connector {
    fn new(timeouts: Timeouts) -> Self {
        Connector {
            timeouts,
            client: Arc::new(Mutex::new(client(timeouts))),
        }
    }
}

fn client((connect, read): Timeouts) -> reqwest::Client {
    // The SDK signs and retries; it must see a redirect, not follow it.
    let mut builder = crate::tls::public_client().redirect(reqwest::redirect::Policy::none());
    if let Some(connect) = connect {
        builder = builder.connect_timeout(connect);
    }
    if let Some(read) = read {
        builder = builder.read_timeout(read);
    }
    crate::tls::build(builder)
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        // After a transient error (a 5xx, a throttle, a broken body) the SDK poisons the
        // connection the request went over, so its retry does not reuse it. `reqwest` does not
        // hand out single connections, so the whole pool goes; requests in flight finish on it.
        if let Some(capture) = request.extension::<CaptureSmithyConnection>() {
            let connector = self.clone();
            capture.set_connection_retriever(move || {
                let connector = connector.clone();
                Some(
                    ConnectionMetadata::builder()
                        // `reqwest` does not say; the SDK only reports it.
                        .proxied(false)
                        .poison_fn(move || {
                            *connector
                                .client
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner) =
                                client(connector.timeouts);
                        })
                        .build(),
                )
            });
        }
        let client = self
            .client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
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
    } else if e.is_request() || e.is_body() {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}
