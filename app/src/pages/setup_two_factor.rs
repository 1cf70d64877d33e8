//! The setup wizard: when the organisation requires two-step authentication and the user
//! has no method it accepts, or after an admin reset theirs, this is the only page open to
//! them until one is set up — except during a grace period, when it may be put off. It
//! offers only the methods the policy accepts. After a reset it first asks for the
//! one-time setup code.

use leptos::prelude::*;

use super::authenticator::AuthenticatorSetupFlow;
use super::backup_codes::BackupCodesPanel;
use super::passkeys::AddPasskey;
use super::{action_error, go_to, ErrorNotice, Page, SubmitButton};
use crate::api::two_factor::{setup_wizard_status, EnterSetupCode, SkipSetup};
use crate::api::types::MethodAdded;

#[derive(Clone, Copy, PartialEq)]
enum Choice {
    Undecided,
    Passkey,
    App,
}

#[component]
pub fn SetupTwoFactorPage() -> impl IntoView {
    let status = Resource::new_blocking(|| (), |_| setup_wizard_status());
    view! {
        <Page title="Set up two-step authentication">
            <Suspense fallback=|| ()>
                {move || status.get().map(|s| match s {
                    Ok(s) if s.owes_setup_code && s.setup_code_expired => view! {
                        <section class="card narrow" aria-labelledby="code-heading">
                            <h1 id="code-heading">"Your setup code has expired"</h1>
                            <p id="code-expired">"Your two-step authentication was reset, and the setup code you were given works for 24 hours only. Ask your administrator or helpdesk for a new one."</p>
                        </section>
                    }.into_any(),
                    Ok(s) if s.owes_setup_code => view! { <SetupCodeForm/> }.into_any(),
                    Ok(s) => view! {
                        <SetupWizard explanation=s.explanation passkeys=s.passkeys app=s.app
                            skip=s.skip skip_until=s.skip_until days_left=s.days_left/>
                    }.into_any(),
                    Err(e) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </Suspense>
        </Page>
    }
}

/// After a reset: the setup code from the administrator or helpdesk opens the wizard.
#[island(lazy)]
fn SetupCodeForm() -> impl IntoView {
    let code = RwSignal::new(String::new());
    let action = ServerAction::<EnterSetupCode>::new();
    let error = action_error(action);
    Effect::new(move || {
        if let Some(Ok(())) = action.value().get() {
            go_to("/setup-2fa");
        }
    });
    view! {
        <section class="card narrow" aria-labelledby="code-heading">
            <h1 id="code-heading">"Enter your setup code"</h1>
            <p>"Your two-step authentication was reset by your organisation. Enter the one-time setup code they gave you; then you can set up a passkey or an authenticator app again."</p>
            <form on:submit=move |ev| {
                ev.prevent_default();
                action.dispatch(EnterSetupCode { code: code.get_untracked() });
            } novalidate>
                <ErrorNotice error/>
                <div class="field">
                    <label for="setup-code">"Setup code"</label>
                    <input id="setup-code" autocomplete="off" autocapitalize="characters" spellcheck="false"
                        maxlength="24" required aria-describedby="setup-code-hint" bind:value=code/>
                    <p id="setup-code-hint" class="hint">"Like 7K3M-Q9XD-2HPW-4ZRT."</p>
                </div>
                <SubmitButton label="Continue" pending="Checking…" busy=action.pending()/>
            </form>
        </section>
    }
}

/// The methods the policy accepts, and — during a grace period — a way to put it off.
#[island(lazy)]
fn SetupWizard(
    explanation: String,
    passkeys: bool,
    app: bool,
    skip: Option<String>,
    skip_until: Option<String>,
    days_left: Option<i64>,
) -> impl IntoView {
    let added = RwSignal::new(None::<MethodAdded>);
    // With one method allowed, it is the choice.
    let choice = RwSignal::new(match (passkeys, app) {
        (true, false) => Choice::Passkey,
        (false, true) => Choice::App,
        _ => Choice::Undecided,
    });
    let both = passkeys && app;
    let skip_action = ServerAction::<SkipSetup>::new();
    let skip_error = action_error(skip_action);
    Effect::new(move || {
        if let Some(Ok(result)) = skip_action.value().get() {
            go_to(&result.next);
        }
    });
    let left = match days_left {
        Some(1) => "1 day left".to_string(),
        Some(n) => format!("{n} days left"),
        None => String::new(),
    };
    let day = skip_until.unwrap_or_default();
    let offer = match skip.as_deref() {
        Some("grace") => Some((
            format!("Set it up before {day} ({left}). Until then you may put it off."),
            "Not now, remind me later",
        )),
        Some("exception") => Some((
            format!("An administrator let you sign in without it through {day} ({left})."),
            "Continue without it for now",
        )),
        Some(_) => Some((
            "Your organisation no longer requires it; you may set it up later from your profile."
                .to_string(),
            "Continue without it",
        )),
        None => None,
    };
    let countdown = offer.map(|(text, button)| {
        view! {
            <div class="grace" id="grace-offer">
                <p>{text}</p>
                <ErrorNotice error=skip_error/>
                <button type="button" class="button" id="skip-setup"
                    disabled=move || skip_action.pending().get()
                    on:click=move |_| { skip_action.dispatch(SkipSetup {}); }>
                    {move || if skip_action.pending().get() { "Going on…" } else { button }}
                </button>
            </div>
        }
    });
    view! {
        <section class="card narrow" aria-labelledby="wizard-heading">
            <h1 id="wizard-heading">"Set up two-step authentication"</h1>
            {move || match added.get() {
                None => view! {
                    <p id="wizard-why">{explanation.clone()} " It protects patient data; setting it up takes a minute."</p>
                    {move || match choice.get() {
                        Choice::Undecided => view! {
                            <div class="choices">
                                <button type="button" class="button primary" on:click=move |_| choice.set(Choice::Passkey)>
                                    "Use a passkey (recommended)"
                                </button>
                                <p class="hint">"Touch ID, Face ID, Windows Hello or a security key."</p>
                                <button type="button" class="button" on:click=move |_| choice.set(Choice::App)>
                                    "Use an authenticator app"
                                </button>
                                <p class="hint">"Google Authenticator, Microsoft Authenticator, 1Password …"</p>
                            </div>
                        }.into_any(),
                        Choice::Passkey => view! {
                            <AddPasskey ask_password=false on_added=move |a| added.set(Some(a))
                                on_cancel=move |_| if both { choice.set(Choice::Undecided) }/>
                        }.into_any(),
                        Choice::App => view! {
                            <AuthenticatorSetupFlow ask_password=false on_added=move |a| added.set(Some(a))/>
                            {both.then(|| view! {
                                <button type="button" class="link" on:click=move |_| choice.set(Choice::Undecided)>"Choose another method"</button>
                            })}
                        }.into_any(),
                    }}
                }.into_any(),
                Some(a) => {
                    let next = a.next.clone().unwrap_or_else(|| "/".into());
                    view! {
                        <p class="notice notice-ok" role="status">"Two-step authentication is on."</p>
                        <BackupCodesPanel codes=a.backup_codes.unwrap_or_default()
                            on_done=move |_| go_to(&next)/>
                    }.into_any()
                }
            }}
            {countdown}
        </section>
    }
}
