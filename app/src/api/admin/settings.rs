//! The organisation's settings (`/admin/settings`): the two-step policy and the session
//! limits. Admins only (the prefix's default); saving needs a fresh step-up. A preview
//! says, counted from the data, what saving would do.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::encoding::StrictJson;
use crate::error::AppError;

/// The settings as the page edits them. Dates are `YYYY-MM-DD`; an empty deadline is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsForm {
    pub required: bool,
    pub deadline: String,
    pub enrolment_days: i64,
    pub allow_passkeys: bool,
    pub allow_app: bool,
    pub admins_need_passkey: bool,
    pub idle_minutes: i64,
    pub absolute_hours: i64,
}

#[cfg(feature = "ssr")]
impl SettingsForm {
    fn from_core(s: &tessera_core::service::Settings) -> SettingsForm {
        SettingsForm {
            required: s.required,
            deadline: s
                .deadline
                .map(tessera_core::service::format_date)
                .unwrap_or_default(),
            enrolment_days: s.enrolment_days,
            allow_passkeys: s.allow_passkeys,
            allow_app: s.allow_app,
            admins_need_passkey: s.admins_need_passkey,
            idle_minutes: s.idle_minutes,
            absolute_hours: s.absolute_hours,
        }
    }

    fn to_core(&self) -> Result<tessera_core::service::Settings, AppError> {
        let deadline = match self.deadline.trim() {
            "" => None,
            date => Some(tessera_core::service::parse_date(date)?),
        };
        Ok(tessera_core::service::Settings {
            required: self.required,
            deadline: deadline.filter(|_| self.required),
            enrolment_days: self.enrolment_days,
            allow_passkeys: self.allow_passkeys,
            allow_app: self.allow_app,
            admins_need_passkey: self.admins_need_passkey,
            idle_minutes: self.idle_minutes,
            absolute_hours: self.absolute_hours,
        })
    }
}

/// The settings in force, and the earliest a deadline may be (tomorrow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsPage {
    pub settings: SettingsForm,
    pub earliest_deadline: String,
}

#[server(prefix = "/api/admin", endpoint = "organisation_settings", input = StrictJson)]
pub async fn organisation_settings() -> Result<SettingsPage, AppError> {
    let state = crate::ssr::app_state()?;
    crate::ssr::caller_of::<OrganisationSettings>()?;
    let settings = state.tessera.settings().await?;
    Ok(SettingsPage {
        settings: SettingsForm::from_core(&settings),
        earliest_deadline: tessera_core::service::format_date(
            state.tessera.now() + tessera_core::policy::DAY_SECS,
        ),
    })
}

/// What saving would do, in sentences.
#[server(prefix = "/api/admin", endpoint = "preview_settings", input = StrictJson)]
pub async fn preview_settings(settings: SettingsForm) -> Result<Vec<String>, AppError> {
    let state = crate::ssr::app_state()?;
    crate::ssr::caller_of::<PreviewSettings>()?;
    Ok(state.tessera.preview_settings(&settings.to_core()?).await?)
}

/// Saves; returns the changes made ("deadline: none → 2026-12-12").
#[server(prefix = "/api/admin", endpoint = "save_settings", input = StrictJson)]
pub async fn save_settings(settings: SettingsForm) -> Result<Vec<String>, AppError> {
    use tessera_core::service::By;
    let state = crate::ssr::app_state()?;
    let caller = crate::ssr::caller_of::<SaveSettings>()?;
    let client = crate::ssr::client_info();
    Ok(state
        .tessera
        .update_settings(By::Console(&caller, &client), &settings.to_core()?)
        .await?)
}
