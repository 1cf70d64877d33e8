//! Server functions: the whole HTTP API of the pages, typed on both sides, one module per
//! area. The modules stand side by side and do not import each other; what several of them
//! return lives in [`types`], and their server-side helpers in `crate::ssr`.
//!
//! Each function is a thin adapter: take the caller the guard resolved, call one domain
//! function, let `?` turn its error into what a person sees (`From<CoreError>` in
//! `crate::ssr::errors`). Who may call what is decided in [`crate::ssr::guard`], which
//! every request to `/api/…` passes through before any of these bodies run.

pub mod account;
pub mod admin;
pub mod links;
pub mod passkeys;
pub mod setup;
pub mod two_factor;
pub mod types;
