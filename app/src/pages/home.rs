//! The signed-in home: who you are, your organisation, and your account's security.

use leptos::prelude::*;

use super::{go_to, Page};
use crate::api::account::{me, Profile, SignOut};

#[component]
pub fn HomePage() -> impl IntoView {
    // Rendered on the server with the data in place (the guard already let only a full
    // session in).
    let me = Resource::new_blocking(|| (), |_| me());
    view! {
        <Page title="Your account">
            <Suspense fallback=|| view! { <p class="loading" role="status">"Loading your account…"</p> }>
                {move || me.get().map(|result| match result {
                    Ok(me) => view! { <Account me/> }.into_any(),
                    Err(e) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
        </Page>
    }
}

#[island(lazy)]
fn SignOutButton() -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    Effect::new(move || {
        if sign_out.value().get().is_some() {
            go_to("/signin");
        }
    });
    view! {
        <button class="button" on:click=move |_| { sign_out.dispatch(SignOut {}); }
            disabled=move || sign_out.pending().get()>
            {move || if sign_out.pending().get() { "Signing out…" } else { "Sign out" }}
        </button>
    }
}

#[component]
fn Account(me: Profile) -> impl IntoView {
    let role = super::admin::role_label(&me.role);
    let console = me.role != "staff";
    view! {
        <section class="card" aria-labelledby="who">
            <div class="card-head">
                <h1 id="who">{me.display_name.clone()}</h1>
                <SignOutButton/>
            </div>
            <dl class="facts">
                <dt>"Email"</dt><dd id="me-email">{me.email.clone()}</dd>
                <dt>"Role"</dt><dd id="me-role">{role}</dd>
                <dt>"Organisation"</dt>
                <dd>
                    {me.organisation.clone()}
                    {me.organisation_is_demo.then(|| view! { <span class="badge">"Demo data"</span> })}
                </dd>
            </dl>
        </section>
        {console.then(|| view! {
            <section class="card" aria-labelledby="console">
                <div class="card-head">
                    <h2 id="console">"Admin console"</h2>
                    <a class="button primary" href="/admin/users" id="open-console">"Open the console"</a>
                </div>
                <p class="hint">"Everyone's two-step status, reminders, resets."</p>
            </section>
        })}
        <section class="card" aria-labelledby="security">
            <h2 id="security">"Sign-in and security"</h2>
            <ul class="rows">
                <li>
                    <div>
                        <strong>"Password"</strong>
                        <p class="hint">"Changing it signs you out everywhere else."</p>
                    </div>
                    <a class="button" href="/password">"Change password"</a>
                </li>
                <li>
                    <div>
                        <strong>"Two-step authentication"</strong>
                        <p class="hint" id="two-factor-status">
                            {if me.two_factor_enabled { "On: a second step protects your sign-in." } else { "Off: only your password protects your account." }}
                        </p>
                    </div>
                    <span class=if me.two_factor_enabled { "badge ok" } else { "badge warn" }>
                        {if me.two_factor_enabled { "On" } else { "Off" }}
                    </span>
                    <a class="button" href="/security">"Manage"</a>
                </li>
            </ul>
        </section>
    }
}
