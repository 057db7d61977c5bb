//! Reading graphgate's answers.

use serde_json::Value;

/// Sends `request` and reads its JSON body, whatever the status.
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Reads a problem+json answer, checking its shape.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:graphgate:problem:")
    );
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}
