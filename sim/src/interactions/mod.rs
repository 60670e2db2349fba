//! Interactions: building INTERACTION_CREATE from a control request (`request`: who
//! interacts where; `access`: who may run a command; `resolve`: typed options and resolved
//! objects; `build`: the payloads), and answering them (`respond`: the callback endpoint, the
//! original response and followups, with their own router). Nothing here imports
//! [`crate::rest`], nor the other way round.

mod access;
mod build;
mod request;
mod resolve;
mod respond;

pub(crate) use build::{build, build_component, build_modal_submit};
pub(crate) use respond::router;
