//! What the sign-in steps' server functions share: finishing the second step (new cookie)
//! and answering after a method was added (codes to show, the wizard's new cookie).

use std::sync::Arc;

use tessera_core::service::{Caller, FactorAdded, Proof};

use super::{app_state, client_info, session_cookie, AppState};
use crate::api::types::{MethodAdded, SignInResult};
use crate::error::AppError;

/// What the page learns after a method was added; a wizard session gets its new cookie.
pub fn method_added(state: &AppState, added: FactorAdded) -> MethodAdded {
    let next = added.new_session.as_ref().map(|token| {
        session_cookie::set(state, token, None);
        "/".to_string()
    });
    MethodAdded {
        backup_codes: added
            .backup_codes
            .map(|codes| codes.iter().map(|c| c.display()).collect()),
        next,
    }
}

/// Runs the second step with `proof`; on success the session cookie is replaced.
pub async fn finish_second_step(
    caller: Arc<Caller>,
    proof: Proof,
) -> Result<SignInResult, AppError> {
    let state = app_state()?;
    let outcome = state
        .tessera
        .second_step(&caller, proof, &client_info())
        .await?;
    session_cookie::set(&state, &outcome.token, None);
    Ok(SignInResult {
        next: super::guard::home_for(outcome.state).into(),
    })
}
