//! Tessera's domain and storage, with no web framework in it.
//!
//! Everything a sign-in portal must get right lives here: accounts and the organisation
//! ([`accounts`]), password policy and hashing ([`password`]), server-side sessions and the
//! states the guard decides on ([`session`]), throttling of failed attempts ([`throttle`]),
//! the append-only audit trail ([`audit`]), the mail outbox ([`mail`]), and the flows that
//! tie them together ([`service::Tessera`]). Time is always passed in through a [`Clock`],
//! so tests move time instead of sleeping.

pub mod accounts;
pub mod audit;
pub mod backup_codes;
pub mod clock;
pub mod csv_out;
pub mod db;
pub mod directory;
pub mod error;
pub mod in_flight;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod passkeys;
pub mod password;
pub mod policy;
pub mod second_factor;
pub mod secret_box;
pub mod service;
pub mod session;
pub mod setup;
pub mod setup_codes;
pub mod throttle;
pub mod totp;

pub use clock::{Clock, ManualClock, SystemClock, UnixTime};
pub use error::{CoreError, CoreResult};
pub use service::{Tessera, TesseraConfig};
