//! The sign-in page: email, password, "remember me".

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{action_error, go_to, ErrorNotice, Page, SubmitButton};
use crate::api::account::{waiting_for, SignIn};

#[component]
pub fn SignInPage() -> impl IntoView {
    let ended = use_query_map().read_untracked().get("ended").is_some();
    let going_to = Resource::new_blocking(|| (), |_| waiting_for());
    view! {
        <Page title="Sign in">
            <section class="card narrow" aria-labelledby="signin-heading">
                <h1 id="signin-heading">"Sign in"</h1>
                <Suspense>
                    {move || going_to.get().and_then(Result::ok).flatten().map(|name| view! {
                        <p class="notice notice-info" role="status" id="signing-in-to">
                            {format!("Signing you in to {name}")}
                        </p>
                    })}
                </Suspense>
                {ended.then(|| view! {
                    <p class="notice notice-info" role="status">
                        "You were signed out. Sign in again to continue."
                    </p>
                })}
                <SignInForm/>
            </section>
        </Page>
    }
}

#[island]
fn SignInForm() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let remember = RwSignal::new(false);
    let action = ServerAction::<SignIn>::new();
    let error = action_error(action);

    Effect::new(move || {
        if let Some(Ok(result)) = action.value().get() {
            go_to(&result.next);
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        action.dispatch(SignIn {
            email: email.get_untracked(),
            password: password.get_untracked(),
            remember: remember.get_untracked(),
        });
    };

    view! {
        <form on:submit=submit novalidate>
            <ErrorNotice error/>
            <div class="field">
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required
                    maxlength="254" bind:value=email/>
            </div>
            <div class="field">
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password"
                    autocomplete="current-password" required bind:value=password/>
            </div>
            <div class="field checkbox">
                <input id="remember" name="remember" type="checkbox" bind:checked=remember
                    aria-describedby="remember-hint"/>
                <label for="remember">"Remember me on this device"</label>
                <p id="remember-hint" class="hint">
                    "Ignored for accounts with two-step authentication: they sign in fully each time the browser restarts."
                </p>
            </div>
            <SubmitButton label="Sign in" pending="Signing in…" busy=action.pending()/>
        </form>
    }
}
