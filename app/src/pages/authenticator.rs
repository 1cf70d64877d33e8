//! Adding an authenticator app: (password) → QR code and key → a current code → active.
//! Used by the security page and by the setup wizard.

use leptos::prelude::*;

use super::{action_error, ErrorNotice, SubmitButton};
use crate::api::two_factor::{BeginAuthenticator, ConfirmAuthenticator};
use crate::api::types::MethodAdded;

/// `ask_password`: a fully signed-in user confirms their password first; in the setup
/// wizard the password was just typed at sign-in. `on_added` gets the result.
#[component]
pub fn AuthenticatorSetupFlow(
    ask_password: bool,
    #[prop(into)] on_added: Callback<MethodAdded>,
) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let begin = ServerAction::<BeginAuthenticator>::new();
    let confirm = ServerAction::<ConfirmAuthenticator>::new();
    let begin_error = action_error(begin);
    let confirm_error = action_error(confirm);
    let setup = move || begin.value().get().and_then(|r| r.ok());

    if !ask_password {
        begin.dispatch(BeginAuthenticator {
            password: String::new(),
        });
    }
    Effect::new(move || {
        if let Some(Ok(added)) = confirm.value().get() {
            on_added.run(added);
        }
    });

    view! {
        <div class="authenticator-setup">
            <Show when=move || setup().is_none()>
                <Show when=move || ask_password fallback=move || view! {
                    <ErrorNotice error=begin_error/>
                    <p role="status">"Preparing your QR code…"</p>
                }>
                    <form on:submit=move |ev| {
                        ev.prevent_default();
                        begin.dispatch(BeginAuthenticator { password: password.get_untracked() });
                    } novalidate>
                        <ErrorNotice error=begin_error/>
                        <div class="field">
                            <label for="auth-password">"Your current password"</label>
                            <input id="auth-password" type="password" autocomplete="current-password"
                                required bind:value=password/>
                        </div>
                        <SubmitButton label="Continue" pending="Checking…" busy=begin.pending()/>
                    </form>
                </Show>
            </Show>
            {move || setup().map(|s| view! {
                <ol class="steps">
                    <li>
                        <p>"Open your authenticator app (Google Authenticator, Microsoft Authenticator, 1Password, …) and scan this code:"</p>
                        <img class="qr" src=s.qr_data_url.clone() width="200" height="200"
                            alt="QR code for adding Tessera to your authenticator app"/>
                        <p class="hint">"Can't scan? Enter this key instead:"</p>
                        <p><code id="totp-key" class="key">{s.key_grouped.clone()}</code></p>
                    </li>
                    <li>
                        <form on:submit=move |ev| {
                            ev.prevent_default();
                            confirm.dispatch(ConfirmAuthenticator { code: code.get_untracked() });
                        } novalidate>
                            <ErrorNotice error=confirm_error/>
                            <div class="field">
                                <label for="totp-code">"Enter the 6-digit code the app shows"</label>
                                <input id="totp-code" inputmode="numeric" autocomplete="one-time-code"
                                    maxlength="9" required bind:value=code/>
                            </div>
                            <SubmitButton label="Turn on" pending="Checking…" busy=confirm.pending()/>
                        </form>
                    </li>
                </ol>
            })}
        </div>
    }
}
