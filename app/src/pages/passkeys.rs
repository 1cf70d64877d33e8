//! The passkeys part of the security page: the list (name, added, last used, synced or
//! device-bound), adding one (name + password → the browser's prompt), renaming, removing.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{ErrorNotice, SubmitButton};
use crate::api::passkeys::{add_passkey, PasskeyInfo, RenamePasskey};
use crate::api::types::MethodAdded;
use crate::error::AppError;

#[component]
pub fn PasskeyList(
    passkeys: Vec<PasskeyInfo>,
    #[prop(into)] on_add: Callback<()>,
    #[prop(into)] on_remove: Callback<PasskeyInfo>,
    #[prop(into)] on_renamed: Callback<()>,
) -> impl IntoView {
    let empty = passkeys.is_empty();
    view! {
        <div class="passkeys">
            <div class="card-head">
                <h2 id="passkeys-heading">"Passkeys"</h2>
                <button type="button" class="button" on:click=move |_| on_add.run(())>"Add a passkey"</button>
            </div>
            <p class="hint">"Touch ID, Face ID, Windows Hello or a security key: the quickest and safest second step."</p>
            {empty.then(|| view! { <p id="no-passkeys">"No passkeys yet."</p> })}
            <ul class="rows" aria-labelledby="passkeys-heading" id="passkey-list">
                {passkeys.into_iter().map(|p| view! { <PasskeyRow passkey=p on_remove on_renamed/> }).collect_view()}
            </ul>
        </div>
    }
}

#[component]
fn PasskeyRow(
    passkey: PasskeyInfo,
    on_remove: Callback<PasskeyInfo>,
    on_renamed: Callback<()>,
) -> impl IntoView {
    let renaming = RwSignal::new(false);
    let name = RwSignal::new(passkey.name.clone());
    let rename = ServerAction::<RenamePasskey>::new();
    let error = super::action_error(rename);
    Effect::new(move || {
        if let Some(Ok(())) = rename.value().get() {
            renaming.set(false);
            on_renamed.run(());
        }
    });
    let id = passkey.id.clone();
    let input_id = format!("rename-{}", passkey.id);
    let shown = passkey.clone();
    view! {
        <li class="passkey">
            <Show when=move || renaming.get() fallback=move || {
                let p = shown.clone();
                let remove = p.clone();
                view! {
                    <div>
                        <strong class="passkey-name">{p.name.clone()}</strong>
                        <p class="hint">
                            {p.provider.clone().map(|name| format!("{name}. "))}
                            {format!("Added {}. ", p.created)}
                            {p.last_used.clone().map(|u| format!("Last used {u}.")).unwrap_or_else(|| "Not used yet.".into())}
                            " "
                            <span class="badge">{if p.synced { "Synced across devices" } else { "This device only" }}</span>
                        </p>
                    </div>
                    <div class="row-actions">
                        <button type="button" class="button" aria-label=format!("Rename the passkey {}", p.name)
                            on:click=move |_| renaming.set(true)>"Rename"</button>
                        <button type="button" class="button" aria-label=format!("Remove the passkey {}", p.name)
                            on:click=move |_| on_remove.run(remove.clone())>"Remove"</button>
                    </div>
                }
            }>
                <form class="inline" on:submit={
                    let id = id.clone();
                    move |ev: leptos::ev::SubmitEvent| {
                        ev.prevent_default();
                        rename.dispatch(RenamePasskey { id: id.clone(), name: name.get_untracked() });
                    }
                } novalidate>
                    <ErrorNotice error/>
                    <label for=input_id.clone()>"New name"</label>
                    <input id=input_id.clone() maxlength="60" required bind:value=name/>
                    <SubmitButton label="Save" pending="Saving…" busy=rename.pending()/>
                    <button type="button" class="link" on:click=move |_| renaming.set(false)>"Cancel"</button>
                </form>
            </Show>
        </li>
    }
}

/// Name + password, then the browser's prompt. `on_added` gets the result. In the setup
/// wizard (`ask_password` false) the password was just typed at sign-in.
#[component]
pub fn AddPasskey(
    #[prop(default = true)] ask_password: bool,
    #[prop(into)] on_added: Callback<MethodAdded>,
    #[prop(into)] on_cancel: Callback<()>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<AppError>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        let (n, p) = (name.get_untracked(), password.get_untracked());
        spawn_local(async move {
            match add_passkey(n, p).await {
                Ok(added) => on_added.run(added),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <h2>"Add a passkey"</h2>
        <form on:submit=submit novalidate>
            <ErrorNotice error=error.into()/>
            <div class="field">
                <label for="passkey-name">"Name"</label>
                <input id="passkey-name" maxlength="60" required aria-describedby="passkey-name-hint" bind:value=name/>
                <p id="passkey-name-hint" class="hint">"So you can tell your passkeys apart, e.g. \"Work MacBook Touch ID\"."</p>
            </div>
            {ask_password.then(|| view! {
                <div class="field">
                    <label for="passkey-password">"Your current password"</label>
                    <input id="passkey-password" type="password" autocomplete="current-password" required bind:value=password/>
                </div>
            })}
            <div class="actions">
                <SubmitButton label="Continue" pending="Waiting for your device…" busy/>
                <button type="button" class="link" on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </form>
    }
}
