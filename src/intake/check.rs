//! `GET /v1/check`: the preflight check (`graphgate check`) for a deployed graphgate, to any
//! registered caller. It answers 200 whatever it finds; `ready` says whether anything can be
//! done.

use axum::Json;
use axum::extract::State;

use super::Intake;
use super::extract::{Authenticated, Deadline};
use crate::graph::Preflight;

pub async fn show(
    State(intake): State<Intake>,
    Authenticated(_): Authenticated,
    Deadline(deadline): Deadline,
) -> Json<Preflight> {
    Json(intake.graph.preflight(deadline).await)
}
