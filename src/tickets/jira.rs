//! Jira Cloud's REST API v3, as graphgate uses it: an issue's status
//! (`GET /rest/api/3/issue/{key}?fields=status`), signed in with an account's email and API
//! token (basic auth).

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::TicketError;
use super::client::{TicketClient, answer, read_json};
use super::connection::{BaseUrl, Secret};
use super::reference::TicketRef;
use super::verdict::Ticket;

#[derive(Deserialize)]
struct Issue {
    fields: Fields,
}

#[derive(Deserialize)]
struct Fields {
    status: Status,
}

#[derive(Deserialize)]
struct Status {
    name: String,
}

/// Signs in as the account (`GET /rest/api/3/myself`): what reading issues needs.
pub(super) async fn probe(
    client: &TicketClient,
    base: &BaseUrl,
    user: &str,
    api_token: &Secret,
    timeout: Duration,
) -> Result<(), TicketError> {
    let url = base.join("/rest/api/3/myself");
    answer(get(client, base, url, user, api_token, timeout)?)
        .await
        .map(drop)
}

/// A GET of `url`, signed in as the account.
fn get(
    client: &TicketClient,
    base: &BaseUrl,
    url: url::Url,
    user: &str,
    api_token: &Secret,
    timeout: Duration,
) -> Result<reqwest::RequestBuilder, TicketError> {
    Ok(client
        .http(base)?
        .get(url)
        .timeout(timeout)
        .basic_auth(user, Some(api_token.0.expose_secret()))
        .header("accept", "application/json"))
}

/// The issue `key` names, if there is one the account may see: Jira answers 404 alike for
/// an issue that does not exist and one the account may not browse.
pub(super) async fn read(
    client: &TicketClient,
    base: &BaseUrl,
    user: &str,
    api_token: &Secret,
    key: &TicketRef,
    timeout: Duration,
) -> Result<Option<Ticket>, TicketError> {
    let mut url = base.join(&format!("/rest/api/3/issue/{key}"));
    url.query_pairs_mut().append_pair("fields", "status");
    let response = match answer(get(client, base, url, user, api_token, timeout)?).await {
        Err(TicketError::Status(StatusCode::NOT_FOUND)) => return Ok(None),
        other => other?,
    };
    let issue: Issue = read_json(response).await?;
    Ok(Some(Ticket::Jira {
        status: issue.fields.status.name,
    }))
}
