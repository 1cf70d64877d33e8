//! First-run setup: the one-time link the server printed creates the organisation and
//! its first administrator.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{action_error, ErrorNotice, Page, SubmitButton};
use crate::api::setup::{setup_status, CompleteSetup};
use crate::error::AppError;

#[component]
pub fn SetupPage() -> impl IntoView {
    let token = use_query_map()
        .read_untracked()
        .get("token")
        .unwrap_or_default();
    let status = Resource::new_blocking(
        {
            let token = token.clone();
            move || token.clone()
        },
        setup_status,
    );
    view! {
        <Page title="Set up Tessera">
            <section class="card narrow" aria-labelledby="setup-heading">
                <h1 id="setup-heading">"Set up Tessera"</h1>
                <Suspense fallback=|| view! { <p role="status">"Checking the setup link…"</p> }>
                    {move || status.get().map(|s| match s {
                        Ok(s) if !s.needed => view! {
                            <p>"Tessera is already set up."</p>
                            <a class="button primary" href="/signin">"Sign in"</a>
                        }.into_any(),
                        Ok(s) if !s.token_valid => view! {
                            <p class="notice notice-error" role="alert">
                                "This setup link is invalid, expired or already used. Restart the server to print a new one."
                            </p>
                        }.into_any(),
                        Ok(_) => view! { <SetupForm token=token.clone()/> }.into_any(),
                        Err(e) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }.into_any(),
                    })}
                </Suspense>
            </section>
        </Page>
    }
}

#[island(lazy)]
fn SetupForm(token: String) -> impl IntoView {
    let organisation = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let mismatch = RwSignal::new(false);
    let action = ServerAction::<CompleteSetup>::new();
    let server_error = action_error(action);
    let error = Signal::derive(move || {
        mismatch
            .get()
            .then(|| AppError::Invalid {
                field: "confirm".into(),
                message: "The passwords do not match.".into(),
            })
            .or_else(|| server_error.get())
    });
    let done = move || matches!(action.value().get(), Some(Ok(())));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let matches = password.get_untracked() == confirm.get_untracked();
        mismatch.set(!matches);
        if matches {
            action.dispatch(CompleteSetup {
                token: token.clone(),
                organisation_name: organisation.get_untracked(),
                display_name: name.get_untracked(),
                email: email.get_untracked(),
                password: password.get_untracked(),
            });
        }
    };
    view! {
        <Show when=done fallback=move || view! {
            <p>"Create your organisation and the first administrator account."</p>
            <form on:submit=submit.clone() novalidate>
                <ErrorNotice error/>
                <div class="field">
                    <label for="org">"Organisation name"</label>
                    <input id="org" required maxlength="120" bind:value=organisation/>
                </div>
                <div class="field">
                    <label for="name">"Your name"</label>
                    <input id="name" autocomplete="name" required maxlength="100" bind:value=name/>
                </div>
                <div class="field">
                    <label for="email">"Your email"</label>
                    <input id="email" type="email" autocomplete="email" required maxlength="254" bind:value=email/>
                </div>
                <div class="field">
                    <label for="password">"Password"</label>
                    <input id="password" type="password" autocomplete="new-password" required bind:value=password/>
                    <p class="hint">"At least 8 characters."</p>
                </div>
                <div class="field">
                    <label for="confirm">"Password again"</label>
                    <input id="confirm" type="password" autocomplete="new-password" required bind:value=confirm/>
                </div>
                <SubmitButton label="Create organisation" pending="Creating…" busy=action.pending()/>
            </form>
        }>
            <p class="notice notice-ok" role="status">"Your organisation is ready."</p>
            <a class="button primary" href="/signin">"Sign in"</a>
        </Show>
    }
}
