//! Change your own password (the current one is required).

use leptos::prelude::*;

use super::{action_error, ErrorNotice, Page, SubmitButton};
use crate::api::account::ChangePassword;
use crate::error::AppError;

#[component]
pub fn ChangePasswordPage() -> impl IntoView {
    view! {
        <Page title="Change password">
            <section class="card narrow" aria-labelledby="pw-heading">
                <h1 id="pw-heading">"Change password"</h1>
                <ChangePasswordForm/>
            </section>
        </Page>
    }
}

#[island(lazy)]
fn ChangePasswordForm() -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let mismatch = RwSignal::new(false);
    let action = ServerAction::<ChangePassword>::new();
    let server_error = action_error(action);
    let error = Signal::derive(move || {
        if mismatch.get() {
            Some(AppError::Invalid {
                field: "confirm".into(),
                message: "The new passwords do not match.".into(),
            })
        } else {
            server_error.get()
        }
    });
    let done = move || matches!(action.value().get(), Some(Ok(())));

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let matches = new.get_untracked() == confirm.get_untracked();
        mismatch.set(!matches);
        if matches {
            action.dispatch(ChangePassword {
                current_password: current.get_untracked(),
                new_password: new.get_untracked(),
            });
        }
    };

    view! {
        <Show when=done fallback=move || view! {
            <form on:submit=submit novalidate>
                <ErrorNotice error/>
                <div class="field">
                    <label for="current">"Current password"</label>
                    <input id="current" type="password" autocomplete="current-password" required bind:value=current/>
                </div>
                <div class="field">
                    <label for="new">"New password"</label>
                    <input id="new" type="password" autocomplete="new-password" required
                        aria-describedby="new-hint" bind:value=new/>
                    <p id="new-hint" class="hint">
                        "At least 8 characters. A few unrelated words make a strong, memorable password."
                    </p>
                </div>
                <div class="field">
                    <label for="confirm">"New password again"</label>
                    <input id="confirm" type="password" autocomplete="new-password" required bind:value=confirm/>
                </div>
                <div class="actions">
                    <SubmitButton label="Change password" pending="Saving…" busy=action.pending()/>
                    <a href="/">"Cancel"</a>
                </div>
            </form>
        }>
            <p class="notice notice-ok" role="status">
                "Your password was changed. Your other sessions were signed out, and we sent you an email about it."
            </p>
            <a class="button" href="/">"Back to your account"</a>
        </Show>
    }
}
