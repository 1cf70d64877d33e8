//! `/admin/users/:id`: one person — profile, methods, sessions, recent events — and what
//! can be done to the account. The page is rendered on the server; the actions, with
//! their step-up prompt, are a lazy island.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::step_up::StepUpForm;
use super::{role_label, ConsolePage, TwoStepBadge};
use crate::api::admin::step_up::{console_me, ConsoleUser};
use crate::api::admin::user::{
    change_user_role, end_user_sessions, remind_users, reset_two_factor, set_user_active,
    unlock_user, user_details, ResetResult, UserPage,
};
use crate::error::AppError;
use crate::pages::ErrorNotice;

#[component]
pub fn UserDetailPage() -> impl IntoView {
    let id = use_params_map()
        .read_untracked()
        .get("id")
        .unwrap_or_default();
    let me = Resource::new_blocking(|| (), |_| console_me());
    let details = Resource::new_blocking(move || id.clone(), user_details);
    view! {
        <Title text="User"/>
        <Suspense fallback=|| view! { <p role="status">"Loading…"</p> }>
            {move || {
                let (me, details) = (me.get()?, details.get()?);
                let me = me.ok();
                Some(match details {
                    Ok(page) => {
                        let title_name = page.user.name.clone();
                        view! {
                            <ConsolePage title="User" me=me.clone()>
                                <p><a href="/admin/users">"← All users"</a></p>
                                <h1>{title_name}</h1>
                                <Profile page=page.clone()/>
                                {me.map(|me| view! { <UserActions page=page.clone() me/> })}
                                <Methods page=page.clone()/>
                                <Sessions page=page.clone()/>
                                <Events page/>
                            </ConsolePage>
                        }.into_any()
                    }
                    Err(e) => view! {
                        <ConsolePage title="User" me>
                            <p><a href="/admin/users">"← All users"</a></p>
                            <p class="notice notice-error" role="alert">{e.to_string()}</p>
                        </ConsolePage>
                    }.into_any(),
                })
            }}
        </Suspense>
    }
}

#[component]
fn Profile(page: UserPage) -> impl IntoView {
    let u = page.user;
    view! {
        <section class="card" aria-labelledby="profile-heading">
            <h2 id="profile-heading">"Profile"</h2>
            <dl class="facts">
                <dt>"Email"</dt><dd id="user-email">{u.email.clone()}</dd>
                <dt>"Role"</dt><dd id="user-role">{role_label(&u.role)}</dd>
                <dt>"Account"</dt>
                <dd id="user-status">{match u.status.as_str() {
                    "disabled" => "Disabled".to_string(),
                    "pending" => "Pending invitation".to_string(),
                    "locked" => format!("Locked until {}", u.locked_until.clone().unwrap_or_default()),
                    _ => "Active".to_string(),
                }}</dd>
                <dt>"Two-step"</dt><dd id="user-two-step"><TwoStepBadge on=u.two_step_on/>
                    {page.owes_setup_code.then(|| view! { " " <span class="hint">"Reset: waiting for the setup code"</span> })}
                </dd>
                <dt>"Last sign-in"</dt><dd>{u.last_sign_in.clone().unwrap_or_else(|| "Never".into())}</dd>
                <dt>"Last reminded"</dt><dd>{u.last_reminded.clone().unwrap_or_else(|| "Never".into())}</dd>
                <dt>"Created"</dt><dd>{u.created.clone()}</dd>
            </dl>
        </section>
    }
}

#[component]
fn Methods(page: UserPage) -> impl IntoView {
    let codes = page.user.backup_codes_left;
    let on = page.user.two_step_on;
    view! {
        <section class="card" aria-labelledby="methods-heading">
            <h2 id="methods-heading">"Two-step methods"</h2>
            <ul class="rows" id="user-methods">
                {page.passkeys.into_iter().map(|p| view! {
                    <li><div>
                        <strong>"Passkey: " {p.name}</strong>
                        <p class="hint">
                            {p.provider.map(|n| format!("{n}. "))}
                            {format!("Added {}. ", p.created)}
                            {p.last_used.map(|u| format!("Last used {u}. ")).unwrap_or_else(|| "Not used yet. ".into())}
                            {if p.synced { "Synced across devices." } else { "This device only." }}
                        </p>
                    </div></li>
                }).collect_view()}
                {page.app.map(|(added, used)| view! {
                    <li><div>
                        <strong>"Authenticator app"</strong>
                        <p class="hint">{format!("Added {added}. {}", used.map(|u| format!("Last used {u}.")).unwrap_or_else(|| "Not used yet.".into()))}</p>
                    </div></li>
                })}
                {on.then(|| view! { <li><div><strong>"Backup codes"</strong><p class="hint">{format!("{codes} of 10 left")}</p></div></li> })}
                {(!on).then(|| view! { <li><div>"No two-step method."</div></li> })}
            </ul>
        </section>
    }
}

