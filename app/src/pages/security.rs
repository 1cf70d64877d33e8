//! My profile → Two-step authentication: status, authenticator app, backup codes, off.

use leptos::prelude::*;

use super::authenticator::AuthenticatorSetupFlow;
use super::backup_codes::BackupCodesPanel;
use super::passkeys::{AddPasskey, PasskeyList};
use super::{action_error, ErrorNotice, Page};
use crate::api_passkeys::{list_passkeys, PasskeyInfo, RemovePasskey};
use crate::api_two_factor::{
    two_factor_status, AuthenticatorAdded, DisableTwoFactor, RegenerateBackupCodes,
    RemoveAuthenticator,
};

#[derive(Clone, PartialEq)]
enum Panel {
    Overview,
    AddAuthenticator,
    ShowCodes(Vec<String>),
    Regenerate,
    TurnOff,
    AddPasskey,
    RemovePasskey(PasskeyInfo),
    RemoveAuthenticator,
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    let panel = RwSignal::new(Panel::Overview);
    let refresh = RwSignal::new(0u32);
    let overview = move || (matches!(panel.get(), Panel::Overview), refresh.get());
    let status = Resource::new(overview, |_| two_factor_status());
    let passkeys = Resource::new(overview, |_| list_passkeys());
    let back = Callback::new(move |_| panel.set(Panel::Overview));
    let added = move |added: AuthenticatorAdded| {
        panel.set(match added.backup_codes {
            Some(codes) => Panel::ShowCodes(codes),
            None => Panel::Overview,
        })
    };

    view! {
        <Page title="Two-step authentication">
            <section class="card" aria-labelledby="tf-heading">
                <div class="card-head">
                    <h1 id="tf-heading">"Two-step authentication"</h1>
                    <a href="/">"Back to your account"</a>
                </div>
                {move || match panel.get() {
                    Panel::Overview => view! {
                        <Suspense fallback=|| view! { <p role="status">"Loading…"</p> }>
                            {move || status.get().map(|r| match r {
                                Ok(info) => view! { <Overview info panel/> }.into_any(),
                                Err(e) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }.into_any(),
                            })}
                            {move || passkeys.get().map(|r| match r {
                                Ok(list) => view! {
                                    <PasskeyList passkeys=list
                                        on_add=move |_| panel.set(Panel::AddPasskey)
                                        on_remove=move |p| panel.set(Panel::RemovePasskey(p))
                                        on_renamed=move |_| refresh.update(|n| *n += 1)/>
                                }.into_any(),
                                Err(e) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }.into_any(),
                            })}
                            {move || status.get().and_then(|r| r.ok()).map(|info| view! { <TurnOffEntry info panel/> })}
                        </Suspense>
                    }.into_any(),
                    Panel::AddAuthenticator => view! {
                        <h2>"Add an authenticator app"</h2>
                        <AuthenticatorSetupFlow ask_password=true on_added=added/>
                        <button type="button" class="link" on:click=move |_| back.run(())>"Cancel"</button>
                    }.into_any(),
                    Panel::ShowCodes(codes) => view! { <BackupCodesPanel codes on_done=back/> }.into_any(),
                    Panel::Regenerate => view! { <Regenerate panel/> }.into_any(),
                    Panel::TurnOff => view! { <TurnOff panel/> }.into_any(),
                    Panel::AddPasskey => view! { <AddPasskey on_added=added on_cancel=back/> }.into_any(),
                    Panel::RemovePasskey(p) => view! { <RemovePasskeyPanel passkey=p panel/> }.into_any(),
                    Panel::RemoveAuthenticator => view! { <RemoveAuthenticatorPanel panel/> }.into_any(),
                }}
            </section>
        </Page>
    }
}

#[component]
fn Overview(info: crate::api_two_factor::TwoFactorInfo, panel: RwSignal<Panel>) -> impl IntoView {
    let on = info.enabled;
    view! {
        <p id="tf-status" class=if on { "notice notice-ok" } else { "notice notice-info" }>
            {if on { "Two-step authentication is on." } else { "Two-step authentication is off. Add a method to protect your account with more than a password." }}
        </p>
        <ul class="rows">
            <li>
                <div>
                    <strong>"Authenticator app"</strong>
                    <p class="hint" id="authenticator-status">
                        {match &info.authenticator_added {
                            Some(added) => format!(
                                "Added {added}. {}",
                                info.authenticator_last_used.as_ref().map(|u| format!("Last used {u}.")).unwrap_or_else(|| "Not used yet.".into())
                            ),
                            None => "Not set up.".to_string(),
                        }}
                    </p>
                </div>
                <div class="row-actions">
                    <button type="button" class="button" on:click=move |_| panel.set(Panel::AddAuthenticator)
                        aria-label=if info.authenticator_added.is_some() { "Replace the authenticator app" } else { "Add an authenticator app" }>
                        {if info.authenticator_added.is_some() { "Replace" } else { "Add" }}
                    </button>
                    {info.authenticator_added.is_some().then(|| view! {
                        <button type="button" class="button" aria-label="Remove the authenticator app"
                            on:click=move |_| panel.set(Panel::RemoveAuthenticator)>"Remove"</button>
                    })}
                </div>
            </li>
            <Show when=move || on>
                <li>
                    <div>
                        <strong>"Backup codes"</strong>
                        <p class="hint" id="codes-left">{format!("{} unused", info.backup_codes_left)}</p>
                        <Show when=move || info.backup_codes_low>
                            <p class="notice notice-error" role="status">
                                "You are running out of backup codes. Create new ones."
                            </p>
                        </Show>
                    </div>
                    <button type="button" class="button" on:click=move |_| panel.set(Panel::Regenerate)>
                        "Create new codes"
                    </button>
                </li>
            </Show>
        </ul>
    }
}

