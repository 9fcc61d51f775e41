//! The stylesheet and the icon, embedded in the binary.

use std::sync::LazyLock;

use md5::{Digest, Md5};
use rocket::http::{ContentType, Header};
use rocket::{Route, get, routes};

const STYLE: &str = include_str!("../static/style.css");
const FAVICON: &str = include_str!("../static/favicon.svg");

/// The stylesheet's URL, with a version derived from its content: a new
/// release gets a new URL, so the old one can be cached for good.
pub(crate) static STYLESHEET_URL: LazyLock<String> = LazyLock::new(|| {
    let digest = Md5::digest(STYLE.as_bytes());
    let version: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("/static/style.css?v={version}")
});

/// An embedded file with its caching policy.
#[derive(rocket::Responder)]
struct Asset {
    body: (ContentType, &'static str),
    cache: Header<'static>,
}

#[get("/static/style.css")]
fn stylesheet() -> Asset {
    Asset {
        body: (ContentType::CSS, STYLE),
        cache: Header::new("Cache-Control", "public, max-age=31536000, immutable"),
    }
}

fn icon() -> Asset {
    Asset {
        body: (ContentType::SVG, FAVICON),
        cache: Header::new("Cache-Control", "public, max-age=86400"),
    }
}

#[get("/favicon.svg")]
fn favicon_svg() -> Asset {
    icon()
}

/// Clients that ask for the traditional icon get the SVG one.
#[get("/favicon.ico")]
fn favicon_ico() -> Asset {
    icon()
}

/// The asset routes.
pub(crate) fn routes() -> Vec<Route> {
    routes![stylesheet, favicon_svg, favicon_ico]
}
