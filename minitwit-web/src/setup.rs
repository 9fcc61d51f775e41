//! What the stage sets up when Rocket ignites: a template directory that
//! cannot be missing, the session key from the store, the form size limit,
//! the embedded templates, and security headers for HTML responses.

use minitwit_core::{MAX_REQUEST_BODY_BYTES, MiniTwit};
use rocket::config::SecretKey;
use rocket::data::{ByteUnit, Limits, ToByteUnit};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::figment::Figment;
use rocket::figment::value::magic::RelativePathBuf;
use rocket::http::{ContentType, Header};
use rocket::{Build, Request, Response, Rocket};
use rocket_dyn_templates::Template;

use crate::avatar::{AVATAR_KEY_BYTES, AVATAR_KEY_SECRET};
use crate::{AvatarStyle, Site, escape};

/// The smallest form limit the site needs: a message of the longest allowed
/// length in multi-byte characters, percent-encoded, fits.
fn min_form_limit() -> ByteUnit {
    MAX_REQUEST_BODY_BYTES.bytes()
}

/// The templates, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("timeline.html", include_str!("templates/timeline.html")),
    ("login.html", include_str!("templates/login.html")),
    ("register.html", include_str!("templates/register.html")),
    ("error.html", include_str!("templates/error.html")),
    ("confirm.html", include_str!("templates/confirm.html")),
];

/// What the site reads from the store when it starts.
pub(crate) struct Prepared {
    /// The store's identity, in hex, for the sessions.
    pub(crate) store_identity: String,
    /// The key of the identicons' hashes.
    pub(crate) avatar_key: Vec<u8>,
}

/// Adjusts the configuration before Rocket reads it, and reads what the
/// site needs from the store.
pub(crate) async fn prepare(
    rocket: Rocket<Build>,
    service: &MiniTwit,
) -> Result<(Rocket<Build>, Prepared), Rocket<Build>> {
    let figment = rocket.figment().clone();
    let Some(figment) = template_dir(figment) else {
        return Err(rocket);
    };
    let figment = form_limit(figment);
    let Some(figment) = session_key(figment, service).await else {
        return Err(rocket);
    };
    let store_identity = match service.store_identity().await {
        Ok(identity) => identity.value.iter().map(|b| format!("{b:02x}")).collect(),
        Err(err) => {
            tracing::error!(%err, "cannot read the store's identity");
            return Err(rocket);
        }
    };
    let avatar_key = match service
        .shared_secret(AVATAR_KEY_SECRET, AVATAR_KEY_BYTES)
        .await
    {
        Ok(key) => key.value,
        Err(err) => {
            tracing::error!(%err, "cannot read the avatars' key");
            return Err(rocket);
        }
    };
    let prepared = Prepared {
        store_identity,
        avatar_key,
    };
    Ok((rocket.configure(figment), prepared))
}

/// `rocket_dyn_templates` refuses to start when its `template_dir` (default
/// `templates/`) does not exist, and reads every `*.tera` file in it. Ours
/// are embedded, so unless a directory is configured and exists, point it at
/// the running executable: a path that always exists and, being a single
/// file without a template extension, holds no templates.
fn template_dir(figment: Figment) -> Option<Figment> {
    let configured = figment
        .extract_inner::<RelativePathBuf>("template_dir")
        .map(|path| path.relative());
    if configured.as_ref().is_ok_and(|dir| dir.is_dir()) {
        return Some(figment);
    }
    match std::env::current_exe() {
        Ok(exe) => {
            tracing::debug!(path = %exe.display(), "no template directory; templates are embedded");
            Some(figment.merge(("template_dir", exe.display().to_string())))
        }
        Err(err) => {
            tracing::error!(%err, "cannot find the executable to stand in for the template directory");
            None
        }
    }
}

/// Raises the form limit to what the longest message needs.
fn form_limit(figment: Figment) -> Figment {
    let limits: Limits = figment.extract_inner("limits").unwrap_or_default();
    if limits
        .get("form")
        .is_some_and(|limit| limit >= min_form_limit())
    {
        figment
    } else {
        figment.merge(("limits.form", min_form_limit().as_u64()))
    }
}

/// Uses the configured `secret_key` when there is one; otherwise the key
/// kept in the store, created there on first use.
async fn session_key(figment: Figment, service: &MiniTwit) -> Option<Figment> {
    match figment.extract_inner::<SecretKey>("secret_key") {
        Ok(key) if !key.is_zero() => return Some(figment),
        Ok(_) => {}
        // A malformed key: Rocket reports it in its own words.
        Err(err) if !err.missing() => return Some(figment),
        Err(_) => {}
    }
    match service.session_key().await {
        Ok(key) if key.value.len() >= 64 => {
            if key.created {
                tracing::debug!("created a session key and kept it in the store");
            } else {
                tracing::debug!("using the session key kept in the store");
            }
            Some(figment.merge(("secret_key", key.value)))
        }
        Ok(key) => {
            tracing::error!(
                bytes = key.value.len(),
                "the session key in the store is shorter than 64 bytes"
            );
            None
        }
        Err(err) => {
            tracing::error!(%err, "cannot read the session key from the store");
            None
        }
    }
}

/// The template fairing, with our templates and our escaper.
pub(crate) fn templates() -> impl Fairing {
    Template::try_custom(|engines| {
        engines.tera.add_raw_templates(TEMPLATES.iter().copied())?;
        engines.tera.set_escape_fn(escape::escape_html);
        Ok(())
    })
}

/// Adds a strict Content-Security-Policy and a Referrer-Policy to every HTML
/// response (the pages need nothing but our own styles, images and forms).
pub(crate) struct SecurityHeaders;

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "MiniTwit web security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        if res.content_type() != Some(ContentType::HTML) {
            return;
        }
        let gravatar = req
            .rocket()
            .state::<Site>()
            .is_some_and(|site| site.config.avatars == AvatarStyle::Gravatar);
        let img = if gravatar {
            "img-src 'self' https://www.gravatar.com"
        } else {
            "img-src 'self'"
        };
        let policy = format!(
            "default-src 'none'; style-src 'self'; {img}; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        res.set_header(Header::new("Content-Security-Policy", policy));
        res.set_header(Header::new("Referrer-Policy", "same-origin"));
    }
}
