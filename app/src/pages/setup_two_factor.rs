//! The setup wizard: when the organisation requires two-step authentication and the user
//! has none, this is the only page open to them until a method is set up.

use leptos::prelude::*;

use super::authenticator::AuthenticatorSetupFlow;
use super::backup_codes::BackupCodesPanel;
use super::passkeys::AddPasskey;
use super::{go_to, Page};
use crate::api::types::MethodAdded;

#[derive(Clone, Copy, PartialEq)]
enum Choice {
    Undecided,
    Passkey,
    App,
}

#[component]
pub fn SetupTwoFactorPage() -> impl IntoView {
    view! {
        <Page title="Set up two-step authentication">
            <SetupWizard/>
        </Page>
    }
}

#[island(lazy)]
fn SetupWizard() -> impl IntoView {
    let added = RwSignal::new(None::<MethodAdded>);
    let choice = RwSignal::new(Choice::Undecided);
    view! {
        <section class="card narrow" aria-labelledby="wizard-heading">
            <h1 id="wizard-heading">"Set up two-step authentication"</h1>
            {move || match added.get() {
                None => view! {
                    <p>
                        "Your organisation requires a second step when you sign in, to protect patient data. "
                        "Set it up now; it takes a minute."
                    </p>
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
                                on_cancel=move |_| choice.set(Choice::Undecided)/>
                        }.into_any(),
                        Choice::App => view! {
                            <AuthenticatorSetupFlow ask_password=false on_added=move |a| added.set(Some(a))/>
                            <button type="button" class="link" on:click=move |_| choice.set(Choice::Undecided)>"Choose another method"</button>
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
        </section>
    }
}
