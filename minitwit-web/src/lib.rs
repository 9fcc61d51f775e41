//! # minitwit-web
//!
//! MiniTwit's HTML site: the pages people use in a browser, as one Rocket
//! [`AdHoc`] stage. Every page is rendered on the server from templates
//! embedded in the binary (Tera, through `rocket_dyn_templates`), so the site
//! works from any working directory and needs no JavaScript.
//!
//! The handlers parse a request, make one call to the core's
//! [`MiniTwit`] service and render the answer; the texts of form errors are
//! the core's [`Error`](minitwit_core::Error) texts. Cross-cutting concerns
//! live in request guards (who is signed in, whether a state-changing request
//! comes from our own pages) and fairings (security headers, the session key).
//!
//! ```no_run
//! use std::sync::Arc;
//! use minitwit_core::{MemoryStore, MiniTwit};
//! use minitwit_web::{WebConfig, stage};
//!
//! #[rocket::launch]
//! fn rocket() -> _ {
//!     let service = MiniTwit::builder(Arc::new(MemoryStore::new()))
//!         .build()
//!         .expect("a valid hash cost");
//!     rocket::build().attach(stage(service, WebConfig::default()))
//! }
//! ```
//!
//! ## Routes
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | the signed-in user's home timeline (signed out: redirect to `/public`) |
//! | `GET /public` | everyone's messages |
//! | `GET /<username>` | one user's messages, with a follow status line |
//! | `GET, POST /<username>/follow`, `/<username>/unfollow` | follow or unfollow, flash, back to the user's page |
//! | `POST /add_message` | post a message (field `text`) |
//! | `GET, POST /register`, `GET, POST /login`, `GET /logout` | accounts and sessions; a sign-in also reads the first page of the user's home timeline, so that the page it leads to comes from the store's home cache |
//! | `GET /avatar/<md5>.svg` | an identicon for an e-mail hash |
//! | `GET /static/style.css`, `/favicon.svg`, `/favicon.ico` | embedded assets |
//!
//! Timelines take `?before=<message id>` to page back; each page links to the
//! next older one.
//!
//! ## Sessions
//!
//! The session is a private (encrypted and signed) cookie. When Rocket's
//! configuration has no `secret_key`, the key is generated once and kept in
//! the store ([`Store::get_or_init_secret`](minitwit_core::Store::get_or_init_secret)),
//! so sessions survive restarts and every instance on one store shares it.

mod assets;
mod avatar;
mod csrf;
mod error_pages;
mod escape;
mod flash;
mod limits;
mod pages;
mod session;
mod setup;
mod time;
mod views;

use minitwit_core::MiniTwit;
use rocket::fairing::AdHoc;
use serde::Deserialize;

pub use limits::{LIMIT_NAMES, RateLimits};

/// How avatars are shown next to messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AvatarStyle {
    /// An identicon rendered by this server from a keyed hash of the e-mail
    /// address: works offline, tells no third party who reads which page,
    /// and gives away no address hash that a list could be matched with.
    #[default]
    Identicon,
    /// Links to `https://www.gravatar.com/avatar/{hash}?d=identicon&s=48`,
    /// as the reference does.
    Gravatar,
}

/// Settings of the HTML site.
///
/// Deserializable, so an application can read it from its configuration
/// (for example `figment.extract_inner::<WebConfig>("web")`); missing fields
/// take their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct WebConfig {
    /// Mark the session cookie `Secure`. Turn it on when the site is served
    /// over TLS, by Rocket or by a TLS-terminating proxy in front of it.
    /// (Rocket sets it by itself when it serves TLS.)
    pub secure_cookies: bool,
    /// Where avatars come from.
    pub avatars: AvatarStyle,
    /// How often sign-ins, sign-ups and posts may be tried (see
    /// [`RateLimits`]).
    pub rate_limits: RateLimits,
    /// The proxies (addresses or networks) whose `X-Forwarded-For` names
    /// the client, for the rate limits; nobody else's is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long a sign-in lasts, in days (default 30): the session cookie's
    /// `Max-Age` and `Expires`, and how old a session may be.
    pub session_days: u32,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            avatars: AvatarStyle::default(),
            rate_limits: RateLimits::default(),
            trusted_proxies: Vec::new(),
            session_days: 30,
        }
    }
}

/// Messages per timeline page.
pub(crate) const PAGE_SIZE: usize = 30;

/// The state of this stage. A type of its own, so that another stage may
/// manage its own handle on the same [`MiniTwit`].
pub(crate) struct Site {
    pub(crate) service: MiniTwit,
    pub(crate) config: WebConfig,
    /// The store's identity in hex, which sessions carry (see the
    /// `session` module).
    pub(crate) store_identity: String,
    /// The rate limits.
    pub(crate) limits: limits::Limiters,
    /// How avatars are shown.
    pub(crate) avatars: avatar::Avatars,
}

/// The HTML site as a stage to attach to a Rocket: mounts its routes and its
/// HTML error pages at `/`, sets up the embedded templates, and makes sure
/// private cookies have a key that is shared through the store (see the
/// crate documentation).
///
/// Attach it once. Another stage (the simulator API) can be mounted under a
/// prefix beside it.
pub fn stage(service: MiniTwit, config: WebConfig) -> AdHoc {
    AdHoc::try_on_ignite("MiniTwit web site", move |rocket| async move {
        let (rocket, prepared) = setup::prepare(rocket, &service).await?;
        let limits = limits::Limiters::new(config.rate_limits, config.trusted_proxies.clone());
        let avatars = avatar::Avatars::new(config.avatars, prepared.avatar_key);
        Ok(rocket
            .manage(Site {
                service,
                config,
                store_identity: prepared.store_identity,
                limits,
                avatars,
            })
            .mount("/", pages::routes())
            .mount("/", assets::routes())
            .mount("/", avatar::routes())
            .register("/", error_pages::catchers())
            .attach(setup::templates())
            .attach(setup::SecurityHeaders))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_from_figment_with_defaults() -> Result<(), Box<rocket::figment::Error>> {
        use rocket::figment::Figment;

        let empty: WebConfig = Figment::new().extract()?;
        assert_eq!(empty, WebConfig::default());
        assert_eq!(empty.avatars, AvatarStyle::Identicon);
        assert!(!empty.secure_cookies);

        let set: WebConfig = Figment::new()
            .merge(("secure_cookies", true))
            .merge(("avatars", "gravatar"))
            .extract()?;
        assert!(set.secure_cookies);
        assert_eq!(set.avatars, AvatarStyle::Gravatar);
        Ok(())
    }
}
