//! The actions on one person's account (`/admin/users/:id`), with the step-up prompt they
//! need: a lazy island, so only console pages fetch it.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::role_label;
use super::step_up::StepUpForm;
use crate::api::admin::exceptions::{end_exception, grant_exception};
use crate::api::admin::people::{edit_user, resend_invitation, send_password_reset};
use crate::api::admin::step_up::ConsoleUser;
use crate::api::admin::user::{
    change_user_role, end_user_sessions, remind_users, reset_two_factor, set_user_active,
    unlock_user, ResetResult, UserPage,
};
use crate::error::AppError;
use crate::pages::ErrorNotice;

/// What a console action is about to do, asked for before it is done.
#[derive(Clone, PartialEq)]
enum Pane {
    Buttons,
    Reset,
    Role,
    Edit,
    Exception,
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
    ResendInvitation,
    PasswordReset,
    Edit(String, String),
    /// Through this date (`YYYY-MM-DD`), for this reason.
    GrantException(String, String),
    EndException,
}

/// The actions on this person's account, for the roles that have them.
#[island(lazy)]
pub fn UserActions(page: UserPage, me: ConsoleUser) -> impl IntoView {
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
    let new_name = RwSignal::new(user.name.clone());
    let new_email = RwSignal::new(user.email.clone());
    let exception_day = RwSignal::new(page.exception_days.0.clone());
    let exception_reason = RwSignal::new(String::new());
    let (first_day, last_day) = page.exception_days.clone();

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
                Action::ResendInvitation => resend_invitation(id).await.map(|s| {
                    Some(format!(
                        "A new invitation was sent; it works until {}. The earlier link no longer works.",
                        s.expires
                    ))
                }),
                Action::PasswordReset => send_password_reset(id).await.map(|until| {
                    Some(format!(
                        "A link to choose a new password was mailed; it works once, until {until}."
                    ))
                }),
                Action::Edit(name, email) => edit_user(id, name, email).await.map(|change| {
                    Some(
                        match change.as_str() {
                            "confirmation_sent" => "Saved. The new address gets a link to confirm it, and the old one is told; until then they sign in with the old address.",
                            "invitation_resent" => "Saved. They had not accepted their invitation yet: a new one went to the new address, and the old link no longer works.",
                            _ => "Saved.",
                        }
                        .into(),
                    )
                }),
                Action::GrantException(day, why) => grant_exception(id, day, why).await.map(|until| {
                    Some(format!(
                        "Exception granted: until {until} they sign in with their password alone. They were told by email."
                    ))
                }),
                Action::EndException => end_exception(id).await.map(|had| {
                    Some(
                        if had {
                            "Exception ended; their sessions ended too."
                        } else {
                            "There was no exception to end."
                        }
                        .into(),
                    )
                }),
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
    let pending = user.status == "pending";
    let active = user.status != "disabled";
    let on = user.two_step_on;
    let may_grant = page.exceptions_apply && active && !pending && page.exception.is_none();
    let has_exception = page.exception.is_some();
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
                            {may_grant.then(|| view! {
                                <button type="button" class="button" id="action-exception" disabled=move || busy.get()
                                    on:click=move |_| pane.set(Pane::Exception)>"Grant a temporary exception"</button>
                            })}
                            {has_exception.then(|| view! {
                                <button type="button" class="button" id="action-end-exception" disabled=move || busy.get()
                                    on:click=move |_| perform.run(Action::EndException)>"End exception now"</button>
                            })}
                            <button type="button" class="button" id="action-end-sessions" disabled=move || busy.get()
                                on:click=move |_| perform.run(Action::EndSessions)>"End all sessions"</button>
                            {(admin && pending).then(|| view! {
                                <button type="button" class="button" id="action-resend" disabled=move || busy.get()
                                    on:click=move |_| perform.run(Action::ResendInvitation)>"Resend invitation"</button>
                            })}
                            {(!pending && active).then(|| view! {
                                <button type="button" class="button" id="action-password-reset" disabled=move || busy.get()
                                    on:click=move |_| perform.run(Action::PasswordReset)>"Send password-reset link"</button>
                            })}
                            {admin.then(|| view! {
                                <button type="button" class="button" id="action-edit" disabled=move || busy.get()
                                    on:click=move |_| pane.set(Pane::Edit)>"Edit name or email"</button>
                            })}
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
                Pane::Exception => {
                    let (first_day, last_day) = (first_day.clone(), last_day.clone());
                    view! {
                        <form on:submit=move |ev| {
                            ev.prevent_default();
                            perform.run(Action::GrantException(exception_day.get_untracked(), exception_reason.get_untracked()));
                        } novalidate>
                            <h3>"Grant a temporary exception"</h3>
                            <p>"Until the end of the day you pick (UTC), they sign in with their password alone, although two-step authentication is required, and see a banner saying so. It ends by itself; you can end it sooner. Their sign-ins are marked as password-only."</p>
                            <div class="field">
                                <label for="exception-until">"Last day (at most 14 days from today)"</label>
                                <input id="exception-until" type="date" required min=first_day max=last_day bind:value=exception_day/>
                            </div>
                            <div class="field">
                                <label for="exception-reason">"Reason (kept in the audit trail)"</label>
                                <input id="exception-reason" maxlength="500" required bind:value=exception_reason/>
                            </div>
                            <div class="actions">
                                <button type="submit" class="button primary" disabled=move || busy.get()>"Grant exception"</button>
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
                Pane::Edit => {
                    view! {
                        <form on:submit=move |ev| { ev.prevent_default(); perform.run(Action::Edit(new_name.get_untracked(), new_email.get_untracked())); } novalidate>
                            <h3>"Edit name or email"</h3>
                            <div class="field">
                                <label for="edit-name">"Name"</label>
                                <input id="edit-name" required maxlength="100" bind:value=new_name/>
                            </div>
                            <div class="field">
                                <label for="edit-email">"Email"</label>
                                <input id="edit-email" type="email" required maxlength="254" bind:value=new_email
                                    aria-describedby="edit-email-hint"/>
                                <p class="hint" id="edit-email-hint">"A new address changes only once it is confirmed from a link mailed to it; the old address is told."</p>
                            </div>
                            <div class="actions">
                                <button type="submit" class="button primary" disabled=move || busy.get()>"Save"</button>
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
