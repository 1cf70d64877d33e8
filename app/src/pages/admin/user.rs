//! `/admin/users/:id`: one person — profile, methods, sessions, recent events — and what
//! can be done to the account. The page is rendered on the server; the actions, with
//! their step-up prompt, are a lazy island.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::user_actions::UserActions;
use super::{role_label, ConsolePage, TwoStepBadge};
use crate::api::admin::step_up::console_me;
use crate::api::admin::user::{user_details, UserPage};

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
                                <AppSignIns page=page.clone()/>
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
                    {u.policy_note.clone().map(|n| view! { " " <span class="badge info" id="user-policy-note">{n}</span> })}
                </dd>
                {page.exception.clone().map(|e| view! {
                    <dt>"Exception"</dt>
                    <dd id="user-exception">{format!("Through {} (UTC): {} (granted by {} on {})", e.until, e.reason, e.granted_by, e.granted)}</dd>
                })}
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

/// What an `amr` says, in words.
fn how(amr: &str) -> &'static str {
    let has = |m: &str| amr.split(' ').any(|x| x == m);
    if has("pop") {
        "password and passkey"
    } else if has("otp") {
        "password and authenticator code"
    } else if has("backup_code") {
        "password and backup code"
    } else {
        "password only"
    }
}

#[component]
fn AppSignIns(page: UserPage) -> impl IntoView {
    let empty = page.app_sign_ins.is_empty();
    view! {
        <section class="card" aria-labelledby="app-sign-ins-heading">
            <h2 id="app-sign-ins-heading">"Apps"</h2>
            {empty.then(|| view! { <p id="no-app-sign-ins">"Has not signed in to any app through Tessera."</p> })}
            <ul class="rows" id="user-app-sign-ins">
                {page.app_sign_ins.into_iter().map(|(name, at, amr)| view! {
                    <li><div>
                        <strong>{name}</strong>
                        <p class="hint">{format!("Last signed in {at}, with {}.", how(&amr))}</p>
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
