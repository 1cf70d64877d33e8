//! The admin console's pages: a wing of their own under `/admin`. The server renders each
//! with its data; what reacts (selecting rows, actions with their step-up prompt) is in
//! lazy islands, so no staff page ever downloads their code.

pub mod add;
pub mod apps;
pub mod audit;
pub mod import;
pub mod report;
pub mod settings;
pub mod step_up;
pub mod user;
pub mod user_actions;
pub mod users;

use leptos::prelude::*;

use crate::api::admin::step_up::ConsoleUser;

/// The frame of every console page: the top bar with the console's links for the
/// viewer's role, and a note when the viewer may look but not change. (Each page sets its
/// `<Title>` outside its loading boundary, so the title is in the first bytes sent.)
#[component]
pub fn ConsolePage(
    title: &'static str,
    me: Option<ConsoleUser>,
    children: Children,
) -> impl IntoView {
    let look_only = me.as_ref().is_some_and(|m| m.role == "auditor");
    let is_admin = me.as_ref().is_some_and(|m| m.role == "admin");
    let no_two_step = me
        .as_ref()
        .is_some_and(|m| !m.two_factor_enabled && m.role != "auditor");
    view! {
        <header class="topbar console-bar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"▦"</span>
                "Tessera"
            </a>
            <nav aria-label="Console">
                <ul class="console-nav">
                    <li><a href="/admin/users" aria-current=if title == "Users" { Some("page") } else { None }>"Users"</a></li>
                    <li><a href="/admin/audit" aria-current=if title == "Audit trail" { Some("page") } else { None }>"Audit trail"</a></li>
                    <li><a href="/admin/report" aria-current=if title == "Report" { Some("page") } else { None }>"Report"</a></li>
                    {is_admin.then(|| view! {
                        <li><a href="/admin/apps" aria-current=if title == "Apps" { Some("page") } else { None }>"Apps"</a></li>
                    })}
                    {is_admin.then(|| view! {
                        <li><a href="/admin/settings" aria-current=if title == "Settings" { Some("page") } else { None }>"Settings"</a></li>
                    })}
                    <li><a href="/">"Your account"</a></li>
                </ul>
            </nav>
            {me.map(|m| view! { <span class="console-who">{m.display_name} " · " {role_label(&m.role)}</span> })}
        </header>
        <super::PolicyBanner/>
        <main id="main" class="page console" tabindex="-1">
            {look_only.then(|| view! {
                <p class="notice notice-info" role="status">"Your role can look at accounts and export them, not change them."</p>
            })}
            {no_two_step.then(|| view! {
                <p class="notice notice-info" role="status" id="no-two-step">
                    "You can look, but changes from the console need your own two-step authentication. "
                    <a href="/security">"Set it up"</a>
                </p>
            })}
            {children()}
        </main>
    }
}

pub fn role_label(role: &str) -> &'static str {
    match role {
        "admin" => "Administrator",
        "helpdesk" => "Helpdesk",
        "auditor" => "Auditor",
        _ => "Staff",
    }
}

/// "On" with a check mark, or "Not set up" with a warning sign: never colour alone.
#[component]
pub fn TwoStepBadge(on: bool) -> impl IntoView {
    if on {
        view! { <span class="badge ok two-step"><span aria-hidden="true">"✓ "</span>"On"</span> }
    } else {
        view! { <span class="badge warn two-step"><span aria-hidden="true">"! "</span>"Not set up"</span> }
    }
}
