//! The admin console's server functions, all under `/api/admin/`: the guard gives that
//! prefix to admins only unless its table opens a function to helpdesk members or
//! auditors on purpose. Modules side by side, as in [`crate::api`].

pub mod apps;
pub mod audit;
pub mod exceptions;
pub mod people;
pub mod report;
pub mod settings;
pub mod step_up;
pub mod user;
pub mod users;