#[component]
fn Sessions(page: UserPage) -> impl IntoView {
    let empty = page.sessions.is_empty();
    view! {
        <section class="card" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Open sessions"</h2>
            {empty.then(|| view! { <p id="no-sessions">"None."</p> })}
            <ul class="rows" id="user-sessions">
                {page.sessions.into_iter().map(|s| view! {
                    <li><div>
                        <strong>{if s.browser.is_empty() { "Unknown browser".to_string() } else { s.browser.chars().take(80).collect() }}</strong>
                        <p class="hint">{format!("From {}. Since {}, last seen {}.{}", s.address, s.started, s.last_seen,
                            if s.full { "" } else { " Half-way through signing in." })}</p>
                    </div></li>
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn Events(page: UserPage) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="events-heading">
            <h2 id="events-heading">"Recent events"</h2>
            <div class="table-wrap">
                <table class="events">
                    <caption class="visually-hidden">"The last 50 audit events about this person, newest first"</caption>
                    <thead><tr><th scope="col">"When"</th><th scope="col">"What"</th><th scope="col">"Detail"</th><th scope="col">"From"</th></tr></thead>
                    <tbody>
                        {page.events.into_iter().map(|e| view! {
                            <tr><td>{e.at}</td><td>{e.kind.replace('_', " ")}</td><td>{e.detail}</td><td>{e.address.unwrap_or_default()}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

/// What a console action is about to do, asked for before it is done.
#[derive(Clone, PartialEq)]
enum Pane {
    Buttons,
    Reset,
    Role,
    /// The step-up prompt, then this action.
    StepUp(Box<Action>),
    ResetDone(ResetResult),
}

#[derive(Clone, PartialEq)]
enum Action {
    Remind,
    Reset(String),
    Unlock,
    EndSessions,
    SetActive(bool),
    Role(String),
}

/// The actions on this person's account, for the roles that have them.
#[island(lazy)]
fn UserActions(page: UserPage, me: ConsoleUser) -> impl IntoView {
    let user = page.user.clone();
    let id = user.id.clone();
    let admin = me.role == "admin";
    let helps = admin || (me.role == "helpdesk" && user.role == "staff");
    let pane = RwSignal::new(Pane::Buttons);
    let stepped_up = RwSignal::new(me.stepped_up);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<AppError>);
    let message = RwSignal::new(None::<String>);
    let reason = RwSignal::new(String::new());
    let new_role = RwSignal::new(user.role.clone());

    let perform = Callback::new(move |action: Action| {
        if !stepped_up.get_untracked() {
            pane.set(Pane::StepUp(Box::new(action)));
            return;
        }
        busy.set(true);
        error.set(None);
        message.set(None);
        let id = id.clone();
        spawn_local(async move {
            let result: Result<Option<String>, AppError> = match action.clone() {
                Action::Remind => remind_users(vec![id], None).await.map(|r| {
                    Some(if r.sent == 1 {
                        "Reminder sent.".into()
                    } else if r.skipped_recent == 1 {
                        "Not sent: they were reminded in the last 24 hours.".into()
                    } else {
                        "Not sent: there is nothing for them to set up.".into()
                    })
                }),
                Action::Reset(why) => reset_two_factor(id, why).await.map(|r| {
                    pane.set(Pane::ResetDone(r));
                    None
                }),
                Action::Unlock => unlock_user(id)
                    .await
                    .map(|_| Some("Unlocked. They were told by email.".into())),
                Action::EndSessions => end_user_sessions(id)
                    .await
                    .map(|n| Some(format!("{n} session(s) ended."))),
                Action::SetActive(on) => set_user_active(id, on).await.map(|_| {
                    Some(
                        if on {
                            "Enabled."
                        } else {
                            "Disabled; their sessions ended."
                        }
                        .into(),
                    )
                }),
                Action::Role(role) => change_user_role(id, role)
                    .await
                    .map(|_| Some("Role changed.".into())),
            };
            busy.set(false);
            match result {
                Ok(Some(text)) => {
                    message.set(Some(format!("{text} Reload to see the page as it is now.")));
                    pane.set(Pane::Buttons);
                }
                Ok(None) => {}
                Err(AppError::StepUpRequired) => {
                    stepped_up.set(false);
                    pane.set(Pane::StepUp(Box::new(action)));
                }
                Err(e) => error.set(Some(e)),
            }
        });
    });

    if !helps || !me.two_factor_enabled {
        return view! {
            <section class="card" aria-labelledby="actions-heading">
                <h2 id="actions-heading">"Actions"</h2>
                <p class="hint" id="no-actions">{if helps {
                    "Changes from the console need your own two-step authentication: set it up in your profile first."
                } else {
                    "Your role can look at this account, not change it."
                }}</p>
            </section>
        }
        .into_any();
    }
    let locked = user.status == "locked";
    let active = user.status != "disabled";
    let on = user.two_step_on;
    view! {
        <section class="card" aria-labelledby="actions-heading">
            <h2 id="actions-heading">"Actions"</h2>
            <ErrorNotice error=error.into()/>
            <div role="status" aria-live="polite">
                {move || message.get().map(|m| view! { <p class="notice notice-ok" id="action-result">{m}</p> })}
            </div>
            {move || match pane.get() {
                Pane::Buttons => {
                    view! {
                        <div class="actions wrap">
                            {(!on && active).then(|| view! {
                                <button type="button" class="button" id="action-remind" disabled=move || busy.get()
                                    on:click=move |_| perform.run(Action::Remind)>"Send reminder"</button>
                            })}
                            <button type="button" class="button" id="action-reset" disabled=move || busy.get()
                                on:click=move |_| pane.set(Pane::Reset)>"Reset two-step authentication"</button>
                            {locked.then(|| view! {
                                <button type="button" class="button" id="action-unlock" disabled=move || busy.get()
                                    on:click=move |_| perform.run(Action::Unlock)>"Unlock"</button>
                            })}
                            <button type="button" class="button" id="action-end-sessions" disabled=move || busy.get()
                                on:click=move |_| perform.run(Action::EndSessions)>"End all sessions"</button>
                            {admin.then(|| view! {
                                <button type="button" class="button" id="action-role" disabled=move || busy.get()
                                    on:click=move |_| pane.set(Pane::Role)>"Change role"</button>
                                <button type="button" class="button danger" id="action-active" disabled=move || busy.get()
                                    on:click=move |_| perform.run(Action::SetActive(!active))>
                                    {if active { "Disable account" } else { "Enable account" }}
                                </button>
                            })}
                        </div>
                    }.into_any()
                }
                Pane::Reset => {
                    view! {
                        <form on:submit=move |ev| { ev.prevent_default(); perform.run(Action::Reset(reason.get_untracked())); } novalidate>
                            <h3>"Reset two-step authentication"</h3>
                            <p>"Their passkeys, authenticator app, backup codes and sessions are removed at once. You get a one-time setup code to give them after checking who is asking; at their next sign-in they need their password and that code, then set up a new method."</p>
                            <div class="field">
                                <label for="reset-reason">"Reason (kept in the audit trail)"</label>
                                <input id="reset-reason" maxlength="500" required bind:value=reason/>
                            </div>
                            <div class="actions">
                                <button type="submit" class="button danger" disabled=move || busy.get()>"Reset"</button>
                                <button type="button" class="link" on:click=move |_| pane.set(Pane::Buttons)>"Cancel"</button>
                            </div>
                        </form>
                    }.into_any()
                }
                Pane::Role => {
                    view! {
                        <form on:submit=move |ev| { ev.prevent_default(); perform.run(Action::Role(new_role.get_untracked())); } novalidate>
                            <h3>"Change role"</h3>
                            <div class="field">
                                <label for="new-role">"Role"</label>
                                <select id="new-role" on:change=move |ev| new_role.set(event_target_value(&ev))>
                                    {["admin", "helpdesk", "auditor", "staff"].into_iter().map(|r| view! {
                                        <option value=r selected=move || new_role.get() == r>{role_label(r)}</option>
                                    }).collect_view()}
                                </select>
                            </div>
                            <div class="actions">
                                <button type="submit" class="button primary" disabled=move || busy.get()>"Change role"</button>
                                <button type="button" class="link" on:click=move |_| pane.set(Pane::Buttons)>"Cancel"</button>
                            </div>
                        </form>
                    }.into_any()
                }
                Pane::StepUp(action) => {
                    view! {
                        <StepUpForm me=me.clone()
                            on_done=move |_| { stepped_up.set(true); pane.set(Pane::Buttons); perform.run((*action).clone()); }
                            on_cancel=move |_| pane.set(Pane::Buttons)/>
                    }.into_any()
                }
                Pane::ResetDone(r) => view! {
                    <div class="notice notice-ok" id="reset-done">
                        <p><strong>"Two-step authentication was reset."</strong>" Give them this one-time setup code after checking who is asking. It is shown only now and works until " {r.expires.clone()} "."</p>
                        <p><code class="key" id="setup-code">{r.setup_code.clone()}</code></p>
                    </div>
                }.into_any(),
            }}
        </section>
    }
    .into_any()
}
