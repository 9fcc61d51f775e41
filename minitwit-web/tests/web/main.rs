//! The site through Rocket's local client, against the in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod crafted_cookies;
mod csrf;
mod limits;
mod outage;
mod pages;
mod paging;
mod session;
