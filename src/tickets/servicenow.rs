//! ServiceNow's Table API, as graphgate uses it: a change request read by its number
//! (`GET /api/now/table/change_request`), with only the fields the gate needs; signing in
//! with basic auth or an OAuth client-credentials token from `/oauth_token.do`.

use std::time::Duration;

use reqwest::RequestBuilder;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::TicketError;
use super::client::{TicketClient, answer, read_json};
use super::connection::{BaseUrl, ServiceNowAuth};
use super::reference::TicketRef;
use super::verdict::Ticket;

/// The fields the gate reads.
const FIELDS: &str = "sys_id,number,approval,state,start_date,end_date";

#[derive(Deserialize)]
struct Found {
    result: Vec<Record>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    sys_id: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    approval: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    end_date: String,
}

/// The change request numbered `reference`, if there is one.
pub(super) async fn read(
    client: &TicketClient,
    base: &BaseUrl,
    auth: &ServiceNowAuth,
    reference: &TicketRef,
    timeout: Duration,
) -> Result<Option<Ticket>, TicketError> {
    let number = format!("number={reference}");
    let query = [
        ("sysparm_query", number.as_str()),
        ("sysparm_fields", FIELDS),
        ("sysparm_limit", "1"),
        ("sysparm_display_value", "false"),
        ("sysparm_exclude_reference_link", "true"),
    ];
    let found = change_requests(client, base, auth, &query, timeout).await?;
    // An instance that does not know a field of the query drops the condition and matches
    // every record: only the record numbered as asked is the ticket.
    let Some(record) = found
        .result
        .into_iter()
        .find(|r| r.number.eq_ignore_ascii_case(reference.as_str()))
    else {
        return Ok(None);
    };
    Ok(Some(Ticket::ServiceNow {
        sys_id: record.sys_id,
        approval: record.approval,
        state: record.state,
        start: planned(&record.start_date)?,
        end: planned(&record.end_date)?,
    }))
}

/// Signs in and reads one change request, any: what the gate needs to work.
pub(super) async fn probe(
    client: &TicketClient,
    base: &BaseUrl,
    auth: &ServiceNowAuth,
    timeout: Duration,
) -> Result<(), TicketError> {
    let query = [("sysparm_fields", "sys_id,number"), ("sysparm_limit", "1")];
    change_requests(client, base, auth, &query, timeout)
        .await
        .map(drop)
}

/// The change requests `query` finds, signed in as the connection says.
async fn change_requests(
    client: &TicketClient,
    base: &BaseUrl,
    auth: &ServiceNowAuth,
    query: &[(&str, &str)],
    timeout: Duration,
) -> Result<Found, TicketError> {
    let mut url = base.join("/api/now/table/change_request");
    url.query_pairs_mut().extend_pairs(query);
    let request = client.http(base)?.get(url).timeout(timeout);
    let request = signed(client, base, auth, request, timeout).await?;
    let response = match answer(request.header("accept", "application/json")).await {
        Err(e @ TicketError::SignIn(_)) => {
            // A token the instance revoked is not offered again.
            if let ServiceNowAuth::OAuth { client_id, .. } = auth {
                client.forget_token(base, client_id);
            }
            return Err(e);
        }
        other => other?,
    };
    read_json(response).await
}

/// `request`, signed in as the connection says.
async fn signed(
    client: &TicketClient,
    base: &BaseUrl,
    auth: &ServiceNowAuth,
    request: RequestBuilder,
    timeout: Duration,
) -> Result<RequestBuilder, TicketError> {
    Ok(match auth {
        ServiceNowAuth::Basic { user, password } => {
            request.basic_auth(user, Some(password.0.expose_secret()))
        }
        ServiceNowAuth::OAuth { client_id, secret } => {
            let token = client
                .token(base, client_id, || {
                    token(client, base, client_id, &secret.0, timeout)
                })
                .await?;
            request.bearer_auth(token.expose_secret())
        }
    })
}

#[derive(Deserialize)]
struct Token {
    access_token: String,
    #[serde(default = "default_lifetime")]
    expires_in: u64,
}

fn default_lifetime() -> u64 {
    1800
}

/// A client-credentials token from the instance, and how long it lasts.
async fn token(
    client: &TicketClient,
    base: &BaseUrl,
    client_id: &str,
    secret: &SecretString,
    timeout: Duration,
) -> Result<(SecretString, Duration), TicketError> {
    let url = base.join("/oauth_token.do");
    let request = client.http(base)?.post(url).timeout(timeout).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret.expose_secret()),
    ]);
    let response = answer(request.header("accept", "application/json")).await?;
    let token: Token = read_json(response).await?;
    Ok((
        SecretString::from(token.access_token),
        Duration::from_secs(token.expires_in),
    ))
}

/// A planned date as the Table API gives it without display values: UTC, `YYYY-MM-DD
/// HH:MM:SS`, or empty when not set.
fn planned(raw: &str) -> Result<Option<OffsetDateTime>, TicketError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    PrimitiveDateTime::parse(
        raw.trim(),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
    .map(|t| Some(t.assume_utc()))
    .map_err(|_| TicketError::Unreadable)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn planned_dates_are_utc_or_unset() {
        assert_eq!(
            planned("2026-12-08 10:30:00").unwrap(),
            Some(datetime!(2026-12-08 10:30 UTC))
        );
        assert_eq!(planned("").unwrap(), None);
        assert!(planned("08/12/2026 10:30").is_err());
    }
}
