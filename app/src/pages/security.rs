//! My profile → Two-step authentication: status, authenticator app, backup codes, off.

use leptos::prelude::*;

use super::authenticator::AuthenticatorSetupFlow;
use super::backup_codes::BackupCodesPanel;
use super::passkeys::{AddPasskey, PasskeyList};
use super::{action_error, ErrorNotice, Page, SubmitButton};
use crate::api::passkeys::{list_passkeys, PasskeyInfo, RemovePasskey};
use crate::api::two_factor::{
    two_factor_status, DisableTwoFactor, RegenerateBackupCodes, RemoveAuthenticator, TwoFactorInfo,
};
use crate::api::types::MethodAdded;

#[derive(Clone, PartialEq)]
enum Panel {
    Overview,
    AddAuthenticator,
    ShowCodes(Vec<String>),
    Regenerate,
    TurnOff,
    AddPasskey,
    Remove(Removal),
}

/// A method about to be removed, and what removing it means for the account.
#[derive(Clone, PartialEq)]
struct Removal {
    factor: Factor,
    /// It is the only passkey or app left: removing it turns two-step authentication off.
    last: bool,
    organisation_requires: bool,
}

#[derive(Clone, PartialEq)]
enum Factor {
    Passkey(PasskeyInfo),
    Authenticator,
}

#[component]
pub fn SecurityPage() -> impl IntoView {
    view! {
        <Page title="Two-step authentication">
            <SecurityPanel/>
        </Page>
    }
}

/// Everything on the page changes in place (adding a method, showing new codes), so the
/// whole card is one island. Its first data is loaded on the server and sent with it.
#[island(lazy)]
fn SecurityPanel() -> impl IntoView {
    let panel = RwSignal::new(Panel::Overview);
    let refresh = RwSignal::new(0u32);
    let overview = move || (matches!(panel.get(), Panel::Overview), refresh.get());
    let status = Resource::new(overview, |_| two_factor_status());
    let passkeys = Resource::new(overview, |_| list_passkeys());
    let back = Callback::new(move |_| panel.set(Panel::Overview));
    // The server counts the methods; it decides again when the removal is made (and
    // refuses while the organisation requires two-step authentication).
    let remove = Callback::new(move |factor: Factor| {
        let info = status.get_untracked().and_then(Result::ok);
        panel.set(Panel::Remove(Removal {
            factor,
            last: info.as_ref().is_some_and(|i| i.methods <= 1),
            organisation_requires: info.is_some_and(|i| i.organisation_requires),
        }));
    });
    let added = move |added: MethodAdded| {
        panel.set(match added.backup_codes {
            Some(codes) => Panel::ShowCodes(codes),
            None => Panel::Overview,
        })
    };

    view! {
        <section class="card" aria-labelledby="tf-heading">
            <div class="card-head">
                <h1 id="tf-heading">"Two-step authentication"</h1>
                // Not while new codes are on screen: they are confirmed saved first.
                <Show when=move || !matches!(panel.get(), Panel::ShowCodes(_))>
                    <a href="/">"Back to your account"</a>
                </Show>
            </div>
            {move || match panel.get() {
                Panel::Overview => view! {
                    <Suspense fallback=|| view! { <p role="status">"Loading…"</p> }>
                        {move || status.get().map(|r| match r {
                            Ok(info) => view! { <Overview info panel on_remove=remove/> }.into_any(),
                            Err(e) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }.into_any(),
                        })}
                        {move || passkeys.get().map(|r| match r {
                            Ok(list) => view! {
                                <PasskeyList passkeys=list
                                    on_add=move |_| panel.set(Panel::AddPasskey)
                                    on_remove=move |p| remove.run(Factor::Passkey(p))
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
                Panel::Remove(removal) => view! { <RemoveFactor removal panel/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Overview(
    info: TwoFactorInfo,
    panel: RwSignal<Panel>,
    on_remove: Callback<Factor>,
) -> impl IntoView {
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
                            on:click=move |_| on_remove.run(Factor::Authenticator)>"Remove"</button>
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
fn TurnOffEntry(info: TwoFactorInfo, panel: RwSignal<Panel>) -> impl IntoView {
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

/// Removing a passkey or the authenticator app. When it is the last method the page says
/// plainly that two-step authentication turns off (or, while the organisation requires
/// it, that another method must be added first).
#[component]
fn RemoveFactor(removal: Removal, panel: RwSignal<Panel>) -> impl IntoView {
    let passkey = ServerAction::<RemovePasskey>::new();
    let app = ServerAction::<RemoveAuthenticator>::new();
    Effect::new(move || {
        if matches!(passkey.value().get(), Some(Ok(())))
            || matches!(app.value().get(), Some(Ok(())))
        {
            panel.set(Panel::Overview);
        }
    });
    let (title, consequence, submit) = match &removal.factor {
        Factor::Passkey(p) => (
            format!("Remove the passkey \"{}\"", p.name),
            "You will no longer be able to sign in with it.",
            "Remove passkey",
        ),
        Factor::Authenticator => (
            "Remove the authenticator app".to_string(),
            "Its codes will stop working.",
            "Remove app",
        ),
    };
    let warning = match (removal.last, removal.organisation_requires) {
        (false, _) => None,
        (true, false) => Some(view! {
            <p class="notice notice-error" id="last-method-warning" role="status">
                "This is your last two-step method. Removing it turns two-step authentication off and deletes your backup codes: only your password will protect your account."
            </p>
        }.into_any()),
        (true, true) => Some(view! {
            <p class="notice notice-info" id="last-method-warning" role="status">
                "Your organisation requires two-step authentication, and this is your last method. Add another passkey or app first, then remove this one."
            </p>
        }.into_any()),
    };
    let blocked = removal.last && removal.organisation_requires;
    let factor = removal.factor.clone();
    let (passkey_error, app_error) = (action_error(passkey), action_error(app));
    let error = Signal::derive(move || passkey_error.get().or_else(|| app_error.get()));
    let busy = Signal::derive(move || passkey.pending().get() || app.pending().get());
    view! {
        <h2>{title}</h2>
        <p>{consequence}</p>
        {warning}
        {if blocked {
            view! { <button type="button" class="button" on:click=move |_| panel.set(Panel::Overview)>"Back"</button> }.into_any()
        } else {
            view! {
                <StepUpForm id="remove-password" submit pending="Removing…" danger=true error busy
                    on_password=move |password| match &factor {
                        Factor::Passkey(p) => { passkey.dispatch(RemovePasskey { id: p.id.clone(), password }); }
                        Factor::Authenticator => { app.dispatch(RemoveAuthenticator { password }); }
                    }
                    on_cancel=move |_| panel.set(Panel::Overview)/>
            }.into_any()
        }}
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
                <SubmitButton label=submit pending busy danger/>
                <button type="button" class="link" on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </form>
    }
}
