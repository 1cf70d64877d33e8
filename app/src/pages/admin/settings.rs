//! `/admin/settings`: the two-step policy and the session limits. The admin edits, reviews
//! what the change will do (counted from the data), and saves after a fresh step-up.
//! Admins only.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

use super::step_up::StepUpForm;
use super::ConsolePage;
use crate::api::admin::settings::{
    organisation_settings, preview_settings, save_settings, SettingsForm,
};
use crate::api::admin::step_up::{console_me, ConsoleUser};
use crate::error::AppError;
use crate::pages::ErrorNotice;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let me = Resource::new_blocking(|| (), |_| console_me());
    let page = Resource::new_blocking(|| (), |_| organisation_settings());
    view! {
        <Title text="Settings"/>
        <Suspense fallback=|| view! { <p role="status">"Loading…"</p> }>
            {move || me.get().zip(page.get()).map(|(me, page)| {
                let me = me.ok();
                view! {
                    <ConsolePage title="Settings" me=me.clone()>
                        <h1>"Settings"</h1>
                        {match (me, page) {
                            (Some(me), Ok(page)) => view! {
                                <SettingsEditor me saved=page.settings earliest_deadline=page.earliest_deadline/>
                            }.into_any(),
                            (_, Err(e)) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }.into_any(),
                            (None, _) => ().into_any(),
                        }}
                    </ConsolePage>
                }
            })}
        </Suspense>
    }
}

#[derive(Clone, PartialEq)]
enum Stage {
    Editing,
    /// The preview of what saving does.
    Reviewing(Vec<String>),
    SteppingUp,
    Saved(Vec<String>),
}