/// The way out, below every method: refused (with the reason) while the organisation
/// requires two-step authentication.
#[component]
fn TurnOffEntry(
    info: crate::api_two_factor::TwoFactorInfo,
    panel: RwSignal<Panel>,
) -> impl IntoView {
    info.enabled.then(|| {
        if info.organisation_requires {
            view! { <p class="hint">"Your organisation requires two-step authentication, so it cannot be turned off."</p> }.into_any()
        } else {
            view! {
                <div class="danger-zone">
                    <button type="button" class="button danger" on:click=move |_| panel.set(Panel::TurnOff)>
                        "Turn off two-step authentication"
                    </button>
                </div>
            }.into_any()
        }
    })
}

#[component]
fn Regenerate(panel: RwSignal<Panel>) -> impl IntoView {
    let action = ServerAction::<RegenerateBackupCodes>::new();
    Effect::new(move || {
        if let Some(Ok(codes)) = action.value().get() {
            panel.set(Panel::ShowCodes(codes));
        }
    });
    view! {
        <h2>"Create new backup codes"</h2>
        <p>"Your current backup codes will stop working at once."</p>
        <StepUpForm id="regen-password" submit="Create new codes" pending="Creating…" danger=false
            error=action_error(action) busy=action.pending().into()
            on_password=move |password| { action.dispatch(RegenerateBackupCodes { password }); }
            on_cancel=move |_| panel.set(Panel::Overview)/>
    }
}

#[component]
fn TurnOff(panel: RwSignal<Panel>) -> impl IntoView {
    let action = ServerAction::<DisableTwoFactor>::new();
    Effect::new(move || {
        if let Some(Ok(())) = action.value().get() {
            panel.set(Panel::Overview);
        }
    });
    view! {
        <h2>"Turn off two-step authentication"</h2>
        <p>"Your passkeys, authenticator app and backup codes will be removed. Only your password will protect your account."</p>
        <StepUpForm id="off-password" submit="Turn off" pending="Turning off…" danger=true
            error=action_error(action) busy=action.pending().into()
            on_password=move |password| { action.dispatch(DisableTwoFactor { password }); }
            on_cancel=move |_| panel.set(Panel::Overview)/>
    }
}

#[component]
fn RemoveAuthenticatorPanel(panel: RwSignal<Panel>) -> impl IntoView {
    let action = ServerAction::<RemoveAuthenticator>::new();
    Effect::new(move || {
        if let Some(Ok(())) = action.value().get() {
            panel.set(Panel::Overview);
        }
    });
    view! {
        <h2>"Remove the authenticator app"</h2>
        <p>"Its codes will stop working. If it is your last two-step method, two-step authentication turns off."</p>
        <StepUpForm id="remove-app-password" submit="Remove app" pending="Removing…" danger=true
            error=action_error(action) busy=action.pending().into()
            on_password=move |password| { action.dispatch(RemoveAuthenticator { password }); }
            on_cancel=move |_| panel.set(Panel::Overview)/>
    }
}

#[component]
fn RemovePasskeyPanel(passkey: PasskeyInfo, panel: RwSignal<Panel>) -> impl IntoView {
    let action = ServerAction::<RemovePasskey>::new();
    Effect::new(move || {
        if let Some(Ok(())) = action.value().get() {
            panel.set(Panel::Overview);
        }
    });
    let id = passkey.id.clone();
    view! {
        <h2>{format!("Remove the passkey \"{}\"", passkey.name)}</h2>
        <p>"You will no longer be able to sign in with it. If it is your last two-step method, two-step authentication turns off."</p>
        <StepUpForm id="remove-password" submit="Remove passkey" pending="Removing…" danger=true
            error=action_error(action) busy=action.pending().into()
            on_password=move |password| { action.dispatch(RemovePasskey { id: id.clone(), password }); }
            on_cancel=move |_| panel.set(Panel::Overview)/>
    }
}

/// A sensitive change asks for the current password first (step-up); this is that form.
#[component]
fn StepUpForm(
    id: &'static str,
    submit: &'static str,
    pending: &'static str,
    danger: bool,
    error: Signal<Option<crate::error::AppError>>,
    busy: Signal<bool>,
    #[prop(into)] on_password: Callback<String>,
    #[prop(into)] on_cancel: Callback<()>,
) -> impl IntoView {
    let password = RwSignal::new(String::new());
    view! {
        <form on:submit=move |ev| {
            ev.prevent_default();
            on_password.run(password.get_untracked());
        } novalidate>
            <ErrorNotice error/>
            <div class="field">
                <label for=id>"Your current password"</label>
                <input id=id type="password" autocomplete="current-password" required bind:value=password/>
            </div>
            <div class="actions">
                <button type="submit" class=if danger { "button danger" } else { "button primary" }
                    disabled=move || busy.get()>
                    {move || if busy.get() { pending } else { submit }}
                </button>
                <button type="button" class="link" on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </form>
    }
}
