//! The second sign-in step: a passkey, a code from the authenticator app, or a backup code.

use leptos::prelude::*;

use leptos::task::spawn_local;

use super::{action_error, go_to, ErrorNotice, Page, SubmitButton};
use crate::api::passkeys::{second_step_methods, sign_in_with_passkey};
use crate::api::two_factor::SecondStep;
use crate::error::AppError;

#[derive(Clone, Copy, PartialEq)]
enum Method {
    Authenticator,
    BackupCode,
}

#[component]
pub fn VerifyPage() -> impl IntoView {
    // Which methods to offer is known before the page is sent.
    let methods = Resource::new_blocking(|| (), |_| second_step_methods());
    view! {
        <Page title="Second step">
            <section class="card narrow" aria-labelledby="verify-heading">
                <h1 id="verify-heading">"Confirm it's you"</h1>
                <Suspense fallback=|| ()>
                    {move || methods.get().map(|m| {
                        let has_passkey = m.ok().is_some_and(|m| m.passkey);
                        view! { <SecondStepForm has_passkey/> }
                    })}
                </Suspense>
            </section>
        </Page>
    }
}

#[island(lazy)]
fn SecondStepForm(has_passkey: bool) -> impl IntoView {
    let method = RwSignal::new(Method::Authenticator);
    let code = RwSignal::new(String::new());
    let action = ServerAction::<SecondStep>::new();
    let code_error = action_error(action);
    let passkey_error = RwSignal::new(None::<AppError>);
    let error = Signal::derive(move || passkey_error.get().or_else(|| code_error.get()));
    let prompting = RwSignal::new(false);
    let use_passkey = move |_| {
        prompting.set(true);
        passkey_error.set(None);
        spawn_local(async move {
            match sign_in_with_passkey().await {
                Ok(result) => go_to(&result.next),
                Err(e) => {
                    passkey_error.set(Some(e));
                    prompting.set(false);
                }
            }
        });
    };
    Effect::new(move || {
        if let Some(Ok(result)) = action.value().get() {
            go_to(&result.next);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        action.dispatch(SecondStep {
            method: match method.get_untracked() {
                Method::Authenticator => "authenticator".into(),
                Method::BackupCode => "backup_code".into(),
            },
            code: code.get_untracked(),
        });
    };
    let switch = move |to: Method| {
        move |_| {
            method.set(to);
            code.set(String::new());
            action.value().set(None);
            passkey_error.set(None);
        }
    };
    view! {
        <ErrorNotice error/>
        {has_passkey.then(|| view! {
            <div class="passkey-first">
                <button type="button" class="button primary" id="use-passkey" on:click=use_passkey
                    disabled=move || prompting.get()>
                    {move || if prompting.get() { "Waiting for your device…" } else { "Use your passkey" }}
                </button>
                <p class="hint">"Touch ID, Face ID, Windows Hello or your security key."</p>
                <p class="or">"or enter a code:"</p>
            </div>
        })}
        <form on:submit=submit novalidate>
            {move || match method.get() {
                Method::Authenticator => view! {
                    <div class="field">
                        <label for="code">"6-digit code from your authenticator app"</label>
                        <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
                            pattern="[0-9 ]*" maxlength="9" required bind:value=code/>
                    </div>
                }.into_any(),
                Method::BackupCode => view! {
                    <div class="field">
                        <label for="code">"Backup code"</label>
                        <input id="code" name="code" autocomplete="off" autocapitalize="characters"
                            spellcheck="false" maxlength="24" required aria-describedby="code-hint" bind:value=code/>
                        <p id="code-hint" class="hint">"One of the codes you saved, like 7K3M-Q9XD-2HPW-4ZRT. Each works once."</p>
                    </div>
                }.into_any(),
            }}
            <SubmitButton label="Continue" pending="Checking…" busy=action.pending()/>
        </form>
        <div class="alternatives">
            <Show when=move || method.get() == Method::Authenticator
                fallback=move || view! {
                    <button type="button" class="link" on:click=switch(Method::Authenticator)>
                        "Use your authenticator app"
                    </button>
                }>
                <button type="button" class="link" on:click=switch(Method::BackupCode)>
                    "Use a backup code"
                </button>
            </Show>
            <a href="/signin">"Cancel and sign in as someone else"</a>
        </div>
    }
}
