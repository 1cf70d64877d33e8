//! `/admin/users/new`: add a person by invitation (email, name, role). They get a
//! single-use link, valid 72 hours, to choose their password; until then the list shows
//! them as "Pending invitation". Admins only; sending needs a fresh step-up.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

use super::step_up::StepUpForm;
use super::{role_label, ConsolePage};
use crate::api::admin::people::{invite_user, InvitationSent};
use crate::api::admin::step_up::{console_me, ConsoleUser};
use crate::error::AppError;
use crate::pages::{ErrorNotice, SubmitButton};

#[component]
pub fn AddUserPage() -> impl IntoView {
    let me = Resource::new_blocking(|| (), |_| console_me());
    view! {
        <Title text="Add user"/>
        <Suspense fallback=|| view! { <p role="status">"Loading…"</p> }>
            {move || me.get().map(|me| {
                let me = me.ok();
                view! {
                    <ConsolePage title="Add user" me=me.clone()>
                        <p><a href="/admin/users">"← All users"</a></p>
                        <h1>"Add user"</h1>
                        {match me {
                            Some(me) if me.two_factor_enabled => view! { <InviteForm me/> }.into_any(),
                            _ => view! { <p class="hint">"Adding people needs your own two-step authentication."</p> }.into_any(),
                        }}
                        <p>"Many people at once? " <a href="/admin/users/import">"Import a CSV file"</a></p>
                    </ConsolePage>
                }
            })}
        </Suspense>
    }
}

#[island(lazy)]
fn InviteForm(me: ConsoleUser) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let role = RwSignal::new("staff".to_string());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<AppError>);
    // The step-up prompt appears when the server asks for it, then the invitation goes.
    let stepping_up = RwSignal::new(false);
    let sent = RwSignal::new(None::<(String, InvitationSent)>);
    let send = Callback::new(move |()| {
        busy.set(true);
        error.set(None);
        let (e, n, r) = (
            email.get_untracked(),
            name.get_untracked(),
            role.get_untracked(),
        );
        spawn_local(async move {
            let result = invite_user(e.clone(), n, r).await;
            busy.set(false);
            match result {
                Ok(done) => {
                    sent.set(Some((e, done)));
                    email.set(String::new());
                    name.set(String::new());
                }
                Err(AppError::StepUpRequired) => stepping_up.set(true),
                Err(e) => error.set(Some(e)),
            }
        });
    });
    view! {
        <div role="status" aria-live="polite">
            {move || sent.get().map(|(to, s)| view! {
                <p class="notice notice-ok" id="invite-sent">
                    "Invitation sent to " {to} ". The link works until " {s.expires} ". "
                    <a href=format!("/admin/users/{}", s.id)>"Open their page"</a>
                </p>
            })}
        </div>
        <Show when=move || !stepping_up.get() fallback=move || view! {
            <StepUpForm me=me.clone()
                on_done=move |_| { stepping_up.set(false); send.run(()); }
                on_cancel=move |_| stepping_up.set(false)/>
        }>
            <form class="card narrow" on:submit=move |ev| { ev.prevent_default(); send.run(()); } novalidate>
                <ErrorNotice error=error.into()/>
                <div class="field">
                    <label for="invite-email">"Email"</label>
                    <input id="invite-email" type="email" autocomplete="off" required maxlength="254" bind:value=email/>
                </div>
                <div class="field">
                    <label for="invite-name">"Name"</label>
                    <input id="invite-name" autocomplete="off" required maxlength="100" bind:value=name/>
                </div>
                <div class="field">
                    <label for="invite-role">"Role"</label>
                    <select id="invite-role" on:change=move |ev| role.set(event_target_value(&ev))>
                        {["staff", "helpdesk", "auditor", "admin"].into_iter().map(|r| view! {
                            <option value=r selected=move || role.get() == r>{role_label(r)}</option>
                        }).collect_view()}
                    </select>
                </div>
                <p class="hint">"They get an email with a link to choose their password (single use, 72 hours)."</p>
                <SubmitButton label="Send invitation" pending="Sending…" busy=busy/>
            </form>
        </Show>
    }
}
