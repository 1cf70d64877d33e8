//! The organisation's apps (`/admin/apps`): the apps that sign people in through Tessera
//! (OpenID Connect) and the sites behind the forward-auth gate. Admins only (the prefix's
//! default); every change needs a fresh step-up. A new app's secret is shown once.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::encoding::StrictJson;
use crate::error::AppError;

/// An app as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRow {
    pub client_id: String,
    pub name: String,
    pub confidential: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_uris: Vec<String>,
    pub roles: Vec<String>,
    pub password_enough: bool,
    pub refresh_tokens: bool,
    pub access_token_secs: i64,
    pub alg: String,
    pub backchannel_logout_uri: Option<String>,
    pub enabled: bool,
}

/// A protected site as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRow {
    pub host: String,
    pub name: String,
    pub roles: Vec<String>,
    pub password_enough: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppsPage {
    pub apps: Vec<AppRow>,
    pub sites: Vec<SiteRow>,
    /// What an app is configured with: the issuer (its discovery document is under it).
    pub issuer: String,
    /// The gate's parent domain, when the gate is on.
    pub gate_domain: Option<String>,
}

/// The registration form. Addresses one per line; roles by name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AppForm {
    pub name: String,
    pub public: bool,
    pub redirect_uris: String,
    pub post_logout_uris: String,
    pub roles: Vec<String>,
    pub password_enough: bool,
    pub refresh_tokens: bool,
    pub access_token_secs: i64,
    pub alg: String,
    pub backchannel_logout_uri: String,
}

/// A new app's credentials, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCredentials {
    pub client_id: String,
    pub client_secret: Option<String>,
}

#[cfg(feature = "ssr")]
fn roles(names: &[String]) -> Result<Vec<tessera_core::accounts::Role>, AppError> {
    Ok(names
        .iter()
        .map(|r| tessera_core::accounts::Role::parse(r))
        .collect::<Result<_, _>>()?)
}

#[cfg(feature = "ssr")]
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[server(prefix = "/api/admin", endpoint = "apps", input = StrictJson)]
pub async fn apps() -> Result<AppsPage, AppError> {
    let state = crate::ssr::app_state()?;
    crate::ssr::caller_of::<Apps>()?;
    let role_names = |roles: &[tessera_core::accounts::Role]| {
        roles.iter().map(|r| r.as_str().to_string()).collect()
    };
    let apps = state
        .tessera
        .apps()
        .await?
        .into_iter()
        .map(|a| AppRow {
            roles: role_names(&a.roles),
            client_id: a.id,
            name: a.name,
            confidential: a.confidential,
            redirect_uris: a.redirect_uris,
            post_logout_uris: a.post_logout_uris,
            password_enough: a.password_enough,
            refresh_tokens: a.refresh_tokens,
            access_token_secs: a.access_token_secs,
            alg: a.id_token_alg.as_str().into(),
            backchannel_logout_uri: a.backchannel_logout_uri,
            enabled: a.enabled,
        })
        .collect();
    let sites = state
        .tessera
        .gate_hosts()
        .await?
        .into_iter()
        .map(|s| SiteRow {
            roles: role_names(&s.roles),
            host: s.host,
            name: s.name,
            password_enough: s.password_enough,
        })
        .collect();
    Ok(AppsPage {
        apps,
        sites,
        issuer: state.tessera.issuer().to_string(),
        gate_domain: state.web.gate_domain.clone(),
    })
}

#[server(prefix = "/api/admin", endpoint = "register_app", input = StrictJson)]
pub async fn register_app(form: AppForm) -> Result<NewCredentials, AppError> {
    use tessera_core::oidc::clients::NewClient;
    use tessera_core::oidc::keys::Alg;
    use tessera_core::service::By;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<RegisterApp>()?;
    let client = crate::ssr::client_info();
    let backchannel = form.backchannel_logout_uri.trim();
    let registered = state
        .tessera
        .register_app(
            By::Console(&caller, &client),
            NewClient {
                name: form.name,
                confidential: !form.public,
                redirect_uris: lines(&form.redirect_uris),
                post_logout_uris: lines(&form.post_logout_uris),
                roles: roles(&form.roles)?,
                password_enough: form.password_enough,
                refresh_tokens: form.refresh_tokens,
                access_token_secs: form.access_token_secs,
                id_token_alg: Alg::parse(&form.alg)?,
                backchannel_logout_uri: (!backchannel.is_empty()).then(|| backchannel.to_string()),
            },
        )
        .await?;
    Ok(NewCredentials {
        client_id: registered.client_id,
        client_secret: registered.client_secret,
    })
}

/// A new secret for a confidential app, shown once; the old one stops working at once.
#[server(prefix = "/api/admin", endpoint = "new_app_secret", input = StrictJson)]
pub async fn new_app_secret(client_id: String) -> Result<String, AppError> {
    use tessera_core::service::By;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<NewAppSecret>()?;
    let client = crate::ssr::client_info();
    Ok(state
        .tessera
        .new_app_secret(By::Console(&caller, &client), &client_id)
        .await?)
}

/// Switches an app off (its tokens stop working) or on.
#[server(prefix = "/api/admin", endpoint = "set_app_enabled", input = StrictJson)]
pub async fn set_app_enabled(client_id: String, enabled: bool) -> Result<bool, AppError> {
    use tessera_core::service::By;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<SetAppEnabled>()?;
    let client = crate::ssr::client_info();
    Ok(state
        .tessera
        .set_app_enabled(By::Console(&caller, &client), &client_id, enabled)
        .await?)
}

#[server(prefix = "/api/admin", endpoint = "remove_app", input = StrictJson)]
pub async fn remove_app(client_id: String) -> Result<(), AppError> {
    use tessera_core::service::By;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<RemoveApp>()?;
    let client = crate::ssr::client_info();
    state
        .tessera
        .remove_app(By::Console(&caller, &client), &client_id)
        .await?;
    Ok(())
}

#[server(prefix = "/api/admin", endpoint = "add_gate_site", input = StrictJson)]
pub async fn add_gate_site(
    name: String,
    host: String,
    roles: Vec<String>,
    password_enough: bool,
) -> Result<(), AppError> {
    use tessera_core::service::By;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<AddGateSite>()?;
    let client = crate::ssr::client_info();
    state
        .tessera
        .add_gate_host(
            By::Console(&caller, &client),
            &name,
            &host,
            &self::roles(&roles)?,
            password_enough,
        )
        .await?;
    Ok(())
}

#[server(prefix = "/api/admin", endpoint = "remove_gate_site", input = StrictJson)]
pub async fn remove_gate_site(host: String) -> Result<(), AppError> {
    use tessera_core::service::By;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<RemoveGateSite>()?;
    let client = crate::ssr::client_info();
    state
        .tessera
        .remove_gate_host(By::Console(&caller, &client), &host)
        .await?;
    Ok(())
}