#[island(lazy)]
fn SettingsEditor(
    me: ConsoleUser,
    saved: SettingsForm,
    earliest_deadline: String,
) -> impl IntoView {
    let form = RwSignal::new(saved.clone());
    let saved = RwSignal::new(saved);
    let stage = RwSignal::new(Stage::Editing);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<AppError>);
    let can_change = me.two_factor_enabled;

    let review = move || {
        busy.set(true);
        error.set(None);
        let settings = form.get_untracked();
        spawn_local(async move {
            let result = preview_settings(settings).await;
            busy.set(false);
            match result {
                Ok(lines) => stage.set(Stage::Reviewing(lines)),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let save = Callback::new(move |()| {
        busy.set(true);
        error.set(None);
        let settings = form.get_untracked();
        spawn_local(async move {
            let result = save_settings(settings.clone()).await;
            busy.set(false);
            match result {
                Ok(changes) => {
                    saved.set(settings);
                    stage.set(Stage::Saved(changes));
                }
                Err(AppError::StepUpRequired) => stage.set(Stage::SteppingUp),
                Err(e) => {
                    stage.set(Stage::Editing);
                    error.set(Some(e));
                }
            }
        });
    });
    let edit = move |f: fn(&mut SettingsForm, String), value: String| {
        form.update(|s| f(s, value));
        if !matches!(stage.get_untracked(), Stage::Editing) {
            stage.set(Stage::Editing);
        }
    };
    let required = move || form.with(|s| s.required);
    let unchanged = move || form.get() == saved.get();

    view! {
        <form class="card settings" novalidate on:submit=move |ev| { ev.prevent_default(); review(); }>
            <ErrorNotice error=error.into()/>
            <fieldset>
                <legend><h2>"Two-step authentication"</h2></legend>
                <div class="choice-row" role="radiogroup" aria-labelledby="require-label">
                    <p id="require-label" class="label">"Require two-step authentication"</p>
                    <label><input type="radio" name="required" id="required-off" prop:checked=move || !required()
                        on:change=move |_| edit(|s, _| s.required = false, String::new())/>" Off"</label>
                    <label><input type="radio" name="required" id="required-on" prop:checked=required
                        on:change=move |_| edit(|s, _| s.required = true, String::new())/>" On"</label>
                </div>
                <Show when=move || !required()>
                    <p class="hint">"Off: people who set up two-step authentication keep it and are still asked for it; nobody else is asked to."</p>
                </Show>
                <Show when=required>
                    <div class="field">
                        <label for="deadline">"Deadline (optional)"</label>
                        <input id="deadline" type="date" min=earliest_deadline.clone() aria-describedby="deadline-hint"
                            prop:value=move || form.with(|s| s.deadline.clone())
                            on:change=move |ev| edit(|s, v| s.deadline = v, event_target_value(&ev))/>
                        <p id="deadline-hint" class="hint">"Until this date, people without two-step authentication see a countdown and may put it off; from it on they reach only the setup wizard. Empty: from their next sign-in. Moving it moves it for everyone."</p>
                    </div>
                    <div class="field">
                        <label for="enrolment-days">"Days a new person gets to set it up"</label>
                        <input id="enrolment-days" type="number" min="0" max="30" inputmode="numeric" aria-describedby="enrolment-hint"
                            prop:value=move || form.with(|s| s.enrolment_days.to_string())
                            on:change=move |ev| edit(|s, v| s.enrolment_days = v.trim().parse().unwrap_or(-1), event_target_value(&ev))/>
                        <p id="enrolment-hint" class="hint">"0 to 30, from their first sign-in; only for accounts added after the requirement took effect."</p>
                    </div>
                    <fieldset class="methods">
                        <legend>"Methods that count"</legend>
                        <label><input type="checkbox" id="allow-passkeys" prop:checked=move || form.with(|s| s.allow_passkeys)
                            on:change=move |ev| edit(|s, v| s.allow_passkeys = v == "true", event_target_checked(&ev).to_string())/>" Passkeys"</label>
                        <label><input type="checkbox" id="allow-app" prop:checked=move || form.with(|s| s.allow_app)
                            on:change=move |ev| edit(|s, v| s.allow_app = v == "true", event_target_checked(&ev).to_string())/>" Authenticator app"</label>
                        <p class="hint">"Backup codes are always there as a fallback, never as someone's only method."</p>
                        <label><input type="checkbox" id="admins-need-passkey" prop:checked=move || form.with(|s| s.admins_need_passkey)
                            on:change=move |ev| edit(|s, v| s.admins_need_passkey = v == "true", event_target_checked(&ev).to_string())/>
                            " Admins must use a passkey"</label>
                        <p class="hint">"A passkey cannot be phished: the right protection for accounts that can change everything. Add one to your own account first."</p>
                    </fieldset>
                </Show>
            </fieldset>
            <fieldset>
                <legend><h2>"Sessions"</h2></legend>
                <div class="field">
                    <label for="idle-minutes">"Sign out after this many idle minutes"</label>
                    <input id="idle-minutes" type="number" min="5" max="60" inputmode="numeric"
                        prop:value=move || form.with(|s| s.idle_minutes.to_string())
                        on:change=move |ev| edit(|s, v| s.idle_minutes = v.trim().parse().unwrap_or(-1), event_target_value(&ev))/>
                    <p class="hint">"5 to 60 (automatic logoff)."</p>
                </div>
                <div class="field">
                    <label for="absolute-hours">"Longest session, in hours"</label>
                    <input id="absolute-hours" type="number" min="1" max="24" inputmode="numeric"
                        prop:value=move || form.with(|s| s.absolute_hours.to_string())
                        on:change=move |ev| edit(|s, v| s.absolute_hours = v.trim().parse().unwrap_or(-1), event_target_value(&ev))/>
                    <p class="hint">"1 to 24. Both apply to every session, open ones too, from its next request."</p>
                </div>
            </fieldset>
            <Show when=move || matches!(stage.get(), Stage::Editing)>
                <button type="submit" class="button primary" id="review-settings"
                    disabled=move || busy.get() || unchanged() || !can_change>
                    {move || if busy.get() { "Counting…" } else { "Review changes" }}
                </button>
                {(!can_change).then(|| view! { <p class="hint">"Changing settings needs your own two-step authentication."</p> })}
            </Show>
        </form>
        <div role="status" aria-live="polite">
            {move || match stage.get() {
                Stage::Reviewing(lines) => view! {
                    <section class="card review" id="settings-review" aria-labelledby="review-heading">
                        <h2 id="review-heading">"What this will do"</h2>
                        <ul>{lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
                        <div class="actions">
                            <button type="button" class="button primary" id="save-settings" disabled=move || busy.get()
                                on:click=move |_| save.run(())>
                                {move || if busy.get() { "Saving…" } else { "Save" }}
                            </button>
                            <button type="button" class="button" on:click=move |_| stage.set(Stage::Editing)>"Keep editing"</button>
                        </div>
                    </section>
                }.into_any(),
                Stage::Saved(changes) => view! {
                    <section class="notice notice-ok" id="settings-saved">
                        <p>{if changes.is_empty() { "Nothing changed." } else { "Saved. Every admin has been told:" }}</p>
                        <ul>{changes.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
                    </section>
                }.into_any(),
                _ => ().into_any(),
            }}
        </div>
        <Show when=move || matches!(stage.get(), Stage::SteppingUp)>
            <StepUpForm me=me.clone()
                on_done=move |_| save.run(())
                on_cancel=move |_| stage.set(Stage::Editing)/>
        </Show>
    }
}
