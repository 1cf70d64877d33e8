//! The setup wizard: when the organisation requires two-step authentication and the user
//! has none, this is the only page open to them until a method is set up.

use leptos::prelude::*;

use super::authenticator::AuthenticatorSetupFlow;
use super::backup_codes::BackupCodesPanel;
use super::{go_to, Page};
use crate::api_two_factor::AuthenticatorAdded;

#[component]
pub fn SetupTwoFactorPage() -> impl IntoView {
    let added = RwSignal::new(None::<AuthenticatorAdded>);
    view! {
        <Page title="Set up two-step authentication">
            <section class="card narrow" aria-labelledby="wizard-heading">
                <h1 id="wizard-heading">"Set up two-step authentication"</h1>
                {move || match added.get() {
                    None => view! {
                        <p>
                            "Your organisation requires a second step when you sign in, to protect patient data. "
                            "Set it up now; it takes a minute."
                        </p>
                        <AuthenticatorSetupFlow ask_password=false on_added=move |a| added.set(Some(a))/>
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
        </Page>
    }
}
