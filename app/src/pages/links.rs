//! The pages mailed links open: `/invitation` (choose a password, then the setup wizard
//! when the organisation requires two-step authentication), `/reset-password` (choose a
//! new password), `/confirm-email` (confirm a new sign-in address). Opening one only shows
//! its form — mail scanners open links first — and sending the form uses the link up.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{action_error, go_to, ErrorNotice, Page, SubmitButton};
use crate::api::links::{
    link_details, AcceptInvitation, ConfirmEmailChange, LinkSummary, ResetPasswordWithLink,
};
use crate::error::AppError;

fn token_from_url() -> String {
    use_query_map()
        .read_untracked()
        .get("token")
        .unwrap_or_default()
}

/// The frame of a link's page: its details, or why the link cannot be used.
#[component]
fn LinkPage(
    title: &'static str,
    kind: &'static str,
    form: fn(String, LinkSummary) -> AnyView,
) -> impl IntoView {
    let token = token_from_url();
    let details = Resource::new_blocking(
        {
            let token = token.clone();
            move || token.clone()
        },
        move |token| link_details(token, kind.to_string()),
    );
    view! {
        <Page title=title>
            <section class="card narrow" aria-labelledby="link-heading">
                <h1 id="link-heading">{title}</h1>
                <Suspense fallback=|| view! { <p role="status">"Checking the link…"</p> }>
                    {move || details.get().map(|d| match d {
                        Ok(d) => form(token.clone(), d),
                        Err(e) => view! {
                            <p class="notice notice-error" role="alert" id="link-refused">{e.to_string()}</p>
                            <a class="button" href="/signin">"Go to sign-in"</a>
                        }.into_any(),
                    })}
                </Suspense>
            </section>
        </Page>
    }
}

#[component]
pub fn InvitationPage() -> impl IntoView {
    view! {
        <LinkPage title="Welcome to Tessera" kind="invitation"
            form=|token, d| view! { <AcceptInvitationForm token details=d/> }.into_any()/>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    view! {
        <LinkPage title="Choose a new password" kind="password_reset"
            form=|token, d| view! { <NewPasswordForm token details=d/> }.into_any()/>
    }
}

#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    view! {
        <LinkPage title="Confirm your new address" kind="email_change"
            form=|token, d| view! { <ConfirmEmailForm token details=d/> }.into_any()/>
    }
}

/// A new password typed twice; `None` with the mismatch shown when they differ.
fn mismatch_error(
    mismatch: RwSignal<bool>,
    server: Signal<Option<AppError>>,
) -> Signal<Option<AppError>> {
    Signal::derive(move || {
        mismatch
            .get()
            .then(|| AppError::Invalid {
                field: "confirm".into(),
                message: "The passwords do not match.".into(),
            })
            .or_else(|| server.get())
    })
}

#[component]
fn PasswordFields(password: RwSignal<String>, confirm: RwSignal<String>) -> impl IntoView {
    view! {
        <div class="field">
            <label for="new-password">"Password"</label>
            <input id="new-password" type="password" autocomplete="new-password" required
                aria-describedby="new-password-hint" bind:value=password/>
            <p class="hint" id="new-password-hint">"At least 8 characters; a few words you will remember work well."</p>
        </div>
        <div class="field">
            <label for="confirm-password">"Password again"</label>
            <input id="confirm-password" type="password" autocomplete="new-password" required bind:value=confirm/>
        </div>
    }
}

#[island(lazy)]
fn AcceptInvitationForm(token: String, details: LinkSummary) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let mismatch = RwSignal::new(false);
    let action = ServerAction::<AcceptInvitation>::new();
    let error = mismatch_error(mismatch, action_error(action));
    Effect::new(move || {
        if let Some(Ok(accepted)) = action.value().get() {
            go_to(&accepted.next);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let same = password.get_untracked() == confirm.get_untracked();
        mismatch.set(!same);
        if same {
            action.dispatch(AcceptInvitation {
                token: token.clone(),
                password: password.get_untracked(),
            });
        }
    };
    view! {
        <p>"Hello " {details.name.clone()} ". Choose the password you will sign in with as "
            <strong>{details.email.clone()}</strong> "."</p>
        <form on:submit=submit novalidate>
            <ErrorNotice error/>
            <input type="email" autocomplete="username" value=details.email.clone() hidden readonly/>
            <PasswordFields password confirm/>
            <SubmitButton label="Set password and continue" pending="Setting your password…" busy=action.pending()/>
        </form>
        <p class="hint">"This invitation works once, until " {details.expires.clone()} "."</p>
    }
}

#[island(lazy)]
fn NewPasswordForm(token: String, details: LinkSummary) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let mismatch = RwSignal::new(false);
    let action = ServerAction::<ResetPasswordWithLink>::new();
    let error = mismatch_error(mismatch, action_error(action));
    let done = move || matches!(action.value().get(), Some(Ok(())));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let same = password.get_untracked() == confirm.get_untracked();
        mismatch.set(!same);
        if same {
            action.dispatch(ResetPasswordWithLink {
                token: token.clone(),
                password: password.get_untracked(),
            });
        }
    };
    let email = details.email.clone();
    view! {
        <Show when=done fallback=move || view! {
            <p>"Choose a new password for " <strong>{email.clone()}</strong> "."</p>
            <form on:submit=submit.clone() novalidate>
                <ErrorNotice error/>
                <input type="email" autocomplete="username" value=email.clone() hidden readonly/>
                <PasswordFields password confirm/>
                <SubmitButton label="Set new password" pending="Setting your password…" busy=action.pending()/>
            </form>
        }>
            <p class="notice notice-ok" role="status" id="password-set">
                "Your password is set, and you were signed out everywhere. Sign in with it now (your two-step authentication is unchanged)."
            </p>
            <a class="button primary" href="/signin">"Sign in"</a>
        </Show>
    }
}

#[island(lazy)]
fn ConfirmEmailForm(token: String, details: LinkSummary) -> impl IntoView {
    let action = ServerAction::<ConfirmEmailChange>::new();
    let error = action_error(action);
    let done = move || action.value().get().and_then(Result::ok);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        action.dispatch(ConfirmEmailChange {
            token: token.clone(),
        });
    };
    let new_email = details.new_email.clone().unwrap_or_default();
    let old_email = details.email.clone();
    view! {
        <Show when=move || done().is_some() fallback=move || view! {
            <p>"From now on, sign in as " <strong>{new_email.clone()}</strong> " instead of " {old_email.clone()} "."</p>
            <form on:submit=submit.clone() novalidate>
                <ErrorNotice error/>
                <SubmitButton label="Confirm this address" pending="Confirming…" busy=action.pending()/>
            </form>
        }>
            <p class="notice notice-ok" role="status" id="email-confirmed">
                "Done: you now sign in as " {done().unwrap_or_default()} "."
            </p>
            <a class="button primary" href="/signin">"Sign in"</a>
        </Show>
    }
}
