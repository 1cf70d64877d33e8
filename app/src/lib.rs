//! Tessera's pages and server functions, compiled twice: for the server (`ssr`) and for
//! the browser (`hydrate`). Pages are islands ([`hydration`]): the server renders them,
//! and the browser's wasm holds only the `#[island]` components.

pub mod api;
pub mod encoding;
pub mod error;
mod hydration;
mod pages;
mod passkey_prompt;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr::content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.ico"/>
                <hydration::IslandScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/tessera.css"/>
        <Title formatter=|page: String| format!("{page} · Tessera")/>
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/") view=pages::home::HomePage/>
                <Route path=path!("/signin") view=pages::signin::SignInPage/>
                <Route path=path!("/setup") view=pages::setup::SetupPage/>
                <Route path=path!("/invitation") view=pages::links::InvitationPage/>
                <Route path=path!("/reset-password") view=pages::links::ResetPasswordPage/>
                <Route path=path!("/confirm-email") view=pages::links::ConfirmEmailPage/>
                <Route path=path!("/password") view=pages::password::ChangePasswordPage/>
                <Route path=path!("/security") view=pages::security::SecurityPage/>
                <Route path=path!("/signin/verify") view=pages::verify::VerifyPage/>
                <Route path=path!("/setup-2fa") view=pages::setup_two_factor::SetupTwoFactorPage/>
                <Route path=path!("/admin") view=pages::admin::users::UsersPage/>
                <Route path=path!("/admin/users") view=pages::admin::users::UsersPage/>
                <Route path=path!("/admin/users/new") view=pages::admin::add::AddUserPage/>
                <Route path=path!("/admin/users/import") view=pages::admin::import::ImportPage/>
                <Route path=path!("/admin/users/:id") view=pages::admin::user::UserDetailPage/>
                <Route path=path!("/admin/settings") view=pages::admin::settings::SettingsPage/>
                <Route path=path!("/admin/apps") view=pages::admin::apps::AppsConsolePage/>
                <Route path=path!("/admin/audit") view=pages::admin::audit::AuditPage/>
                <Route path=path!("/admin/report") view=pages::admin::report::ReportPage/>
            </Routes>
        </Router>
    }
}
