//! One file per page; the pieces they share are here.

pub mod admin;
pub mod authenticator;
pub mod backup_codes;
pub mod home;
pub mod links;
pub mod passkeys;
pub mod password;
pub mod security;
pub mod setup;
pub mod setup_two_factor;
pub mod signin;
pub mod verify;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::error::AppError;

/// The frame every page sits in: a header with the product name and the page's content.
#[component]
pub fn Page(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <Title text=title/>
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"▦"</span>
                "Tessera"
            </a>
        </header>
        <PolicyBanner/>
        <main id="main" class="page" tabindex="-1">
            {children()}
        </main>
    }
}

/// What the two-step policy tells a signed-in person on every page: the days left to set
/// it up (with the way to do it), or that an exception lets them in with the password
/// alone. Rendered on the server from the session the guard resolved.
#[component]
pub fn PolicyBanner() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        use tessera_core::policy::Standing;
        use tessera_core::session::SessionState;
        let caller =
            crate::ssr::optional_caller().filter(|c| c.session.state == SessionState::Full)?;
        let now = crate::ssr::app_state().ok()?.tessera.now();
        let days = |until| match crate::ssr::days_left(until, now) {
            1 => "1 day left".to_string(),
            n => format!("{n} days left"),
        };
        match caller.standing {
            Standing::Grace { until, shortfall } => Some(view! {
                <aside class="policy-banner" id="policy-banner" aria-label="Two-step authentication">
                    <p>
                        <strong>{format!("Set up two-step authentication before {} ({}).", tessera_core::service::format_day(until), days(until))}</strong>
                        " " {shortfall.explain()}
                    </p>
                    <a class="button primary" href="/security">"Set up now"</a>
                </aside>
            }.into_any()),
            Standing::Exception { until } => Some(view! {
                <aside class="policy-banner" id="policy-banner" aria-label="Two-step authentication">
                    <p>
                        <strong>{format!("You are signing in with your password alone through {} ({}).", tessera_core::service::format_day(until - 1), days(until))}</strong>
                        " An administrator granted you a temporary exception. Set up two-step authentication again before it ends."
                    </p>
                    <a class="button primary" href="/security">"Set up now"</a>
                </aside>
            }.into_any()),
            _ => None,
        }
    }
    #[cfg(not(feature = "ssr"))]
    {
        None::<AnyView>
    }
}

/// A form-level error, announced to screen readers as it appears.
#[component]
pub fn ErrorNotice(error: Signal<Option<AppError>>) -> impl IntoView {
    view! {
        <div class="notice-slot" role="alert" aria-live="assertive">
            {move || error.get().map(|e| view! { <p class="notice notice-error">{e.to_string()}</p> })}
        </div>
    }
}

/// A form's submit button, and the one place that decides when a form may be sent. The
/// server renders it disabled; it comes alive once the page is hydrated, because a click
/// before that would submit the form natively — as a GET that puts its fields (a
/// password, a code) into the URL. While `busy` it stays disabled and says `pending`.
#[component]
pub fn SubmitButton(
    label: &'static str,
    pending: &'static str,
    #[prop(into)] busy: Signal<bool>,
    #[prop(optional)] danger: bool,
) -> impl IntoView {
    let ready = RwSignal::new(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move || ready.set(true));
    view! {
        <button type="submit" class=if danger { "button danger" } else { "button primary" }
            disabled=move || !ready.get() || busy.get()
            aria-busy=move || busy.get().to_string()>
            {move || if busy.get() { pending } else { label }}
        </button>
    }
}

/// The error a finished action left, if any.
pub fn action_error<S, T>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: server_fn::ServerFn<Output = T, Error = AppError> + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(|r| r.err()))
}

/// Sends the browser to `path` with a full page load, so the server renders it with the
/// session as it is now.
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Page title="Page not found">
            <h1>"Page not found"</h1>
            <p><a href="/">"Go to your account"</a></p>
        </Page>
    }
}
