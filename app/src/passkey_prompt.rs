//! The browser's passkey prompt (Touch ID, Face ID, Windows Hello, a security key), driven
//! from wasm. webauthn-rs-proto converts the server's challenge into the browser's options
//! and the browser's answer back. Failures become one plain sentence: a cancelled prompt is
//! not an error message with a stack trace.

use webauthn_rs_proto::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse,
};

/// Asks the browser to create a passkey.
pub async fn create(
    options: CreationChallengeResponse,
) -> Result<RegisterPublicKeyCredential, String> {
    #[cfg(feature = "hydrate")]
    {
        let options: web_sys::CredentialCreationOptions = options.into();
        Ok(prompt(credentials()?.create_with_options(&options))
            .await?
            .into())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = options;
        Err(UNAVAILABLE.into())
    }
}

/// Asks the browser to sign in with one of the user's passkeys.
pub async fn get(options: RequestChallengeResponse) -> Result<PublicKeyCredential, String> {
    #[cfg(feature = "hydrate")]
    {
        let options: web_sys::CredentialRequestOptions = options.into();
        Ok(prompt(credentials()?.get_with_options(&options))
            .await?
            .into())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = options;
        Err(UNAVAILABLE.into())
    }
}

const UNAVAILABLE: &str = "This browser cannot use passkeys here. Use another method.";

/// Waits for the browser's prompt to end, with its failure in words.
#[cfg(feature = "hydrate")]
async fn prompt(
    started: Result<js_sys::Promise, wasm_bindgen::JsValue>,
) -> Result<web_sys::PublicKeyCredential, String> {
    use wasm_bindgen::JsCast as _;
    let promise = started.map_err(|e| explain(&e))?;
    let value = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(|e| explain(&e))?;
    Ok(value.unchecked_into())
}

#[cfg(feature = "hydrate")]
fn credentials() -> Result<web_sys::CredentialsContainer, String> {
    web_sys::window()
        .map(|w| w.navigator().credentials())
        .ok_or_else(|| UNAVAILABLE.to_string())
}

/// One sentence for what went wrong, from the DOMException's name.
#[cfg(feature = "hydrate")]
fn explain(error: &wasm_bindgen::JsValue) -> String {
    use wasm_bindgen::JsCast as _;
    let name = error
        .dyn_ref::<web_sys::DomException>()
        .map(|e| e.name())
        .unwrap_or_default();
    match name.as_str() {
        "NotAllowedError" | "AbortError" => {
            "The passkey prompt was cancelled or timed out. Nothing was changed — you can try again.".into()
        }
        "InvalidStateError" => "This device already has a passkey for your account.".into(),
        "SecurityError" => "Passkeys only work on Tessera's own address.".into(),
        "NotSupportedError" => UNAVAILABLE.into(),
        _ => "The passkey could not be used. Try again, or use another method.".into(),
    }
}
