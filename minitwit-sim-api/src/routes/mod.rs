//! The endpoints, one module per area of the contract. Each handler parses
//! (through its guards), makes one call to the core, and renders.

mod fllws;
mod latest;
mod msgs;
mod register;

use rocket::Route;

/// Every route of the API, relative to its prefix.
pub(crate) fn routes() -> Vec<Route> {
    [
        latest::routes(),
        register::routes(),
        msgs::routes(),
        fllws::routes(),
    ]
    .concat()
}
