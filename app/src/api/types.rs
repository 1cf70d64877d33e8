//! Results that more than one area's server functions return.

use serde::{Deserialize, Serialize};
use webauthn_rs_proto::RequestChallengeResponse;

/// Where the browser should go after a sign-in step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInResult {
    pub next: String,
}

/// After a two-step method (passkey or app) was added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodAdded {
    /// Shown once, when this method turned two-step authentication on.
    pub backup_codes: Option<Vec<String>>,
    /// Where to go next when this finished the setup wizard.
    pub next: Option<String>,
}

/// A passkey prompt to answer: the second sign-in step, or a step-up in the console.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignInChallenge {
    pub ceremony: String,
    pub options: RequestChallengeResponse,
}
