//! The second sign-in step: a code from the authenticator app, or a backup code.

use leptos::prelude::*;

use super::{action_error, go_to, ErrorNotice, Page};
use crate::api_two_factor::SecondStep;

#[derive(Clone, Copy, PartialEq)]
enum Method {
    Authenticator,
    BackupCode,
}

#[component]
pub fn VerifyPage() -> impl IntoView {
    let method = RwSignal::new(Method::Authenticator);
    let code = RwSignal::new(String::new());
    let action = ServerAction::<SecondStep>::new();
    let error = action_error(action);
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
        }
    };
    view! {
        <Page title="Second step">
            <section class="card narrow" aria-labelledby="verify-heading">
                <h1 id="verify-heading">"Confirm it's you"</h1>
                <form on:submit=submit novalidate>
                    <ErrorNotice error/>
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
                    <button type="submit" class="button primary" disabled=move || action.pending().get()>
                        {move || if action.pending().get() { "Checking…" } else { "Continue" }}
                    </button>
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
            </section>
        </Page>
    }
}
