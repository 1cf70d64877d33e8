//! The step-up prompt inside the console's islands: the password and the person's own
//! second factor again. Changes stay open for ten minutes afterwards.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::admin::step_up::{step_up_passkey, step_up_with_code, ConsoleUser};
use crate::error::AppError;
use crate::pages::{ErrorNotice, SubmitButton};

#[derive(Clone, Copy, PartialEq)]
enum Method {
    Passkey,
    App,
    BackupCode,
}

/// `on_done` runs once the server has accepted the step-up.
#[component]
pub fn StepUpForm(
    me: ConsoleUser,
    #[prop(into)] on_done: Callback<()>,
    #[prop(into)] on_cancel: Callback<()>,
) -> impl IntoView {
    let first = if me.has_passkey {
        Method::Passkey
    } else if me.has_app {
        Method::App
    } else {
        Method::BackupCode
    };
    let method = RwSignal::new(first);
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<AppError>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        let (pw, c, m) = (
            password.get_untracked(),
            code.get_untracked(),
            method.get_untracked(),
        );
        spawn_local(async move {
            let result = match m {
                Method::Passkey => step_up_passkey(pw).await,
                Method::App => step_up_with_code(pw, "authenticator".into(), c).await,
                Method::BackupCode => step_up_with_code(pw, "backup_code".into(), c).await,
            };
            busy.set(false);
            match result {
                Ok(()) => on_done.run(()),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let choice = move |value: Method, label: &'static str, id: &'static str| {
        view! {
            <div class="field checkbox">
                <input type="radio" name="step-up-method" id=id
                    checked=move || method.get() == value
                    on:change=move |_| method.set(value)/>
                <label for=id>{label}</label>
            </div>
        }
    };
    view! {
        <form class="step-up" on:submit=submit novalidate aria-labelledby="step-up-heading">
            <h2 id="step-up-heading">"Confirm it's you"</h2>
            <p class="hint">"Changes from the console need your password and your second step. You will not be asked again for ten minutes."</p>
            <ErrorNotice error=error.into()/>
            <div class="field">
                <label for="step-up-password">"Your password"</label>
                <input id="step-up-password" type="password" autocomplete="current-password" required bind:value=password/>
            </div>
            <fieldset class="field">
                <legend>"Your second step"</legend>
                {me.has_passkey.then(|| choice(Method::Passkey, "Passkey", "step-up-passkey"))}
                {me.has_app.then(|| choice(Method::App, "Code from your authenticator app", "step-up-app"))}
                {choice(Method::BackupCode, "A backup code", "step-up-backup")}
            </fieldset>
            <Show when=move || method.get() != Method::Passkey>
                <div class="field">
                    <label for="step-up-code">"Code"</label>
                    <input id="step-up-code" autocomplete="one-time-code" required bind:value=code/>
                </div>
            </Show>
            <div class="actions">
                <SubmitButton label="Confirm" pending="Checking…" busy=busy/>
                <button type="button" class="link" on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </form>
    }
}
