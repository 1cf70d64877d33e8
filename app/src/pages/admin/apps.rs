//! `/admin/apps`: the apps that sign people in through Tessera (OpenID Connect), and the
//! sites behind the forward-auth gate. Admins register, switch off, give a new secret and
//! remove, each after a fresh step-up; a new secret is shown once. Admins only.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

use super::step_up::StepUpForm;
use super::{role_label, ConsolePage};
use crate::api::admin::apps::{
    add_gate_site, apps, new_app_secret, register_app, remove_app, remove_gate_site,
    set_app_enabled, AppForm, AppRow, AppsPage, NewCredentials, SiteRow,
};
use crate::api::admin::step_up::{console_me, ConsoleUser};
use crate::error::AppError;
use crate::pages::ErrorNotice;

const ROLES: [&str; 4] = ["admin", "helpdesk", "auditor", "staff"];

#[component]
pub fn AppsConsolePage() -> impl IntoView {
    let me = Resource::new_blocking(|| (), |_| console_me());
    let page = Resource::new_blocking(|| (), |_| apps());
    view! {
        <Title text="Apps"/>
        <Suspense fallback=|| view! { <p role="status">"Loading…"</p> }>
            {move || me.get().zip(page.get()).map(|(me, page)| {
                let me = me.ok();
                view! {
                    <ConsolePage title="Apps" me=me.clone()>
                        <h1>"Apps"</h1>
                        {match (me, page) {
                            (Some(me), Ok(page)) => view! { <AppsConsole page me/> }.into_any(),
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
enum Action {
    Register(AppForm),
    NewSecret(String),
    SetEnabled(String, bool),
    Remove(String),
    AddSite(String, String, Vec<String>, bool),
    RemoveSite(String),
}

#[derive(Clone, PartialEq)]
enum Pane {
    List,
    StepUp(Box<Action>),
    /// Credentials to copy now: they are not shown again.
    Credentials(NewCredentials),
}

fn roles_text(roles: &[String]) -> String {
    if roles.len() == ROLES.len() {
        return "everyone".into();
    }
    roles
        .iter()
        .map(|r| role_label(r))
        .collect::<Vec<_>>()
        .join(", ")
}

#[island(lazy)]
fn AppsConsole(page: AppsPage, me: ConsoleUser) -> impl IntoView {
    let pane = RwSignal::new(Pane::List);
    let stepped_up = RwSignal::new(me.stepped_up);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<AppError>);
    let message = RwSignal::new(None::<String>);
    let form = RwSignal::new(AppForm {
        roles: ROLES.iter().map(|r| r.to_string()).collect(),
        access_token_secs: 300,
        alg: "RS256".into(),
        ..AppForm::default()
    });
    let site_name = RwSignal::new(String::new());
    let site_host = RwSignal::new(String::new());
    let site_password_enough = RwSignal::new(false);
    let can_change = me.two_factor_enabled;

    let perform = Callback::new(move |action: Action| {
        if !stepped_up.get_untracked() {
            pane.set(Pane::StepUp(Box::new(action)));
            return;
        }
        busy.set(true);
        error.set(None);
        message.set(None);
        spawn_local(async move {
            let result: Result<Option<String>, AppError> = match action.clone() {
                Action::Register(form) => register_app(form).await.map(|c| {
                    pane.set(Pane::Credentials(c));
                    None
                }),
                Action::NewSecret(id) => new_app_secret(id.clone()).await.map(|secret| {
                    pane.set(Pane::Credentials(NewCredentials {
                        client_id: id,
                        client_secret: Some(secret),
                    }));
                    None
                }),
                Action::SetEnabled(id, on) => set_app_enabled(id, on).await.map(|_| {
                    Some(if on {
                        "Switched on.".into()
                    } else {
                        "Switched off: its tokens no longer work.".into()
                    })
                }),
                Action::Remove(id) => remove_app(id)
                    .await
                    .map(|_| Some("Removed, with everything it was given.".into())),
                Action::AddSite(name, host, roles, enough) => {
                    add_gate_site(name, host, roles, enough)
                        .await
                        .map(|_| Some("The site is protected.".into()))
                }
                Action::RemoveSite(host) => remove_gate_site(host).await.map(|_| {
                    Some("The site is no longer protected: its proxy lets nobody through.".into())
                }),
            };
            busy.set(false);
            match result {
                Ok(Some(text)) => {
                    message.set(Some(format!("{text} Reload to see the list as it is now.")));
                    pane.set(Pane::List);
                }
                Ok(None) => {}
                Err(AppError::StepUpRequired) => {
                    stepped_up.set(false);
                    pane.set(Pane::StepUp(Box::new(action)));
                }
                Err(e) => {
                    pane.set(Pane::List);
                    error.set(Some(e));
                }
            }
        });
    });

    let AppsPage {
        apps,
        sites,
        issuer,
        gate_domain,
    } = page;
    let rows = apps
        .into_iter()
        .map(|app| view! { <AppItem app perform busy can_change/> })
        .collect_view();
    let site_rows = sites
        .into_iter()
        .map(|site| view! { <SiteItem site perform busy can_change/> })
        .collect_view();
    let gate_on = gate_domain.is_some();
    let issuer_shown = issuer.clone();

    view! {
        <ErrorNotice error=error.into()/>
        <div role="status" aria-live="polite">
            {move || message.get().map(|m| view! { <p class="notice notice-ok" id="apps-result">{m}</p> })}
        </div>
        {(!can_change).then(|| view! {
            <p class="hint">"Changes here need your own two-step authentication: set it up in your profile first."</p>
        })}
        {move || match pane.get() {
            Pane::StepUp(action) => view! {
                <section class="card" aria-labelledby="stepup-heading">
                    <h2 id="stepup-heading">"Confirm it is you"</h2>
                    <StepUpForm me=me.clone()
                        on_done=move |_| { stepped_up.set(true); perform.run((*action).clone()); }
                        on_cancel=move |_| pane.set(Pane::List)/>
                </section>
            }.into_any(),
            Pane::Credentials(c) => view! {
                <section class="card" aria-labelledby="cred-heading" id="credentials">
                    <h2 id="cred-heading">"Give these to the app"</h2>
                    <dl class="facts">
                        <dt>"Issuer"</dt><dd><code>{issuer.clone()}</code></dd>
                        <dt>"Client id"</dt><dd><code id="client-id">{c.client_id.clone()}</code></dd>
                        {c.client_secret.clone().map(|s| view! {
                            <dt>"Client secret"</dt><dd><code id="client-secret">{s}</code></dd>
                        })}
                    </dl>
                    <p class="notice notice-info">{if c.client_secret.is_some() {
                        "The secret is shown this once: Tessera keeps only its hash. Copy it into the app's settings now."
                    } else {
                        "A public app has no secret: it proves itself with PKCE."
                    }}</p>
                    <button type="button" class="button" on:click=move |_| pane.set(Pane::List)>"Done"</button>
                </section>
            }.into_any(),
            Pane::List => ().into_any(),
        }}
        <section class="card" aria-labelledby="apps-heading">
            <h2 id="apps-heading">"Apps that sign in through Tessera"</h2>
            <p class="hint">"OpenID Connect. An app is configured with the issuer "<code>{issuer_shown}</code>", its client id and its secret."</p>
            <table class="list" id="apps-list">
                <thead><tr><th scope="col">"App"</th><th scope="col">"Who"</th><th scope="col">"Sign-in needed"</th><th scope="col">"Status"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
        <section class="card" aria-labelledby="register-heading">
            <h2 id="register-heading">"Register an app"</h2>
            <form novalidate on:submit=move |ev| { ev.prevent_default(); perform.run(Action::Register(form.get_untracked())); }>
                <label for="app-name">"Name"</label>
                <input id="app-name" required prop:value=move || form.with(|f| f.name.clone())
                    on:input=move |ev| form.update(|f| f.name = event_target_value(&ev))/>
                <label for="app-redirects">"Redirect addresses (one per line, exact)"</label>
                <textarea id="app-redirects" rows="2" prop:value=move || form.with(|f| f.redirect_uris.clone())
                    on:input=move |ev| form.update(|f| f.redirect_uris = event_target_value(&ev))></textarea>
                <label for="app-logouts">"After sign-out, back to (optional, one per line)"</label>
                <textarea id="app-logouts" rows="1" prop:value=move || form.with(|f| f.post_logout_uris.clone())
                    on:input=move |ev| form.update(|f| f.post_logout_uris = event_target_value(&ev))></textarea>
                <label for="app-backchannel">"Back-channel logout address (optional)"</label>
                <input id="app-backchannel" prop:value=move || form.with(|f| f.backchannel_logout_uri.clone())
                    on:input=move |ev| form.update(|f| f.backchannel_logout_uri = event_target_value(&ev))/>
                <fieldset>
                    <legend>"Who may use it"</legend>
                    {ROLES.iter().map(|role| {
                        let role = role.to_string();
                        let r2 = role.clone();
                        let label = role_label(&role);
                        view! {
                            <label><input type="checkbox" prop:checked=move || form.with(|f| f.roles.contains(&role))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    let r = r2.clone();
                                    form.update(|f| { f.roles.retain(|x| *x != r); if on { f.roles.push(r); } });
                                }/>" " {label}</label>
                        }
                    }).collect_view()}
                </fieldset>
                <label><input type="checkbox" id="app-password-enough" prop:checked=move || form.with(|f| f.password_enough)
                    on:change=move |ev| form.update(|f| f.password_enough = event_target_checked(&ev))/>
                    " The password alone is enough (otherwise two steps are required)"</label>
                <label><input type="checkbox" id="app-public" prop:checked=move || form.with(|f| f.public)
                    on:change=move |ev| form.update(|f| f.public = event_target_checked(&ev))/>
                    " A public app (a phone or browser app that cannot keep a secret)"</label>
                <label><input type="checkbox" id="app-refresh" prop:checked=move || form.with(|f| f.refresh_tokens)
                    on:change=move |ev| form.update(|f| f.refresh_tokens = event_target_checked(&ev))/>
                    " Refresh tokens (the app stays signed in while the Tessera session lasts)"</label>
                <label for="app-token-secs">"Access tokens live (seconds, 60–3600)"</label>
                <input id="app-token-secs" type="number" min="60" max="3600" prop:value=move || form.with(|f| f.access_token_secs.to_string())
                    on:input=move |ev| form.update(|f| f.access_token_secs = event_target_value(&ev).parse().unwrap_or(0))/>
                <label for="app-alg">"ID-token signature"</label>
                <select id="app-alg" on:change=move |ev| form.update(|f| f.alg = event_target_value(&ev))>
                    <option value="RS256" selected=true>"RS256 (every app understands it)"</option>
                    <option value="ES256">"ES256"</option>
                </select>
                <div class="actions">
                    <button type="submit" class="button primary" id="register-app" disabled=move || busy.get() || !can_change>"Register"</button>
                </div>
            </form>
        </section>
        <section class="card" aria-labelledby="sites-heading">
            <h2 id="sites-heading">"Sites behind the gate"</h2>
            {match gate_domain.clone() {
                Some(domain) => view! {
                    <p class="hint">"For sites that cannot speak OpenID Connect: their reverse proxy asks Tessera about every request (see the README). Sites under "<code>{domain}</code>"."</p>
                }.into_any(),
                None => view! {
                    <p class="hint" id="gate-off">"The gate is off: the operator turns it on with TESSERA_GATE_DOMAIN."</p>
                }.into_any(),
            }}
            <table class="list" id="sites-list">
                <thead><tr><th scope="col">"Site"</th><th scope="col">"Who"</th><th scope="col">"Sign-in needed"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>{site_rows}</tbody>
            </table>
            {gate_on.then(|| view! {
                <form novalidate on:submit=move |ev| {
                    ev.prevent_default();
                    perform.run(Action::AddSite(site_name.get_untracked(), site_host.get_untracked(),
                        ROLES.iter().map(|r| r.to_string()).collect(), site_password_enough.get_untracked()));
                }>
                    <label for="site-name">"Name"</label>
                    <input id="site-name" prop:value=move || site_name.get() on:input=move |ev| site_name.set(event_target_value(&ev))/>
                    <label for="site-host">"Host name (e.g. wiki.clinic.org)"</label>
                    <input id="site-host" prop:value=move || site_host.get() on:input=move |ev| site_host.set(event_target_value(&ev))/>
                    <label><input type="checkbox" prop:checked=move || site_password_enough.get()
                        on:change=move |ev| site_password_enough.set(event_target_checked(&ev))/>
                        " The password alone is enough"</label>
                    <div class="actions">
                        <button type="submit" class="button" id="add-site" disabled=move || busy.get() || !can_change>"Protect this site"</button>
                    </div>
                </form>
            })}
        </section>
    }
    .into_any()
}

#[component]
fn AppItem(
    app: AppRow,
    perform: Callback<Action>,
    busy: RwSignal<bool>,
    can_change: bool,
) -> impl IntoView {
    let id = app.client_id.clone();
    let (id1, id2, id3) = (id.clone(), id.clone(), id.clone());
    let enabled = app.enabled;
    let confidential = app.confidential;
    let name = app.name.clone();
    view! {
        <tr>
            <th scope="row">{app.name.clone()}<br/><span class="hint"><code>{app.client_id.clone()}</code>
                {if app.confidential { " · confidential" } else { " · public" }} " · " {app.alg.clone()}</span></th>
            <td>{roles_text(&app.roles)}</td>
            <td>{if app.password_enough { "Password" } else { "Two steps" }}</td>
            <td>{if enabled { "On" } else { "Switched off" }}</td>
            <td class="actions wrap">
                {can_change.then(|| view! {
                    <button type="button" class="button" disabled=move || busy.get()
                        aria-label=format!("{} {name}", if enabled { "Switch off" } else { "Switch on" })
                        on:click=move |_| perform.run(Action::SetEnabled(id1.clone(), !enabled))>
                        {if enabled { "Switch off" } else { "Switch on" }}</button>
                    {confidential.then(|| view! {
                        <button type="button" class="button" disabled=move || busy.get()
                            on:click=move |_| perform.run(Action::NewSecret(id2.clone()))>"New secret"</button>
                    })}
                    <button type="button" class="button danger" disabled=move || busy.get()
                        on:click=move |_| perform.run(Action::Remove(id3.clone()))>"Remove"</button>
                })}
            </td>
        </tr>
    }
}

#[component]
fn SiteItem(
    site: SiteRow,
    perform: Callback<Action>,
    busy: RwSignal<bool>,
    can_change: bool,
) -> impl IntoView {
    let host = site.host.clone();
    view! {
        <tr>
            <th scope="row">{site.name.clone()}<br/><span class="hint"><code>{site.host.clone()}</code></span></th>
            <td>{roles_text(&site.roles)}</td>
            <td>{if site.password_enough { "Password" } else { "Two steps" }}</td>
            <td>{can_change.then(|| view! {
                <button type="button" class="button danger" disabled=move || busy.get()
                    on:click=move |_| perform.run(Action::RemoveSite(host.clone()))>"Stop protecting"</button>
            })}</td>
        </tr>
    }
}
